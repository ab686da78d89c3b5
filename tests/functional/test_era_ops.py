"""The era's ops through check_op: leaky/clipped ReLU, ELU, global pooling, cross-channel normalization, grouped and
transposed convolution, max unpooling — forward vs the naive reference, backward vs finite differences and the
reference's gradients, NumPy vs the stand-in, float32 kept.  Plus the max-pool indices and the size rules."""

import numpy as np
import pytest

from minidl import functional as F
from minidl.backend import device_of, get_array_module, to_device
from minidl.functional import reference as R
from minidl.testing import check_op, spaced


def away_from(*kinks):
    """Standard-normal values nudged at least 0.05 away from each kink (finite differences stay on one side)."""
    def make(rng, shape):
        x = rng.standard_normal(shape) * 2
        for k in kinks:
            near = np.abs(x - k) < 0.05
            x[near] = k + np.where(x[near] >= k, 0.05, -0.05) + 0.01 * np.sign(x[near] - k + 1e-9)
        return x
    return make


def unary(fast, back, ref, ref_back, shape, inputs=None, **kwargs):
    return dict(fast=fast, reference=ref, shapes={"x": shape}, backward=back, reference_backward=ref_back,
                kwargs=kwargs, inputs=inputs)


CASES = {
    "leaky_relu": unary(F.leaky_relu_forward, F.leaky_relu_backward, R.leaky_relu_forward, R.leaky_relu_backward,
                        (3, 4, 5), {"x": away_from(0)}, scale=0.01),
    "leaky_relu_0.3": unary(F.leaky_relu_forward, F.leaky_relu_backward, R.leaky_relu_forward,
                            R.leaky_relu_backward, (2, 3, 2, 2), {"x": away_from(0)}, scale=0.3),
    "clipped_relu": unary(F.clipped_relu_forward, F.clipped_relu_backward, R.clipped_relu_forward,
                          R.clipped_relu_backward, (4, 6), {"x": away_from(0, 1.5)}, ceiling=1.5),
    "elu": unary(F.elu_forward, F.elu_backward, R.elu_forward, R.elu_backward, (3, 7), {"x": away_from(0)},
                 alpha=1.0),
    "elu_0.5": unary(F.elu_forward, F.elu_backward, R.elu_forward, R.elu_backward, (2, 3, 3, 2),
                     {"x": away_from(0)}, alpha=0.5),
    "global_avg": unary(F.global_avgpool2d_forward, F.global_avgpool2d_backward, R.global_avgpool2d_forward,
                        R.global_avgpool2d_backward, (2, 3, 4, 5)),
    "global_max": unary(F.global_maxpool2d_forward, F.global_maxpool2d_backward, R.global_maxpool2d_forward,
                        R.global_maxpool2d_backward, (2, 3, 4, 5), {"x": spaced}),
    "lrn_5": unary(F.lrn_forward, F.lrn_backward, R.lrn_forward, R.lrn_backward, (2, 7, 3, 2),
                   size=5, alpha=1e-4, beta=0.75, k=2.0),
    "lrn_even_strong": unary(F.lrn_forward, F.lrn_backward, R.lrn_forward, R.lrn_backward, (2, 5, 2, 3),
                             size=4, alpha=2.0, beta=0.6, k=1.0),
    "lrn_wider_than_channels": unary(F.lrn_forward, F.lrn_backward, R.lrn_forward, R.lrn_backward, (2, 3, 2, 2),
                                     size=7, alpha=0.5, beta=1.5, k=0.5),
}


def grouped(x, w, groups, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    return dict(fast=F.grouped_conv2d_forward, reference=R.grouped_conv2d_forward,
                shapes={"x": x, "W": w, "b": (w[0],)},
                kwargs=dict(groups=groups, stride=stride, padding=padding, dilation=dilation),
                backward=F.grouped_conv2d_backward, reference_backward=R.grouped_conv2d_backward)


def transposed(x, w, stride=(1, 1), cropping=(0, 0, 0, 0)):
    return dict(fast=F.conv_transpose2d_forward, reference=R.conv_transpose2d_forward,
                shapes={"x": x, "W": w, "b": (w[1],)}, kwargs=dict(stride=stride, cropping=cropping),
                backward=F.conv_transpose2d_backward, reference_backward=R.conv_transpose2d_backward)


CASES.update({
    "grouped_2": grouped((2, 4, 5, 5), (6, 2, 3, 3), 2, padding=(1, 1, 1, 1)),
    "grouped_3_strided": grouped((2, 6, 6, 7), (3, 2, 2, 3), 3, stride=(2, 1), padding=(0, 1, 1, 0)),
    "channel_wise": grouped((2, 3, 5, 4), (6, 1, 3, 3), 3, dilation=(2, 1), padding=(2, 2, 1, 1)),
    "grouped_1_is_conv": grouped((2, 3, 4, 4), (2, 3, 3, 3), 1),
    "transposed": transposed((2, 3, 3, 4), (3, 2, 3, 3)),
    "transposed_stride2_crop": transposed((2, 2, 3, 3), (2, 3, 4, 4), (2, 2), (1, 1, 1, 1)),
    "transposed_asymmetric": transposed((1, 2, 4, 3), (2, 2, 3, 2), (2, 3), (1, 0, 0, 1)),
    "transposed_stride_gt_filter": transposed((2, 1, 3, 2), (1, 2, 2, 2), (3, 3)),
})


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_op(case):
    spec = {k: v for k, v in CASES[case].items() if v is not None}
    errors = check_op(**spec, rng=np.random.default_rng(5))
    assert errors["forward"] < 1e-10
    assert all(v < 1e-5 for k, v in errors.items() if k != "forward")


def test_grouped_with_one_group_equals_conv2d(rng):
    x, W, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    y1, c1 = F.grouped_conv2d_forward(x, W, b, 1, (2, 2), (1, 0, 1, 0))
    y2, c2 = F.conv2d_forward(x, W, b, (2, 2), (1, 0, 1, 0))
    np.testing.assert_allclose(y1, y2, rtol=1e-13)
    dy = rng.standard_normal(y1.shape)
    for a, b_ in zip(F.grouped_conv2d_backward(dy, c1), F.conv2d_backward(dy, c2)):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-13)


def test_grouped_errors_name_the_argument(rng):
    x = rng.standard_normal((1, 4, 3, 3))
    with pytest.raises(ValueError, match="groups: got 3"):
        F.grouped_conv2d_forward(x, rng.standard_normal((6, 1, 1, 1)), np.zeros(6), 3)
    with pytest.raises(ValueError, match=r"W: got shape \(6, 1, 1, 1\)"):
        F.grouped_conv2d_forward(x, rng.standard_normal((6, 1, 1, 1)), np.zeros(6), 2)


def test_transposed_is_the_adjoint_of_conv(rng):
    """⟨conv(y; W), x⟩ = ⟨y, convᵀ(x; W)⟩ for every stride and padding = cropping (biases zero)."""
    for stride, pad in [((1, 1), (0, 0, 0, 0)), ((2, 2), (1, 1, 1, 1)), ((2, 3), (1, 0, 0, 2))]:
        x, W = rng.standard_normal((2, 3, 4, 3)), rng.standard_normal((3, 2, 4, 3))
        yt, _ = F.conv_transpose2d_forward(x, W, np.zeros(2), stride, pad)
        z = rng.standard_normal(yt.shape)
        cz, _ = F.conv2d_forward(z, W, np.zeros(3), stride, pad)
        assert cz.shape == x.shape
        np.testing.assert_allclose(np.sum(cz * x), np.sum(z * yt), rtol=1e-12)


def test_transposed_sizes():
    assert F.transposed_output_size((7, 7), (3, 3), (2, 2)) == (15, 15)
    assert F.transposed_output_size((7, 5), (4, 4), (2, 2), F.same_cropping((7, 5), (4, 4), (2, 2))) == (14, 10)
    assert F.same_cropping((5, 5), (5, 3), (2, 3)) == (1, 2, 0, 0)
    with pytest.raises(ValueError, match="'same' needs filter >= stride"):
        F.same_cropping((5, 5), (2, 2), (3, 3))
    with pytest.raises(ValueError, match="cropping: got"):
        F.transposed_output_size((1, 1), (2, 2), (1, 1), (1, 1, 0, 0))


@pytest.mark.parametrize("pool, stride, padding", [((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (2, 2), (1, 1, 1, 1)),
                                                   ((2, 3), (1, 2), (0, 1, 1, 0))])
def test_maxpool_indices_point_at_the_maxima(rng, pool, stride, padding):
    x = spaced(rng, (2, 3, 6, 7))
    y, cache = F.maxpool2d_forward(x, pool, stride, padding)
    idx = F.maxpool2d_indices(cache)
    assert idx.dtype == np.int64 and idx.shape == y.shape
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.reshape(2, 3, -1), axis=2).reshape(y.shape), y)
    # unpooling is the adjoint of the max pool's routing: its forward is the max pool's backward
    dy = rng.standard_normal(y.shape)
    up, _ = F.maxunpool2d_forward(dy, idx, x.shape[2:])
    np.testing.assert_allclose(up, F.maxpool2d_backward(dy, cache), rtol=1e-15)


@pytest.mark.parametrize("overlap", [False, True])
def test_unpooling_through_check_op(overlap):
    rng = np.random.default_rng(3)
    x = spaced(rng, (2, 2, 5, 6))
    pool, stride = ((3, 3), (2, 2)) if overlap else ((2, 2), (2, 2))
    _, cache = F.maxpool2d_forward(x, pool, stride)
    idx = F.maxpool2d_indices(cache)

    def fast(z):
        i = to_device(idx, device_of(z)) if get_array_module(z) is not np else idx
        return F.maxunpool2d_forward(z, i, (5, 6))

    errors = check_op(fast, lambda z: R.maxunpool2d_forward(z, idx, (5, 6)), {"x": idx.shape},
                      backward=F.maxunpool2d_backward,
                      reference_backward=lambda dy, z: R.maxunpool2d_backward(dy, z, idx, (5, 6)), rng=rng)
    assert max(errors.values()) < 1e-6


def test_unpooling_checks_indices(rng):
    with pytest.raises(ValueError, match="indices: got float64"):
        F.maxunpool2d_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), (4, 4))
