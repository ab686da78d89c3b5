"""Mixed precision (Wolfram WorkingPrecision "Mixed"; minidl's MATLAB-side extension ``precision="mixed"``).

The network's parameters stay float32 (the master weights: what the optimizer updates, what validation,
checkpoints and the returned network see).  Each training step runs in float16::

    θ16 ← float16(θ)                         (the layers hold the half copies during the step)
    h ← input layer(x) in float32, then float16(h)
    y ← layers(h) in float16; Softmax and the output layer in float32 (as PyTorch's autocast runs them)
    L ← loss(y, t) in float32                (reported unscaled)
    backward from S·∂L/∂y (S: the loss scale), in float16 through the float16 layers
    g ← float32(g16) / S                     (unscaled in float32)
    all g finite:  L2 / clipping / optimizer step on θ (float32) with g;   else: the update is skipped

Dynamic loss scaling (:class:`LossScaler`): S starts at 2¹⁵; after 2000 consecutive steps with finite gradients
S ← 2·S; on a non-finite gradient the update is skipped (parameters and optimizer state untouched, its step count
t not advanced) and S ← S/2, the count restarting.  The rule is PyTorch's ``torch.amp.GradScaler`` (growth_factor 2,
backoff_factor 0.5, growth_interval 2000) with its init_scale 2¹⁶ lowered to 2¹⁵; Wolfram does not document its
scheme (docs/gpu.md#mixed-precision).  The skip decision reads one flag from the device per step, a second read
besides the trainer's packed one (GradScaler's default path does the same; the reason: docs/gpu.md#mixed-precision);
a skipped iteration reports a gradient norm of inf and is not a non-finite stop.
"""

from __future__ import annotations

import math

from minidl._checks import check_finite_positive, check_positive_int
from minidl.backend import get_array_module, to_host
from minidl.errors import NotSupportedYetError
from minidl.layers.base import InputLayer, OutputLayer
from minidl.layers.core import Softmax
from minidl.optim import clip_weights, global_norm

__all__ = ["LossScaler", "MixedStep", "HALF"]

HALF = "float16"


class LossScaler:
    """Dynamic loss scale S: ×``growth`` after ``interval`` finite steps in a row, ×``backoff`` on an overflow.

    >>> s = LossScaler(init_scale=8.0, interval=2)
    >>> [s.update(f) or s.scale for f in (True, True, False, True)]
    [8.0, 16.0, 8.0, 8.0]
    """

    def __init__(self, init_scale: float = 2.0 ** 15, growth: float = 2.0, backoff: float = 0.5,
                 interval: int = 2000):
        self.scale = check_finite_positive("init_scale", init_scale)
        self.growth = check_finite_positive("growth", growth)
        self.backoff = check_finite_positive("backoff", backoff)
        self.interval = check_positive_int("interval", interval, wrong_type=ValueError)
        self.good_steps = 0          # consecutive finite steps since the last change of S
        self.skipped = 0             # updates skipped so far

    def update(self, finite: bool) -> None:
        """After a step: S ← S·growth after ``interval`` finite steps in a row; S ← S·backoff on an overflow."""
        if finite:
            self.good_steps += 1
            if self.good_steps == self.interval:
                self.scale *= self.growth        # S ← 2·S
                self.good_steps = 0
        else:
            self.scale *= self.backoff           # S ← S/2, the update skipped
            self.good_steps = 0
            self.skipped += 1


class MixedStep:
    """Trainer._step in float16 with float32 master weights and loss scaling (a chain network on a device)."""

    def __init__(self, trainer, scaler: LossScaler | None = None):
        cfg = trainer.config
        device = trainer.device.name
        if device not in ("gpu", "standin"):
            raise ValueError(f"{cfg.name('precision')}: got 'mixed', which needs the device 'gpu' (this run is on "
                             f"{device!r} through {cfg.name('device')}); allowed on the CPU: 'float32', 'float64'")
        if trainer.seq is not None or trainer.graph is not None:
            raise NotSupportedYetError(f"{cfg.name('precision')}: 'mixed' with a "
                                       f"{'sequence network' if trainer.seq is not None else 'layer graph'}; not "
                                       "supported yet (mixed precision trains chains of image or feature layers)")
        self.trainer = trainer
        self.scaler = scaler if scaler is not None else LossScaler()
        self.skipped = False             # the last step's update was skipped (the trainer reads it)
        layers = trainer.net.layers
        # float32 from the first Softmax or output layer on (and the input layer, whose statistics are float32)
        first32 = next((i for i, layer in enumerate(layers) if isinstance(layer, (Softmax, OutputLayer))),
                       len(layers))
        self.half = [not isinstance(layer, InputLayer) and i < first32 for i, layer in enumerate(layers)]

    def step(self, x, t, lr: float, mask=None):
        """One mixed-precision step; the contract of ``Trainer._step`` (reported values, ℓₙ or None, xp)."""
        tr = self.trainer
        net, cfg = tr.net, tr.config
        xp = get_array_module(x)
        layers = net.layers
        masters = {i: dict(layer.params) for i, layer in enumerate(layers) if self.half[i] and layer.params}
        S = self.scaler.scale
        try:
            for i, table in masters.items():                      # θ16 ← float16(θ)
                layers[i].params.update({k: p.astype(HALF) for k, p in table.items()})
            h = x
            for i, layer in enumerate(layers):
                want = HALF if self.half[i] else "float32"
                if h.dtype != want:
                    h = h.astype(want)
                h = layer.forward(h, training=True)
            y = h                                                 # float32 (Softmax / output in float32)
            loss = net.loss_array(y, t)
            examples = net.output_layer.example_losses(y, t) if cfg.record_example_losses else None
            dy = net.output_layer.loss_gradient(y, t) * S         # S·∂L/∂y
            body = [i for i, layer in enumerate(layers[:-1]) if not isinstance(layer, InputLayer)]
            first, saved = layers[body[0]], layers[body[0]].compute_input_gradient
            first.compute_input_gradient = False
            try:
                for i in reversed(body):
                    want = HALF if self.half[i] else "float32"
                    if dy.dtype != want:
                        dy = dy.astype(want)
                    dy = layers[i].backward(dy)
            finally:
                first.compute_input_gradient = saved
        finally:
            for i, table in masters.items():                      # the layers hold the float32 masters again
                layers[i].params.update(table)
        for layer in layers:                                      # g ← float32(g16)/S
            for k, g in layer.grads.items():
                layer.grads[k] = g.astype("float32") / S
        params, grads = net.params, net.grads
        finite_g = None
        for g in grads.values():
            f = xp.isfinite(g).all()
            finite_g = f if finite_g is None else finite_g & f
        self.skipped = not bool(to_host(finite_g))   # the step's second read: docs/gpu.md#mixed-precision says why
        self.scaler.update(not self.skipped)
        gnorm = xp.full((), math.inf, dtype="float32") if self.skipped else global_norm(grads).astype("float32")
        reported = [loss.astype("float32"), gnorm]
        if tr.classifier:
            reported.append((xp.argmax(y, axis=1) == t).sum().astype("float32"))
        tr._save_params(params)
        if not self.skipped:
            frozen, factors = tr._group(tr.iteration)
            tr.pipeline(grads, params, skip=frozen)
            cfg.optimizer.step(params, grads, lr, factors)
            if isinstance(cfg.weight_clip, dict) or math.isfinite(cfg.weight_clip):
                clip_weights(params, cfg.weight_clip, skip=frozen)
        ok = None
        for p in params.values():
            f = xp.isfinite(p).all()
            ok = f if ok is None else ok & f
        assert ok is not None                                     # a chain with learnables (net.params not empty)
        reported.append(ok.astype("float32"))
        tr._outputs = y if cfg.record_outputs else None
        return reported, examples, xp
