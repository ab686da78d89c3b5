"""Each NetTrain Method's first steps computed by hand from the documented equations (float64, through NetTrain).

A linear net y = w·x + b with Wolfram's mean squared loss, L = Σₙ (w·xₙ + b − tₙ)² / N, trained full-batch (one
batch per round), so every round is one update whose gradient is written out here:
g_w = 2/N · Σₙ rₙ xₙ, g_b = 2/N · Σₙ rₙ with rₙ = w·xₙ + b − tₙ.
"""

import math

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.wolfram import NetTrain

X = np.array([[1.5, -2.0], [0.5, 1.0], [-1.0, 2.5], [2.0, 0.5]])
T = np.array([3.0, -1.0, 2.0, 4.0])
W0, B0 = np.array([[0.3, -0.4]]), np.array([0.2])
ROUNDS = 3


def net():
    return [L.FeatureInput(2, normalization="none"), L.FullyConnected(1, weights=W0, bias=B0)]


def loss_and_grads(p):
    r = X @ p["w"][0] + p["b"][0] - T                     # rₙ = w·xₙ + b − tₙ
    return np.mean(r ** 2), {"w": (2 / len(T) * r @ X)[None], "b": np.array([2 / len(T) * r.sum()])}


def clip(g, c):
    return g if c is None else np.clip(g, -c, c)


def by_hand(method, lr, sub, steps=ROUNDS, rate_factor=lambda t, T: 1.0):
    """The documented update rules, written out, with L2 on every array (Wolfram) and weight clipping after."""
    p = {"w": W0.copy(), "b": B0.copy()}
    lam, c, wc = sub.get("L2Regularization", 0.0), sub.get("GradientClipping"), sub.get("WeightClipping")
    state = {k: {"m": 0 * v, "s": 0 * v, "n": 0 * v, "gbar": 0 * v, "d": 0 * v, "v": 0 * v} for k, v in p.items()}
    losses = []
    for t in range(1, steps + 1):
        loss, g = loss_and_grads(p)
        losses.append(loss)
        rate = lr * rate_factor(t, steps)
        for k in p:
            s, w = state[k], p[k]
            if method == "ADAM":
                b1, b2, eps = sub.get("Beta1", 0.9), sub.get("Beta2", 0.999), sub.get("Epsilon", 1e-5)
                gk = clip(g[k] + lam * w, c)                                   # g ← clip(g + λw)
                s["m"] = b1 * s["m"] + (1 - b1) * gk
                s["s"] = b2 * s["s"] + (1 - b2) * gk ** 2
                w = w - rate * (math.sqrt(1 - b2 ** t) / (1 - b1 ** t)) * s["m"] / (np.sqrt(s["s"]) + eps)
            elif method == "RMSProp":
                beta, mu, eps = sub.get("Beta", 0.95), sub.get("Momentum", 0.9), sub.get("Epsilon", 1e-6)
                gk = clip(g[k] + lam * w, c)
                s["n"] = beta * s["n"] + (1 - beta) * gk ** 2                  # n ← β·n + (1−β)g²
                s["gbar"] = beta * s["gbar"] + (1 - beta) * gk                 # ḡ ← β·ḡ + (1−β)g
                s["d"] = mu * s["d"] - rate * gk / np.sqrt(s["n"] - s["gbar"] ** 2 + eps)
                w = w + s["d"]                                                 # w ← w + Δ
            elif method == "SGD":
                mu = sub.get("Momentum", 0.93)
                s["v"] = mu * s["v"] - rate * lam * w - rate * clip(g[k], c)   # v ← μv − lr·λw − lr·clip(g)
                w = w + s["v"]
            else:  # SignSGD
                mu = sub.get("Momentum", 0.93)
                s["v"] = mu * s["v"] - (1 - mu) * (lam * w + clip(g[k], c))    # v ← μv − (1−μ)(λw + clip(g))
                w = w + rate * np.sign(s["v"])                                 # w ← w + lr·sign(v)
            p[k] = w if wc is None else np.clip(w, -wc, wc)
    return p, losses


def train(method, sub, lr=None, **options):
    spec = (method, sub) if sub else method
    opts = {"Method": spec, "MaxTrainingRounds": ROUNDS, "BatchSize": 4, "WorkingPrecision": "Real64",
            "TrainingProgressReporting": None, **options}
    if lr is not None:
        opts["LearningRate"] = lr
    return NetTrain(net(), (X, T), ["FinalNet", "BatchLossList", "InitialLearningRate"], **opts)


def polynomial(t, total):
    return math.sqrt(1 - min(t, total) / (total + 1))   # SGD's Automatic schedule


CASES = [
    ("ADAM", {}, None, 0.001),
    ("ADAM", {"Beta1": 0.8, "Beta2": 0.99, "Epsilon": 1e-3, "L2Regularization": 0.1, "GradientClipping": 0.5,
              "WeightClipping": 0.45}, 0.05, 0.05),
    ("RMSProp", {}, None, 0.001),
    ("RMSProp", {"Beta": 0.9, "Momentum": 0.5, "Epsilon": 1e-4, "L2Regularization": 0.05, "GradientClipping": 0.3},
     0.01, 0.01),
    ("SGD", {"Momentum": 0.5, "L2Regularization": 0.1, "GradientClipping": 0.2, "WeightClipping": 0.5}, 0.1, 0.1),
    ("SignSGD", {}, None, 0.01),
    ("SignSGD", {"Momentum": 0.5, "L2Regularization": 0.2, "GradientClipping": 0.1, "WeightClipping": 0.35}, 0.1,
     0.1),
]


@pytest.mark.parametrize("method, sub, lr, rate", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_first_steps_by_hand(method, sub, lr, rate):
    final, losses, initial = train(method, sub, lr)
    schedule = polynomial if method == "SGD" and "LearningRateSchedule" not in sub else (lambda t, total: 1.0)
    p, expected_losses = by_hand(method, rate, sub, rate_factor=schedule)
    np.testing.assert_allclose(to_host(final.params["fc_1.weight"]), p["w"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_host(final.params["fc_1.bias"]), p["b"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-12)
    assert initial == rate                                   # InitialLearningRate: the LearningRate setting


def test_sgd_default_momentum_and_polynomial_schedule():
    final, losses, initial = train("SGD", {})
    p, expected = by_hand("SGD", 0.01, {}, rate_factor=polynomial)   # μ 0.93, lr·√(1 − min(t, T)/(T + 1))
    np.testing.assert_allclose(to_host(final.params["fc_1.weight"]), p["w"], rtol=1e-12)
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    assert initial == 0.01                                   # the setting, not the first batch's 0.01·√(3/4)


@pytest.mark.parametrize("schedule, factor", [(None, lambda t, total: 1.0),
                                              ("Polynomial", polynomial),
                                              (lambda batch, total: 1.0 / (batch + 1), lambda t, total: 1.0 / t)])
def test_sgd_learning_rate_schedule_sub_option(schedule, factor):
    final, losses, _ = train("SGD", {"Momentum": 0.6, "LearningRateSchedule": schedule}, 0.05)
    p, expected = by_hand("SGD", 0.05, {"Momentum": 0.6}, rate_factor=factor)
    np.testing.assert_allclose(to_host(final.params["fc_1.weight"]), p["w"], rtol=1e-12)
    np.testing.assert_allclose(losses, expected, rtol=1e-12)


def test_l2_order_differs_between_adam_and_sgd():
    """ADAM clips g + λw; SGD clips g and adds λw: with active clipping the first steps differ as the rules say."""
    sub = {"L2Regularization": 5.0, "GradientClipping": 0.1}
    for method in ("ADAM", "SGD"):
        final, _, _ = train(method, {**sub, "LearningRateSchedule": None}, 0.1, MaxTrainingRounds=1)
        p, _ = by_hand(method, 0.1, sub, steps=1)
        np.testing.assert_allclose(to_host(final.params["fc_1.weight"]), p["w"], rtol=1e-12)
    p_adam, _ = by_hand("ADAM", 0.1, sub, steps=1)
    p_sgd, _ = by_hand("SGD", 0.1, sub, steps=1)
    assert not np.allclose(p_adam["w"], p_sgd["w"])


def test_learning_rate_multipliers_freeze_and_scale():
    """LearningRateMultipliers: 0 freezes the bias; 2 doubles the weight's rate (SGD, constant rate, μ = 0)."""
    final, _, _ = train("SGD", {"Momentum": 0.0, "LearningRateSchedule": None}, 0.05,
                        LearningRateMultipliers={"fc_1.bias": 0, "fc_1.weight": 2})
    w, b = W0.copy(), B0.copy()
    for _ in range(ROUNDS):
        _, g = loss_and_grads({"w": w, "b": b})
        w = w - 2 * 0.05 * g["w"]
    np.testing.assert_allclose(to_host(final.params["fc_1.weight"]), w, rtol=1e-12)
    np.testing.assert_array_equal(to_host(final.params["fc_1.bias"]), B0)


def test_l2_per_layer_spec_regularizes_only_that_layer():
    """L2Regularization {layer: λ}: λ on that layer's arrays, none elsewhere (here: the net's only layer)."""
    final, _, _ = train("SGD", {"Momentum": 0.0, "LearningRateSchedule": None, "L2Regularization": {"fc_1": 0.5}},
                        0.05)
    p, _ = by_hand("SGD", 0.05, {"Momentum": 0.0, "L2Regularization": 0.5})
    np.testing.assert_allclose(to_host(final.params["fc_1.weight"]), p["w"], rtol=1e-12)
    frozen, _, _ = train("SGD", {"Momentum": 0.0, "LearningRateSchedule": None,
                                 "L2Regularization": [("featureinput_1", 0.5)]}, 0.05)
    p0, _ = by_hand("SGD", 0.05, {"Momentum": 0.0})
    np.testing.assert_allclose(to_host(frozen.params["fc_1.weight"]), p0["w"], rtol=1e-12)


def test_method_as_a_dict_and_snake_case_sub_options():
    from minidl.wolfram import net_train

    a = train("RMSProp", {"Beta": 0.9, "Momentum": 0.5}, 0.01)[0]
    b = net_train(net(), (X, T), "FinalNet", method={"rmsprop": {"beta": 0.9, "momentum": 0.5}}, learning_rate=0.01,
                  max_training_rounds=ROUNDS, batch_size=4, working_precision="Real64",
                  training_progress_reporting=None)
    np.testing.assert_array_equal(to_host(a.params["fc_1.weight"]), to_host(b.params["fc_1.weight"]))
