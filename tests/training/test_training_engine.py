"""The neutral engine's switches that the MATLAB face does not use but other dialects (Wolfram) will: kept partial
batches, L2 after clipping, weight clipping, validation per epoch, a time limit, argument names, stop reasons."""

import math

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.network import Network
from minidl.optim import SGDM, ConstantSchedule
from minidl.training import ArraySource, EngineConfig, Observer, Trainer
from minidl.training import events as ev

RNG = np.random.default_rng(5)
X = RNG.standard_normal((23, 3))
T = X @ np.array([[2.0], [-1.0], [0.5]])
W0 = np.array([[0.3, -0.2, 0.1]])


def net():
    return Network([L.FeatureInput(3, normalization="none"), L.FullyConnected(1, weights=W0),
                    L.RegressionOutput()])


def config(**kw):
    base = dict(optimizer=SGDM(0.0), schedule=ConstantSchedule(0.05), max_epochs=2, batch_size=5, shuffle="never",
                dtype="float64", validation_frequency=None, validate_first_iteration=False)
    return EngineConfig(**{**base, **kw})


def test_partial_batch_kept_gives_ceil_n_over_b_iterations():
    _, info = Trainer(net(), ArraySource(X, T), config(partial_batch="keep")).run()
    assert info.iterations_per_epoch == 5 and len(info) == 10  # ceil(23/5)
    _, dropped = Trainer(net(), ArraySource(X, T), config()).run()
    assert dropped.iterations_per_epoch == 4 and len(dropped) == 8


def test_l2_after_clipping_by_hand():
    trained, _ = Trainer(net(), ArraySource(X, T), config(l2=0.5, l2_order="after_clip", gradient_threshold=0.1,
                                                          gradient_threshold_method="absolute-value",
                                                          max_epochs=1, batch_size=23)).run()
    d = (X @ W0.T - T) / 23
    g = np.clip(d.T @ X, -0.1, 0.1) + 0.5 * W0  # g ← clip(g) + λ·w
    np.testing.assert_allclose(to_host(trained.params["fc_1.weight"]), W0 - 0.05 * g, rtol=1e-14)


def test_weight_clipping_after_every_step():
    trained, _ = Trainer(net(), ArraySource(X, T), config(weight_clip=0.15, schedule=ConstantSchedule(1.0))).run()
    w = to_host(trained.params["fc_1.weight"])
    assert np.max(np.abs(w)) == pytest.approx(0.15)


def test_validation_after_every_epoch_and_not_at_the_end():
    _, info = Trainer(net(), ArraySource(X, T), config(validate_each_epoch=True, validate_at_end=False, max_epochs=3),
                      validation_data=ArraySource(X[:7], T[:7])).run()
    assert (np.flatnonzero(~np.isnan(info.validation_loss)) + 1).tolist() == [4, 8, 12]
    assert math.isnan(info.final_validation_loss)


def test_time_limit_stops_with_its_reason():
    _, info = Trainer(net(), ArraySource(X, T), config(time_limit=0.0)).run()
    assert len(info) == 1 and info.stop_reason == ev.TIME_LIMIT


class Criterion(Observer):
    """A dialect's own stopping rule: stop at the second epoch end with its reason."""

    def on_event(self, state):
        if state.event == ev.EPOCH_END and state.epoch == 2:
            return ev.EARLY_STOP


def test_an_observer_stops_with_its_own_reason():
    _, info = Trainer(net(), ArraySource(X, T), config(max_epochs=5), observers=[Criterion()]).run()
    assert info.stop_reason == ev.EARLY_STOP and len(info) == 8


def test_errors_use_the_dialect_argument_names():
    with pytest.raises(ValueError, match="BatchSize: got 50, more than the 23 training observations"):
        Trainer(net(), ArraySource(X, T), config(batch_size=50, names={"batch_size": "BatchSize"})).run()
    with pytest.raises(ValueError, match="shuffle: got 'sometimes'"):
        Trainer(net(), ArraySource(X, T), config(shuffle="sometimes")).run()
    with pytest.raises(TypeError, match="optimizer: got str"):
        Trainer(net(), ArraySource(X, T), config(optimizer="sgdm")).run()


def test_trainer_trains_the_given_network_in_place():
    n = net()
    trained, _ = Trainer(n, ArraySource(X, T), config()).run()
    assert trained is n and not np.array_equal(to_host(n.params["fc_1.weight"]), W0)
