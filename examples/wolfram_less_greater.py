"""NetTrain's first example, transliterated: a classifier that says whether the first number of a pair is less than
or greater than the second, trained on class labels; the trained net returns labels (its "Class" decoder).

Wolfram::

    net = NetChain[{LinearLayer[2], SoftmaxLayer[]},
                   "Output" -> NetDecoder[{"Class", {"Less", "Greater"}}]]
    trained = NetTrain[net, {{1, 2} -> "Less", {2, 1} -> "Greater", ...}]
    trained[{{0.2, 0.7}, {0.9, 0.1}}]          (* {"Less", "Greater"} *)

Run:  python examples/wolfram_less_greater.py [--quick]   (about a second)
"""

from __future__ import annotations

import argparse

import numpy as np

from minidl.wolfram import NetTrain
from minidl.wolfram import layers as W


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for uniformity: the run is short anyway")
    parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (200, 2))
    labels = np.where(X[:, 0] < X[:, 1], "Less", "Greater")
    net = W.NetChain([W.LinearLayer(2), W.SoftmaxLayer()], output=W.NetDecoder("Class", ["Less", "Greater"]))
    trained = NetTrain(net, (X, labels), MaxTrainingRounds=100, LearningRate=0.01, TrainingProgressReporting=None)
    test = rng.uniform(0, 1, (500, 2))
    accuracy = float(np.mean(trained(test) == np.where(test[:, 0] < test[:, 1], "Less", "Greater")))
    pairs = np.array([[0.2, 0.7], [0.9, 0.1]])
    print(f"trained[{pairs.tolist()}] = {trained(pairs).tolist()}; accuracy on 500 new pairs {accuracy:.3f}")
    return {"answers": trained(pairs).tolist(), "accuracy": accuracy,
            "probabilities": trained(pairs, "Probabilities")}


if __name__ == "__main__":
    main()
