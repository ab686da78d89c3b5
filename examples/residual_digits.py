"""A residual network on the digits, Pythonic: ``minidl.Network(layers, connections)`` trained by train_network.

The network of examples/matlab_residual_digits.py (MATLAB's "simple DAG network"), written with the engine's own
API: the layers in a list, the connections as ``(source, destination)`` pairs — ``"layer"`` for a layer's only
output or input, ``"add/in2"`` for a named port.  Each main path step is a chain pair; the skip connection feeds
``add``'s second input through a 1×1 strided convolution.

Run:  python examples/residual_digits.py [--quick]
      (--quick: 1000 images, 4/8 filters, 3 epochs, a few seconds)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import minidl as dl
import minidl.datasets as ds
from minidl import layers as L
from minidl.network import chain_connections


def residual_network(width: int = 16) -> dl.Network:
    """The residual network; ``width`` filters in conv_1, twice that in conv_2, conv_3 and skip_conv."""
    w1, w2 = width, 2 * width
    main_path = [
        L.ImageInput((1, 28, 28), name="input"),
        L.Convolution2D(5, w1, padding="same", name="conv_1"),
        L.BatchNormalization(name="bn_1"),
        L.ReLU(name="relu_1"),
        L.Convolution2D(3, w2, padding="same", stride=2, name="conv_2"),
        L.BatchNormalization(name="bn_2"),
        L.ReLU(name="relu_2"),
        L.Convolution2D(3, w2, padding="same", name="conv_3"),
        L.BatchNormalization(name="bn_3"),
        L.ReLU(name="relu_3"),
        L.Addition(2, name="add"),
        L.AveragePooling2D(2, stride=2, name="avpool"),
        L.FullyConnected(10, name="fc"),
        L.Softmax(name="softmax"),
        L.ClassificationOutput(name="output"),
    ]
    skip = L.Convolution2D(1, w2, stride=2, name="skip_conv")
    connections = (chain_connections(main_path[:10])                      # input -> ... -> relu_3
                   + [("relu_3", "add/in1"), ("relu_1", "skip_conv"), ("skip_conv", "add/in2")]
                   + chain_connections(main_path[10:]))                    # add -> ... -> output
    return dl.Network(main_path + [skip], connections)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long run (1000 images, 4/8 filters, 3 epochs)")
    parser.add_argument("--out", default=None, help="unused (the example writes nothing); kept for the test runner")
    args = parser.parse_args(argv)

    X, labels, _ = ds.digit_train_data()
    X, labels = (X[:1000], labels[:1000]) if args.quick else (X, labels)
    idx = np.random.default_rng(0).permutation(len(X))[:200 if args.quick else 1000]
    keep = np.ones(len(X), dtype=bool)
    keep[idx] = False

    net = residual_network(4 if args.quick else 16)
    print(net.summary())
    options = dl.training_options("sgdm", max_epochs=3 if args.quick else 8, shuffle="every-epoch",
                                  mini_batch_size=32 if args.quick else 128,
                                  validation_data=(X[idx], labels[idx]), validation_frequency=30, verbose=False)
    trained, info = dl.train_network(X[keep], labels[keep], net, options)

    XT, YT, _ = ds.digit_test_data()
    XT, YT = (XT[:500], YT[:500]) if args.quick else (XT, YT)
    accuracy = float(np.mean(trained.classify(XT) == YT))
    print(f"final validation accuracy {info.final_validation_accuracy:.2f}%; test accuracy {100 * accuracy:.2f}%")
    return {"final_validation_accuracy": info.final_validation_accuracy, "test_accuracy": accuracy, "net": trained}


if __name__ == "__main__":
    main()
