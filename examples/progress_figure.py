"""The training-progress figure of the documented example, written to a PNG (docs/training-progress.png on request).

MATLAB's example: a small CNN on 28×28 digit images (4000 for training, 1000 for validation), sgdm, 8 epochs,
validation every 30 iterations, ``Plots='training-progress'``. When minidl's engine is installed the script trains
that network; otherwise it replays a realistic synthetic run of the same shape through the same observer, so the
figure can be produced (and looked at) on any machine.

Run:  python examples/progress_figure.py [output.png | --docs] [--synthetic]

Without a path the PNG goes to a new temporary folder (nothing is written into the repository); ``--docs``
regenerates the README's picture, docs/training-progress.png, on purpose.
"""

from __future__ import annotations

import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")  # headless: the figure goes to a file

import numpy as np  # noqa: E402

from minidl.reporting.figure import TrainingProgressFigure  # noqa: E402
from minidl.training import events  # noqa: E402
from minidl.training.events import TrainingState  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS_OUTPUT = os.path.join(HERE, "..", "docs", "training-progress.png")  # written only with --docs


def train_documented_example(output: str, max_epochs: int = 8, seed: int = 0) -> bool:
    """Train MATLAB's digits example with the figure on; False when the engine is not available."""
    try:
        from minidl import datasets, train_network, training_options
        from minidl.__main__ import example_layers
    except ImportError:
        return False
    X, labels, _ = datasets.digit_train_data()
    idx = np.random.default_rng(seed).permutation(len(X))[:1000]  # randperm(size(XTrain,4),1000)
    keep = np.ones(len(X), dtype=bool)
    keep[idx] = False
    options = training_options("sgdm", max_epochs=max_epochs, validation_data=(X[idx], labels[idx]),
                               validation_frequency=30, verbose=False, plots="training-progress",
                               plots_file=output, seed=seed)
    train_network(X[keep], labels[keep], example_layers(), options)
    return True


def synthetic_states(seed: int = 0) -> list[TrainingState]:
    """The events of a realistic classification run: 8 epochs of 31 iterations, validation every 30."""
    rng = np.random.default_rng(seed)
    ipe, max_epochs, batch, freq = 31, 8, 128, 30
    n = ipe * max_epochs
    settings = {"solver": "sgdm", "hardware": "CPU (NumPy)", "learn_rate_schedule": "none",
                "mini_batch_size": batch, "validation_frequency": freq}
    base = dict(iterations_per_epoch=ipe, max_epochs=max_epochs, max_iterations=n, base_learn_rate=0.01)
    states = [TrainingState(event=events.START, extra={"settings": settings}, **base)]
    t = 0.0
    for it in range(1, n + 1):
        p = 0.985 - 0.885 * np.exp(-it / 38.0)  # probability a mini-batch example is right
        acc = 100.0 * rng.binomial(batch, p) / batch
        loss = float(-np.log(p) * (1.0 + 0.22 * rng.standard_normal()) + 0.02 * rng.random())
        t += 0.12 + 0.01 * rng.random()
        epoch = (it - 1) // ipe + 1
        common = dict(base, epoch=epoch, iteration=it, time_since_start=t)
        states.append(TrainingState(event=events.ITERATION, training_accuracy=acc, training_loss=max(loss, 0.005),
                                    **common))
        if it == 1 or it % freq == 0 or it == n:
            pv = 0.975 - 0.87 * np.exp(-it / 40.0)
            t += 0.6
            common["time_since_start"] = t
            states.append(TrainingState(event=events.VALIDATION, validation_accuracy=100.0 * pv,
                                        validation_loss=float(-np.log(pv) + 0.03), **common))
        if it % ipe == 0:
            states.append(TrainingState(event=events.EPOCH_END, **common))
    states.append(TrainingState(event=events.DONE, **dict(common, time_since_start=t + 1.5),
                                stop_reason=events.MAX_EPOCHS, final_validation_accuracy=98.6,
                                final_validation_loss=0.0512))
    return states


def replay(output: str) -> TrainingProgressFigure:
    """Send the synthetic run's events through the figure observer, as the engine would."""
    figure = TrainingProgressFigure(plots_file=output, show=False)
    for state in synthetic_states():
        figure.on_event(state)
    figure.close()
    return figure


def main(argv: list[str]) -> int:
    paths = [a for a in argv[1:] if not a.startswith("--")]
    if paths and "--docs" in argv:
        print("give an output path or --docs, not both", file=sys.stderr)
        return 2
    if "--docs" in argv:
        output = os.path.abspath(DOCS_OUTPUT)
    elif paths:
        output = os.path.abspath(paths[0])
    else:
        output = os.path.join(tempfile.mkdtemp(prefix="minidl-progress-"), "training-progress.png")
    if "--synthetic" in argv or not train_documented_example(output):
        replay(output)
        print("replayed a synthetic run")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
