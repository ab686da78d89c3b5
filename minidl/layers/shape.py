"""Shape layers: flatten and reshape (no arithmetic; dx is dy put back into x's shape).  Wolfram's FlattenLayer and
ReshapeLayer (docs/wolfram-layers.md)."""

from __future__ import annotations

import numbers

import numpy as np

from minidl.layers.base import Layer, Shape


class _Reshaping(Layer):
    """A layer that only changes each example's shape: y = x reshaped to (N, *output_shape); dx = dy reshaped back."""

    def forward(self, x, training: bool = False):
        self._check_input(x)
        self._cache = x.shape if training else None
        return x.reshape((x.shape[0],) + self.output_shape)

    def backward(self, dy):
        return dy.reshape(self._need_cache())


class Flatten(_Reshaping):
    """Merge the first ``levels + 1`` per-example axes: (N, d₁, …, dₖ) → (N, d₁·…·d_{levels+1}, …, dₖ).

    ``levels=None`` (the default) flattens everything: (N, d₁·…·dₖ) (Wolfram ``FlattenLayer[]``; ``Flatten(1)`` is
    ``FlattenLayer[1]``: 3×4×5 → 12×5).  ``order``: "chw" (the default; row-major, an image's element (c, h, w) goes
    to c·H·W + h·W + w, as Wolfram and PyTorch flatten) or "matlab" (MATLAB's flattenLayer: its H×W×C array is
    flattened column-major, (c, h, w) goes to h + H·w + H·W·c; images only, with ``levels=None``).
    """

    kind = "flatten"
    ORDERS = ("chw", "matlab")

    def __init__(self, levels: int | None = None, order: str = "chw", name: str | None = None):
        super().__init__(name=name)
        if levels is not None and (isinstance(levels, bool) or not isinstance(levels, numbers.Integral)
                                   or levels < 1):
            raise ValueError(f"levels: got {levels!r}; allowed: None (flatten every axis) or a positive integer")
        if order not in self.ORDERS:
            raise ValueError(f"order: got {order!r}; allowed: {', '.join(map(repr, self.ORDERS))}")
        if order == "matlab" and levels is not None:
            raise ValueError(f"levels: got {levels!r} with order='matlab'; allowed: None (MATLAB's flattenLayer "
                             "flattens every axis)")
        self.levels = None if levels is None else int(levels)
        self.order = order

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if self.order == "matlab" and len(input_shape) not in (1, 3):
            raise ValueError(f"{self.describe()}: order='matlab' flattens images (C, H, W) or features (C,); got "
                             f"the per-example shape {input_shape}")
        k = len(input_shape) if self.levels is None else self.levels + 1
        if k > len(input_shape):
            raise ValueError(f"{self.describe()}: levels={self.levels} needs at least {k} axes per example; got "
                             f"the per-example shape {input_shape}")
        return (int(np.prod(input_shape[:k])),) + tuple(input_shape[k:])

    def forward(self, x, training: bool = False):
        if self.order == "chw" or x.ndim != 4:
            return super().forward(x, training)
        self._check_input(x)
        self._cache = x.shape if training else None
        return x.transpose(0, 1, 3, 2).reshape(x.shape[0], -1)  # (N, C, W, H) row-major: h fastest, then w, c

    def backward(self, dy):
        if self.order == "chw" or len(self.input_shape) != 3:
            return super().backward(dy)
        n, c, h, w = self._need_cache()
        return dy.reshape(n, c, w, h).transpose(0, 1, 3, 2)

    def describe(self) -> str:
        return (f"{self.name or self.kind}: flatten" + ("" if self.levels is None else f" {self.levels} levels")
                + (" (MATLAB order)" if self.order == "matlab" else ""))


class Reshape(_Reshaping):
    """(N, *input_shape) → (N, *dims) with the same number of elements per example; one entry of ``dims`` may be
    -1 (or None / "Automatic", Wolfram's ``Automatic``): the size that makes the counts agree."""

    kind = "reshape"

    def __init__(self, dims, name: str | None = None):
        super().__init__(name=name)
        if isinstance(dims, numbers.Integral) and not isinstance(dims, bool):
            dims = (dims,)
        if not isinstance(dims, (tuple, list)) or not dims:
            raise ValueError(f"dims: got {dims!r}; allowed: a non-empty tuple of positive integers, one of them "
                             "may be -1 (Automatic)")
        out = []
        for d in dims:
            if d is None or (isinstance(d, str) and d.lower() in ("automatic", "inherited")):
                d = -1
            if isinstance(d, bool) or not isinstance(d, numbers.Integral) or not (d >= 1 or d == -1):
                raise ValueError(f"dims: got {dims!r}; allowed: positive integers and at most one -1 (Automatic)")
            out.append(int(d))
        if out.count(-1) > 1:
            raise ValueError(f"dims: got {dims!r}; allowed: at most one -1 (Automatic)")
        self.dims = tuple(out)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        n, known = int(np.prod(input_shape)), int(np.prod([d for d in self.dims if d != -1]))
        if -1 in self.dims:
            if n % known:
                raise ValueError(f"{self.describe()}: {n} elements per example (shape {input_shape}) do not split "
                                 f"into {self.dims}")
            return tuple(n // known if d == -1 else d for d in self.dims)
        if known != n:
            raise ValueError(f"{self.describe()}: {n} elements per example (shape {input_shape}) cannot take the "
                             f"shape {self.dims} ({known} elements)")
        return self.dims

    def describe(self) -> str:
        return f"{self.name or self.kind}: reshape to {'x'.join('?' if d == -1 else str(d) for d in self.dims)}"
