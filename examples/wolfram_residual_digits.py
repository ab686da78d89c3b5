"""The residual digits network in the Wolfram dialect: NetGraph with a TotalLayer joining the skip connection,
trained by NetTrain on port data.

The network of examples/matlab_residual_digits.py (MATLAB's "simple DAG network"), as Wolfram writes a graph::

    net = NetGraph[<|"conv1" -> ConvolutionLayer[16, 5, "PaddingSize" -> 2], "bn1" -> BatchNormalizationLayer[],
        "relu1" -> Ramp, "conv2" -> ConvolutionLayer[32, 3, "Stride" -> 2, "PaddingSize" -> 1], ...,
        "skip" -> ConvolutionLayer[32, 1, "Stride" -> 2], "add" -> TotalLayer[],
        "pool" -> PoolingLayer[2, 2, "Function" -> Mean], "linear" -> LinearLayer[10], "softmax" -> SoftmaxLayer[]|>,
      {NetPort["Input"] -> "conv1" -> "bn1" -> "relu1" -> "conv2" -> "bn2" -> "relu2" -> "conv3" -> "bn3" -> "relu3",
       "relu1" -> "skip", {"relu3", "skip"} -> "add" -> "pool" -> "linear" -> "softmax" -> NetPort["Output"]},
      "Input" -> {1, 28, 28}];
    trained = NetTrain[net, <|"Input" -> images, "Output" -> labels|>, MaxTrainingRounds -> 3,
        BatchSize -> 32, LearningRate -> 0.005]

minidl's Wolfram dialect has no ConvolutionLayer / BatchNormalizationLayer spellings yet, so those parts are the
engine's classes (``minidl.layers.Convolution2D``, ``BatchNormalization``); TotalLayer, PoolingLayer, LinearLayer,
SoftmaxLayer and ElementwiseLayer["Ramp"] are Wolfram's.  NetTrain attaches the cross-entropy loss to the
"Output" port (LossFunction Automatic) and reads its targets from the data port of the same name.  --quick
reaches about 82 % on 500 test digits in about 3 s of training.

Run:  python examples/wolfram_residual_digits.py [--quick]   (--quick: 1000 images, 4/8 filters, 3 rounds)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl import layers as L
from minidl.datasets import digit_test_data, digit_train_data
from minidl.wolfram import NetTrain
from minidl.wolfram.graph import NetGraph, NetPort
from minidl.wolfram.layers import ElementwiseLayer, LinearLayer, PoolingLayer, SoftmaxLayer, TotalLayer


def residual_graph(width: int = 16):
    """The residual NetGraph; ``width`` filters in conv1, twice that in conv2, conv3 and skip."""
    w1, w2 = width, 2 * width
    parts = {
        "conv1": L.Convolution2D(5, w1, padding=2), "bn1": L.BatchNormalization(), "relu1": ElementwiseLayer("Ramp"),
        "conv2": L.Convolution2D(3, w2, stride=2, padding=1), "bn2": L.BatchNormalization(),
        "relu2": ElementwiseLayer("Ramp"),
        "conv3": L.Convolution2D(3, w2, padding=1), "bn3": L.BatchNormalization(), "relu3": ElementwiseLayer("Ramp"),
        "skip": L.Convolution2D(1, w2, stride=2),
        "add": TotalLayer(),
        "pool": PoolingLayer(2, 2, Function="Mean"),
        "linear": LinearLayer(10),
        "softmax": SoftmaxLayer(),
    }
    connections = [
        (NetPort("Input"), "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3", "relu3"),
        ("relu1", "skip"),
        (["relu3", "skip"], "add", "pool", "linear", "softmax", NetPort("Output")),
    ]
    return NetGraph(parts, connections, Input=(1, 28, 28))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long run (1000 images, 4/8 filters, 3 rounds)")
    parser.add_argument("--out", default=None, help="unused (no files are written)")
    args = parser.parse_args(argv)

    X, labels, _ = digit_train_data()
    X, labels = (X[:1000], labels[:1000]) if args.quick else (X, labels)
    net = residual_graph(4 if args.quick else 16)
    trained = NetTrain(net, {"Input": X, "Output": labels}, MaxTrainingRounds=3 if args.quick else 8,
                       BatchSize=32, LearningRate=0.005, TrainingProgressReporting=None)
    XT, YT, _ = digit_test_data()
    XT, YT = (XT[:500], YT[:500]) if args.quick else (XT, YT)
    scores = trained.predict(XT)
    classes = trained.classes if trained.classes is not None else np.arange(scores.shape[1])
    accuracy = float(np.mean(classes[np.argmax(scores, axis=1)] == YT))
    print(f"test accuracy of the trained NetGraph on {YT.size} digits: {100 * accuracy:.2f}%")
    return {"test_accuracy": accuracy, "net": trained}


if __name__ == "__main__":
    main()
