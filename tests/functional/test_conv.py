"""conv2d forward/backward: the naive loop reference (minidl.functional.reference), float64 gradient checks,
im2col/col2im adjointness, 'same' padding, bad input, and PyTorch (oracle)."""

import numpy as np
import pytest

from minidl import backend as B
from minidl.functional import reference as R
from minidl.functional.conv import (
    col2im,
    conv2d_backward,
    conv2d_forward,
    conv_output_size,
    im2col,
    same_padding,
)
from minidl.testing import assert_allclose, gradient_check

# (name, x shape, W shape, stride, padding, dilation); 'same' padding is computed by same_padding
CONFIGS = [
    ("stride2", (2, 2, 7, 6), (3, 2, 3, 3), (2, 2), (0, 0, 0, 0), (1, 1)),
    ("asym_pad", (2, 2, 7, 5), (3, 2, 3, 3), (1, 1), (1, 2, 0, 1), (1, 1)),
    ("dilation2", (2, 2, 7, 6), (2, 2, 3, 2), (1, 1), (0, 0, 0, 0), (2, 2)),
    ("same_stride2_odd", (2, 3, 7, 5), (2, 3, 3, 3), (2, 2), "same", (1, 1)),
    ("same_stride1", (2, 2, 7, 5), (3, 2, 3, 3), (1, 1), "same", (1, 1)),
    ("same_dilated", (2, 2, 7, 5), (2, 2, 3, 3), (1, 1), "same", (2, 2)),
    ("same_even_kernel", (2, 2, 6, 5), (2, 2, 2, 4), (1, 1), "same", (1, 1)),
    ("batch1_rect_stride", (1, 2, 7, 5), (2, 2, 2, 3), (2, 1), (1, 0, 2, 1), (1, 2)),
    ("pointwise", (2, 3, 4, 5), (4, 3, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),
    ("kernel_in_padding", (1, 1, 3, 3), (2, 1, 3, 3), (1, 1), (3, 0, 2, 2), (1, 1)),
    # stride 1 with OW = W but OH != H: the flat im2col with unequal top/bottom padding rows (and dilation)
    ("flat_asym_rows", (2, 2, 6, 5), (3, 2, 3, 3), (1, 1), (2, 0, 1, 1), (1, 1)),
    ("flat_dilated_rows", (2, 2, 7, 5), (2, 2, 2, 3), (1, 1), (0, 3, 1, 1), (2, 1)),
    ("flat_wide_left", (2, 2, 4, 3), (2, 2, 2, 5), (1, 1), (1, 0, 3, 1), (1, 1)),
]
IDS = [c[0] for c in CONFIGS]


def _setup(config, rng):
    _, x_shape, w_shape, stride, padding, dilation = config
    if padding == "same":
        padding = same_padding(x_shape[2:], w_shape[2:], stride, dilation)
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    return x, W, b, stride, padding, dilation


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_forward_matches_naive_loops(config, backend, rng):
    x, W, b, stride, padding, dilation = _setup(config, rng)
    y, _ = conv2d_forward(*(B.to_device(a, backend) for a in (x, W, b)), stride, padding, dilation)
    assert_allclose(B.to_host(y), R.conv2d_forward(x, W, b, stride, padding, dilation), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_gradients_match_finite_differences(config, backend, rng):
    x, W, b, stride, padding, dilation = _setup(config, rng)
    inputs = {k: B.to_device(a, backend) for k, a in (("x", x), ("W", W), ("b", b))}
    cache = {}

    def f(x, W, b):
        y, cache["c"] = conv2d_forward(x, W, b, stride, padding, dilation)
        return y

    def backward(dy):
        dx, dW, db = conv2d_backward(dy, cache["c"])
        return {"x": dx, "W": dW, "b": db}

    # The convolution is affine in each of x, W and b, so central differences have no truncation error at any step;
    # a step of 1e-3 (not the default 1e-6) puts their rounding noise, ~ε·Σ|y·dy|/step, 1000× below atol.  With
    # 1e-6 the noise (~2e-9 on the stride-2 case) exceeds atol=1e-9 under some OpenBLAS kernels (OPENBLAS_CORETYPE
    # Sandybridge, Nehalem) whatever the summation order of the products.
    gradient_check(f, inputs, backward, eps=1e-3, rng=rng)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_col2im_is_the_adjoint_of_im2col(config, rng):
    """⟨im2col(x), G⟩ = ⟨x, col2im(G)⟩ for every G: the backward gathers exactly what the forward scattered."""
    x, W, _, stride, padding, dilation = _setup(config, rng)
    out_hw = conv_output_size(x.shape[2:], W.shape[2:], stride, padding, dilation)
    col = im2col(x, W.shape[2:], stride, padding, dilation, out_hw)
    G = rng.standard_normal(col.shape)
    back = col2im(G.copy(), x.shape, stride, padding, dilation)
    assert_allclose(np.sum(col * G), np.sum(x * back), rtol=1e-12)


def test_float32_stays_float32_and_matches_float64(rng):
    x, W, b = rng.standard_normal((3, 2, 9, 9)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    args = ((1, 1), (1, 1, 1, 1), (1, 1))
    y64, c64 = conv2d_forward(x, W, b, *args)
    y32, c32 = conv2d_forward(*(a.astype(np.float32) for a in (x, W, b)), *args)
    dy = rng.standard_normal(y64.shape)
    g32 = conv2d_backward(dy.astype(np.float32), c32)
    assert y32.dtype == np.float32 and all(g.dtype == np.float32 for g in g32)
    assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)
    for a, e in zip(g32, conv2d_backward(dy, c64)):
        assert_allclose(a, e, rtol=1e-4, atol=1e-4)


def test_workspace_buffers_are_reused_and_results_unchanged(rng):
    x, W, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    ws = {}
    y, cache = conv2d_forward(x, W, b, (1, 1), (1, 1, 1, 1), workspace=ws)
    col = ws["col"]
    dy = rng.standard_normal(y.shape)
    got = conv2d_backward(dy, cache, workspace=ws)
    y2, cache2 = conv2d_forward(x, W, b, (1, 1), (1, 1, 1, 1), workspace=ws)
    assert ws["col"] is col  # the same buffer, refilled
    ref_y, ref_cache = conv2d_forward(x, W, b, (1, 1), (1, 1, 1, 1))
    np.testing.assert_array_equal(y2, ref_y)
    for a, e in zip(conv2d_backward(dy, cache2, workspace=ws), conv2d_backward(dy, ref_cache)):
        np.testing.assert_array_equal(a, e)
    for a, e in zip(got, conv2d_backward(dy, ref_cache)):
        np.testing.assert_array_equal(a, e)


def test_need_dx_false_skips_only_dx(rng):
    x, W, b = rng.standard_normal((2, 1, 5, 5)), rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    y, cache = conv2d_forward(x, W, b, (1, 1), (1, 1, 1, 1))
    dy = rng.standard_normal(y.shape)
    dx, dW, db = conv2d_backward(dy, cache, need_dx=False)
    _, dW_ref, db_ref = conv2d_backward(dy, cache)
    assert dx is None
    np.testing.assert_array_equal(dW, dW_ref)
    np.testing.assert_array_equal(db, db_ref)


@pytest.mark.parametrize("n", range(1, 12))
@pytest.mark.parametrize("k, s, d", [(3, 1, 1), (3, 2, 1), (2, 1, 1), (5, 3, 1), (3, 2, 2), (1, 2, 1), (4, 4, 1)])
def test_same_padding_gives_ceil_input_over_stride(n, k, s, d):
    pt, pb, pl, pr = same_padding((n, n + 1), (k, k), (s, s), (d, d))
    assert pb - pt in (0, 1) and pr - pl in (0, 1)  # the odd extra row/column goes bottom/right
    if (n + pt + pb) >= (k - 1) * d + 1:
        assert conv_output_size((n, n + 1), (k, k), (s, s), (pt, pb, pl, pr), (d, d)) == (-(-n // s), -(-(n + 1) // s))


def test_same_padding_matlab_examples():
    assert same_padding((28, 28), (3, 3)) == (1, 1, 1, 1)
    assert same_padding((7, 5), (3, 3), (2, 2)) == (1, 1, 1, 1)  # out 4x3: total (4-1)·2+3-7 = 2, (3-1)·2+3-5 = 2
    assert same_padding((6, 6), (3, 3), (2, 2)) == (0, 1, 0, 1)  # total 1: the extra row/column bottom/right
    assert same_padding((5, 5), (4, 4)) == (1, 2, 1, 2)
    assert same_padding((9, 9), (3, 3), (1, 1), (3, 3)) == (3, 3, 3, 3)


# -- bad input -------------------------------------------------------------------------------------------------------

def _ok():
    return np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4)


@pytest.mark.parametrize("change, error, words", [
    (lambda x, W, b: (x[0], W, b), ValueError, ["x:", "(3, 5, 5)", "(N, C, H, W)"]),
    (lambda x, W, b: (x, W[0], b), ValueError, ["W:", "(3, 3, 3)", "(N, C, H, W)"]),
    (lambda x, W, b: (x, np.zeros((4, 2, 3, 3)), b), ValueError, ["W:", "2 input channels", "C = 3"]),
    (lambda x, W, b: (x, W, np.zeros(3)), ValueError, ["b:", "(3,)", "(4,)"]),
    (lambda x, W, b: (x.astype(np.float32), W, b), TypeError, ["W:", "float64", "float32"]),
    (lambda x, W, b: (x.astype(int), W, b), TypeError, ["x:", "int", "floating"]),
    (lambda x, W, b: (x, np.zeros((4, 3, 7, 3)), b), ValueError, ["input size", "5x5", "7x3"]),
])
def test_bad_arrays_are_named(change, error, words):
    with pytest.raises(error) as e:
        conv2d_forward(*change(*_ok()))
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"stride": (0, 1)}, ["stride:", "(0, 1)", "(SH, SW)"]),
    ({"stride": (1.5, 1)}, ["stride:", "1.5"]),
    ({"stride": 2}, ["stride:", "2"]),
    ({"padding": (1, 1)}, ["padding:", "(1, 1)", "(top, bottom, left, right)"]),
    ({"padding": (1, -1, 0, 0)}, ["padding:", "-1", ">= 0"]),
    ({"dilation": (1, 0)}, ["dilation:", "(1, 0)", "(DH, DW)"]),
])
def test_bad_hyperparameters_are_named(kwargs, words):
    with pytest.raises(ValueError) as e:
        conv2d_forward(*_ok(), **kwargs)
    for w in words:
        assert w in str(e.value)


def test_dilated_kernel_larger_than_input_is_an_error():
    with pytest.raises(ValueError, match=r"input size: got 5x5 .*extent 7x7 with dilation \[3 3\]"):
        conv_output_size((5, 5), (3, 3), (1, 1), (0, 0, 0, 0), (3, 3))


# -- PyTorch oracle --------------------------------------------------------------------------------------------------

@pytest.mark.oracle
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_matches_torch_conv2d(config, rng):
    torch = pytest.importorskip("torch")
    x, W, b, stride, padding, dilation = _setup(config, rng)
    y, cache = conv2d_forward(x, W, b, stride, padding, dilation)
    dy = rng.standard_normal(y.shape)
    dx, dW, db = conv2d_backward(dy, cache)
    xt, wt, bt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, W, b))
    pt, pb, pl, pr = padding
    yt = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (pl, pr, pt, pb)), wt, bt, stride=stride,
                                    dilation=dilation)
    yt.backward(torch.tensor(dy))
    for name, got, want in (("y", y, yt), ("dx", dx, xt.grad), ("dW", dW, wt.grad), ("db", db, bt.grad)):
        want = want.detach().numpy()
        assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max(), name=name)


def test_a_workspace_shared_across_paddings_gives_fresh_results(rng):
    """The row-padded copy of x kept in the workspace is keyed by its padding rows: (2, 0), (1, 1) and (0, 2) give the
    same buffer shape, and a reused buffer's stale rows would be read as padding."""
    x, W, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    workspace = {}
    for padding in [(2, 0, 1, 1), (1, 1, 1, 1), (0, 2, 1, 1), (2, 0, 1, 1)]:
        y, _ = conv2d_forward(x, W, b, (1, 1), padding, workspace=workspace)
        assert_allclose(y, R.conv2d_forward(x, W, b, (1, 1), padding, (1, 1)), rtol=1e-12, atol=1e-13)
