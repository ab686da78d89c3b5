"""The reliability campaign's fixtures: a tiny problem, a finished run with checkpoints, campaign tallies.

Tests marked ``reliability`` are the long campaign: they run with ``pytest -m reliability tests/reliability`` and
are skipped otherwise; the unmarked tests here are the fast subset every run of the suite includes.
"""

from __future__ import annotations

import os
import types

import numpy as np
import pytest

from minidl import layers as L
from minidl import train_network, training_options


def pytest_collection_modifyitems(config, items):
    if "reliability" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="the long reliability campaign: run with pytest -m reliability tests/reliability")
    for item in items:
        if item.get_closest_marker("reliability") is not None:
            item.add_marker(skip)


def tiny_data(n: int = 24, seed: int = 0):
    """X (n, 3) in three labelled blobs, labels 'a', 'b', 'c'."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 3, n)
    X = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]])[idx] + 0.3 * rng.standard_normal((n, 3))
    return X, np.array(list("abc"))[idx]


def tiny_layers(bn: bool = True):
    body = [L.FeatureInput(3, normalization="zscore"), L.FullyConnected(4)]
    body += [L.BatchNormalization()] if bn else []
    return body + [L.ReLU(), L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()]


def tiny_options(folder=None, **kw):
    base = dict(mini_batch_size=6, max_epochs=3, precision="float64", verbose=False, initial_learn_rate=0.05,
                shuffle="every-epoch", seed=5, checkpoint_path=None if folder is None else str(folder))
    return training_options(kw.pop("solver", "sgdm"), **{**base, **kw})


def visible(folder) -> list[str]:
    """Checkpoint folders in ``folder`` (hidden entries and side files left out), oldest iteration first."""
    names = [n for n in os.listdir(folder) if not n.startswith(".")]
    return [os.path.join(folder, n) for n in sorted(names, key=lambda n: int(n.split("__")[1]))]


@pytest.fixture
def run(tmp_path):
    """A finished run of 3 epochs with a checkpoint after each: (net, info, [checkpoint paths], X, Y)."""
    X, Y = tiny_data()
    folder = tmp_path / "run"
    folder.mkdir()
    net, info = train_network(X, Y, tiny_layers(), tiny_options(folder, validation_data=tiny_data(9, 1)))
    return types.SimpleNamespace(net=net, info=info, paths=visible(folder), X=X, Y=Y, folder=folder,
                                 Xv=tiny_data(9, 1)[0], Yv=tiny_data(9, 1)[1])


class Tally:
    """Counts outcomes of a campaign by kind and prints one line (``pytest -s`` shows it) for the report."""

    def __init__(self, name: str):
        self.name, self.counts, self.examples = name, {}, {}

    def add(self, kind: str, example=None) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if example is not None:
            self.examples.setdefault(kind, []).append(example)

    def report(self) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        line = f"[campaign] {self.name}: {total} tried, {parts}"
        print(line)
        return line
