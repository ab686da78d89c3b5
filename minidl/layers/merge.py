"""Merge layers: several inputs, one output (MATLAB additionLayer, concatenationLayer, depthConcatenationLayer;
Wolfram TotalLayer, CatenateLayer, ThreadingLayer).  Equations in docs/layers.md#merge-layers.

The multi-input protocol (the graph interface): ``input_names`` = ("in1", …, "inN") per instance,
``build(input_shapes: list[Shape]) -> Shape``, ``forward(xs: list, training) -> y``, ``backward(dy) -> list`` (one
dx per input, in ``input_names`` order).  The dx returned may be views of ``dy`` or ``dy`` itself (Addition returns
the same array for every input): the caller sums them into new arrays and never writes into them in place.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from minidl._checks import check_positive_int
from minidl.backend import Device, get_array_module
from minidl.layers.base import Layer, Shape

__all__ = ["Addition", "Concatenation", "DepthConcatenation", "Threading", "MergeLayer", "MultiInputLayer",
           "format_shape"]


def format_shape(shape: Shape) -> str:
    """8x14x14 (a time axis as T)."""
    return "x".join("T" if s is None else str(s) for s in shape)


class MultiInputLayer(Layer):
    """A layer with several inputs (``input_names``): ``build`` and ``forward`` take lists, ``backward`` returns one.

    Subclasses set ``input_names`` (per class or per instance) and ``num_inputs`` to match.
    """

    input_names: tuple[str, ...] = ("in1", "in2")
    output_names: tuple[str, ...] = ("out",)
    num_inputs = 2

    def initialize(self, input_shapes, rng: np.random.Generator | None = None, dtype: Any = "float32",
                   device: str | Device = "cpu") -> Shape:
        """Fix shapes from the per-example ``input_shapes`` (one per input, in ``input_names`` order)."""
        if not isinstance(input_shapes, (list, tuple)) or len(input_shapes) != self.num_inputs or not all(
                isinstance(s, (list, tuple)) for s in input_shapes):
            raise ValueError(f"{self.describe()}: input_shapes: got {input_shapes!r}; allowed: a list of "
                             f"{self.num_inputs} shapes (one per input {', '.join(self.input_names)})")
        shapes = [tuple(None if d is None else int(d) for d in s) for s in input_shapes]
        self.input_shapes = shapes
        self.input_shape = shapes[0]
        self.output_shape = tuple(self.build(shapes, rng if rng is not None else np.random.default_rng(0)))
        self.to(device, dtype)
        return self.output_shape

    def _where(self, i: int) -> str:
        return f"layer '{self.name or self.kind}' input '{self.input_names[i]}'"

    def _check_inputs(self, xs) -> None:
        if not isinstance(xs, (list, tuple)) or len(xs) != self.num_inputs:
            raise ValueError(f"{self.describe()}: forward got {type(xs).__name__}"
                             f"{'' if not isinstance(xs, (list, tuple)) else f' of {len(xs)} arrays'}; allowed: "
                             f"a list of {self.num_inputs} arrays ({', '.join(self.input_names)})")
        shapes = getattr(self, "input_shapes", None)
        if shapes is not None:
            n = xs[0].shape[0]
            for i, (x, shape) in enumerate(zip(xs, shapes)):
                if x.shape[0] != n or len(x.shape) != len(shape) + 1 or any(
                        s is not None and s != d for s, d in zip(shape, x.shape[1:])):
                    raise ValueError(f"{self._where(i)}: got an array of shape {tuple(x.shape)}; expected (N={n}, "
                                     f"{', '.join('T' if s is None else str(s) for s in shape)})")


class MergeLayer(MultiInputLayer):
    """A layer with ``num_inputs`` inputs "in1", …, "inN" and one output (the base of the merge layers)."""

    kind = "merge"

    def __init__(self, num_inputs: int = 2, name: str | None = None):
        super().__init__(name=name)
        self.set_num_inputs(num_inputs)
        self.input_shapes: list[Shape] | None = None

    def set_num_inputs(self, num_inputs: int) -> None:
        """Fix the number of inputs (Wolfram's layers take it from the connections); before initialization only."""
        n = check_positive_int("num_inputs", num_inputs, wrong_type=ValueError)
        if n < 2:
            raise ValueError(f"num_inputs: got {num_inputs!r}; allowed: an integer >= 2")
        if getattr(self, "output_shape", None) is not None:
            raise ValueError(f"{self.describe()}: num_inputs cannot change after initialization")
        self.num_inputs = n
        self.input_names = tuple(f"in{i + 1}" for i in range(n))

    def _same_shapes(self, input_shapes: list[Shape], skip_axis: int | None = None) -> None:
        """Every input's shape equals in1's (except along ``skip_axis``, a per-example axis), else a ValueError
        naming the layer and the input: "layer 'add_1' input 'in2': got 8x14x14, expected 16x14x14 like 'in1'"."""
        first = input_shapes[0]
        for i, shape in enumerate(input_shapes[1:], start=1):
            same = len(shape) == len(first) and all(
                a == b for k, (a, b) in enumerate(zip(shape, first)) if k != skip_axis)
            if not same:
                expected = format_shape(first) if skip_axis is None else self._pattern(first, skip_axis)
                raise ValueError(f"{self._where(i)}: got {format_shape(shape)}, expected {expected} like "
                                 f"'{self.input_names[0]}'")

    @staticmethod
    def _pattern(shape: Shape, axis: int) -> str:
        return "x".join("*" if k == axis else ("T" if s is None else str(s)) for k, s in enumerate(shape))


class Addition(MergeLayer):
    """y = x₁ + x₂ + … + x_N, inputs of one shape (MATLAB additionLayer(N); Wolfram TotalLayer, ThreadingLayer[Plus]).

    Backward: dxᵢ = dy for every input.
    """

    kind = "add"

    def build(self, input_shapes: list[Shape], rng: np.random.Generator) -> Shape:
        self._same_shapes(input_shapes)
        return input_shapes[0]

    def forward(self, xs, training: bool = False):
        self._check_inputs(xs)
        y = xs[0] + xs[1]  # a new array: the inputs are never written
        for x in xs[2:]:
            y += x
        self._cache = True if training else None
        return y

    def backward(self, dy):
        self._need_cache()
        return [dy] * self.num_inputs

    def describe(self) -> str:
        return f"{self.name or self.kind}: element-wise addition of {self.num_inputs} inputs"


class Concatenation(MergeLayer):
    """y = [x₁, x₂, …, x_N] joined along array axis ``dim`` of (N, …) (dim=1: channels of (N, C, H, W), features of
    (N, C), channels of sequences (N, C, T); 2, 3: height, width); the other sizes must agree.

    ``dim`` counts the axes of the batched array as NumPy does (N is axis 0 and cannot be joined), which is also
    Wolfram's CatenateLayer[n] level n.  MATLAB's concatenationLayer(dim) counts H, W, C as 1, 2, 3 (its spelling
    maps them).  Backward: dxᵢ = dy's slice of input i along ``dim``.
    """

    kind = "concat"

    def __init__(self, dim: int = 1, num_inputs: int = 2, name: str | None = None):
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim: got {dim!r}; allowed: an integer >= 1 (an axis of (N, ...) after N)")
        self.dim = int(dim)
        super().__init__(num_inputs=num_inputs, name=name)
        self.sizes: list[int] | None = None

    def build(self, input_shapes: list[Shape], rng: np.random.Generator) -> Shape:
        axis = self.dim - 1  # per-example axis
        for i, shape in enumerate(input_shapes):
            if axis >= len(shape):
                raise ValueError(f"{self._where(i)}: got {format_shape(shape)}, which has no axis dim={self.dim} "
                                 f"(arrays (N, {format_shape(shape)}) have axes 1..{len(shape)} after N); allowed: "
                                 f"dim <= {len(shape)}")
            if shape[axis] is None:
                raise ValueError(f"{self._where(i)}: dim={self.dim} is the time axis of sequences {format_shape(shape)}"
                                 f"; allowed: a non-time axis")
        self._same_shapes(input_shapes, skip_axis=axis)
        self.sizes = [int(s[axis]) for s in input_shapes]
        out = list(input_shapes[0])
        out[axis] = sum(self.sizes)
        return tuple(out)

    def forward(self, xs, training: bool = False):
        self._check_inputs(xs)
        y = get_array_module(xs[0]).concatenate(xs, axis=self.dim)
        self._cache = True if training else None
        return y

    def backward(self, dy):
        self._need_cache()
        out, start = [], 0
        index = [slice(None)] * dy.ndim
        for size in self.sizes:
            index[self.dim] = slice(start, start + size)
            out.append(dy[tuple(index)])  # a view: dxᵢ = dy[..., start:start + size, ...]
            start += size
        return out

    def describe(self) -> str:
        return f"{self.name or self.kind}: concatenation of {self.num_inputs} inputs along dimension {self.dim}"


class DepthConcatenation(Concatenation):
    """y = the inputs joined along the channel axis (MATLAB depthConcatenationLayer(N)); other sizes must agree."""

    kind = "depthcat"

    def __init__(self, num_inputs: int = 2, name: str | None = None):
        super().__init__(dim=1, num_inputs=num_inputs, name=name)

    def describe(self) -> str:
        return f"{self.name or self.kind}: depth concatenation of {self.num_inputs} inputs"


class Threading(MergeLayer):
    """y = f(x₁, …, x_N) element by element (Wolfram ThreadingLayer[f]); inputs of one shape.

    ``function``: "Plus" (x₁ + … + x_N), "Times" (x₁·…·x_N), "Subtract" (x₁ − x₂), "Divide" (x₁ / x₂).
    Backward: Plus dxᵢ = dy; Times dxᵢ = dy·Π_{j≠i} xⱼ; Subtract dx₁ = dy, dx₂ = −dy; Divide dx₁ = dy/x₂,
    dx₂ = −dy·x₁/x₂².
    """

    kind = "threading"
    FUNCTIONS = ("Plus", "Times", "Subtract", "Divide")

    def __init__(self, function: str, num_inputs: int = 2, name: str | None = None):
        if function not in self.FUNCTIONS:
            raise ValueError(f"function: got {function!r}; allowed: {', '.join(self.FUNCTIONS)}")
        self.function = function
        super().__init__(num_inputs=num_inputs, name=name)
        if function in ("Subtract", "Divide") and self.num_inputs != 2:
            raise ValueError(f"num_inputs: got {num_inputs!r} for {function}; allowed: 2")

    def build(self, input_shapes: list[Shape], rng: np.random.Generator) -> Shape:
        self._same_shapes(input_shapes)
        return input_shapes[0]

    def forward(self, xs, training: bool = False):
        self._check_inputs(xs)
        f = self.function
        if f == "Subtract":
            y = xs[0] - xs[1]
        elif f == "Divide":
            y = xs[0] / xs[1]
        else:
            y = xs[0] + xs[1] if f == "Plus" else xs[0] * xs[1]
            for x in xs[2:]:
                if f == "Plus":
                    y += x
                else:
                    y *= x
        self._cache = (list(xs) if f in ("Times", "Divide") else True) if training else None
        return y

    def backward(self, dy):
        cache = self._need_cache()
        f = self.function
        if f == "Plus":
            return [dy] * self.num_inputs
        if f == "Subtract":
            return [dy, -dy]
        xs = cache
        if f == "Divide":
            dx1 = dy / xs[1]                                   # ∂(x₁/x₂)/∂x₁ = 1/x₂
            return [dx1, -dx1 * xs[0] / xs[1]]                 # ∂(x₁/x₂)/∂x₂ = −x₁/x₂²
        out = []
        for i in range(self.num_inputs):                       # dxᵢ = dy·Π_{j≠i} xⱼ (no division: zeros allowed)
            g = dy
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            out.append(g)
        return out

    def describe(self) -> str:
        return f"{self.name or self.kind}: {self.function} of {self.num_inputs} inputs"
