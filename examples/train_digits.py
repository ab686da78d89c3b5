"""The trainingOptions reference's second example, Pythonic: the digits network with validation data.

MATLAB::

    [XTrain,YTrain] = digitTrain4DArrayData;
    idx = randperm(size(XTrain,4),1000);
    XValidation = XTrain(:,:,:,idx);  XTrain(:,:,:,idx) = [];
    YValidation = YTrain(idx);        YTrain(idx) = [];
    layers = [imageInputLayer([28 28 1]) convolution2dLayer(3,8,'Padding','same') batchNormalizationLayer ...];
    options = trainingOptions('sgdm', 'MaxEpochs',8, 'ValidationData',{XValidation,YValidation}, ...
        'ValidationFrequency',30, 'Verbose',false, 'Plots','training-progress');
    net = trainNetwork(XTrain,YTrain,layers,options);

minidl: the same, with the verbose table on and the figure saved to a file (in a new temporary folder unless
``--out FOLDER`` names one; nothing is written into the repository)::

    python examples/train_digits.py [--out FOLDER] [--max-epochs E]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import minidl.datasets as ds
from minidl import train_network, training_options
from minidl.__main__ import example_layers


def main(max_epochs: int = 8, plots_file: str | None = None, seed: int = 0):
    """Hold out 1000 of the 5000 training digits for validation, train, report; returns (net, info).

    plots_file: where the training-progress PNG goes (default: train_digits.png in a new temporary folder).
    """
    if plots_file is None:
        plots_file = os.path.join(tempfile.mkdtemp(prefix="minidl-train-digits-"), "train_digits.png")
    X, labels, _ = ds.digit_train_data()
    idx = np.random.default_rng(seed).permutation(len(X))[:1000]  # randperm(size(XTrain,4),1000)
    keep = np.ones(len(X), dtype=bool)
    keep[idx] = False
    options = training_options("sgdm", max_epochs=max_epochs, validation_data=(X[idx], labels[idx]),
                               validation_frequency=30, verbose=True, plots_file=plots_file, seed=seed)
    net, info = train_network(X[keep], labels[keep], example_layers(), options)
    print(f"{info.stop_reason}; final validation accuracy {info.final_validation_accuracy:.2f}% "
          f"(network of iteration {info.output_network_iteration})")
    print(f"training-progress figure: {plots_file}")
    return net, info


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="folder for train_digits.png (default: a new temporary folder)")
    parser.add_argument("--max-epochs", type=int, default=8)
    args = parser.parse_args()
    main(args.max_epochs, None if args.out is None else os.path.join(args.out, "train_digits.png"))
