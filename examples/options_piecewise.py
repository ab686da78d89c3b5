"""The trainingOptions reference's first example, Pythonic: sgdm with a piecewise learning-rate schedule.

MATLAB::

    options = trainingOptions('sgdm', 'LearnRateSchedule','piecewise', 'LearnRateDropFactor',0.2, ...
        'LearnRateDropPeriod',5, 'MaxEpochs',20, 'MiniBatchSize',64, 'Plots','training-progress')

minidl (the plot is written to a file here so the script runs anywhere; use ``plots="training-progress"`` without
``plots_file`` for a live window)::

    python examples/options_piecewise.py
"""

from __future__ import annotations

import numpy as np

import minidl.datasets as ds
from minidl import train_network, training_options
from minidl.__main__ import example_layers


def main(max_epochs: int = 20, plots_file: str | None = "options_piecewise.png"):
    """Make the options, show them, train on the digits; returns (options, net, info)."""
    options = training_options("sgdm", learn_rate_schedule="piecewise", learn_rate_drop_factor=0.2,
                               learn_rate_drop_period=5, max_epochs=max_epochs, mini_batch_size=64,
                               plots="none" if plots_file else "training-progress", plots_file=plots_file,
                               verbose_frequency=78)
    print(options)
    X, labels, _ = ds.digit_train_data()
    net, info = train_network(X, labels, example_layers(), options)
    rates = {int(e): float(r) for e, r in zip(info.epoch, info.base_learn_rate)}
    print("learning rate per epoch:", ", ".join(f"{e}: {r:g}" for e, r in rates.items()))
    X_test, labels_test, _ = ds.digit_test_data()
    print(f"test accuracy: {100 * np.mean(net.classify(X_test) == labels_test):.2f}%")
    return options, net, info


if __name__ == "__main__":
    main()
