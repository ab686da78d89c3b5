"""Wolfram's NetGANOperator ([ref: NetGANOperator]; docs/semantics-wolfram.md#16-graphs-ports-and-update-schedules).

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

import copy
from typing import TYPE_CHECKING, Protocol, cast

from minidl.backend import get_array_module
from minidl.errors import NotSupportedYetError
from minidl.functional.gan import GAN_LOSSES, gan_example_losses, gan_gradient, gan_loss
from minidl.layers.base import InputLayer, Layer, OutputLayer
from minidl.layers.normalization import BatchNormalization
from minidl.wolfram.parts import SEP

if TYPE_CHECKING:
    from minidl.wolfram.graph import GraphPorts

__all__ = ["GradientReversal", "BatchPair", "GANLoss", "NetGANOperator", "automatic_gan_loss", "gan_outputs"]


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

    def __init__(self, gan_loss: str = "JensenShannon", name: str | None = None):
        if gan_loss not in GAN_LOSSES:
            raise ValueError(f"gan_loss: got {gan_loss!r}; allowed: {', '.join(map(repr, GAN_LOSSES))}")
        super().__init__(name=name)
        self.gan_loss = gan_loss          # "JensenShannon" | "Wasserstein" (an attribute named like its argument)

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
        return gan_loss(self._halves(y)[0], self.gan_loss, "real")

    def loss_fake(self, y):
        """LossFake: the mean of −log(1 − D(G(latent))) or D(G(latent)), a 0-d array."""
        return gan_loss(self._halves(y)[1], self.gan_loss, "fake")

    def loss_array(self, y, t=None, mask=None):
        return self.loss_real(y) + self.loss_fake(y)

    def loss_gradient(self, y, t=None, mask=None):
        real, fake = self._halves(y)
        xp = get_array_module(y)
        return xp.concatenate([gan_gradient(real, self.gan_loss, "real"),
                               gan_gradient(fake, self.gan_loss, "fake")]).reshape(y.shape)

    def example_losses(self, y, t=None, mask=None):
        real, fake = self._halves(y)
        return gan_example_losses(real, self.gan_loss, "real") + gan_example_losses(fake, self.gan_loss, "fake")

    def describe(self) -> str:
        return f"{self.name or self.kind}: GAN loss ({self.gan_loss}) LossReal + LossFake"


# ================================================================================================ the operator
def _chain(net, arg: str):
    from minidl.network import Network

    if isinstance(net, Network):
        if not net.is_chain:
            raise NotSupportedYetError(f"NetGANOperator {arg}: a graph {arg} is not supported yet (a NetChain is)")
        layers = net.layers
    elif isinstance(net, (list, tuple)) and all(isinstance(x, Layer) for x in net):
        layers = list(net)
    else:
        raise TypeError(f"NetGANOperator {arg}: got {type(net).__name__}; allowed: a NetChain (Network) or a list "
                        "of layers taking one input and giving one output")
    layers = copy.deepcopy(list(layers))
    first = layers[0] if isinstance(layers[0], InputLayer) else None
    body = [x for x in layers if not isinstance(x, InputLayer)]
    if not body or any(isinstance(x, OutputLayer) for x in body):
        raise ValueError(f"NetGANOperator {arg}: needs layers after its input and no loss layer")
    if any(len(getattr(x, "input_names", ("in",))) != 1 or len(getattr(x, "output_names", ("out",))) != 1
           for x in body):
        raise ValueError(f"NetGANOperator {arg}: every layer must take one input and give one output")
    return first, body


class _GANNetwork(Protocol):
    """The operator's Network: its port map and its GAN loss (attributes Network itself does not declare)."""

    ports: GraphPorts
    gan_loss: str


def _port_input(port: str, given, own) -> InputLayer:
    from minidl.wolfram.graph import _input_layer

    if given is not None:
        return _input_layer(port, given)
    if own is not None:
        return _input_layer(port, tuple(own.size))
    raise ValueError(f"NetGANOperator: the size of port {port!r} is not known; give {port}=n or start the net "
                     "that takes it with an input layer")


def automatic_gan_loss(discriminator_layers) -> str:
    """Automatic: "JensenShannon" when the discriminator ends in a LogisticSigmoid (a probability), else
    "Wasserstein" (an unbounded score has no logarithm)."""
    last = discriminator_layers[-1]
    return "JensenShannon" if getattr(last, "function", None) == "LogisticSigmoid" else "Wasserstein"


def NetGANOperator(nets, loss: str = "Automatic", Latent=None, Sample=None):
    """Wolfram NetGANOperator[{generator, discriminator}, loss]: a graph network with input ports "Sample" and
    "Latent" trained by NetTrain on ``{"Sample": X, "Latent": Z}``; see the module docstring.

    Args:
        nets: (generator, discriminator), each a NetChain or a list of layers (one input, one output); the
            discriminator gives one score per example.
        loss: "Automatic", "JensenShannon" or "Wasserstein" ([ref: NetGANOperator]).
        Latent, Sample: the port sizes (F or (C, H, W)) when the nets do not start with input layers (Sample:
            otherwise the generator's output size).
    """
    from minidl.network import Network
    from minidl.wolfram.graph import GraphPorts

    if not isinstance(nets, (list, tuple)) or len(nets) != 2:
        raise TypeError(f"NetGANOperator nets: got {type(nets).__name__}; allowed: [generator, discriminator]")
    g_in, g_body = _chain(nets[0], "generator")
    d_in, d_body = _chain(nets[1], "discriminator")
    for layer in d_body:
        if isinstance(layer, BatchNormalization):
            raise NotSupportedYetError("NetGANOperator discriminator: a BatchNormalization layer is not supported "
                                       "yet (the real and the generated batch are scored in one pass; batch "
                                       "statistics would mix them)")
    kind = automatic_gan_loss(d_body) if loss is None or str(loss).lower() == "automatic" else loss
    if kind not in GAN_LOSSES:
        raise ValueError(f"NetGANOperator loss: got {loss!r}; allowed: 'Automatic', 'JensenShannon', 'Wasserstein'")
    latent = _port_input("Latent", Latent, g_in)
    if Sample is None and d_in is None:               # the generator's output size
        probe = Network([copy.deepcopy(latent)] + copy.deepcopy(g_body)).initialize()
        shape = probe.output_shape
        assert isinstance(shape, tuple), "a chain of one-output layers, initialized: its output shape is a tuple"
        Sample = tuple(shape)
    sample = _port_input("Sample", Sample, d_in)
    names: dict[str, list[str]] = {"Generator": [], "Discriminator": []}
    for part, body in (("Generator", g_body), ("Discriminator", d_body)):
        probe = Network(body)                          # names the unnamed layers as a chain would
        for layer in probe.layers:
            layer.name = f"{part}{SEP}{layer.name}"
            names[part].append(layer.name)
    reverse, pair, lossl = GradientReversal(name="reverse"), BatchPair(name="pair"), GANLoss(kind, name="Loss")
    layers = [sample, latent] + g_body + [reverse, pair] + d_body + [lossl]
    chain_g = [str(latent.name)] + names["Generator"] + ["reverse"]     # "Latent": named by its port
    pairs = [(a, b) for a, b in zip(chain_g, chain_g[1:])]
    pairs += [("reverse", "pair/fake"), ("Sample", "pair/real")]
    chain_d = ["pair"] + names["Discriminator"] + ["Loss"]
    pairs += [(a, b) for a, b in zip(chain_d, chain_d[1:])]
    net = Network(layers, connections=pairs)
    own_g = g_in if g_in is not None else copy.deepcopy(latent)
    own_d = d_in if d_in is not None else copy.deepcopy(sample)
    gan = cast(_GANNetwork, net)
    gan.ports = GraphPorts(inputs={"Sample": "Sample", "Latent": "Latent"},
                           outputs={"LossReal": "Loss", "LossFake": "Loss", "GeneratedFake": names["Generator"][-1]},
                           targets={"Loss": None}, parts=names,
                           part_inputs={"Generator": own_g, "Discriminator": own_d})
    gan.gan_loss = kind
    return net


def gan_outputs(net, sample, latent) -> dict:
    """The operator's output ports for arrays ``sample`` (N, *Sample) and ``latent`` (N, *Latent): "LossReal",
    "LossFake" (each example's, (N,)) and "GeneratedFake" (N, *Sample)."""
    from minidl.wolfram.graph import NetExtract

    g, d = NetExtract(net, "Generator"), NetExtract(net, "Discriminator")
    fake = g.forward(latent)
    real_scores, fake_scores = d.forward(sample), d.forward(fake)
    return {"LossReal": gan_example_losses(real_scores.reshape(-1), net.gan_loss, "real"),
            "LossFake": gan_example_losses(fake_scores.reshape(-1), net.gan_loss, "fake"),
            "GeneratedFake": fake}
