"""Gradient pre-steps by hand: L2, the three clipping methods, their order, the global norm, weight clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minidl import backend as B
from minidl.optim import (
    GradientPipeline,
    add_l2,
    clip_gradients,
    clip_weights,
    frozen_names,
    global_norm,
)


def dev(backend, **arrays):
    """name -> float64 array on the device, in the given order."""
    return {k: B.to_device(np.asarray(v, dtype=np.float64), backend) for k, v in arrays.items()}


def host(arrays):
    return {k: B.to_host(v) for k, v in arrays.items()}


def test_add_l2_by_hand(backend):
    params = dev(backend, w=[1.0, -2.0], b=[3.0], x=[4.0])
    grads = dev(backend, w=[0.5, 0.5], b=[1.0], x=[1.0])
    held = grads["w"]
    add_l2(grads, params, 0.1, {"b": 0.0, "x": 2.0})  # λ = 0.1; BiasL2Factor-style 0 for b; factor 2 for x
    assert grads["w"] is held
    got = host(grads)
    np.testing.assert_allclose(got["w"], [0.5 + 0.1 * 1.0, 0.5 - 0.1 * 2.0], rtol=1e-15)  # g + λ·w
    np.testing.assert_array_equal(got["b"], [1.0])  # λ·0 = 0: untouched
    np.testing.assert_allclose(got["x"], [1.0 + 0.1 * 2.0 * 4.0], rtol=1e-15)  # g + λ·factor·w


def test_clip_l2norm_per_array_by_hand(backend):
    grads = dev(backend, a=[3.0, 4.0], b=[0.3, 0.4], z=[0.0, 0.0])
    clip_gradients(grads, 2.0, "l2norm")
    got = host(grads)
    np.testing.assert_allclose(got["a"], [3.0 * 2 / 5, 4.0 * 2 / 5], rtol=1e-15)  # ‖a‖ = 5 > 2: a·2/5
    np.testing.assert_array_equal(got["b"], [0.3, 0.4])  # ‖b‖ = 0.5 ≤ 2: exactly unchanged
    np.testing.assert_array_equal(got["z"], [0.0, 0.0])  # a zero gradient: no 0/0


def test_clip_global_l2norm_by_hand(backend):
    for T, scale in ((6.5, 0.5), (13.0, 1.0), (20.0, 1.0)):  # L = √(3² + 4² + 12²) = 13
        grads = dev(backend, a=[3.0, 4.0], b=[12.0])
        clip_gradients(grads, T, "global-l2norm")
        got = host(grads)
        np.testing.assert_allclose(got["a"], [3.0 * scale, 4.0 * scale], rtol=1e-15)
        np.testing.assert_allclose(got["b"], [12.0 * scale], rtol=1e-15)


def test_clip_absolute_value_by_hand(backend):
    grads = dev(backend, a=[-3.0, 0.5, 2.5, -1.0])
    clip_gradients(grads, 1.0, "absolute-value")
    np.testing.assert_array_equal(host(grads)["a"], [-1.0, 0.5, 1.0, -1.0])


@pytest.mark.parametrize("method", ["l2norm", "global-l2norm", "absolute-value"])
def test_infinite_threshold_is_a_no_op(method, backend):
    grads = dev(backend, a=[1e300, -3.0], b=[7.0])
    clip_gradients(grads, math.inf, method)
    got = host(grads)
    np.testing.assert_array_equal(got["a"], [1e300, -3.0])
    np.testing.assert_array_equal(got["b"], [7.0])


def test_global_norm_value_and_device(backend):
    grads = dev(backend, a=[3.0, 4.0], b=[[12.0]])
    L = global_norm(grads)
    assert B.get_array_module(L) is backend.xp and L.shape == ()
    assert B.to_host(L) == 13.0
    assert B.to_host(global_norm(grads, skip={"b"})) == 5.0


def test_l2_before_and_after_clip_give_the_documented_results(backend):
    """g = 3, w = 2, λ = 0.5, T = 1 (absolute value): clip(g + λw) = 1, but clip(g) + λw = 2."""
    results = {}
    for order in ("before_clip", "after_clip"):
        grads, params = dev(backend, w=[3.0, -0.5]), dev(backend, w=[2.0, 2.0])
        GradientPipeline(l2=0.5, threshold=1.0, method="absolute-value", l2_order=order)(grads, params)
        results[order] = host(grads)["w"]
    np.testing.assert_array_equal(results["before_clip"], [1.0, 0.5])  # clip([4, 0.5])
    np.testing.assert_array_equal(results["after_clip"], [2.0, 0.5])  # clip([3, −0.5]) + [1, 1]

    # per-array norm: g = (3, 4), w = (2, 0), λ = 1, T = 1
    for order, expected in (("before_clip", [5 / math.hypot(5, 4), 4 / math.hypot(5, 4)]),  # clip((5, 4))
                            ("after_clip", [0.6 + 2.0, 0.8])):  # clip((3, 4)) + (2, 0)
        grads, params = dev(backend, w=[3.0, 4.0]), dev(backend, w=[2.0, 0.0])
        GradientPipeline(l2=1.0, threshold=1.0, method="l2norm", l2_order=order)(grads, params)
        np.testing.assert_allclose(host(grads)["w"], expected, rtol=1e-15)


def test_pipeline_skips_frozen_arrays_everywhere(backend):
    """A frozen array gets no L2, no clipping, and does not count in the global norm (MATLAB: factor 0)."""
    grads = dev(backend, a=[3.0, 4.0], frozen=[100.0])
    params = dev(backend, a=[0.0, 0.0], frozen=[1.0])
    skip = frozen_names({"frozen": 0.0, "a": 1.0})
    assert skip == {"frozen"}
    GradientPipeline(l2=1.0, threshold=2.5, method="global-l2norm")(grads, params, skip)
    got = host(grads)
    np.testing.assert_allclose(got["a"], [1.5, 2.0], rtol=1e-15)  # L = 5 (without the frozen 100): scale 1/2
    np.testing.assert_array_equal(got["frozen"], [100.0])


def test_clip_weights(backend):
    params = dev(backend, w=[[-3.0, 0.2], [0.7, 5.0]], b=[-0.6])
    held = params["w"]
    clip_weights(params, 0.5)
    assert params["w"] is held
    got = host(params)
    np.testing.assert_array_equal(got["w"], [[-0.5, 0.2], [0.5, 0.5]])
    np.testing.assert_array_equal(got["b"], [-0.5])
    clip_weights(params, math.inf)
    np.testing.assert_array_equal(host(params)["w"], [[-0.5, 0.2], [0.5, 0.5]])


@pytest.mark.parametrize("method", ["l2norm", "global-l2norm", "absolute-value"])
def test_float32_stays_float32(method, backend):
    grads = {"a": B.to_device(np.array([3.0, 4.0], dtype=np.float32), backend)}
    params = {"a": B.to_device(np.array([1.0, 1.0], dtype=np.float32), backend)}
    GradientPipeline(l2=0.1, threshold=1.0, method=method)(grads, params)
    assert grads["a"].dtype == np.float32
    assert global_norm(grads).dtype == np.float32


@pytest.mark.parametrize("method", ["l2norm", "global-l2norm", "absolute-value"])
def test_pre_steps_read_nothing_back_to_the_host(method, no_host_reads):
    grads = dev("standin", a=[3.0, 4.0], b=[12.0])
    params = dev("standin", a=[1.0, 1.0], b=[1.0])
    GradientPipeline(l2=0.5, threshold=2.0, method=method)(grads, params)
    clip_weights(params, 0.5)
    L = global_norm(grads)
    no_host_reads.undo()
    assert float(B.to_host(L)) <= 2.0 * math.sqrt(3) + 1e-12


def test_bad_arguments_name_themselves():
    g, p = {"a": np.ones(2)}, {"a": np.ones(2)}
    with pytest.raises(ValueError, match=r"method: got 'l1norm'; allowed: 'l2norm', 'global-l2norm', 'absolute-value'"):
        clip_gradients(g, 1.0, "l1norm")
    with pytest.raises(ValueError, match=r"method: got 'L2Norm'"):
        GradientPipeline(method="L2Norm")
    with pytest.raises(ValueError, match=r"threshold: got 0.0; allowed: a real number in \(0, inf\]"):
        clip_gradients(g, 0.0, "l2norm")
    with pytest.raises(ValueError, match=r"threshold: got -1"):
        GradientPipeline(threshold=-1)
    with pytest.raises(ValueError, match=r"l2: got -0.001"):
        add_l2(g, p, -0.001)
    with pytest.raises(ValueError, match=r"l2_factors\['a'\]: got -1.0"):
        add_l2(g, p, 0.1, {"a": -1.0})
    with pytest.raises(ValueError, match=r"l2_order: got 'before'; allowed: 'before_clip', 'after_clip'"):
        GradientPipeline(l2_order="before")
    with pytest.raises(ValueError, match=r"limit: got 0; allowed: a real number in \(0, inf\]"):
        clip_weights(p, 0)
    with pytest.raises(ValueError, match=r"params: no array 'a'"):
        add_l2(g, {}, 0.1)
    with pytest.raises(ValueError, match=r"grads: no arrays"):
        global_norm({})
    np.testing.assert_array_equal(g["a"], [1.0, 1.0])
