"""NetTrain's ValidationSet example, transliterated: fit noisy Gaussian-mixture data; the returned net is the round
that generalized best, not the overfitted last one.

Wolfram::

    data = Table[x -> Exp[-2 (x + 1.5)^2] + 0.8 Exp[-3 (x - 1)^2] + RandomVariate[NormalDistribution[0, 0.15]],
                 {x, RandomReal[{-3, 3}, 60]}];
    results = NetTrain[net, data, All, ValidationSet -> Scaled[0.2], MaxTrainingRounds -> 1500];
    {results["TrainedNet"], results["FinalNet"]}

NetTrain holds out 20 % of the data at random, validates after every round, and returns as TrainedNet the net of
the round with the lowest validation loss (BestValidationRound); FinalNet is the last round's.  The noise in the
training data is unrelated to the noise in the held-out data, so fitting it (overfitting) raises the validation
loss.  To make a small net overfit 48 points quickly, its inputs are x and the first 8 Fourier harmonics of x (a
flexible basis; Wolfram's example uses Tanh layers, which minidl does not have).  The script measures each net
against the noise-free curve: the best-round net is close to it, the final one has learned the noise.

Run:  python examples/wolfram_validation_set.py [--quick] [--out FOLDER]
      (--quick or MINIDL_QUICK=1: 400 rounds; --out: save validation_set.png with the data and both fits)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl import layers as L
from minidl.wolfram import NetTrain, Scaled

HARMONICS = 8


def curve(x: np.ndarray) -> np.ndarray:
    """The noise-free Gaussian mixture."""
    return np.exp(-2 * (x + 1.5) ** 2) + 0.8 * np.exp(-3 * (x - 1.0) ** 2)


def features(x: np.ndarray) -> np.ndarray:
    """x/3 and sin(kπx/3)/k, cos(kπx/3)/k for k = 1..8 (higher harmonics weigh less): (n, 17)."""
    k = np.arange(1, HARMONICS + 1)
    return np.concatenate([x[:, None] / 3, np.sin(np.pi * k * x[:, None] / 3) / k,
                           np.cos(np.pi * k * x[:, None] / 3) / k], axis=1)


def noisy_data(n: int = 60, noise: float = 0.15, seed: int = 6):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    return x, curve(x) + rng.normal(0.0, noise, n)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (400 rounds)")
    parser.add_argument("--out", default=None, help="folder for validation_set.png (default: no file)")
    args = parser.parse_args(argv)
    x, y = noisy_data()
    net = [L.FeatureInput(2 * HARMONICS + 1, normalization="none"), L.FullyConnected(64), L.ReLU(),
           L.FullyConnected(1, weights_initializer="he")]
    results = NetTrain(net, (features(x), y), "All", ValidationSet=Scaled(0.2), LearningRate=0.01,
                       MaxTrainingRounds=400 if args.quick else 1500, TrainingProgressReporting=None)
    grid = np.linspace(-3, 3, 601)
    errors = {}
    for key in ("TrainedNet", "FinalNet"):
        fit = results[key].predict(features(grid))[:, 0]
        errors[key] = float(np.sqrt(np.mean((fit - curve(grid)) ** 2)))   # RMS distance to the noise-free curve
    best, rounds = results["BestValidationRound"], results["TotalRounds"]
    val = results["ValidationLossList"]
    print(results)
    print(f"TrainedNet = round {best} of {rounds}: validation loss {val[best - 1]:.4f}, training round loss "
          f"{results['RoundLossList'][best - 1]:.4f}, RMS error against the true curve {errors['TrainedNet']:.3f}")
    print(f"FinalNet   = round {rounds}: validation loss {val[-1]:.4f}, training round loss "
          f"{results['RoundLossList'][-1]:.4f}, RMS error against the true curve {errors['FinalNet']:.3f}")
    print("the final net fits the training noise (tiny training loss, large validation loss); the best-round net "
          "does not")
    if args.out:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(x, y, "o", ms=3, color="gray", label="noisy data")
        ax.plot(grid, curve(grid), "k--", lw=1, label="true curve")
        for key, color in (("TrainedNet", "tab:blue"), ("FinalNet", "tab:red")):
            ax.plot(grid, results[key].predict(features(grid))[:, 0], color=color, label=key)
        ax.legend()
        fig.savefig(os.path.join(args.out, "validation_set.png"))
    return {"results": results, "errors": errors}


if __name__ == "__main__":
    main()
