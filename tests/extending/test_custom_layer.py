"""Custom layers and losses train, checkpoint, save and load through the explicit registry (issue 12 item 4)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import minidl
from minidl import layers as L
from minidl.backend import get_array_module
from minidl.layers import base
from minidl.testing import check_layer
from minidl.training.serialization import layer_from_json, layer_to_json


class Gain(L.Layer):
    """y = x · g with a learnable gain g per feature (shape input_shape), started at ``init``."""

    kind = "gain"
    factor_defaults = {"gain": (1.0, 1.0)}

    def __init__(self, init: float = 1.0, name: str | None = None, **factors: float):
        super().__init__(name=name, **factors)
        self.init = float(init)

    def build(self, input_shape, rng):
        if "gain" not in self.params:
            self.params["gain"] = np.full(input_shape, self.init)
        return input_shape

    def forward(self, x, training=False):
        self._check_input(x)
        if training:
            self._cache = x
        return x * self.params["gain"]

    def backward(self, dy):
        x = self._need_cache()
        self.grads["gain"] = (dy * x).sum(axis=0)
        return dy * self.params["gain"]


class AbsLoss(L.OutputLayer):
    """Σₙ Σᵣ |yₙᵣ − tₙᵣ| / N, no RMSE definition."""

    kind = "absloss"

    def loss_array(self, y, t):
        return get_array_module(y).abs(y - t.reshape(y.shape)).sum() / y.shape[0]

    def loss_gradient(self, y, t):
        return get_array_module(y).sign(y - t.reshape(y.shape)) / y.shape[0]

    def example_losses(self, y, t):
        return get_array_module(y).abs(y - t.reshape(y.shape)).reshape(y.shape[0], -1).sum(axis=1)


@pytest.fixture
def registry():
    """A clean registry for each test (the registry is process-wide)."""
    saved = dict(base._REGISTERED)
    base._REGISTERED.clear()
    yield
    base._REGISTERED.clear()
    base._REGISTERED.update(saved)


def _layers():
    return [L.FeatureInput(3, normalization="none"), Gain(0.5, name="g"), L.FullyConnected(2), AbsLoss()]


def _data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((32, 3))
    return X, X @ rng.standard_normal((3, 2))


def test_gain_layer_gradients():
    worst = check_layer(Gain(0.7), (4, 3))
    assert set(worst) == {"x", "gain"} and max(worst.values()) < 1e-6


def test_unregistered_layer_cannot_be_saved(registry):
    with pytest.raises(TypeError, match=r"register_layer\(Gain\)"):
        layer_to_json(Gain())


def test_registered_layer_round_trips_by_name(registry):
    L.register_layer(Gain)
    spec = layer_to_json(Gain(0.25, name="g", gain_learn_rate_factor=2.0))
    assert spec["type"] == "Gain" and spec["args"]["init"] == 0.25
    back = layer_from_json(json.loads(json.dumps(spec)))
    assert type(back) is Gain and back.init == 0.25 and back.learn_rate_factors["gain"] == 2.0


def test_decorator_and_custom_name(registry):
    @L.register_layer(name="MyGain")
    class Gain2(Gain):
        pass

    assert layer_to_json(Gain2())["type"] == "MyGain" and L.registered_layers()["MyGain"] is Gain2
    assert L.register_layer(AbsLoss) is AbsLoss


def test_unknown_name_on_load_names_the_layer_and_the_fix(registry):
    with pytest.raises(ValueError, match=r"'Gain' is neither a minidl layer nor registered.*register_layer"):
        layer_from_json({"type": "Gain", "args": {}})
    with pytest.raises(ValueError, match="allowed"):
        layer_from_json({"type": "os.system", "args": []})


def test_registration_errors(registry):
    with pytest.raises(ValueError, match="name of a minidl layer"):
        L.register_layer(Gain, name="ReLU")
    with pytest.raises(TypeError, match="subclass of minidl.layers.Layer"):
        L.register_layer(int)
    L.register_layer(Gain)

    class Other(L.Layer):
        pass

    with pytest.raises(ValueError, match="is registered for"):
        L.register_layer(Other, name="Gain")


def test_custom_layer_and_loss_train_checkpoint_save_load_resume(registry, tmp_path):
    L.register_layer(Gain)
    L.register_layer(AbsLoss)
    X, T = _data()
    ck = tmp_path / "ck"
    ck.mkdir()
    kw = dict(mini_batch_size=8, verbose=False, shuffle="never", initial_learn_rate=0.05, checkpoint_path=str(ck))
    net, info = minidl.train_network(X, T, _layers(), minidl.training_options("sgdm", max_epochs=2, **kw))
    assert np.isfinite(info.training_loss).all() and np.isnan(info.training_rmse).all()
    assert not np.allclose(net.params["g.gain"], 0.5)            # the custom layer learned
    path = minidl.save_network(net, tmp_path / "saved")
    back = minidl.load_network(path)
    assert isinstance(back.layers[1], Gain) and isinstance(back.layers[-1], AbsLoss)
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    # resume from the epoch-1 checkpoint gives the same network as the uninterrupted run
    first = sorted(n for n in os.listdir(ck) if not n.startswith("."))[0]
    resumed, _ = minidl.train_network(X, T, None, minidl.training_options("sgdm", max_epochs=2, **kw),
                                      resume_from=str(ck / first))
    np.testing.assert_array_equal(resumed.predict(X), net.predict(X))
    base._REGISTERED.clear()                                     # a program that did not register the classes
    with pytest.raises(ValueError, match="'Gain' is neither"):
        minidl.load_network(path)
