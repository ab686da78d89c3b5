"""learn_rate_schedule takes a callable f(epoch, iteration): rate = initial_learn_rate·f (issue 12 item 12)."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import layers as L


@pytest.fixture
def problem():
    """60 points in 4 dimensions, 3 classes; a small MLP."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    Y = np.array(["a", "b", "c"])[np.argmax(X[:, :3], axis=1)]

    def mlp():
        return [L.FeatureInput(4), L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()]

    class P:
        pass

    p = P()
    p.X, p.Y, p.mlp = X, Y, mlp
    return p


def _opts(tmp_path=None, **kw):
    base = dict(max_epochs=3, mini_batch_size=20, verbose=False, shuffle="never", initial_learn_rate=0.1)
    return minidl.training_options("sgdm", **{**base, **kw})


def test_callable_schedule_gets_epoch_and_iteration(problem, tmp_path):
    calls = []

    def f(epoch, iteration):
        calls.append((epoch, iteration))
        return 0.5 ** (epoch - 1) / iteration

    ck = tmp_path / "ck"
    ck.mkdir()
    _, info = minidl.train_network(problem.X, problem.Y, problem.mlp(),
                                   _opts(learn_rate_schedule=f, checkpoint_path=str(ck)))
    assert calls == [(e, i) for i in range(1, 10) for e in [(i - 1) // 3 + 1]]
    np.testing.assert_allclose(info.base_learn_rate, [0.1 * f(e, i) for e, i in calls[:9]], rtol=1e-15)
    info.to_json(tmp_path / "info.json")                                  # the settings stay writable


def test_callable_schedule_bad_value(problem):
    with pytest.raises(ValueError, match=r"learn_rate_schedule: f\(1, 1\) returned nan; allowed: a finite"):
        minidl.train_network(problem.X, problem.Y, problem.mlp(),
                             _opts(learn_rate_schedule=lambda e, i: float("nan")))
    with pytest.raises(ValueError, match="learn_rate_schedule"):
        _opts(learn_rate_schedule="cosine")
