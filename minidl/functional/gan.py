"""NetGANOperator's losses on the discriminator's scores, per example and their gradients ([ref: NetGANOperator],
docs/semantics-wolfram.md#16-graphs-ports-and-update-schedules).

With d = D(sample) (the real batch's scores, (N,)) and f = D(G(latent)) (the fake batch's, (N,)):

- "JensenShannon" (D a probability in (0, 1)):  LossReal ℓₙ = −log dₙ,   LossFake ℓₙ = −log(1 − fₙ);
- "Wasserstein" (D any real score):             LossReal ℓₙ = −dₙ,       LossFake ℓₙ = fₙ;

each reported as its mean over the N examples.  The gradients are those of the means (1/N per example).  The
logarithms take their argument floored at the dtype's smallest normal number, so a saturated discriminator gives a
large finite loss.

>>> import numpy as np
>>> d = np.array([0.5, 0.25])
>>> gan_example_losses(d, "JensenShannon", "real"), gan_example_losses(d, "Wasserstein", "fake")
(array([0.69314718, 1.38629436]), array([0.5 , 0.25]))
"""

from __future__ import annotations

from minidl.backend import get_array_module

__all__ = ["GAN_LOSSES", "gan_example_losses", "gan_loss", "gan_gradient"]

GAN_LOSSES = ("JensenShannon", "Wasserstein")


def _floor(v):
    xp = get_array_module(v)
    return xp.maximum(v, xp.finfo(v.dtype).tiny)


def gan_example_losses(d, kind: str, side: str):
    """ℓₙ for one side ("real": LossReal on D(sample), "fake": LossFake on D(G(latent))).  d: (N,) scores.
    Returns (N,)."""
    xp = get_array_module(d)
    if kind == "JensenShannon":
        return -xp.log(_floor(d)) if side == "real" else -xp.log(_floor(1 - d))
    return -d if side == "real" else d + 0          # Wasserstein (a copy, never a view of d)


def gan_loss(d, kind: str, side: str):
    """The mean Σₙ ℓₙ / N as a 0-d array.  d: (N,)."""
    return gan_example_losses(d, kind, side).sum() / d.dtype.type(d.shape[0])


def gan_gradient(d, kind: str, side: str):
    """d(mean loss)/d d, (N,): JensenShannon real −1/(N·dₙ), fake 1/(N·(1 − fₙ)); Wasserstein real −1/N, fake 1/N."""
    xp = get_array_module(d)
    n = d.dtype.type(d.shape[0])
    if kind == "JensenShannon":
        return -1 / (_floor(d) * n) if side == "real" else 1 / (_floor(1 - d) * n)
    return xp.full_like(d, -1 / n if side == "real" else 1 / n)
