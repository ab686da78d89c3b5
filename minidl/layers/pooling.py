"""2-D max, average, global and unpooling layers (math in minidl.functional.pooling; equations in docs/layers.md)."""

from __future__ import annotations

import numpy as np

from minidl.backend import get_array_module
from minidl.functional.conv import same_padding
from minidl.functional.pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    global_avgpool2d_backward,
    global_avgpool2d_forward,
    global_maxpool2d_backward,
    global_maxpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    maxpool2d_indices,
    pool_output_size,
)
from minidl.functional.unpooling import maxunpool2d_backward, maxunpool2d_forward
from minidl.layers.base import Layer, Shape
from minidl.layers.conv import check_image_shape, format_padding, hw_pair, padding_spec
from minidl.layers.merge import MultiInputLayer, format_shape


class _Pooling2D(Layer):
    """Shared by the pooling layers: pool size, stride (MATLAB default 1), padding 'same', p, (ph, pw) or (t,b,l,r)."""

    title = ""
    _forward = None
    _backward = None

    def __init__(self, pool_size, stride=1, padding=0, name: str | None = None):
        super().__init__(name=name)
        self.pool_size = hw_pair("pool_size", pool_size)
        self.stride = hw_pair("stride", stride)
        self.padding = padding_spec(padding)
        self.pad: tuple[int, int, int, int] | None = None  # (PT, PB, PL, PR), fixed by build

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        check_image_shape(self, input_shape)
        c, h, w = input_shape
        self.pad = same_padding((h, w), self.pool_size, self.stride) if self.padding == "same" else self.padding
        try:
            oh, ow = pool_output_size((h, w), self.pool_size, self.stride, self.pad)
        except ValueError as e:
            raise ValueError(f"input_shape: got {tuple(input_shape)} for {self.describe()}: {e}") from None
        return c, oh, ow

    def forward(self, x, training: bool = False):
        self._check_input(x)
        y, cache = type(self)._forward(x, self.pool_size, self.stride, self.pad)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return type(self)._backward(dy, self._need_cache())

    def describe(self) -> str:
        kh, kw = self.pool_size
        return (f"{self.name or self.kind}: {kh}x{kw} {self.title} with stride [{self.stride[0]} {self.stride[1]}] "
                f"and padding {format_padding(self.padding)}")


class MaxPooling2D(_Pooling2D):
    """y = window maximum, padding −∞, gradient to the window's first maximum (row-major); MATLAB maxPooling2dLayer.

    ``has_unpooling_outputs=True`` (MATLAB 'HasUnpoolingOutputs'): three outputs "out", "indices", "size" for a
    :class:`MaxUnpooling2D`: "indices" are the int64 positions h·W + w of each window's maximum in its (n, c) plane
    (N, C, OH, OW) (PyTorch's numbering; they get no gradient); "size" carries the pooled map's size (H, W) as the
    shape of a zero-stride int8 array (N, H, W) (no memory; the unpooling layer reads its shape, so shape inference
    through a graph knows the unpooled size).
    """

    kind = "maxpool"
    title = "max pooling"
    _forward = staticmethod(maxpool2d_forward)
    _backward = staticmethod(maxpool2d_backward)

    def __init__(self, pool_size, stride=1, padding=0, has_unpooling_outputs: bool = False,
                 name: str | None = None):
        super().__init__(pool_size, stride=stride, padding=padding, name=name)
        if not isinstance(has_unpooling_outputs, bool):
            raise ValueError(f"has_unpooling_outputs: got {has_unpooling_outputs!r}; allowed: True or False")
        self.has_unpooling_outputs = has_unpooling_outputs
        if has_unpooling_outputs:
            self.output_names = ("out", "indices", "size")

    def build(self, input_shape: Shape, rng: np.random.Generator):
        out = super().build(input_shape, rng)
        if not self.has_unpooling_outputs:
            return out
        return [out, out, tuple(input_shape[1:])]

    def forward(self, x, training: bool = False):
        if not self.has_unpooling_outputs:
            return super().forward(x, training)
        self._check_input(x)
        y, cache = maxpool2d_forward(x, self.pool_size, self.stride, self.pad)
        self._cache = (cache, x.dtype) if training else None
        xp = get_array_module(x)
        size = xp.broadcast_to(xp.zeros((1, 1, 1), dtype=xp.int8), (x.shape[0],) + tuple(x.shape[2:]))
        return y, maxpool2d_indices(cache), size

    def backward(self, dy):
        if not self.has_unpooling_outputs:
            return super().backward(dy)
        cache, dtype = self._need_cache()
        dy = dy[0] if isinstance(dy, (list, tuple)) else dy  # the indices and the size take no gradient
        if dy is None:                                      # "out" fed nothing that needs a gradient
            return get_array_module(cache[0]).zeros(cache[1], dtype=dtype)
        return maxpool2d_backward(dy, cache)

    def describe(self) -> str:
        return super().describe() + (" (with unpooling outputs)" if self.has_unpooling_outputs else "")


class _GlobalPooling2D(Layer):
    """Shared by the global pooling layers: (C, H, W) → (C, 1, 1)."""

    title = ""
    _forward = None
    _backward = None

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        check_image_shape(self, input_shape)
        return input_shape[0], 1, 1

    def forward(self, x, training: bool = False):
        self._check_input(x)
        y, cache = type(self)._forward(x)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return type(self)._backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: {self.title}"


class GlobalAveragePooling2D(_GlobalPooling2D):
    """y[n, c] = the mean of channel c over H×W; output 1×1 per channel (MATLAB globalAveragePooling2dLayer)."""

    kind = "gap"
    title = "global average pooling"
    _forward = staticmethod(global_avgpool2d_forward)
    _backward = staticmethod(global_avgpool2d_backward)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """y[n, c] = the maximum of channel c over H×W, gradient to its first maximum in row-major order (MATLAB
    globalMaxPooling2dLayer)."""

    kind = "gmp"
    title = "global max pooling"
    _forward = staticmethod(global_maxpool2d_forward)
    _backward = staticmethod(global_maxpool2d_backward)


class MaxUnpooling2D(MultiInputLayer):
    """Inputs "in" (N, C, OH, OW), "indices" and "size" from a MaxPooling2D(has_unpooling_outputs=True): y (N, C, H, W)
    zero except y[n, c, idx] += x[n, c, oh, ow] (MATLAB maxUnpooling2dLayer; docs/layers.md#max-unpooling)."""

    kind = "unpool"
    input_names = ("in", "indices", "size")
    num_inputs = 3

    def build(self, input_shapes: list[Shape], rng: np.random.Generator) -> Shape:
        x, idx, size = input_shapes
        if len(x) != 3:
            raise ValueError(f"{self._where(0)}: got {format_shape(x)}; allowed: images CxHxW")
        if tuple(idx) != tuple(x):
            raise ValueError(f"{self._where(1)}: got {format_shape(idx)}, expected {format_shape(x)} like 'in' "
                             f"(connect the 'indices' output of the max pooling layer that made 'in')")
        if len(size) != 2 or size[0] < x[1] or size[1] < x[2]:
            raise ValueError(f"{self._where(2)}: got {format_shape(size)}; allowed: the 'size' output of a max "
                             f"pooling layer (H x W, at least {x[1]}x{x[2]})")
        return x[0], size[0], size[1]

    def forward(self, xs, training: bool = False):
        self._check_inputs(xs)
        x, idx, size = xs
        y, cache = maxunpool2d_forward(x, idx, tuple(size.shape[1:]))
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return [maxunpool2d_backward(dy, self._need_cache()), None, None]

    def describe(self) -> str:
        return f"{self.name or self.kind}: max unpooling"


class AveragePooling2D(_Pooling2D):
    """y = window sum / (KH·KW), padding 0 counted; MATLAB averagePooling2dLayer."""

    kind = "avgpool"
    title = "average pooling"
    _forward = staticmethod(avgpool2d_forward)
    _backward = staticmethod(avgpool2d_backward)
