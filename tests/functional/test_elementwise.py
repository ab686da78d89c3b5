"""Elementwise functions and Wolfram's extra losses through check_op (forward vs the naive reference, backward vs
finite differences, NumPy vs the stand-in, float32 kept), and against PyTorch where it has the same function."""

import numpy as np
import pytest

from minidl import functional as F
from minidl.functional import reference as R
from minidl.testing import check_op, spaced


def away_from_kinks(rng, shape):
    """Distinct values in about [−1.5, 1.5], none within 0.02 of the kinks 0 and ±1."""
    v = spaced(rng, shape, gap=0.13)
    return np.where(np.abs(np.abs(v) - 1) < 0.02, v + 0.05, v)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def unit(rng, shape):
    return rng.uniform(0.05, 0.95, shape)


FUNCS = sorted(F.ELEMENTWISE_FUNCTIONS)


def op(name, inputs):
    return dict(fast=lambda x: F.elementwise_forward(x, name), reference=lambda x: R.elementwise_forward(x, name),
                shapes={"x": (3, 2, 4)}, backward=F.elementwise_backward,
                reference_backward=lambda dy, x: R.elementwise_backward(dy, x, name), inputs={"x": inputs})


@pytest.mark.parametrize("name", FUNCS)
def test_elementwise_function(name, backend, rng):
    inputs = positive if name in ("Log", "Sqrt") else away_from_kinks
    errors = check_op(**op(name, inputs), backend=backend, rng=rng)
    assert errors["forward"] <= 1e-10 and errors["x"] < 1e-5


def test_sigmoid_and_softplus_are_finite_far_from_zero():
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    s, _ = F.elementwise_forward(x, "LogisticSigmoid")
    p, _ = F.elementwise_forward(x, "SoftPlus")
    np.testing.assert_allclose(s, [0.0, np.exp(-40.0) / (1 + np.exp(-40.0)), 0.5, 1 / (1 + np.exp(-40.0)), 1.0])
    np.testing.assert_allclose(p, [0.0, np.log1p(np.exp(-40.0)), np.log(2.0), 40.0, 800.0])


def test_unknown_function_names_the_allowed_ones():
    with pytest.raises(ValueError, match="f: got 'Relu'; allowed: Ramp, LogisticSigmoid"):
        F.elementwise_forward(np.zeros(2), "Relu")


def loss(name, shape, inputs):
    return dict(fast=getattr(F, f"{name}_loss"), reference=getattr(R, f"{name}_loss"), shapes={"y": shape, "t": shape},
                gradient=getattr(F, f"{name}_gradient"), reference_gradient=getattr(R, f"{name}_gradient"),
                wrt=("y",), inputs=inputs)


LOSSES = {
    "binary_scalar": loss("binary_cross_entropy", (5, 1), {"y": unit, "t": lambda rng, s: rng.integers(0, 2, s) * 1.0}),
    "binary_soft_targets": loss("binary_cross_entropy", (3, 2, 2), {"y": unit, "t": unit}),
    "mean_absolute": loss("mean_absolute", (4, 3), {"y": lambda rng, s: spaced(rng, s, 0.1), "t": np.zeros((4, 3))}),
    "mean_absolute_rank3": loss("mean_absolute", (2, 2, 3), {"y": lambda rng, s: spaced(rng, s, 0.1),
                                                             "t": np.zeros((2, 2, 3))}),
}


@pytest.mark.parametrize("case", LOSSES)
def test_wolfram_loss(case, backend, rng):
    errors = check_op(**LOSSES[case], backend=backend, rng=rng)
    assert errors["forward"] <= 1e-10


def test_example_losses_average_to_the_loss(rng):
    y, t = rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3))
    for name in ("binary_cross_entropy", "mean_absolute"):
        ex = getattr(F, f"{name}_example_losses")(y, t)
        assert ex.shape == (4,)
        assert float(ex.mean()) == pytest.approx(float(getattr(F, f"{name}_loss")(y, t)), rel=1e-14)


TORCH = {"Ramp": "relu", "LogisticSigmoid": "sigmoid", "Tanh": "tanh", "ArcTan": "atan", "Sin": "sin", "Cos": "cos",
         "Sinh": "sinh", "Cosh": "cosh", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Abs": "abs",
         "SoftPlus": "nn.functional.softplus", "SoftSign": "nn.functional.softsign",
         "HardTanh": "nn.functional.hardtanh", "ELU": "nn.functional.elu", "SELU": "nn.functional.selu",
         "Swish": "nn.functional.silu"}


@pytest.mark.oracle
@pytest.mark.parametrize("name", FUNCS)
def test_elementwise_matches_torch(name, rng):
    torch = pytest.importorskip("torch")
    x = positive(rng, (4, 5)) if name in ("Log", "Sqrt") else away_from_kinks(rng, (4, 5))
    dy = rng.standard_normal(x.shape)
    fn = torch
    for part in TORCH[name].split("."):
        fn = getattr(fn, part)
    xt = torch.tensor(x, requires_grad=True)
    yt = fn(xt)
    yt.backward(torch.tensor(dy))
    y, cache = F.elementwise_forward(x, name)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.elementwise_backward(dy, cache), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.oracle
def test_wolfram_losses_match_torch(rng):
    torch = pytest.importorskip("torch")
    y, t = rng.uniform(0.05, 0.95, (6, 3)), rng.uniform(0, 1, (6, 3))
    for name, fn in (("binary_cross_entropy", torch.nn.functional.binary_cross_entropy),
                     ("mean_absolute", torch.nn.functional.l1_loss)):
        yt = torch.tensor(y, requires_grad=True)
        lt = fn(yt, torch.tensor(t))               # reduction "mean": over all N·R elements, as Wolfram's
        lt.backward()
        assert float(getattr(F, f"{name}_loss")(y, t)) == pytest.approx(lt.item(), rel=1e-12)
        np.testing.assert_allclose(getattr(F, f"{name}_gradient")(y, t), yt.grad.numpy(), rtol=1e-10)
