"""Flatten, Reshape, Elementwise and Wolfram's extra output layers: shapes, float64 gradient checks, JSON."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.testing import check_layer
from minidl.training.serialization import layer_from_json, layer_to_json


@pytest.mark.parametrize("layer, shape, out", [
    (L.Flatten(), (2, 3, 4, 5), (60,)),
    (L.Flatten(1), (2, 3, 4, 5), (12, 5)),
    (L.Reshape((2, 3)), (2, 6), (2, 3)),
    (L.Reshape((-1, 2)), (3, 2, 2, 2), (4, 2)),
    (L.Reshape(("Automatic", 3)), (2, 6), (2, 3)),
])
def test_shape_layers_map_shapes_and_pass_gradients_back(layer, shape, out, backend, rng):
    assert layer.initialize(shape[1:]) == out
    x = rng.standard_normal(shape)
    y = layer.forward(x)
    np.testing.assert_array_equal(y.ravel(), x.ravel())   # same elements, C order
    check_layer(layer, shape, backend=backend, rng=rng)


def test_shape_layers_reject_what_cannot_fit():
    with pytest.raises(ValueError, match="cannot take the shape"):
        L.Reshape((4, 2)).initialize((6,))
    with pytest.raises(ValueError, match="do not split"):
        L.Reshape((-1, 4)).initialize((6,))
    with pytest.raises(ValueError, match="at most one -1"):
        L.Reshape((-1, -1))
    with pytest.raises(ValueError, match="levels=2 needs at least 3 axes"):
        L.Flatten(2).initialize((3, 4))


@pytest.mark.parametrize("f", ["Tanh", "LogisticSigmoid", "SELU"])
def test_elementwise_layer_gradient(f, backend, rng):
    check_layer(L.Elementwise(f), (3, 2, 4), backend=backend, rng=rng)


def test_elementwise_layer_names_the_allowed_functions():
    with pytest.raises(ValueError, match="function: got 'tanh'; allowed: Ramp"):
        L.Elementwise("tanh")


@pytest.mark.parametrize("layer", [L.Flatten(1), L.Reshape((2, -1)), L.Elementwise("Ramp"), L.MeanAbsoluteLoss(),
                                   L.BinaryCrossEntropyLoss(), L.ProbabilitiesCrossEntropyLoss()])
def test_new_layers_round_trip_through_json(layer):
    back = layer_from_json(layer_to_json(layer))
    assert type(back) is type(layer) and back.describe() == layer.describe()


def test_output_layers_reshape_targets_and_have_no_rmse(rng):
    y = rng.uniform(0.1, 0.9, (4, 1))
    t = np.array([1.0, 0.0, 1.0, 1.0])
    bce = L.BinaryCrossEntropyLoss()
    expected = -np.mean(t * np.log(y[:, 0]) + (1 - t) * np.log(1 - y[:, 0]))
    assert bce.loss(y, t) == pytest.approx(expected, rel=1e-14)
    assert np.isnan(bce.rmse_from_loss(0.3, 1))
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    soft = np.array([[0.5, 0.5], [1.0, 0.0]])
    ce = L.ProbabilitiesCrossEntropyLoss()
    assert ce.loss(p, soft) == pytest.approx(-(0.5 * np.log(0.2) + 0.5 * np.log(0.8) + np.log(0.5)) / 2, rel=1e-14)
    assert L.MeanAbsoluteLoss().loss(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])) == pytest.approx(1.5)
