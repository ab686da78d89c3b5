"""NetTrain with a generator function, transliterated: fresh training data made batch by batch, never stored.

Wolfram::

    f = Function[Table[RandomPoint[] -> label, #BatchSize]];      (* called with <|"BatchSize" -> n, "Round" -> r|> *)
    NetTrain[net, {f, "RoundLength" -> 2048}, All, BatchSize -> 64, MaxTrainingRounds -> 20,
             ValidationSet -> test]

minidl: f receives {"BatchSize": n, "Round": r} and returns a batch in any data form (here a tuple
(inputs, outputs)).  With {"RoundLength": 2048} a round is ceil(2048 / 64) = 32 calls of f; without it, one call.
The task: points in the plane, labelled by which of two interleaved spirals they are nearest to.  Every batch is
new data, so the net cannot memorize; the fixed validation set measures it.  f draws from its own seeded
generator (all randomness explicit), so the run is reproducible.

Run:  python examples/wolfram_generator.py [--quick]   (--quick or MINIDL_QUICK=1: 4 rounds instead of 30)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl import layers as L
from minidl.wolfram import NetTrain


def spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points: label 0 or 1 for two interleaved spirals r = θ/(3π), with Gaussian jitter."""
    label = rng.integers(0, 2, n)
    theta = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    r = theta / (3 * np.pi)
    angle = theta + np.pi * label
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1) + rng.normal(0, 0.03, (n, 2))
    return x, label


class SpiralBatches:
    """The generator function: f({"BatchSize": n, "Round": r}) → (inputs, labels); counts its calls per round."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.calls: dict[int, int] = {}

    def __call__(self, spec: dict) -> tuple[np.ndarray, np.ndarray]:
        self.calls[spec["Round"]] = self.calls.get(spec["Round"], 0) + 1
        return spirals(spec["BatchSize"], self.rng)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (4 rounds)")
    args = parser.parse_args(argv)
    f = SpiralBatches()
    validation = spirals(1000, np.random.default_rng(99))
    net = [L.FeatureInput(2, normalization="none"), L.FullyConnected(64, weights_initializer="he"), L.ReLU(),
           L.FullyConnected(64, weights_initializer="he"), L.ReLU(), L.FullyConnected(2), L.Softmax()]
    results = NetTrain(net, (f, {"RoundLength": 2048}), "All", BatchSize=64, LearningRate=0.01,
                       MaxTrainingRounds=4 if args.quick else 30, ValidationSet=validation,
                       TrainingProgressReporting=None)
    print(results)
    print(f"f was called {sum(f.calls.values())} times: {f.calls[1]} in round 1 (one probe call for shapes, then "
          f"{results['BatchesPerRound']} batches), {f.calls.get(2, 0)} in round 2, ...")
    errors = [m["ErrorRate"] for m in results["ValidationMeasurementsLists"]]
    print("validation error rate per round: " + ", ".join(f"{100 * e:.1f}%" for e in errors))
    return {"results": results, "calls": f.calls, "errors": errors}


if __name__ == "__main__":
    main()
