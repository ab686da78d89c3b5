"""NetTrain's LossFunction example, transliterated: mean-squared regression, the loss NetTrain picks by itself.

Wolfram::

    net = NetChain[{LinearLayer[64], Ramp, LinearLayer[2]}, "Input" -> 2];
    data = Table[x -> {Sin[3 x[[1]]], x[[1]] x[[2]]}, {x, RandomReal[{-1, 1}, {1000, 2}]}];
    NetTrain[net, data, All, LossFunction -> MeanSquaredLossLayer[], ValidationSet -> Scaled[0.2],
             TrainingProgressMeasurements -> "RootMeanSquare"]

The net does not end in Softmax, so LossFunction Automatic is already Wolfram's MeanSquaredLossLayer: the mean
over the R = 2 output elements of (y − t)², then the mean over the batch.  (MATLAB's regressionLayer takes half the
*sum* over the elements instead, so Wolfram's loss is 2/R times MATLAB's.)  The script checks that LossFunction
Automatic and "MeanSquaredLoss" train the same net, that the validation loss is that mean (recomputed by hand on
the held-out 20 %), and that RootMeanSquare is its square root.

Run:  python examples/wolfram_regression.py [--quick]   (--quick or MINIDL_QUICK=1: 30 rounds instead of 200)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl import layers as L
from minidl.backend import to_host
from minidl.wolfram import NetTrain, Scaled
from minidl.wolfram.data import split_scaled


def data(n: int = 1000, seed: int = 0):
    """x uniform in [−1, 1]², t = (sin 3x₁, x₁·x₂): (n, 2) inputs, (n, 2) outputs."""
    x = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    return x, np.stack([np.sin(3 * x[:, 0]), x[:, 0] * x[:, 1]], axis=1)


def net():
    return [L.FeatureInput(2, normalization="none"), L.FullyConnected(64, weights_initializer="he"), L.ReLU(),
            L.FullyConnected(2, weights_initializer="he")]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (30 rounds)")
    args = parser.parse_args(argv)
    rounds = 30 if args.quick else 200
    x, t = data()
    common = {"ValidationSet": Scaled(0.2), "MaxTrainingRounds": rounds, "WorkingPrecision": "Real64",
              "TrainingProgressMeasurements": "RootMeanSquare", "TrainingProgressReporting": None}
    results = NetTrain(net(), (x, t), "All", **common)
    explicit = NetTrain(net(), (x, t), "TrainedNet", LossFunction="MeanSquaredLoss", **common)
    same = np.array_equal(to_host(explicit.params["fc_2.weight"]), to_host(results["TrainedNet"].params["fc_2.weight"]))
    print(results)
    val = results["ValidationMeasurements"]
    print(f"LossFunction Automatic = MeanSquaredLoss: {'same net' if same else 'DIFFERENT nets'}")
    print(f"validation loss {val['Loss']:.5f} = mean squared error; RootMeanSquare {val['RootMeanSquare']:.5f} "
          f"= sqrt(loss) {np.sqrt(val['Loss']):.5f}")
    # the best round's validation loss by hand: the mean over examples and output elements of (y − t)²
    best = results["BestValidationRound"]
    _, held_out = split_scaled(len(x), 0.2, seed=1234)             # the split Scaled(0.2) made (RandomSeeding 1234)
    y = results["TrainedNet"].predict(x[held_out])
    by_hand = float(np.mean((y - t[held_out]) ** 2))
    reported = float(results["ValidationLossList"][best - 1])
    print(f"best round {best} of {results['TotalRounds']}: validation loss {reported:.6f}; by hand on the held-out "
          f"20 %: mean((y − t)²) = {by_hand:.6f}")
    return {"results": results, "same": same, "validation_loss": reported, "by_hand": by_hand}


if __name__ == "__main__":
    main()
