"""Max and average pooling: the naive loop references of minidl.functional.reference (first-maximum rule), float64
gradient checks, −∞ / 0 padding, ties, bad input, and PyTorch (oracle)."""

import numpy as np
import pytest

from minidl import backend as B
from minidl.functional import reference as R
from minidl.functional.conv import same_padding
from minidl.functional.pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    pool_output_size,
)
from minidl.testing import assert_allclose, gradient_check

# (name, x shape, pool, stride, padding)
CONFIGS = [
    ("tiled_2x2", (2, 3, 6, 8), (2, 2), (2, 2), (0, 0, 0, 0)),
    ("overlap_3_stride2", (2, 2, 7, 7), (3, 3), (2, 2), (0, 0, 0, 0)),
    ("odd_sizes_7x5", (2, 2, 7, 5), (2, 2), (2, 2), (0, 0, 0, 0)),
    ("stride1", (1, 2, 5, 4), (2, 2), (1, 1), (0, 0, 0, 0)),
    ("padded_overlap", (2, 2, 7, 5), (3, 3), (2, 2), (1, 1, 1, 1)),
    ("asym_padding", (2, 2, 6, 5), (3, 2), (2, 1), (1, 2, 0, 1)),
    ("same_stride2_odd", (1, 3, 7, 5), (3, 3), (2, 2), "same"),
    ("gaps_stride3", (2, 1, 8, 7), (2, 2), (3, 3), (1, 0, 0, 1)),
    ("batch1_rect", (1, 1, 5, 6), (3, 2), (1, 2), (0, 0, 0, 0)),
]
IDS = [c[0] for c in CONFIGS]


def _setup(config, rng):
    _, shape, pool, stride, padding = config
    if padding == "same":
        padding = same_padding(shape[2:], pool, stride)
    # distinct values with gaps of 0.01 ≫ eps: no ties, so max pooling is differentiable at every input
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) - 50) * 0.01
    return x, pool, stride, padding




def naive_maxpool(x, dy, pool, stride, padding):
    """The loop references (minidl.functional.reference): y, and dx routed to each window's FIRST maximum."""
    return R.maxpool2d_forward(x, pool, stride, padding), R.maxpool2d_backward(dy, x, pool, stride, padding)


def naive_avgpool(x, dy, pool, stride, padding):
    """The loop references: y = Σ window / (KH·KW) (zero padding counted) and dx = Σ over windows of dy/(KH·KW)."""
    return R.avgpool2d_forward(x, pool, stride, padding), R.avgpool2d_backward(dy, x, pool, stride, padding)


OPS = {"max": (maxpool2d_forward, maxpool2d_backward, naive_maxpool),
       "avg": (avgpool2d_forward, avgpool2d_backward, naive_avgpool)}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_forward_and_backward_match_naive_loops(op, config, backend, rng):
    forward, backward, naive = OPS[op]
    x, pool, stride, padding = _setup(config, rng)
    y, cache = forward(B.to_device(x, backend), pool, stride, padding)
    dy = rng.standard_normal(y.shape)
    dx = backward(B.to_device(dy, backend), cache)
    y_ref, dx_ref = naive(x, dy, pool, stride, padding)
    assert_allclose(B.to_host(y), y_ref, rtol=1e-14, name="y")
    assert_allclose(B.to_host(dx), dx_ref, rtol=1e-12, atol=1e-15, name="dx")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_gradients_match_finite_differences(op, config, backend, rng):
    forward, backward, _ = OPS[op]
    x, pool, stride, padding = _setup(config, rng)
    cache = {}

    def f(x):
        y, cache["c"] = forward(x, pool, stride, padding)
        return y

    gradient_check(f, {"x": B.to_device(x, backend)}, lambda dy: {"x": backward(dy, cache["c"])}, rng=rng)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_ties_route_the_gradient_to_the_first_maximum(config, backend, rng):
    """Inputs from {0, 1, 2}: many windows hold several maxima; exactly the row-major first one gets dy."""
    _, shape, pool, stride, padding = config
    if padding == "same":
        padding = same_padding(shape[2:], pool, stride)
    x = rng.integers(0, 3, shape).astype(np.float64)
    y, cache = maxpool2d_forward(B.to_device(x, backend), pool, stride, padding)
    dy = rng.standard_normal(y.shape)
    dx = B.to_host(maxpool2d_backward(B.to_device(dy, backend), cache))
    y_ref, dx_ref = naive_maxpool(x, dy, pool, stride, padding)
    np.testing.assert_array_equal(B.to_host(y), y_ref)
    assert_allclose(dx, dx_ref, rtol=1e-14, atol=1e-15)


def test_all_equal_window_gives_everything_to_its_top_left_element():
    x = np.ones((1, 1, 4, 4))
    y, cache = maxpool2d_forward(x, (2, 2), (2, 2))
    dx = maxpool2d_backward(np.arange(1.0, 5.0).reshape(1, 1, 2, 2), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


def test_max_padding_is_minus_infinity_not_zero():
    """All-negative inputs: a zero-padded max pool would output 0 at the border (DeZero's fault); −∞ never wins."""
    x = -1.0 - np.arange(9.0).reshape(1, 1, 3, 3)
    y, cache = maxpool2d_forward(x, (2, 2), (1, 1), (1, 1, 1, 1))
    assert np.all(y < 0)
    np.testing.assert_array_equal(y[0, 0, 0], [-1, -1, -2, -3])
    dx = maxpool2d_backward(np.ones(y.shape), cache)
    assert dx.sum() == y.size  # every window's gradient lands inside the image


def test_average_padding_counts_in_the_full_window():
    x = np.ones((1, 1, 3, 3))
    y, _ = avgpool2d_forward(x, (2, 2), (2, 2), (1, 0, 1, 0))
    np.testing.assert_array_equal(y[0, 0], [[0.25, 0.5], [0.5, 1.0]])  # MATLAB: divide by KH·KW = 4 always


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    for forward, backward, _ in OPS.values():
        y, cache = forward(x, (2, 2), (2, 2), (0, 0, 0, 0))
        assert y.dtype == np.float32 and backward(np.ones_like(y), cache).dtype == np.float32


def test_output_size():
    assert pool_output_size((28, 28), (2, 2), (2, 2)) == (14, 14)
    assert pool_output_size((7, 5), (3, 3), (2, 2), (1, 1, 1, 1)) == (4, 3)
    assert pool_output_size((5, 5), (2, 2), (3, 3)) == (2, 2)


# -- bad input -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("forward", [maxpool2d_forward, avgpool2d_forward])
@pytest.mark.parametrize("args, error, words", [
    (((2, 5, 5), (2, 2), (2, 2), (0, 0, 0, 0)), ValueError, ["x:", "(2, 5, 5)", "(N, C, H, W)"]),
    (((1, 1, 5, 5), (0, 2), (2, 2), (0, 0, 0, 0)), ValueError, ["pool:", "(0, 2)", "(KH, KW)"]),
    (((1, 1, 5, 5), (2, 2), (2, 0), (0, 0, 0, 0)), ValueError, ["stride:", "(2, 0)"]),
    (((1, 1, 5, 5), (2, 2), (2, 2), (1, 1)), ValueError, ["padding:", "(1, 1)", "(top, bottom, left, right)"]),
    (((1, 1, 5, 5), (2, 2), (2, 2), (2, 0, 0, 0)), ValueError, ["padding:", "[2 0 0 0]", "< 2"]),
    (((1, 1, 2, 5), (3, 3), (1, 1), (0, 0, 0, 0)), ValueError, ["input size", "2x5", "3x3"]),
])
def test_bad_input_is_named(forward, args, error, words):
    shape, pool, stride, padding = args
    with pytest.raises(error) as e:
        forward(np.zeros(shape), pool, stride, padding)
    for w in words:
        assert w in str(e.value)


# -- PyTorch oracle --------------------------------------------------------------------------------------------------

@pytest.mark.oracle
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_matches_torch_pooling(config, rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, pool, stride, padding = _setup(config, rng)  # distinct values: no ties, so torch's choice is ours
    pt, pb, pl, pr = padding
    for op, value in (("max", -np.inf), ("avg", 0.0)):
        forward, backward, _ = OPS[op]
        y, cache = forward(x, pool, stride, padding)
        dy = rng.standard_normal(y.shape)
        dx = backward(dy, cache)
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        padded = tf.pad(xt, (pl, pr, pt, pb), value=value)
        # avg: the zero padding is part of the padded input, so every window divides by KH·KW (count_include_pad)
        yt = tf.max_pool2d(padded, pool, stride) if op == "max" else tf.avg_pool2d(padded, pool, stride)
        yt.backward(torch.tensor(dy))
        assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-15, name=f"{op} y")
        assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-15, name=f"{op} dx")


@pytest.mark.oracle
def test_matches_torch_symmetric_padding_count_include_pad(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 7, 6))
    y, cache = avgpool2d_forward(x, (3, 3), (2, 2), (1, 1, 1, 1))
    dy = rng.standard_normal(y.shape)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.avg_pool2d(xt, 3, 2, padding=1, count_include_pad=True)
    yt.backward(torch.tensor(dy))
    assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-15)
    assert_allclose(avgpool2d_backward(dy, cache), xt.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pool", [(2, 2), (3, 2), (1, 1)])
def test_tiled_fast_path_equals_the_general_loop_bit_for_bit(pool, dtype, backend, rng):
    """Disjoint windows covering x take the contiguous-plane path; it must give the general loop's y (same bits,
    signed zeros included) and the same first-maximum offsets, with ties, ±0, ±∞ and NaN in the windows."""
    from minidl.functional.pooling import _maxpool_offsets, _maxpool_tiled
    values = np.array([0.0, -0.0, 1.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.0], dtype=dtype)
    x = rng.choice(values, size=(3, 2, 4 * pool[0], 3 * pool[1]))
    xd = B.to_device(x, backend)
    (y_fast, c_fast), (y_gen, c_gen) = (f(xd, pool, pool, (0, 0, 0, 0), (4, 3)) for f in (_maxpool_tiled,
                                                                                          _maxpool_offsets))
    np.testing.assert_array_equal(B.to_host(y_fast).view(np.uint8), B.to_host(y_gen).view(np.uint8))
    np.testing.assert_array_equal(B.to_host(c_fast[0]), B.to_host(c_gen[0]))
    assert c_fast[1:] == c_gen[1:]
    y, cache = maxpool2d_forward(xd, pool, pool)  # the public function takes the fast path here
    np.testing.assert_array_equal(B.to_host(cache[0]), B.to_host(c_gen[0]))
