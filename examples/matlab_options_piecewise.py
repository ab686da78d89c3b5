"""The trainingOptions reference's first example, in the MATLAB dialect: SGDM with a piecewise learning rate.

MATLAB::

    options = trainingOptions('sgdm', ...
        'LearnRateSchedule','piecewise', ...
        'LearnRateDropFactor',0.2, ...
        'LearnRateDropPeriod',5, ...
        'MaxEpochs',20, ...
        'MiniBatchSize',64, ...
        'Plots','training-progress')

This script makes exactly those options, displays them as MATLAB does, then trains a small digits network with them
for the full 20 epochs on the 5000 training digits (78 iterations per epoch; under a minute on two cores) and prints
the base learning rate of every epoch from ``info.BaseLearnRate``: 0.01 for epochs 1–5, then ×0.2 every 5 epochs.
The training-progress figure is written to a PNG (minidl's 'PlotsFile'; a window opens instead when matplotlib has
an interactive backend).

Run:  python examples/matlab_options_piecewise.py [--quick] [--out FOLDER]
      (--quick or MINIDL_QUICK=1: 128 training images, 2 iterations per epoch; still 20 epochs)
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from minidl.matlab import (
    batchNormalizationLayer,
    classificationLayer,
    classify,
    convolution2dLayer,
    digitTest4DArrayData,
    digitTrain4DArrayData,
    fullyConnectedLayer,
    imageInputLayer,
    maxPooling2dLayer,
    reluLayer,
    softmaxLayer,
    trainingOptions,
    trainNetwork,
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (128 training images)")
    parser.add_argument("--out", default=None,
                        help="folder for the training-progress PNG (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.out is None:  # never write into the repository or the current folder unasked
        args.out = tempfile.mkdtemp(prefix="minidl-piecewise-")

    options = trainingOptions('sgdm',
                              'LearnRateSchedule', 'piecewise',
                              'LearnRateDropFactor', 0.2,
                              'LearnRateDropPeriod', 5,
                              'MaxEpochs', 20,
                              'MiniBatchSize', 64,
                              'Plots', 'training-progress',
                              'PlotsFile', os.path.join(args.out, "piecewise-training-progress.png"))  # minidl
    print("options =\n")
    print(options)
    print()

    XTrain, YTrain, _ = digitTrain4DArrayData()
    if args.quick:
        XTrain, YTrain = XTrain[:, :, :, :128], YTrain[:128]

    layers = [
        imageInputLayer([28, 28, 1]),
        convolution2dLayer(3, 8, 'Padding', 'same'),
        batchNormalizationLayer(),
        reluLayer(),
        maxPooling2dLayer(2, 'Stride', 2),
        fullyConnectedLayer(10),
        softmaxLayer(),
        classificationLayer(),
    ]
    net, info = trainNetwork(XTrain, YTrain, layers, options)

    per_epoch = len(info.BaseLearnRate) // options.MaxEpochs
    rates = info.BaseLearnRate[::per_epoch]
    print("\nBase learning rate per epoch (from info.BaseLearnRate):")
    for epoch, rate in enumerate(rates, 1):
        expected = 0.01 * 0.2 ** ((epoch - 1) // 5)
        print(f"  epoch {epoch:2d}: {rate:.6g}   (0.01·0.2^floor((epoch−1)/5) = {expected:.6g})")

    XTest, YTest, _ = digitTest4DArrayData()
    accuracy = float(np.mean(classify(net, XTest) == YTest))
    print(f"\nTest accuracy on {YTest.size} digits: {100 * accuracy:.2f}% (trained on {YTrain.size} images)")
    return {"rates": rates, "accuracy": accuracy}


if __name__ == "__main__":
    main()
