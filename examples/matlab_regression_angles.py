"""MATLAB's "Train Convolutional Neural Network for Regression", in the MATLAB dialect: predict digit rotation angles.

MATLAB::

    [XTrain,~,YTrain] = digitTrain4DArrayData;
    [XValidation,~,YValidation] = digitTest4DArrayData;
    layers = [ imageInputLayer([28 28 1])
        convolution2dLayer(3,8,'Padding','same')   batchNormalizationLayer  reluLayer
        averagePooling2dLayer(2,'Stride',2)
        convolution2dLayer(3,16,'Padding','same')  batchNormalizationLayer  reluLayer
        averagePooling2dLayer(2,'Stride',2)
        convolution2dLayer(3,32,'Padding','same')  batchNormalizationLayer  reluLayer
        convolution2dLayer(3,32,'Padding','same')  batchNormalizationLayer  reluLayer
        dropoutLayer(0.2)
        fullyConnectedLayer(1)
        regressionLayer];
    miniBatchSize = 128;
    validationFrequency = floor(numel(YTrain)/miniBatchSize);
    options = trainingOptions('sgdm', 'MiniBatchSize',miniBatchSize, 'MaxEpochs',30, 'InitialLearnRate',1e-3, ...
        'LearnRateSchedule','piecewise', 'LearnRateDropFactor',0.1, 'LearnRateDropPeriod',20, ...
        'Shuffle','every-epoch', 'ValidationData',{XValidation,YValidation}, ...
        'ValidationFrequency',validationFrequency, 'Plots','training-progress', 'Verbose',false);
    net = trainNetwork(XTrain,YTrain,layers,options);
    YPredicted = predict(net,XValidation);
    predictionError = YValidation - YPredicted;

Same network, options and schedule (30 epochs of 39 iterations, the rate ×0.1 after epoch 20); about a minute on
two idle CPU cores, reaching a validation RMSE of about 5.4 degrees (goal: under 10).  --epochs E shortens the
run and scales the drop period with it (--epochs 12: rate dropped after 8, RMSE about 6.4 in half the time).
Prints the validation RMSE and the share of predictions within 10 degrees, as the MATLAB example does.

Run:  python examples/matlab_regression_angles.py [--quick] [--epochs E] [--out FOLDER]
      (--quick or MINIDL_QUICK=1: 512 images, 2 epochs)
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from minidl.matlab import (
    averagePooling2dLayer,
    batchNormalizationLayer,
    convolution2dLayer,
    digitTest4DArrayData,
    digitTrain4DArrayData,
    dropoutLayer,
    fullyConnectedLayer,
    imageInputLayer,
    predict,
    regressionLayer,
    reluLayer,
    trainingOptions,
    trainNetwork,
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (512 images, 2 epochs)")
    parser.add_argument("--epochs", type=int, default=30, help="MaxEpochs (default: MATLAB's 30)")
    parser.add_argument("--out", default=None,
                        help="folder for the training-progress PNG (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.out is None:  # never write into the repository or the current folder unasked
        args.out = tempfile.mkdtemp(prefix="minidl-regression-")

    XTrain, _, YTrain = digitTrain4DArrayData()
    XValidation, _, YValidation = digitTest4DArrayData()
    epochs = 2 if args.quick else args.epochs
    if args.quick:
        XTrain, YTrain = XTrain[:, :, :, :512], YTrain[:512]
        XValidation, YValidation = XValidation[:, :, :, :256], YValidation[:256]

    layers = [
        imageInputLayer([28, 28, 1]),
        convolution2dLayer(3, 8, 'Padding', 'same'),
        batchNormalizationLayer(),
        reluLayer(),
        averagePooling2dLayer(2, 'Stride', 2),
        convolution2dLayer(3, 16, 'Padding', 'same'),
        batchNormalizationLayer(),
        reluLayer(),
        averagePooling2dLayer(2, 'Stride', 2),
        convolution2dLayer(3, 32, 'Padding', 'same'),
        batchNormalizationLayer(),
        reluLayer(),
        convolution2dLayer(3, 32, 'Padding', 'same'),
        batchNormalizationLayer(),
        reluLayer(),
        dropoutLayer(0.2),
        fullyConnectedLayer(1),
        regressionLayer(),
    ]

    miniBatchSize = 128
    validationFrequency = YTrain.shape[0] // miniBatchSize          # floor(numel(YTrain)/miniBatchSize)
    options = trainingOptions('sgdm',
                              'MiniBatchSize', miniBatchSize,
                              'MaxEpochs', epochs,
                              'InitialLearnRate', 1e-3,
                              'LearnRateSchedule', 'piecewise',
                              'LearnRateDropFactor', 0.1,
                              'LearnRateDropPeriod', max(1, round(epochs * 20 / 30)),
                              'Shuffle', 'every-epoch',
                              'ValidationData', (XValidation, YValidation),  # {XValidation,YValidation}
                              'ValidationFrequency', validationFrequency,
                              'Plots', 'training-progress',
                              'PlotsFile', os.path.join(args.out, "regression-training-progress.png"),  # minidl
                              'Verbose', True)

    net, info = trainNetwork(XTrain, YTrain, layers, options)

    YPredicted = predict(net, XValidation)                          # N×1, like YValidation
    predictionError = YValidation - YPredicted
    thr = 10
    accuracy = float(np.mean(np.abs(predictionError) < thr))
    rmse = float(np.sqrt(np.mean(predictionError ** 2)))
    print(f"\nValidation RMSE: {rmse:.2f} degrees (goal: under 10); info.FinalValidationRMSE = "
          f"{info.FinalValidationRMSE:.2f}")
    print(f"Predictions within {thr} degrees: {100 * accuracy:.1f}%")
    return {"rmse": rmse, "accuracy": accuracy, "final_validation_rmse": info.FinalValidationRMSE}


if __name__ == "__main__":
    main()
