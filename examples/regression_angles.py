"""Rotation-angle regression on the synthetic digits (MATLAB: "Train Convolutional Neural Network for Regression").

A convolutional network reads a digit image and predicts the angle (degrees) it was rotated by. The network and
options follow MATLAB's example: average pooling, dropout 0.2, a single-output fully connected layer and a
regression (half mean squared error) output; sgdm with InitialLearnRate 1e-3 dropped by 10x after 20 epochs,
30 epochs, shuffling every epoch, validation about once per epoch.

    python examples/regression_angles.py [--max-epochs 30]
"""

from __future__ import annotations

import argparse

import numpy as np

import minidl.datasets as ds
from minidl import layers as L
from minidl import train_network, training_options
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import AveragePooling2D


def regression_layers() -> list:
    """MATLAB's regression example network."""
    return [
        L.ImageInput((1, 28, 28)),
        Convolution2D(3, 8, padding="same"), L.BatchNormalization(), L.ReLU(), AveragePooling2D(2, stride=2),
        Convolution2D(3, 16, padding="same"), L.BatchNormalization(), L.ReLU(), AveragePooling2D(2, stride=2),
        Convolution2D(3, 32, padding="same"), L.BatchNormalization(), L.ReLU(),
        Convolution2D(3, 32, padding="same"), L.BatchNormalization(), L.ReLU(),
        L.Dropout(0.2), L.FullyConnected(1), L.RegressionOutput(),
    ]


def main(max_epochs: int = 30, initial_learn_rate: float = 1e-3, drop_period: int = 20, verbose: bool = True):
    """Train and report; returns (net, info, validation RMSE in degrees)."""
    X, _, angles = ds.digit_train_data()
    X_val, _, angles_val = ds.digit_test_data()
    options = training_options(
        "sgdm", mini_batch_size=128, max_epochs=max_epochs, initial_learn_rate=initial_learn_rate,
        learn_rate_schedule="piecewise", learn_rate_drop_factor=0.1, learn_rate_drop_period=drop_period,
        shuffle="every-epoch", validation_data=(X_val, angles_val), validation_frequency=len(X) // 128,
        verbose=verbose)
    net, info = train_network(X, angles, regression_layers(), options)
    predicted = net.predict(X_val)[:, 0]
    rmse = float(np.sqrt(np.mean((predicted - angles_val) ** 2)))
    within = float(np.mean(np.abs(predicted - angles_val) < 10) * 100)
    print(f"Validation RMSE: {rmse:.2f} degrees; {within:.1f}% of predictions within 10 degrees")
    return net, info, rmse


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=30)
    main(parser.parse_args().max_epochs)
