"""The layer protocol: parameters, gradients, per-array learn-rate and L2 factors, persistent state."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from minidl.backend import Device, get_device, to_device

Shape = tuple[int, ...]


class Layer:
    """A stateful layer: ``forward(x, training) -> y`` and ``backward(dy) -> dx`` with named learnable arrays.

    Subclasses set ``kind`` (the name prefix, e.g. ``"conv"``) and implement ``build`` (shapes and parameters from the
    per-example input shape), ``forward`` and ``backward``.  Learnable arrays live in ``params`` and their gradients in
    ``grads`` under the same local keys (``"weight"``, ``"bias"``, ...); non-learnable arrays that persist (batch-norm
    statistics, input normalization statistics) live in ``state``.  The network prefixes keys with the layer name
    (``conv_1.weight``).
    """

    kind = "layer"
    #: False lets backward skip dx (returning None) where nothing before the layer needs it; the network sets it
    #: for the first layer after the input during its backward pass (a convolution's dx is a third of its cost).
    compute_input_gradient = True
    #: True: the network passes the sequence mask (N, T) to ``forward(x, training, mask=mask)`` (recurrent layers,
    #: batch normalization over sequences); False: forward is called as ``forward(x, training)``.
    uses_mask = False
    #: local parameter key -> (default learn-rate factor, default L2 factor); MATLAB defaults
    #: (docs/semantics-matlab.md#3-l2-regularization-and-gradient-clipping).
    factor_defaults: Mapping[str, tuple[float, float]] = {}
    #: the input and output ports (docs/graphs.md); a layer with several inputs takes lists (``build(shapes)``,
    #: ``forward(xs)``, ``backward`` returns one dx per input), one with several outputs returns tuples (``build``
    #: a list of shapes, ``forward`` a tuple, ``backward(dys)`` one dy per output, None where none arrived).
    #: An instance may set its own (e.g. ``("in1", "in2", "in3")``).
    input_names: tuple[str, ...] = ("in",)
    output_names: tuple[str, ...] = ("out",)

    def __init__(self, name: str | None = None, **factors: float):
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise ValueError(f"name: got {name!r}; allowed: a non-empty string without '.'")
        self.name = name
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.learn_rate_factors: dict[str, float] = {k: v[0] for k, v in self.factor_defaults.items()}
        self.l2_factors: dict[str, float] = {k: v[1] for k, v in self.factor_defaults.items()}
        self._set_factors(factors)
        self._cache: Any = None

    # -- factors: WeightLearnRateFactor, BiasL2Factor, ... given as weight_learn_rate_factor=, bias_l2_factor= --
    def _set_factors(self, factors: Mapping[str, float]) -> None:
        for arg, value in factors.items():
            for suffix, table in (("_learn_rate_factor", self.learn_rate_factors), ("_l2_factor", self.l2_factors)):
                key = arg[: -len(suffix)] if arg.endswith(suffix) else None
                if key is not None and key in self.factor_defaults:
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
                            or not np.isfinite(value):
                        raise ValueError(f"{arg}: got {value!r}; allowed: a finite number >= 0")
                    table[key] = float(value)
                    break
            else:
                allowed = [f"{k}{s}" for k in self.factor_defaults for s in ("_learn_rate_factor", "_l2_factor")]
                raise TypeError(f"{type(self).__name__}: unknown argument {arg!r}; allowed: "
                                f"{', '.join(allowed) if allowed else 'none (this layer has no learnable arrays)'}")

    # -- life cycle --
    @property
    def initialized(self) -> bool:
        """True once the layer knows its input shape (and has its parameters)."""
        return self.output_shape is not None

    def initialize(self, input_shape: Shape | list[Shape], rng: np.random.Generator | None = None,
                   dtype: Any = "float32", device: str | Device = "cpu") -> Shape | list[Shape]:
        """Fix shapes from the per-example ``input_shape`` (no N), create parameters; return the output shape.

        A layer with several inputs takes a list of shapes (one per ``input_names``); one with several outputs
        returns a list of shapes (one per ``output_names``).
        Parameters already present (given arrays, or a trained layer) are kept; only missing ones are drawn from
        ``rng`` on the host in float64, then cast to ``dtype`` and moved to ``device`` (the same seed gives the same
        weights on every device).
        """
        if len(self.input_names) > 1:                   # several inputs: a list of shapes, one per input port
            input_shape = [_shape(s) for s in input_shape]
        else:
            input_shape = _shape(input_shape)           # None: a time axis (any length)
        self.input_shape = input_shape
        out = self.build(input_shape, rng if rng is not None else np.random.default_rng(0))
        self.output_shape = [_shape(s) for s in out] if len(self.output_names) > 1 else tuple(out)
        self.to(device, dtype)
        return self.output_shape

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        """Check the input shape, create missing parameters (host float64 arrays), return the output shape."""
        return input_shape

    def to(self, device: str | Device, dtype: Any = None) -> Layer:
        """Move (and optionally cast) parameters and state to ``device``."""
        device = get_device(device)
        for table in (self.params, self.state):
            for k, v in table.items():
                table[k] = to_device(v, device, dtype=dtype)
        self.grads = {}
        self._cache = None
        return self

    # -- computation --
    def forward(self, x, training: bool = False):
        """x: (N, *input_shape) -> y: (N, *output_shape)."""
        raise NotImplementedError

    def backward(self, dy):
        """dy: (N, *output_shape) -> dx: (N, *input_shape); fills ``grads`` (uses the cache of the last forward)."""
        raise NotImplementedError

    def _need_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{self.describe()}: backward called without a training forward pass before it")
        cache, self._cache = self._cache, None
        return cache

    # -- description --
    def describe(self) -> str:
        """A one-line description: name and hyper-parameters."""
        return f"{self.name or self.kind} ({type(self).__name__})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def _check_input(self, x) -> None:
        """x's per-example shape must be ``input_shape``; a ``None`` there (a time axis) takes any length."""
        shape = self.input_shape
        if shape is not None and tuple(x.shape[1:]) != shape and (
                None not in shape or len(x.shape) != len(shape) + 1
                or any(s is not None and s != d for s, d in zip(shape, x.shape[1:]))):
            raise ValueError(f"{self.describe()}: input of shape {tuple(x.shape)}; expected (N, "
                             f"{', '.join('T' if s is None else str(s) for s in shape)})")


def _shape(shape) -> Shape:
    return tuple(None if s is None else int(s) for s in shape)


class InputLayer(Layer):
    """Marks the network's input: its size and an optional normalization set from the training data."""

    kind = "input"
    input_names: tuple[str, ...] = ()
    #: True for an input of sequences (N, C, T): the network is then a sequence network (minidl.sequences)
    is_sequence = False

    def set_statistics(self, batches) -> None:
        """Compute normalization statistics from an iterable of host batches (N, *input_shape)."""


class OutputLayer(Layer):
    """The loss at the end of a network: ``loss(y, t)`` and ``loss_gradient(y, t)``; forward is the identity."""

    kind = "output"
    output_names: tuple[str, ...] = ()

    def forward(self, x, training: bool = False):
        return x

    def backward(self, dy):
        return dy

    def loss(self, y, t, mask=None) -> float:
        """The mean loss over the N observations (a Python float; see ``loss_array`` for the device value)."""
        return float(self.loss_array(y, t) if mask is None else self.loss_array(y, t, mask=mask))

    def loss_array(self, y, t, mask=None):
        """The mean loss as a 0-d array on y's device (no host round trip).  ``mask`` (N, T): the real time steps
        of sequence-to-sequence outputs (N, K, T); the engine passes it only for those (a custom loss for other
        data may leave it out of its signature)."""
        raise NotImplementedError

    def loss_gradient(self, y, t, mask=None):
        """dL/dy, same shape as y (``mask`` as for ``loss_array``)."""
        raise NotImplementedError

    def example_losses(self, y, t, mask=None):
        """Per-example losses (N,) whose mean is ``loss_array`` (``mask`` as for ``loss_array``)."""
        raise NotImplementedError

    def rmse_from_loss(self, loss: float, n_responses: int) -> float:
        """The root-mean-square error over every response, from this loss's mean value; NaN when this loss does not
        define one (docs/extending.md#a-custom-loss).

        A loss whose RMSE follows from its value overrides this (e.g. ½·MSE: √(2·loss/R)). The definition belongs to
        the class that wrote it: a subclass that changes the loss but not this method reports NaN (see
        :meth:`_rmse_defined_by`), never the parent's formula applied to another loss.
        """
        return math.nan

    def _rmse_defined_by(self, owner: type[OutputLayer]) -> bool:
        """True when ``owner.rmse_from_loss`` describes this layer's loss: the loss methods ``owner`` had
        (``loss_array``, ``example_losses``) are not overridden below it, or the subclass redefines the RMSE too."""
        cls = type(self)
        if cls.rmse_from_loss is not owner.rmse_from_loss:
            return True
        return all(getattr(cls, m) is getattr(owner, m) for m in ("loss_array", "example_losses"))


# ------------------------------------------------------------------------------------------------ the registry
_BASES = frozenset({"Layer", "InputLayer", "OutputLayer", "WeightBiasLayer", "RecurrentLayer", "MultiInputLayer",
                    "MergeLayer"})
#: Layer classes the user registered for saving and loading, by the name a saved file gives them.
_REGISTERED: dict[str, type[Layer]] = {}


def register_layer(cls: type[Layer] | None = None, *, name: str | None = None):
    """Register a custom layer or loss class so networks holding it save, checkpoint and load.

    A saved architecture names the class by ``name`` (default: the class name); loading looks the name up among
    the minidl layers and the registered classes, and never imports or executes anything named in a file. Register
    the class again (same name) in the program that loads it. Use as ``register_layer(MyLayer)`` or as a decorator
    (``@register_layer`` or ``@register_layer(name="MyLayer")``). Returns the class.

    Raises:
        TypeError: ``cls`` is not a subclass of :class:`Layer`.
        ValueError: ``name`` is taken by a minidl layer or by another registered class.
    """
    def register(klass: type[Layer]) -> type[Layer]:
        if not (isinstance(klass, type) and issubclass(klass, Layer)):
            raise TypeError(f"register_layer: got {klass!r}; allowed: a subclass of minidl.layers.Layer")
        key = klass.__name__ if name is None else name
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"register_layer name: got {key!r}; allowed: a Python identifier")
        if key in builtin_layer_classes():
            raise ValueError(f"register_layer name: got {key!r}, the name of a minidl layer; allowed: another name "
                             f"(register_layer({klass.__name__}, name=...))")
        previous = _REGISTERED.get(key)
        if previous is not None and previous is not klass and \
                (previous.__module__, previous.__qualname__) != (klass.__module__, klass.__qualname__):
            raise ValueError(f"register_layer name: {key!r} is registered for {previous.__module__}."
                             f"{previous.__qualname__}; allowed: a name not yet registered")
        _REGISTERED[key] = klass  # the same class redefined (a re-run notebook cell) replaces the old one
        return klass

    return register if cls is None else register(cls)


def builtin_layer_classes() -> dict[str, type[Layer]]:
    """Every concrete layer class defined in minidl.layers (imported by ``import minidl.layers``), by class name."""
    out: dict[str, type[Layer]] = {}
    todo = [Layer]
    while todo:
        klass = todo.pop()
        todo.extend(klass.__subclasses__())
        if klass.__module__.startswith("minidl.layers") and not klass.__name__.startswith("_") and \
                klass.__name__ not in _BASES:
            out[klass.__name__] = klass
    return out


def registered_layers() -> dict[str, type[Layer]]:
    """The registered custom layer classes, by saved name (a copy)."""
    return dict(_REGISTERED)
