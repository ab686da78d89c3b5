"""Merge layers (Addition, Concatenation, DepthConcatenation, Threading): the multi-input protocol of the graph
interface, shapes and the errors naming the layer and the input, float64 gradient checks on every backend, PyTorch
cross-checks, and their save/load round trip."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_device, to_host
from minidl.testing import assert_allclose, gradient_check
from minidl.training.serialization import layer_from_json, layer_to_json


def _check_multi(layer, shapes, backend, rng, inputs=None):
    """Gradient-check a multi-input layer: every dxᵢ against finite differences (float64, on ``backend``)."""
    layer.initialize([s[1:] for s in shapes], rng=rng, dtype="float64", device=backend)
    host = inputs if inputs is not None else [rng.standard_normal(s) for s in shapes]
    arrays = {f"x{i}": to_device(h, backend, dtype="float64") for i, h in enumerate(host)}

    def f(**kw):
        return layer.forward([kw[f"x{i}"] for i in range(len(shapes))], training=True)

    def backward(dy):
        return {f"x{i}": g for i, g in enumerate(layer.backward(dy))}

    return gradient_check(f, arrays, backward, rng=rng)


def test_ports_follow_the_number_of_inputs():
    assert L.Addition(3).input_names == ("in1", "in2", "in3")
    assert L.Concatenation(2, 4).input_names == ("in1", "in2", "in3", "in4")
    assert L.DepthConcatenation().input_names == ("in1", "in2")
    assert L.Addition().output_names == ("out",)
    layer = L.Threading("Plus")
    layer.set_num_inputs(5)
    assert layer.input_names == tuple(f"in{i}" for i in range(1, 6))


@pytest.mark.parametrize("make", [lambda: L.Addition(1), lambda: L.Concatenation(0), lambda: L.Concatenation(1, 1),
                                  lambda: L.Threading("Sin"), lambda: L.Threading("Divide", 3)])
def test_bad_arguments_name_the_argument(make):
    with pytest.raises(ValueError, match="num_inputs|dim|function"):
        make()


def test_addition_forward_backward(backend, rng):
    shapes = [(3, 2, 4, 5)] * 3
    worst = _check_multi(L.Addition(3), shapes, backend, rng)
    assert max(worst.values()) < 1e-6
    layer = L.Addition(3)
    layer.initialize([s[1:] for s in shapes], dtype="float64")
    xs = [rng.standard_normal(s) for s in shapes]
    kept = [x.copy() for x in xs]
    y = layer.forward(xs, training=True)
    assert_allclose(y, xs[0] + xs[1] + xs[2], rtol=0)
    assert all(np.array_equal(a, b) for a, b in zip(xs, kept))  # the inputs are never written
    dy = rng.standard_normal(y.shape)
    assert all(np.array_equal(g, dy) for g in layer.backward(dy))


def test_addition_of_sequences_takes_any_length(rng):
    layer = L.Addition()
    assert layer.initialize([(4, None), (4, None)], dtype="float64") == (4, None)
    xs = [rng.standard_normal((2, 4, 7)) for _ in range(2)]
    assert_allclose(layer.forward(xs), xs[0] + xs[1], rtol=0)


def test_addition_size_mismatch_names_layer_and_input():
    layer = L.Addition(3, name="add_1")
    with pytest.raises(ValueError, match=r"layer 'add_1' input 'in3': got 8x14x14, expected 16x14x14 like 'in1'"):
        layer.initialize([(16, 14, 14), (16, 14, 14), (8, 14, 14)])


def test_addition_forward_checks_the_arrays():
    layer = L.Addition(name="add_1")
    layer.initialize([(2, 3), (2, 3)])
    with pytest.raises(ValueError, match="a list of 2 arrays"):
        layer.forward(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="layer 'add_1' input 'in2'"):
        layer.forward([np.zeros((1, 2, 3), np.float32), np.zeros((1, 3, 2), np.float32)])


@pytest.mark.parametrize("dim, shapes, out", [
    (1, [(2, 3, 4, 5), (2, 1, 4, 5), (2, 2, 4, 5)], (6, 4, 5)),    # channels
    (2, [(2, 3, 4, 5), (2, 3, 2, 5)], (3, 6, 5)),                  # height
    (3, [(2, 3, 4, 5), (2, 3, 4, 1)], (3, 4, 6)),                  # width
    (1, [(4, 3), (4, 7)], (10,)),                                  # features
    (1, [(2, 3, 6), (2, 2, 6)], (5, 6)),                           # sequence channels
])
def test_concatenation_shapes_values_and_gradients(backend, rng, dim, shapes, out):
    layer = L.Concatenation(dim, len(shapes))
    assert layer.initialize([s[1:] for s in shapes], dtype="float64") == out
    xs = [rng.standard_normal(s) for s in shapes]
    assert_allclose(layer.forward(xs), np.concatenate(xs, axis=dim), rtol=0)
    worst = _check_multi(L.Concatenation(dim, len(shapes)), shapes, backend, rng)
    assert max(worst.values()) < 1e-6


def test_concatenation_errors_name_layer_and_input():
    with pytest.raises(ValueError, match=r"layer 'cat' input 'in2': got 3x5x5, expected \*x4x4 like 'in1'"):
        L.DepthConcatenation(name="cat").initialize([(2, 4, 4), (3, 5, 5)])
    with pytest.raises(ValueError, match=r"layer 'cat' input 'in1': got 4x3, which has no axis dim=3"):
        L.Concatenation(3, name="cat").initialize([(4, 3), (4, 3)])
    with pytest.raises(ValueError, match="time axis"):
        L.Concatenation(2, name="cat").initialize([(4, None), (4, None)])


def test_depth_concatenation_is_channel_concatenation(rng):
    layer = L.DepthConcatenation(3)
    assert layer.dim == 1
    shapes = [(2, c, 3, 3) for c in (1, 2, 3)]
    assert layer.initialize([s[1:] for s in shapes]) == (6, 3, 3)


@pytest.mark.parametrize("function, n", [("Plus", 3), ("Times", 3), ("Subtract", 2), ("Divide", 2)])
def test_threading_gradients(backend, rng, function, n):
    shapes = [(3, 4, 2)] * n
    inputs = [rng.standard_normal(s) for s in shapes]
    if function == "Divide":
        inputs[1] = rng.uniform(0.5, 2.0, shapes[1]) * rng.choice([-1, 1], shapes[1])  # away from 0
    worst = _check_multi(L.Threading(function, n), shapes, backend, rng, inputs=inputs)
    assert max(worst.values()) < 1e-6
    layer = L.Threading(function, n)
    layer.initialize([s[1:] for s in shapes], dtype="float64")
    want = {"Plus": sum(inputs), "Times": np.prod(inputs, axis=0), "Subtract": inputs[0] - inputs[-1],
            "Divide": inputs[0] / inputs[-1]}[function]
    assert_allclose(layer.forward(inputs), want, rtol=1e-15)


def test_backward_needs_a_training_forward():
    layer = L.Addition()
    layer.initialize([(2,), (2,)])
    layer.forward([np.zeros((1, 2), np.float32)] * 2)
    with pytest.raises(RuntimeError, match="without a training forward"):
        layer.backward(np.zeros((1, 2), np.float32))


@pytest.mark.parametrize("layer", [L.Addition(3, name="a"), L.Concatenation(2, 3, name="c"),
                                   L.DepthConcatenation(4, name="d"), L.Threading("Times", 3, name="t")])
def test_merge_layers_save_and_load(layer):
    spec = layer_to_json(layer)
    back = layer_from_json(spec)
    assert type(back) is type(layer) and back.name == layer.name
    assert back.input_names == layer.input_names
    assert getattr(back, "dim", None) == getattr(layer, "dim", None)
    assert layer_to_json(back) == spec


def test_float32_stays_float32(rng):
    layer = L.Concatenation(1, 2)
    layer.initialize([(2, 3), (1, 3)])
    xs = [rng.standard_normal((4, 2, 3)).astype(np.float32), rng.standard_normal((4, 1, 3)).astype(np.float32)]
    y = layer.forward(xs, training=True)
    assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in layer.backward(y))


@pytest.mark.oracle
def test_merge_layers_match_torch(rng):
    torch = pytest.importorskip("torch")
    xs = [rng.standard_normal((2, c, 3, 4)) for c in (2, 3)]
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    dy = rng.standard_normal((2, 5, 3, 4))
    yt = torch.cat(ts, dim=1)
    yt.backward(torch.tensor(dy))
    layer = L.DepthConcatenation()
    layer.initialize([(2, 3, 4), (3, 3, 4)], dtype="float64")
    assert_allclose(layer.forward(xs, training=True), yt.detach().numpy(), rtol=1e-15)
    for g, t in zip(layer.backward(dy), ts):
        assert_allclose(to_host(g), t.grad.numpy(), rtol=1e-15)
    a = [rng.standard_normal((2, 3)) for _ in range(3)]
    at = [torch.tensor(x, requires_grad=True) for x in a]
    (at[0] * at[1] * at[2]).backward(torch.ones(2, 3, dtype=torch.float64))
    layer = L.Threading("Times", 3)
    layer.initialize([(3,)] * 3, dtype="float64")
    layer.forward(a, training=True)
    for g, t in zip(layer.backward(np.ones((2, 3))), at):
        assert_allclose(g, t.grad.numpy(), rtol=1e-14)
