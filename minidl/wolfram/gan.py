"""Wolfram's NetGANOperator ([ref: NetGANOperator]; docs/semantics-wolfram.md#18-graphs-ports-and-update-schedules).

``NetGANOperator([generator, discriminator], loss)`` is one minidl graph network:

    "Latent" ─► Generator:… ─► reverse ─┐
                                        ├─► pair (the two batches stacked along N) ─► Discriminator:… ─► Loss
    "Sample" ───────────────────────────┘

The discriminator scores the real batch and the generated batch in one pass (stacked along N: the rule needs a
discriminator without batch-dependent layers, so a BatchNormalization in it raises NotSupportedYetError), the
loss layer splits the scores again: LossReal on the real half, LossFake on the fake half, their sum is what
NetTrain minimizes.  ``reverse`` is the identity forward and flips the sign of the gradient backward: the
discriminator's arrays descend LossReal + LossFake while the generator's arrays ascend LossFake.  The arrays are
named ``"Generator:<layer>.<key>"`` and ``"Discriminator:<layer>.<key>"`` so TrainingUpdateSchedule and
LearningRateMultipliers address them as "Generator" and "Discriminator".
"""

from __future__ import annotations

from minidl.backend import get_array_module
from minidl.functional.gan import GAN_LOSSES, gan_example_losses, gan_gradient, gan_loss
from minidl.layers.base import Layer, OutputLayer

__all__ = ["GradientReversal", "BatchPair", "GANLoss"]


class GradientReversal(Layer):
    """y = x forward, dx = −dy backward: the generator ascends what the discriminator descends."""

    kind = "reverse"

    def forward(self, x, training: bool = False):
        return x

    def backward(self, dy):
        return -dy


class BatchPair(Layer):
    """Two batches (N, *shape) ("real", "fake") stacked along N into (2N, *shape); backward splits dy again."""

    kind = "pair"
    input_names = ("real", "fake")

    def build(self, input_shapes, rng):
        real, fake = (tuple(s) for s in input_shapes)
        if real != fake:
            raise ValueError(f"layer {self.name!r} input 'fake': got {'x'.join(map(str, fake))}, expected "
                             f"{'x'.join(map(str, real))} like 'real' (the generator's output must have the "
                             "sample's shape)")
        return real

    def initialize(self, input_shape, rng=None, dtype="float32", device="cpu"):
        shapes = [tuple(s) for s in input_shape]
        self.input_shape = shapes
        self.output_shape = tuple(self.build(shapes, rng))
        self.to(device, dtype)
        return self.output_shape

    def forward(self, xs, training: bool = False):
        real, fake = xs
        xp = get_array_module(real)
        if training:
            self._cache = real.shape[0]
        return xp.concatenate([real, fake], axis=0)

    def backward(self, dy):
        n = self._need_cache()
        return [dy[:n], dy[n:]]


class GANLoss(OutputLayer):
    """LossReal + LossFake from the discriminator's scores y: (2N, 1) or (2N,), the real half first; the targets
    are not used (a GAN has none)."""

    kind = "ganloss"

    def __init__(self, loss: str = "JensenShannon", name: str | None = None):
        if loss not in GAN_LOSSES:
            raise ValueError(f"loss: got {loss!r}; allowed: {', '.join(map(repr, GAN_LOSSES))}")
        super().__init__(name=name)
        self.loss = loss

    def build(self, input_shape, rng):
        if tuple(input_shape) not in ((1,), ()):
            raise ValueError(f"layer {self.name!r}: the discriminator must output one score per example; got "
                             f"{'x'.join(map(str, input_shape))}")
        return tuple(input_shape)

    def _halves(self, y):
        d = y.reshape(y.shape[0])
        n = d.shape[0] // 2
        return d[:n], d[n:]

    def loss_real(self, y):
        """LossReal: the mean of −log D(sample) (JensenShannon) or −D(sample) (Wasserstein), a 0-d array."""
        return gan_loss(self._halves(y)[0], self.loss, "real")

    def loss_fake(self, y):
        """LossFake: the mean of −log(1 − D(G(latent))) or D(G(latent)), a 0-d array."""
        return gan_loss(self._halves(y)[1], self.loss, "fake")

    def loss_array(self, y, t=None, mask=None):
        return self.loss_real(y) + self.loss_fake(y)

    def loss_gradient(self, y, t=None, mask=None):
        real, fake = self._halves(y)
        xp = get_array_module(y)
        return xp.concatenate([gan_gradient(real, self.loss, "real"),
                               gan_gradient(fake, self.loss, "fake")]).reshape(y.shape)

    def example_losses(self, y, t=None, mask=None):
        real, fake = self._halves(y)
        return gan_example_losses(real, self.loss, "real") + gan_example_losses(fake, self.loss, "fake")

    def describe(self) -> str:
        return f"{self.name or self.kind}: GAN loss ({self.loss}) LossReal + LossFake"
