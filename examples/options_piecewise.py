"""The trainingOptions reference's first example, Pythonic: sgdm with a piecewise learning-rate schedule.

MATLAB::

    options = trainingOptions('sgdm', 'LearnRateSchedule','piecewise', 'LearnRateDropFactor',0.2, ...
        'LearnRateDropPeriod',5, 'MaxEpochs',20, 'MiniBatchSize',64, 'Plots','training-progress')

minidl (the plot is written to a file so the script runs anywhere, in a new temporary folder unless ``--out FOLDER``
names one; ``--show`` opens the live window instead)::

    python examples/options_piecewise.py [--out FOLDER | --show] [--max-epochs E]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import minidl.datasets as ds
from minidl import train_network, training_options
from minidl.__main__ import example_layers


def main(max_epochs: int = 20, plots_file: str | None = "", show: bool = False):
    """Make the options, show them, train on the digits; returns (options, net, info).

    plots_file: the PNG to write ("" — the default — means options_piecewise.png in a new temporary folder);
    show=True opens the live figure window instead of writing a file.
    """
    if show:
        plots_file = None
    elif not plots_file:
        plots_file = os.path.join(tempfile.mkdtemp(prefix="minidl-piecewise-"), "options_piecewise.png")
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
    if plots_file:
        print(f"training-progress figure: {plots_file}")
    return options, net, info


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="folder for options_piecewise.png (default: a temporary folder)")
    parser.add_argument("--show", action="store_true", help="a live figure window instead of a file")
    parser.add_argument("--max-epochs", type=int, default=20)
    args = parser.parse_args()
    main(args.max_epochs, "" if args.out is None else os.path.join(args.out, "options_piecewise.png"), args.show)
