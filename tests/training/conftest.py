"""Small deterministic problems shared by the training tests (fixtures only; test files import nothing from here)."""

from __future__ import annotations

import types

import numpy as np
import pytest

from minidl import layers as L


def _blobs(n: int, seed: int, k: int = 3, f: int = 4):
    """n points in f dimensions around k centres; labels are strings (sorted classes: 'ant', 'bee', 'cat')."""
    rng = np.random.default_rng(seed)
    names = np.array(["cat", "ant", "bee"][:k])
    centres = np.random.default_rng(100).standard_normal((k, f)) * 2.0  # the same centres for every set
    idx = rng.integers(0, k, n)
    X = centres[idx] + 0.5 * rng.standard_normal((n, f))
    return X, names[idx]


@pytest.fixture
def problem():
    """Classification: X (N, 4), string labels; validation set; layer factories; regression data."""
    X, Y = _blobs(60, 0)
    Xv, Yv = _blobs(25, 1)
    rng = np.random.default_rng(2)
    Xr = rng.standard_normal((48, 3))
    Tr = Xr @ np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 1.5]]) + np.array([0.1, -0.3])

    def mlp(bn: bool = True, dropout: float | None = None, norm: str = "zerocenter", **fc_kw):
        layers = [L.FeatureInput(4, normalization=norm), L.FullyConnected(6, **fc_kw)]
        if bn:
            layers.append(L.BatchNormalization())
        layers.append(L.ReLU())
        if dropout:
            layers.append(L.Dropout(dropout))
        return layers + [L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()]

    def linear_regression(**fc_kw):
        return [L.FeatureInput(3, normalization="none"), L.FullyConnected(2, **fc_kw), L.RegressionOutput()]

    return types.SimpleNamespace(X=X, Y=Y, Xv=Xv, Yv=Yv, Xr=Xr, Tr=Tr, mlp=mlp, linear_regression=linear_regression)


class Recorder:
    """An output function that keeps every record it receives (and can stop at a given iteration)."""

    def __init__(self, stop_at: int | None = None):
        self.records = []
        self.stop_at = stop_at

    def __call__(self, info):
        self.records.append(dict(info))
        return self.stop_at is not None and info["Iteration"] == self.stop_at and info["State"] == "iteration"


@pytest.fixture
def recorder():
    """A factory of recording output functions."""
    return Recorder
