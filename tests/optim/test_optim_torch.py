"""Cross-checks against PyTorch's optimizers: 50-step float64 trajectories on random least-squares problems.

Each test trains the same parameters (w of shape (D,), b of shape (1,)) on
    loss(w, b) = ½‖X·w + b − y‖² / N,      X: (N, D), y: (N,)
with minidl (gradient by formula, NumPy) and with torch.optim (gradient by autograd), and asserts that the parameter
trajectories agree to 1e-10 relative at every step. Where the methods are known to differ (ε placement, a changing
rate with momentum), a second assertion shows the difference is real, so the mapping stated in the docstrings holds.
"""

from __future__ import annotations

import numpy as np
import pytest

from minidl.optim import SGDM, Adam, CenteredRMSProp, RMSProp

pytestmark = pytest.mark.oracle

N, D, STEPS = 20, 5, 50


def _problem(seed: int):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, D)), rng.standard_normal(N), rng.standard_normal(D), rng.standard_normal(1)


def _minidl_trajectory(opt, problem, rates):
    """Parameters (w, b) after every step, minidl with the gradient by formula."""
    X, y, w0, b0 = problem
    params = {"w": w0.copy(), "b": b0.copy()}
    out = []
    for lr in rates:
        r = X @ params["w"] + params["b"] - y  # residual r = X·w + b − y
        grads = {"w": X.T @ r / N, "b": np.array([r.sum() / N])}  # ∂loss/∂w = Xᵀr/N, ∂loss/∂b = Σr/N
        opt.step(params, grads, lr)
        out.append(np.concatenate([params["w"], params["b"]]))
    return np.array(out)


def _torch_trajectory(make_opt, problem, rates):
    """Parameters (w, b) after every step, torch.optim with the gradient by autograd."""
    torch = pytest.importorskip("torch")
    X, y, w0, b0 = (torch.tensor(a, dtype=torch.float64) for a in problem)
    w, b = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    opt = make_opt(torch, [w, b], rates[0])
    out = []
    for lr in rates:
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss = 0.5 * ((X @ w + b - y) ** 2).sum() / N
        loss.backward()
        opt.step()
        out.append(torch.cat([w, b]).detach().numpy().copy())
    return np.array(out)


def _relative_gap(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _constant(lr):
    return [lr] * STEPS


@pytest.mark.parametrize("seed", [0, 1])
def test_sgdm_equals_torch_sgd_momentum_with_a_constant_rate(seed):
    """MATLAB v ← γv − lr·g, θ ← θ + v; PyTorch b ← γb + g, θ ← θ − lr·b. With a constant lr, v = −lr·b at every step
    (induction: v₁ = −lr·g₁ = −lr·b₁; v ← γ(−lr·b) − lr·g = −lr(γb + g)), so the trajectories are the same."""
    problem = _problem(seed)
    ours = _minidl_trajectory(SGDM(momentum=0.9), problem, _constant(0.05))
    theirs = _torch_trajectory(lambda torch, p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, dampening=0,
                                                                    foreach=False), problem, _constant(0.05))
    assert _relative_gap(ours, theirs) <= 1e-10

    # With a changing rate the two differ: PyTorch rescales the whole accumulated b by the new rate.
    rates = [0.05 * 0.9 ** k for k in range(STEPS)]
    ours = _minidl_trajectory(SGDM(momentum=0.9), problem, rates)
    theirs = _torch_trajectory(lambda torch, p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, foreach=False),
                               problem, rates)
    assert _relative_gap(ours, theirs) > 1e-4


@pytest.mark.parametrize("seed", [0, 1])
def test_rmsprop_equals_torch_rmsprop(seed):
    """Both add ε outside the root: θ ← θ − lr·g/(√s + ε), s ← β2·s + (1−β2)·g² (torch's alpha is β2)."""
    problem = _problem(seed)
    ours = _minidl_trajectory(RMSProp(beta2=0.9, epsilon=1e-8), problem, _constant(0.01))
    theirs = _torch_trajectory(lambda torch, p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-8,
                                                                        foreach=False), problem, _constant(0.01))
    assert _relative_gap(ours, theirs) <= 1e-10


@pytest.mark.parametrize("seed", [0, 1])
def test_adam_paper_form_equals_torch_adam(seed):
    problem = _problem(seed)
    ours = _minidl_trajectory(Adam(beta1=0.9, beta2=0.999, epsilon=1e-8, form="paper"), problem, _constant(0.01))
    theirs = _torch_trajectory(lambda torch, p, lr: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.999), eps=1e-8,
                                                                     foreach=False), problem, _constant(0.01))
    assert _relative_gap(ours, theirs) <= 1e-10


@pytest.mark.parametrize("seed", [0, 1])
def test_adam_matlab_form_equals_torch_adam_when_epsilon_is_zero(seed):
    problem = _problem(seed)
    ours = _minidl_trajectory(Adam(epsilon=0.0, form="matlab"), problem, _constant(0.01))
    theirs = _torch_trajectory(lambda torch, p, lr: torch.optim.Adam(p, lr=lr, eps=0.0, foreach=False),
                               problem, _constant(0.01))
    assert _relative_gap(ours, theirs) <= 1e-10

    # With ε > 0 the forms differ (MATLAB's ε is not bias-corrected); a large ε makes it visible
    ours = _minidl_trajectory(Adam(epsilon=1e-2, form="matlab"), problem, _constant(0.01))
    theirs = _torch_trajectory(lambda torch, p, lr: torch.optim.Adam(p, lr=lr, eps=1e-2, foreach=False),
                               problem, _constant(0.01))
    assert _relative_gap(ours, theirs) > 1e-5


@pytest.mark.parametrize("seed", [0, 1])
def test_centered_rmsprop_equals_torch_centered_rmsprop_when_epsilon_is_zero(seed):
    """Wolfram Δ ← μΔ − lr·g/√(n − ḡ² + ε), w ← w + Δ; PyTorch b ← μb + g/(√(n − ḡ²) + ε), w ← w − lr·b.
    With ε = 0 and a constant rate, Δ = −lr·b at every step: the same trajectory. For ε > 0 they differ (ε inside
    versus outside the root)."""
    problem = _problem(seed)

    def torch_centered(eps):
        return lambda torch, p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.95, eps=eps, momentum=0.9, centered=True,
                                                        foreach=False)

    ours = _minidl_trajectory(CenteredRMSProp(beta=0.95, momentum=0.9, epsilon=0.0), problem, _constant(0.001))
    theirs = _torch_trajectory(torch_centered(0.0), problem, _constant(0.001))
    assert _relative_gap(ours, theirs) <= 1e-10

    ours = _minidl_trajectory(CenteredRMSProp(beta=0.95, momentum=0.9, epsilon=1e-2), problem, _constant(0.001))
    theirs = _torch_trajectory(torch_centered(1e-2), problem, _constant(0.001))
    assert _relative_gap(ours, theirs) > 1e-5
