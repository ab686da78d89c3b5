"""Every optimizer: first steps by hand, identities between variants, convergence, state round trip, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minidl import backend as B
from minidl.optim import (
    SGD,
    SGDM,
    Adam,
    CenteredRMSProp,
    Optimizer,
    PolynomialSchedule,
    RMSProp,
    SignSGD,
    make_optimizer,
)

# Every method with its default hyperparameters; "adam-paper" is Adam(form="paper").
FACTORIES = {
    "sgdm": SGDM,
    "SGD": SGD,
    "rmsprop": RMSProp,
    "RMSProp": CenteredRMSProp,
    "adam": Adam,
    "adam-paper": lambda: Adam(form="paper"),
    "SignSGD": SignSGD,
}
METHODS = list(FACTORIES)

# ---------------------------------------------------------------------------------------------------------------------
# First three steps by hand
# ---------------------------------------------------------------------------------------------------------------------
W0 = [1.0, -0.5, 0.25]
G = [[0.5, -1.0, 2.0], [0.25, 0.5, -1.5], [-0.75, 1.0, 0.125]]  # the gradient of steps 1, 2, 3 (fixed, not from w)
LR = 0.1

# θ after steps 1, 2, 3 from W0 with gradients G and rate LR, each method at its defaults; computed element by
# element in plain Python float64 from the docstring equations, exactly as the functions in _BY_HAND below do.
HAND = {
    "sgdm": [  # γ = 0.9
        [0.95, -0.4, 0.04999999999999999],
        [0.8799999999999999, -0.36, 0.01999999999999999],
        [0.8919999999999999, -0.424, -0.01950000000000001],
    ],
    "SGD": [  # μ = 0.93
        [0.95, -0.4, 0.04999999999999999],
        [0.8785, -0.357, 0.013999999999999985],
        [0.8870049999999999, -0.41701, -0.03198000000000002],
    ],
    "rmsprop": [  # β2 = 0.9, ε = 1e-8
        [0.6837722539831608, -0.18377224398316166, -0.06622776101683803],
        [0.5363303065239152, -0.33121419579023287, 0.12988837155724353],
        [0.7980422586866024, -0.5528897401369645, 0.11268683101734842],
    ],
    "RMSProp": [  # centered, β = 0.95, μ = 0.9, ε = 1e-6
        [0.5411878502584954, -0.04117336198754151, -0.20883026029465868],
        [-0.08543439705669709, 0.1667815529665063, -0.3488701789411065],
        [-0.28501876777343627, 0.047056197731931204, -0.49821792776606577],
    ],
    "adam": [  # matlab form, β1 = 0.9, β2 = 0.999, ε = 1e-8
        [0.9000000632455132, -0.4000000316227666, 0.15000001581138578],
        [0.806782152117492, -0.37336633519288853, 0.14106751620109806],
        [0.8149798291303606, -0.4006360085357336, 0.13097860313412327],
    ],
    "adam-paper": [  # paper form, β1 = 0.9, β2 = 0.999, ε = 1e-8
        [0.900000002, -0.400000001, 0.1500000005],
        [0.8067820404774624, -0.37336629737090316, 0.1410674998100022],
        [0.814979720110778, -0.4006359761506924, 0.13097858553725147],
    ],
    "SignSGD": [  # μ = 0.93
        [0.9, -0.4, 0.15],
        [0.8, -0.30000000000000004, 0.04999999999999999],
        [0.9, -0.4, -0.05000000000000002],
    ],
}


def _sgdm_by_hand(mu):
    w, v, out = list(W0), [0.0] * 3, []
    for g in G:
        for i in range(3):
            v[i] = mu * v[i] - LR * g[i]  # v ← γ·v − lr·g
            w[i] = w[i] + v[i]  # θ ← θ + v
        out.append(list(w))
    return out


def _rmsprop_by_hand(b2=0.9, eps=1e-8):
    w, s, out = list(W0), [0.0] * 3, []
    for g in G:
        for i in range(3):
            s[i] = b2 * s[i] + (1 - b2) * g[i] ** 2  # s ← β2·s + (1−β2)·g²
            w[i] = w[i] - LR * g[i] / (math.sqrt(s[i]) + eps)  # θ ← θ − lr·g/(√s + ε)
        out.append(list(w))
    return out


def _centered_by_hand(b=0.95, mu=0.9, eps=1e-6):
    w, n, gb, d, out = list(W0), [0.0] * 3, [0.0] * 3, [0.0] * 3, []
    for g in G:
        for i in range(3):
            n[i] = b * n[i] + (1 - b) * g[i] ** 2  # n ← β·n + (1−β)·g²
            gb[i] = b * gb[i] + (1 - b) * g[i]  # ḡ ← β·ḡ + (1−β)·g
            d[i] = mu * d[i] - LR * g[i] / math.sqrt(n[i] - gb[i] ** 2 + eps)  # Δ ← μΔ − lr·g/√(n − ḡ² + ε)
            w[i] = w[i] + d[i]  # w ← w + Δ
        out.append(list(w))
    return out


def _adam_by_hand(form, b1=0.9, b2=0.999, eps=1e-8):
    w, m, s, out = list(W0), [0.0] * 3, [0.0] * 3, []
    for t, g in enumerate(G, start=1):
        for i in range(3):
            m[i] = b1 * m[i] + (1 - b1) * g[i]  # m ← β1·m + (1−β1)·g
            s[i] = b2 * s[i] + (1 - b2) * g[i] ** 2  # s ← β2·s + (1−β2)·g²
            if form == "matlab":  # θ ← θ − lr·(√(1−β2ᵗ)/(1−β1ᵗ))·m/(√s + ε)
                w[i] = w[i] - LR * (math.sqrt(1 - b2 ** t) / (1 - b1 ** t)) * m[i] / (math.sqrt(s[i]) + eps)
            else:  # θ ← θ − lr·m̂/(√ŝ + ε)
                m_hat, s_hat = m[i] / (1 - b1 ** t), s[i] / (1 - b2 ** t)
                w[i] = w[i] - LR * m_hat / (math.sqrt(s_hat) + eps)
        out.append(list(w))
    return out


def _signsgd_by_hand(mu=0.93):
    w, v, out = list(W0), [0.0] * 3, []
    for g in G:
        for i in range(3):
            v[i] = mu * v[i] - (1 - mu) * g[i]  # v ← μ·v − (1−μ)·g
            w[i] = w[i] + LR * math.copysign(1.0, v[i])  # w ← w + lr·sign(v)   (v is never 0 here)
        out.append(list(w))
    return out


_BY_HAND = {
    "sgdm": lambda: _sgdm_by_hand(0.9),
    "SGD": lambda: _sgdm_by_hand(0.93),
    "rmsprop": _rmsprop_by_hand,
    "RMSProp": _centered_by_hand,
    "adam": lambda: _adam_by_hand("matlab"),
    "adam-paper": lambda: _adam_by_hand("paper"),
    "SignSGD": _signsgd_by_hand,
}


@pytest.mark.parametrize("method", METHODS)
def test_hand_table_is_the_equations(method):
    """The literal table above is what the equations give, worked element by element in plain Python."""
    assert _BY_HAND[method]() == HAND[method]


@pytest.mark.parametrize("method", METHODS)
def test_first_three_steps_by_hand(method, backend):
    opt = FACTORIES[method]()
    w = B.to_device(np.array(W0), backend)
    params = {"fc.weight": w}
    for k in range(3):
        opt.step(params, {"fc.weight": B.to_device(np.array(G[k]), backend)}, LR)
        assert params["fc.weight"] is w  # updated in place: layers holding the array see the step
        np.testing.assert_allclose(B.to_host(w), HAND[method][k], rtol=1e-13, atol=1e-15,
                                   err_msg=f"{method} step {k + 1}")
    assert opt.t == 3


@pytest.mark.parametrize("method", METHODS)
def test_float32_stays_float32(method, backend):
    opt = FACTORIES[method]()
    w = B.to_device(np.array(W0, dtype=np.float32), backend)
    for k in range(3):
        opt.step({"w": w}, {"w": B.to_device(np.array(G[k], dtype=np.float32), backend)}, LR)
    assert w.dtype == np.float32
    assert all(a.dtype == np.float32 for key, a in opt.state_dict().items() if key != "t")
    np.testing.assert_allclose(B.to_host(w), HAND[method][2], rtol=2e-6, atol=2e-7)


# ---------------------------------------------------------------------------------------------------------------------
# Identities
# ---------------------------------------------------------------------------------------------------------------------
def _random_grads(rng, n_steps, shape=(4, 3)):
    return [rng.standard_normal(shape) for _ in range(n_steps)]


def test_adam_forms_agree_when_epsilon_is_zero(backend, rng):
    """√(1−β2ᵗ)/(1−β1ᵗ)·m/√s = (m/(1−β1ᵗ))/√(s/(1−β2ᵗ)): the two forms differ only through ε."""
    grads = _random_grads(rng, 20)
    w0 = rng.standard_normal((4, 3))
    result = {}
    for form in ("matlab", "paper"):
        opt, w = Adam(epsilon=0.0, form=form), B.to_device(w0.copy(), backend)
        for g in grads:
            opt.step({"w": w}, {"w": B.to_device(g, backend)}, 0.01)
        result[form] = B.to_host(w)
    np.testing.assert_allclose(result["matlab"], result["paper"], rtol=1e-13)
    # ... and with the default ε they differ (the matlab form's ε is ε/√(1−β2ᵗ) in the paper's terms)
    opt_m, opt_p = Adam(epsilon=1e-3), Adam(epsilon=1e-3, form="paper")
    wm, wp = B.to_device(w0.copy(), backend), B.to_device(w0.copy(), backend)
    opt_m.step({"w": wm}, {"w": B.to_device(grads[0], backend)}, 0.01)
    opt_p.step({"w": wp}, {"w": B.to_device(grads[0], backend)}, 0.01)
    assert np.max(np.abs(B.to_host(wm) - B.to_host(wp))) > 1e-6


def test_signsgd_moves_every_element_by_lr_times_sign_of_v(backend, rng):
    opt, lr = SignSGD(), 0.03
    w = B.to_device(rng.standard_normal((5, 2)), backend)
    for g in _random_grads(rng, 6, (5, 2)):
        before = B.to_host(w).copy()
        opt.step({"w": w}, {"w": B.to_device(g, backend)}, lr)
        v = B.to_host(opt.state_dict()["v/w"])
        np.testing.assert_allclose(B.to_host(w) - before, lr * np.sign(v), rtol=0, atol=1e-15)
        assert np.all(v != 0)


def test_sgdm_with_momentum_zero_is_plain_gradient_descent(backend, rng):
    opt, lr = SGDM(momentum=0.0), 0.05
    w0 = rng.standard_normal(7)
    w, expected = B.to_device(w0.copy(), backend), w0.copy()
    for g in _random_grads(rng, 5, (7,)):
        opt.step({"w": w}, {"w": B.to_device(g, backend)}, lr)
        expected = expected - lr * g  # θ ← θ − lr·g
        np.testing.assert_array_equal(B.to_host(w), expected)  # bit for bit


def _run(opt, w0s, grads, lr, factors=None, backend="cpu"):
    params = {name: B.to_device(a.copy(), backend) for name, a in w0s.items()}
    for g in grads:
        opt.step(params, {name: B.to_device(a, backend) for name, a in g.items()}, lr, factors)
    return {name: B.to_host(a) for name, a in params.items()}


@pytest.mark.parametrize("method", METHODS)
def test_learn_rate_factor_zero_freezes_array_and_its_state(method, backend, rng):
    opt = FACTORIES[method]()
    params = {"a": B.to_device(rng.standard_normal(3), backend), "b": B.to_device(rng.standard_normal(2), backend)}
    for _ in range(2):
        opt.step(params, {k: B.to_device(rng.standard_normal(v.shape), backend) for k, v in params.items()}, 0.1)
    saved = {k: B.to_host(v).copy() for k, v in opt.state_dict().items() if k != "t"}
    a_before, b_before = B.to_host(params["a"]).copy(), B.to_host(params["b"]).copy()
    # "b" frozen: no gradient needed, no update, its state untouched; "a" moves on
    opt.step(params, {"a": B.to_device(rng.standard_normal(3), backend)}, 0.1, lr_factors={"b": 0.0})
    now = opt.state_dict()
    np.testing.assert_array_equal(B.to_host(params["b"]), b_before)
    for key in saved:
        if key.endswith("/b"):
            np.testing.assert_array_equal(B.to_host(now[key]), saved[key])
    assert not np.array_equal(B.to_host(params["a"]), a_before)
    assert now["t"] == 3
    # an array frozen from the start never gets state
    fresh = FACTORIES[method]()
    fresh.step(params, {"a": B.to_device(rng.standard_normal(3), backend)}, 0.1, lr_factors={"b": 0})
    assert [k for k in fresh.state_dict() if k.endswith("/b")] == []


@pytest.mark.parametrize("method", METHODS)
def test_learn_rate_factor_two_equals_double_rate(method, backend, rng):
    w0s = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(4)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in w0s.items()} for _ in range(4)]
    doubled = _run(FACTORIES[method](), w0s, grads, 0.05, {"a": 2.0, "b": 2.0}, backend)
    direct = _run(FACTORIES[method](), w0s, grads, 0.1, None, backend)
    for k in w0s:
        np.testing.assert_array_equal(doubled[k], direct[k])  # 0.05·2 = 0.1 exactly, so bit for bit


# ---------------------------------------------------------------------------------------------------------------------
# Convergence on a convex quadratic f(w) = ½ Σ aᵢ (wᵢ − cᵢ)²
# ---------------------------------------------------------------------------------------------------------------------
CONVERGENCE = [  # method, rate, steps, polynomial decay?, tolerance on max |w − c|
    ("sgdm", 0.1, 300, False, 1e-4),
    ("SGD", 0.1, 300, False, 1e-4),
    ("rmsprop", 0.01, 1000, True, 1e-4),
    ("RMSProp", 0.01, 1000, True, 1e-4),
    ("adam", 0.05, 1000, True, 1e-4),
    ("adam-paper", 0.05, 1000, True, 1e-4),
    ("SignSGD", 0.01, 1000, True, 2e-3),  # fixed-size steps: ends within a few final steps (final rate 3.2e-4)
]


@pytest.mark.parametrize("method, lr, steps, decay, tol", CONVERGENCE)
def test_converges_on_a_quadratic(method, lr, steps, decay, tol, backend):
    xp = backend.xp
    a = B.to_device(np.array([1.0, 3.0, 0.5, 2.0]), backend)
    c = np.array([1.0, -2.0, 0.5, 3.0])
    c_dev = B.to_device(c, backend)
    w = xp.zeros(4, dtype=np.float64)
    schedule, opt = PolynomialSchedule(lr), FACTORIES[method]()
    for k in range(1, steps + 1):
        opt.step({"w": w}, {"w": a * (w - c_dev)}, schedule(1, k, steps) if decay else lr)  # ∇f = a·(w − c)
    assert np.max(np.abs(B.to_host(w) - c)) < tol


# ---------------------------------------------------------------------------------------------------------------------
# State: round trip, keys, no host round trips
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_state_dict_round_trip_is_bit_identical(method, backend, rng):
    w0s = {"conv_1.weight": rng.standard_normal((2, 3)), "conv_1.bias": rng.standard_normal(2)}
    grads = [{k: B.to_device(rng.standard_normal(v.shape), backend) for k, v in w0s.items()} for _ in range(10)]
    opt = FACTORIES[method]()
    params = {k: B.to_device(v.copy(), backend) for k, v in w0s.items()}
    for g in grads[:5]:
        opt.step(params, g, 0.01)
    saved_state, saved_params = opt.state_dict(), {k: v.copy() for k, v in params.items()}
    for g in grads[5:]:
        opt.step(params, g, 0.01)
    first = {k: B.to_host(v).copy() for k, v in params.items()}

    resumed = FACTORIES[method]()
    resumed.load_state_dict(saved_state)
    for g in grads[5:]:
        resumed.step(saved_params, g, 0.01)
    for k in w0s:
        np.testing.assert_array_equal(B.to_host(saved_params[k]), first[k])
    final_a, final_b = opt.state_dict(), resumed.state_dict()
    assert list(final_a) == list(final_b)
    for key in final_a:
        np.testing.assert_array_equal(B.to_host(final_a[key]), B.to_host(final_b[key]))


def test_state_dict_keys_and_copies(backend):
    opt = Adam()
    params = {"fc_1.weight": backend.xp.zeros((2, 2)), "fc_1.bias": backend.xp.zeros(2)}
    opt.step(params, {k: backend.xp.ones(v.shape) for k, v in params.items()}, 0.1)
    sd = opt.state_dict()
    assert list(sd) == ["t", "m/fc_1.weight", "s/fc_1.weight", "m/fc_1.bias", "s/fc_1.bias"]
    assert sd["t"] == 1 and B.get_array_module(sd["m/fc_1.bias"]) is backend.xp  # arrays stay on their device
    opt.step(params, {k: backend.xp.ones(v.shape) for k, v in params.items()}, 0.1)
    np.testing.assert_array_equal(B.to_host(sd["m/fc_1.bias"]), [1 - 0.9] * 2)  # a copy, not the live state


def test_load_state_dict_rejects_bad_entries():
    with pytest.raises(ValueError, match="'t'"):
        SGDM().load_state_dict({"v/w": np.zeros(2)})
    with pytest.raises(ValueError, match=r"unknown key 'm/w'.*\('v',\)"):
        SGDM().load_state_dict({"t": 1, "m/w": np.zeros(2)})
    with pytest.raises(ValueError, match=r"lacks s/w"):
        Adam().load_state_dict({"t": 1, "m/w": np.zeros(2)})
    with pytest.raises(ValueError, match=r"state_dict\['t'\]: got -1"):
        SGDM().load_state_dict({"t": -1})
    opt = SGDM()
    opt.load_state_dict({"t": 2, "v/w": np.zeros(3)})
    with pytest.raises(ValueError, match=r"optimizer state v/w: shape \(3,\).*params\['w'\] has shape \(2,\)"):
        opt.step({"w": np.zeros(2)}, {"w": np.zeros(2)}, 0.1)


def test_state_on_another_device_is_refused():
    opt = SGDM()
    opt.load_state_dict({"t": 2, "v/w": np.zeros(2)})  # host state, device parameter
    w = B.to_device(np.zeros(2), "standin")
    with pytest.raises(ValueError, match="device cpu.*device standin"):
        opt.step({"w": w}, {"w": B.to_device(np.ones(2), "standin")}, 0.1)


@pytest.mark.parametrize("method", METHODS)
def test_step_reads_nothing_back_to_the_host(method, no_host_reads, rng):
    """On the stand-in device, any float()/bool()/int()/.item()/.get() of a device value during step fails."""
    params = {"w": B.to_device(rng.standard_normal(4), "standin")}
    grads = {"w": B.to_device(rng.standard_normal(4), "standin")}
    before = B.to_host(params["w"]).copy()
    opt = FACTORIES[method]()
    opt.step(params, grads, 0.1)
    opt.step(params, grads, 0.1, {"w": 0.5})
    no_host_reads.undo()
    assert opt.t == 2 and not np.array_equal(B.to_host(params["w"]), before)


# ---------------------------------------------------------------------------------------------------------------------
# Factory, display, bad input
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls, hyper", [
    ("sgdm", SGDM, {"momentum": 0.9}),
    ("rmsprop", RMSProp, {"beta2": 0.9, "epsilon": 1e-8}),
    ("adam", Adam, {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "form": "matlab"}),
    ("ADAM", Adam, {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-5, "form": "matlab"}),
    ("RMSProp", CenteredRMSProp, {"beta": 0.95, "momentum": 0.9, "epsilon": 1e-6}),
    ("SGD", SGD, {"momentum": 0.93}),
    ("SignSGD", SignSGD, {"momentum": 0.93}),
])
def test_make_optimizer_names_and_defaults(name, cls, hyper):
    opt = make_optimizer(name)
    assert type(opt) is cls and isinstance(opt, Optimizer)
    assert opt.hyperparameters() == {"method": cls.method, **hyper}


def test_make_optimizer_overrides_and_pre_step_order():
    assert make_optimizer("ADAM", epsilon=1e-7, form="paper").hyperparameters()["epsilon"] == 1e-7
    assert repr(make_optimizer("sgdm", momentum=0.5)) == "SGDM(momentum=0.5)"
    assert [make_optimizer(n).l2_order for n in ("sgdm", "rmsprop", "adam", "ADAM", "RMSProp", "SGD", "SignSGD")] == [
        "before_clip"] * 5 + ["after_clip"] * 2


def test_make_optimizer_bad_names():
    with pytest.raises(ValueError, match=r"name: got 'Adam'; allowed: 'sgdm', 'rmsprop', 'adam', 'ADAM', 'RMSProp', "
                                         r"'SGD', 'SignSGD'"):
        make_optimizer("Adam")
    with pytest.raises(TypeError, match=r"make_optimizer\('sgdm'\): unknown hyperparameter 'beta1'; allowed: momentum"):
        make_optimizer("sgdm", beta1=0.9)


@pytest.mark.parametrize("cls, arg, value, allowed", [
    (SGDM, "momentum", 1.01, r"\[0, 1\]"),  # MATLAB's sgdm allows momentum 1
    (SGDM, "momentum", -0.1, r"\[0, 1\]"),
    (SGD, "momentum", 1.0, r"\[0, 1\)"),
    (SGD, "momentum", 1.5, r"\[0, 1\)"),
    (SignSGD, "momentum", float("nan"), r"\[0, 1\)"),
    (RMSProp, "beta2", 1.0, r"\[0, 1\)"),
    (RMSProp, "epsilon", -1e-8, r"\[0, inf\)"),
    (CenteredRMSProp, "beta", -0.5, r"\[0, 1\)"),
    (CenteredRMSProp, "momentum", 1.0, r"\[0, 1\)"),
    (CenteredRMSProp, "epsilon", -1.0, r"\[0, inf\)"),
    (Adam, "beta1", 1.0, r"\[0, 1\)"),
    (Adam, "beta2", 2.0, r"\[0, 1\)"),
    (Adam, "epsilon", -1e-8, r"\[0, inf\)"),
    (Adam, "epsilon", math.inf, r"\[0, inf\)"),
])
def test_constructor_arguments_out_of_range(cls, arg, value, allowed):
    with pytest.raises(ValueError, match=rf"{arg}: got {value!r}; allowed: a real number in {allowed}"):
        cls(**{arg: value})


@pytest.mark.parametrize("cls, arg", [(SGDM, "momentum"), (RMSProp, "beta2"), (Adam, "beta1"), (SignSGD, "momentum"),
                                      (CenteredRMSProp, "epsilon")])
def test_constructor_arguments_of_wrong_type(cls, arg):
    with pytest.raises(TypeError, match=rf"{arg}: got '0.5' of type str"):
        cls(**{arg: "0.5"})


def test_adam_form_is_validated():
    with pytest.raises(ValueError, match=r"form: got 'pytorch'; allowed: 'matlab', 'paper'"):
        Adam(form="pytorch")


def test_step_arguments_are_validated():
    opt, p = SGDM(), {"w": np.zeros(2)}
    with pytest.raises(ValueError, match=r"learning_rate: got -0.1"):
        opt.step(p, {"w": np.ones(2)}, -0.1)
    with pytest.raises(TypeError, match=r"learning_rate: got array"):
        opt.step(p, {"w": np.ones(2)}, np.array([0.1]))
    with pytest.raises(ValueError, match=r"lr_factors\['w'\]: got -1"):
        opt.step(p, {"w": np.ones(2)}, 0.1, {"w": -1})
    with pytest.raises(ValueError, match=r"grads: no gradient for parameter 'w'"):
        opt.step(p, {"v": np.ones(2)}, 0.1)
    with pytest.raises(ValueError, match=r"grads\['w'\]: shape \(3,\) differs from params\['w'\] shape \(2,\)"):
        opt.step(p, {"w": np.ones(3)}, 0.1)
    with pytest.raises(ValueError, match=r"learning_rate: got inf; allowed: a real number in \[0, inf\)"):
        opt.step(p, {"w": np.ones(2)}, math.inf)
    np.testing.assert_array_equal(p["w"], [0.0, 0.0])
    assert opt.t == 0 and opt.state_dict() == {"t": 0}


def test_a_refused_step_changes_nothing():
    """Every name is checked before any array moves: a missing gradient for the 2nd array leaves the 1st as it was."""
    opt, p = SGDM(), {"a": np.zeros(2), "w": np.zeros(2)}
    with pytest.raises(ValueError, match=r"grads: no gradient for parameter 'w'"):
        opt.step(p, {"a": np.ones(2)}, 0.1)
    np.testing.assert_array_equal(p["a"], [0.0, 0.0])
    assert opt.t == 0
