"""The flat step (minidl.optim.flat): the same numbers as the per-array path, one launch per run, state kept by name;
the network's flat buffers (views, rebuilt when replaced, gathered gradients)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minidl import backend as B
from minidl import layers as L
from minidl.network import Network
from minidl.optim import (
    SGD,
    SGDM,
    Adam,
    CenteredRMSProp,
    GradientPipeline,
    RMSProp,
    SignSGD,
    clip_weights,
)
from minidl.optim.flat import FlatLayout, FlatStep, fusable

FACTORIES = {"sgdm": SGDM, "SGD": SGD, "rmsprop": RMSProp, "RMSProp": CenteredRMSProp, "adam": Adam,
             "adam-paper": lambda: Adam(form="paper"), "SignSGD": SignSGD}
SHAPES = {"a.weight": (3, 4), "a.bias": (3,), "b.weight": (2, 3), "b.bias": (2,)}

# pre-step configurations: (pipeline arguments, weight clip, learn-rate factors)
PRESTEPS = {
    "plain": ({}, math.inf, None),
    "l2-before-l2norm": (dict(l2=0.3, l2_factors={"a.bias": 0.0, "b.bias": 2.0}, threshold=0.7), math.inf, None),
    "l2-before-global": (dict(l2=0.3, threshold=0.9, method="global-l2norm"), 0.6, None),
    "l2-after-abs": (dict(l2=0.2, threshold=0.4, method="absolute-value", l2_order="after_clip"), math.inf, None),
    "per-array-abs-and-wclip": (dict(threshold={"a.weight": 0.3, "b.bias": 0.1}, method="absolute-value"),
                                {"a.weight": 0.5, "b.weight": 0.8}, None),
    "factors-and-frozen": (dict(l2=0.1, threshold=0.8, method="global-l2norm"), 0.9,
                           {"a.weight": 0.5, "a.bias": 0.0, "b.weight": 2.0}),
}


def arrays(rng, device="cpu"):
    return {k: B.to_device(rng.standard_normal(s), device) for k, s in SHAPES.items()}


def per_array_step(params, grads, opt, pipe, wclip, lr, factors, frozen):
    pipe(grads, params, skip=frozen)
    opt.step(params, grads, lr, factors)
    if isinstance(wclip, dict) or math.isfinite(wclip):
        clip_weights(params, wclip, skip=frozen)


@pytest.mark.parametrize("presteps", list(PRESTEPS))
@pytest.mark.parametrize("method", list(FACTORIES))
def test_the_flat_pass_equals_the_per_array_path_in_float64(method, presteps, backend):
    kw, wclip, factors = PRESTEPS[presteps]
    frozen = frozenset(n for n, f in (factors or {}).items() if f == 0)
    rng = np.random.default_rng(7)
    w_ref = arrays(rng, backend)
    layout = FlatLayout(w_ref)
    w = layout.zeros()
    for n, v in layout.views(w).items():
        B.get_array_module(v).copyto(v, w_ref[n])
    opt_ref, opt = FACTORIES[method](), FACTORIES[method]()
    step = FlatStep(GradientPipeline(**kw), opt, wclip)
    for k in range(3):
        g_ref = {n: 3.0 * B.to_device(rng.standard_normal(s), backend) for n, s in SHAPES.items()}
        g = layout.zeros()
        for n, v in layout.views(g).items():
            B.get_array_module(v).copyto(v, g_ref[n])
        per_array_step(w_ref, g_ref, opt_ref, GradientPipeline(**kw), wclip, 0.05 * (k + 1), factors, frozen)
        step(layout, w, g, 0.05 * (k + 1), factors, skip=frozen)
    for n, v in layout.views(w).items():
        want = B.to_host(w_ref[n])
        np.testing.assert_allclose(B.to_host(v), want, rtol=1e-15, atol=1e-15 * np.abs(want).max(), err_msg=n)
    ref_state, state = opt_ref.state_dict(), opt.state_dict()
    assert sorted(state) == sorted(ref_state)                # frozen arrays have no state, as per array
    for key in ref_state:
        np.testing.assert_allclose(B.to_host(state[key]), B.to_host(ref_state[key]), rtol=1e-15, atol=1e-15)
    if frozen:
        np.testing.assert_array_equal(B.to_host(layout.view(w, "a.bias")), B.to_host(w_ref["a.bias"]))


def test_one_launch_per_step_and_one_per_run_of_moving_arrays():
    rng = np.random.default_rng(0)
    layout = FlatLayout(arrays(rng, "standin"))
    w, g = layout.zeros(), layout.zeros()
    step = FlatStep(GradientPipeline(l2=0.1, threshold=0.5, method="absolute-value"), Adam(), weight_clip=2.0)
    step(layout, w, g, 0.1)                                  # the first step creates the state buffers
    with B.standin_counters().counting() as c:
        step(layout, w, g, 0.1)
    assert c.launches == 1, c
    with B.standin_counters().counting() as c:               # b.weight frozen: two runs, a.* and b.bias
        step(layout, w, g, 0.1, {"b.weight": 0.0}, skip={"b.weight"})
    assert c.launches == 2, c


def test_state_survives_a_round_trip_and_a_loaded_state_is_used():
    rng = np.random.default_rng(3)
    w0 = arrays(rng)
    grads = [arrays(rng) for _ in range(4)]
    layout = FlatLayout(w0)

    def flat_of(named):
        buf = layout.zeros()
        for n, v in layout.views(buf).items():
            v[...] = named[n]
        return buf

    opt = Adam()
    step, w = FlatStep(GradientPipeline(), opt), flat_of(w0)
    for g in grads[:2]:
        step(layout, w, flat_of(g), 0.01)
    saved, w_saved = opt.state_dict(), w.copy()
    for g in grads[2:]:
        step(layout, w, flat_of(g), 0.01)
    again = Adam()
    again.load_state_dict(saved)
    w2 = w_saved.copy()
    for g in grads[2:]:
        FlatStep(GradientPipeline(), again)(layout, w2, flat_of(g), 0.01)
    np.testing.assert_array_equal(w2, w)
    assert again.t == opt.t == 4


def test_a_method_that_overrides_the_step_runs_as_written():
    calls = []

    class Logged(SGDM):
        def _update(self, w, g, lr, state):
            calls.append(lr)
            super()._update(w, g, lr, state)

    opt = Logged(0.5)
    assert not fusable(opt) and fusable(SGDM(0.5))
    rng = np.random.default_rng(1)
    layout = FlatLayout(arrays(rng))
    FlatStep(GradientPipeline(), opt)(layout, layout.zeros(), layout.zeros(), 0.1)
    assert calls == [0.1] * len(SHAPES)


def small_net(device="cpu"):
    return Network([L.FeatureInput(3, normalization="none"), L.FullyConnected(4), L.ReLU(), L.FullyConnected(2),
                    L.RegressionOutput()]).initialize(rng=np.random.default_rng(0), dtype="float64", device=device)


def test_network_parameters_are_views_of_one_buffer_and_gradients_are_gathered(backend):
    net = small_net(backend)
    before = {k: B.to_host(v).copy() for k, v in net.params.items()}
    (group,) = net.flat_buffers()
    assert group.layout.size == sum(v.size for v in before.values())
    for k, v in net.params.items():                          # same values, now views of the flat buffer
        np.testing.assert_array_equal(B.to_host(v), before[k])
        assert v is group.param_views[k]
    group.params *= 2.0                                      # the flat buffer is the network's parameters
    np.testing.assert_array_equal(B.to_host(net.params["fc_1.weight"]),
                                  2 * before["fc_1.weight"])
    x = B.to_device(np.random.default_rng(1).standard_normal((5, 3)), backend)
    t = B.to_device(np.random.default_rng(2).standard_normal((5, 2)), backend)
    net.backward(net.forward(x, training=True), t)
    fresh = {k: B.to_host(v).copy() for k, v in net.grads.items()}
    assert net.gather_grads()[0] is group
    for k, v in net.grads.items():
        assert v is group.grad_views[k]
        np.testing.assert_array_equal(B.to_host(v), fresh[k])
    assert net.flat_buffers()[0] is group                    # nothing replaced: the same buffers


def test_the_flat_buffers_follow_replaced_arrays_and_copies():
    net = small_net()
    (group,) = net.flat_buffers()
    arrays_ = net.state_arrays()
    arrays_["params/fc_2.bias"] = np.array([5.0, 6.0])
    net.load_state_arrays(arrays_)                           # replaces the arrays: the next use rebuilds
    (again,) = net.flat_buffers()
    assert again is not group
    np.testing.assert_array_equal(again.params[-2:], [5.0, 6.0])
    twin = net.copy()                                        # a copy builds its own buffers
    (own,) = twin.flat_buffers()
    own.params[...] = 0.0
    assert np.all(net.params["fc_2.bias"] == [5.0, 6.0])


@pytest.mark.parametrize("presteps", ["plain", "l2-before-global", "factors-and-frozen"])
@pytest.mark.parametrize("method", ["sgdm", "adam", "adam-paper", "rmsprop"])
def test_device_scalars_give_the_numbers_of_host_scalars_bit_for_bit(method, presteps):
    """The graph step's form (minidl.training.cuda_graph): lr a 0-d device array and the optimizer's scalars given as
    0-d device arrays (t counted by the caller) run the same pass as numbers do; float64: bit-identical."""
    kw, wclip, factors = PRESTEPS[presteps]
    frozen = frozenset(n for n, f in (factors or {}).items() if f == 0)
    rng = np.random.default_rng(5)
    layout = FlatLayout(arrays(rng, "standin"))
    w_host, w_dev = layout.zeros(), layout.zeros()
    for n in layout.names:
        layout.view(w_host, n)[...] = layout.view(w_dev, n)[...] = B.to_device(rng.standard_normal(SHAPES[n]),
                                                                              "standin")
    opt_host, opt_dev = FACTORIES[method](), FACTORIES[method]()
    step_host, step_dev = FlatStep(GradientPipeline(**kw), opt_host, wclip), FlatStep(GradientPipeline(**kw),
                                                                                     opt_dev, wclip)
    for k in range(4):
        g = B.to_device(3.0 * rng.standard_normal(layout.size), "standin")
        lr = 0.05 / (k + 1)
        step_host(layout, w_host, g.copy(), lr, factors, skip=frozen)
        opt_dev.t += 1
        device = B.to_device(np.array([lr, *opt_dev.scalars()]), "standin")
        scalars = [device[i:i + 1].reshape(()) for i in range(len(device))]
        step_dev(layout, w_dev, g.copy(), scalars[0], factors, skip=frozen, scalars=scalars[1:])
    assert opt_dev.t == opt_host.t == 4
    np.testing.assert_array_equal(B.to_host(w_dev), B.to_host(w_host))
    for key, a in opt_host.state_dict().items():
        np.testing.assert_array_equal(B.to_host(opt_dev.state_dict()[key]), B.to_host(a), err_msg=key)


def test_scalars_for_a_method_without_equations_name_the_argument():
    class Logged(SGDM):
        def _update(self, w, g, lr, state):
            super()._update(w, g, lr, state)

    layout = FlatLayout(arrays(np.random.default_rng(1)))
    with pytest.raises(ValueError, match=r"scalars: given for Logged, which has no fusable equations"):
        FlatStep(GradientPipeline(), Logged(0.5))(layout, layout.zeros(), layout.zeros(), 0.1, scalars=(0.5,))
