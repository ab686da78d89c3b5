"""2-D max and average pooling layers (math in minidl.functional.pooling; equations in docs/layers.md)."""

from __future__ import annotations

import numpy as np

from minidl.functional.conv import same_padding
from minidl.functional.pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    pool_output_size,
)
from minidl.layers.base import Layer, Shape
from minidl.layers.conv import check_image_shape, format_padding, hw_pair, padding_spec


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
    """y = window maximum, padding −∞, gradient to the window's first maximum (row-major); MATLAB maxPooling2dLayer."""

    kind = "maxpool"
    title = "max pooling"
    _forward = staticmethod(maxpool2d_forward)
    _backward = staticmethod(maxpool2d_backward)


class AveragePooling2D(_Pooling2D):
    """y = window sum / (KH·KW), padding 0 counted; MATLAB averagePooling2dLayer."""

    kind = "avgpool"
    title = "average pooling"
    _forward = staticmethod(avgpool2d_forward)
    _backward = staticmethod(avgpool2d_backward)
