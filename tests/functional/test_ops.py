"""Every functional op through check_op: forward against its naive reference, backward against finite differences
(and the reference's gradients), NumPy against the stand-in (and a GPU), float32 kept.  One table row per case."""

import numpy as np
import pytest

from minidl import functional as F
from minidl.functional import reference as R
from minidl.functional.conv import same_padding
from minidl.testing import check_op, spaced


def probabilities(rng, shape):
    """Rows of a softmax: positive, summing to 1 (cross-entropy inputs)."""
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis=1, keepdims=True)


def one_hot(rng, shape):
    return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def dropped(fast):
    """Dropout with p = 0.3 and a generator replayed from the same seed at every call (a fixed mask)."""
    return lambda x: fast(x, 0.3, np.random.default_rng(7))


def conv(x, w, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    if padding == "same":
        padding = same_padding(x[2:], w[2:], stride, dilation)
    return dict(fast=F.conv2d_forward, reference=R.conv2d_forward, shapes={"x": x, "W": w, "b": (w[0],)},
                kwargs=dict(stride=stride, padding=padding, dilation=dilation), backward=F.conv2d_backward,
                reference_backward=R.conv2d_backward)


def pool(kind, x, size, stride, padding=(0, 0, 0, 0)):
    if padding == "same":
        padding = same_padding(x[2:], size, stride)
    fast = {"max": (F.maxpool2d_forward, F.maxpool2d_backward), "avg": (F.avgpool2d_forward, F.avgpool2d_backward)}
    ref = {"max": (R.maxpool2d_forward, R.maxpool2d_backward), "avg": (R.avgpool2d_forward, R.avgpool2d_backward)}
    return dict(fast=fast[kind][0], reference=ref[kind][0], shapes={"x": x}, backward=fast[kind][1],
                reference_backward=ref[kind][1], kwargs=dict(pool=size, stride=stride, padding=padding),
                inputs={"x": spaced})  # max: no ties within reach of a finite difference


def batchnorm(x):
    c = (x[1],)
    return dict(fast=F.batchnorm_forward, reference=R.batchnorm_forward, shapes={"x": x, "gamma": c, "beta": c},
                backward=F.batchnorm_backward, reference_backward=R.batchnorm_backward)


def loss(name, shape, inputs=None):
    fast = getattr(F, f"{name}_loss"), getattr(F, f"{name}_gradient")
    ref = getattr(R, f"{name}_loss"), getattr(R, f"{name}_gradient")
    return dict(fast=fast[0], reference=ref[0], shapes={"y": shape, "t": shape}, gradient=fast[1],
                reference_gradient=ref[1], wrt=("y",), inputs=inputs)


OPS = {
    "conv_stride2": conv((2, 2, 7, 6), (3, 2, 3, 3), stride=(2, 2)),
    "conv_asym_pad": conv((2, 2, 7, 5), (3, 2, 3, 3), padding=(1, 2, 0, 1)),
    "conv_dilation2": conv((2, 2, 7, 6), (2, 2, 3, 2), dilation=(2, 2)),
    "conv_same_stride2_odd": conv((2, 3, 7, 5), (2, 3, 3, 3), stride=(2, 2), padding="same"),
    "conv_same_stride1": conv((2, 2, 7, 5), (3, 2, 3, 3), padding="same"),
    "conv_rect_stride_dilated": conv((1, 2, 7, 5), (2, 2, 2, 3), stride=(2, 1), padding=(1, 0, 2, 1), dilation=(1, 2)),
    "conv_pointwise": conv((2, 3, 4, 5), (4, 3, 1, 1)),
    "conv_kernel_in_padding": conv((1, 1, 3, 3), (2, 1, 3, 3), padding=(3, 0, 2, 2)),
    "maxpool_tiled": pool("max", (2, 3, 6, 8), (2, 2), (2, 2)),
    "maxpool_overlap": pool("max", (2, 2, 7, 7), (3, 3), (2, 2)),
    "maxpool_padded": pool("max", (2, 2, 7, 5), (3, 3), (2, 2), (1, 1, 1, 1)),
    "maxpool_same_odd": pool("max", (1, 3, 7, 5), (3, 3), (2, 2), "same"),
    "maxpool_gaps": pool("max", (2, 1, 8, 7), (2, 2), (3, 3), (1, 0, 0, 1)),
    "avgpool_tiled": pool("avg", (2, 3, 6, 8), (2, 2), (2, 2)),
    "avgpool_asym_padding": pool("avg", (2, 2, 6, 5), (3, 2), (2, 1), (1, 2, 0, 1)),
    "avgpool_stride1": pool("avg", (1, 2, 5, 4), (2, 2), (1, 1)),
    "batchnorm_images": batchnorm((3, 2, 3, 2)),
    "batchnorm_features": batchnorm((5, 3)),
    "batchnorm_inference": dict(fast=F.batchnorm_inference, reference=R.batchnorm_inference,
                                shapes={"x": (3, 2, 2, 2), "gamma": (2,), "beta": (2,), "mean": (2,), "var": (2,)},
                                inputs={"var": positive}),
    "dense": dict(fast=F.dense_forward, reference=R.dense_forward, shapes={"x": (4, 5), "W": (3, 5), "b": (3,)},
                  backward=F.dense_backward, reference_backward=R.dense_backward),
    "dense_images": dict(fast=F.dense_forward, reference=R.dense_forward,
                         shapes={"x": (2, 3, 2, 2), "W": (4, 12), "b": (4,)}, backward=F.dense_backward,
                         reference_backward=R.dense_backward),
    "relu": dict(fast=F.relu_forward, reference=R.relu_forward, shapes={"x": (3, 2, 4)}, backward=F.relu_backward,
                 reference_backward=R.relu_backward, inputs={"x": spaced}),  # no input at the kink 0
    "dropout": dict(fast=dropped(F.dropout_forward), reference=dropped(R.dropout_forward), shapes={"x": (4, 6)},
                    backward=F.dropout_backward),
    "softmax": dict(fast=F.softmax_forward, reference=R.softmax_forward, shapes={"x": (4, 5)},
                    backward=F.softmax_backward, reference_backward=R.softmax_backward),
    "cross_entropy": loss("cross_entropy", (4, 3), {"y": probabilities, "t": one_hot}),
    "cross_entropy_soft_targets": loss("cross_entropy", (3, 4), {"y": probabilities, "t": probabilities}),
    "half_mse": loss("half_mse", (4, 3)),
    "half_mse_images": loss("half_mse", (2, 2, 2, 3)),
    "mean_squared": loss("mean_squared", (4, 3)),
    "mean_squared_images": loss("mean_squared", (2, 2, 2, 3)),
}


@pytest.mark.parametrize("op", OPS)
def test_op(op, backend, rng):
    errors = check_op(**OPS[op], backend=backend, rng=rng)
    assert errors["forward"] <= 1e-10


def test_check_op_catches_a_wrong_forward_and_a_wrong_gradient(rng):
    shapes = {"x": (3, 4), "W": (2, 4), "b": (2,)}
    with pytest.raises(AssertionError, match=r"forward \(fast vs reference\)"):
        check_op(lambda x, W, b: F.dense_forward(x, W, 1.001 * b), R.dense_forward, shapes, rng=rng)

    def half_db(dy, cache):
        dx, dW, db = F.dense_backward(dy, cache)
        return dx, dW, db / 2

    with pytest.raises(AssertionError, match="gradient of 'b'"):
        check_op(F.dense_forward, R.dense_forward, shapes, backward=half_db, rng=rng)


def test_check_op_catches_a_float32_op_that_returns_float64(rng):
    with pytest.raises(AssertionError, match="float32 inputs gave dtype float64"):
        check_op(lambda x: x.astype(np.float64) * 2, lambda x: x * 2, {"x": (2, 2)}, rng=rng)


def test_check_op_catches_host_arrays_mixed_into_device_math(rng):
    def leaky(x):  # adds a host array: the stand-in refuses, as CuPy would
        return x + np.ones(x.shape, dtype=x.dtype)

    with pytest.raises(TypeError):
        check_op(leaky, lambda x: x + 1, {"x": (2, 2)}, backend="standin", rng=rng)
