"""2-D convolution layers: plain, grouped (channel-wise) and transposed (math in minidl.functional.conv and
minidl.functional.conv_transposed; equations in docs/layers.md)."""

from __future__ import annotations

import numpy as np

from minidl.functional.conv import (
    conv2d_backward,
    conv2d_forward,
    conv_output_size,
    grouped_conv2d_backward,
    grouped_conv2d_forward,
    same_padding,
)
from minidl.functional.conv_transposed import (
    conv_transpose2d_backward,
    conv_transpose2d_forward,
    same_cropping,
    transposed_output_size,
)
from minidl.layers._params import WeightBiasLayer
from minidl.layers.base import Shape


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def hw_pair(arg: str, value, low: int = 1) -> tuple[int, int]:
    """An int or an (h, w) pair of ints ≥ ``low`` → (h, w); else a ValueError naming ``arg``."""
    items = (value, value) if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if items is None or len(items) != 2 or not all(_is_int(v) and v >= low for v in items):
        raise ValueError(f"{arg}: got {value!r}; allowed: an integer >= {low} or a pair (h, w) of them")
    return int(items[0]), int(items[1])


def padding_spec(value) -> str | tuple[int, int, int, int]:
    """'same', p, (ph, pw) or (top, bottom, left, right) → 'same' or (PT, PB, PL, PR)."""
    if isinstance(value, str):
        if value != "same":
            raise ValueError(f"padding: got {value!r}; allowed: 'same', an integer >= 0, (ph, pw) or "
                             "(top, bottom, left, right)")
        return value
    items = (value,) if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if items is None or len(items) not in (1, 2, 4) or not all(_is_int(v) and v >= 0 for v in items):
        raise ValueError(f"padding: got {value!r}; allowed: 'same', an integer >= 0, (ph, pw) or "
                         "(top, bottom, left, right) of integers >= 0")
    items = tuple(int(v) for v in items)
    if len(items) == 1:
        return items * 4
    if len(items) == 2:
        return items[0], items[0], items[1], items[1]
    return items


def format_padding(spec) -> str:
    """MATLAB display of a padding spec: 'same' or [t b l r]."""
    return "'same'" if spec == "same" else "[" + " ".join(map(str, spec)) + "]"


def check_image_shape(layer, input_shape: Shape) -> None:
    """The per-example input must be an image (C, H, W)."""
    if len(input_shape) != 3:
        raise ValueError(f"input_shape: got {tuple(input_shape)} for {layer.describe()}; allowed: images (C, H, W) "
                         "(put the layer after an ImageInput, a convolution or a pooling layer)")


class Convolution2D(WeightBiasLayer):
    """y = W ⋆ x + b with F filters W: (F, C, KH, KW), bias b: (F,); MATLAB convolution2dLayer.

    ``padding``: 'same' (output = ⌈input/stride⌉, extra row/column bottom/right), p, (ph, pw) or (t, b, l, r).
    fan_in = C·KH·KW and fan_out = F·KH·KW for the 'glorot' and 'he' initializers.
    """

    kind = "conv"

    def __init__(self, filter_size, num_filters: int, stride=1, padding=0, dilation=1,
                 weights_initializer="normal", bias_initializer="zeros", weights=None, bias=None,
                 name: str | None = None, **factors: float):
        super().__init__(weights_initializer=weights_initializer, bias_initializer=bias_initializer,
                         weights=weights, bias=bias, name=name, **factors)
        self.filter_size = hw_pair("filter_size", filter_size)
        if not _is_int(num_filters) or num_filters < 1:
            raise ValueError(f"num_filters: got {num_filters!r}; allowed: a positive integer")
        self.num_filters = int(num_filters)
        self.stride = hw_pair("stride", stride)
        self.dilation = hw_pair("dilation", dilation)
        self.padding = padding_spec(padding)
        self.pad: tuple[int, int, int, int] | None = None  # (PT, PB, PL, PR), fixed by build
        self._workspace: dict = {}  # scratch buffers reused across training steps (columns, their gradient)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        check_image_shape(self, input_shape)
        c, h, w = input_shape
        kh, kw = self.filter_size
        self.pad = same_padding((h, w), self.filter_size, self.stride, self.dilation) \
            if self.padding == "same" else self.padding
        try:
            oh, ow = conv_output_size((h, w), self.filter_size, self.stride, self.pad, self.dilation)
        except ValueError as e:
            raise ValueError(f"input_shape: got {tuple(input_shape)}, too small for {self.describe()}: {e}") from None
        f = self.num_filters
        self._make_params((f, c, kh, kw), (f,), c * kh * kw, f * kh * kw, rng)
        return f, oh, ow

    def to(self, device, dtype=None) -> Convolution2D:
        self._workspace = {}
        return super().to(device, dtype)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_workspace"] = {}  # scratch buffers are no part of the layer's state (copies stay small)
        return state

    def forward(self, x, training: bool = False):
        self._check_input(x)
        # the workspace serves training passes only: a prediction in between cannot overwrite a cached col
        y, cache = conv2d_forward(x, self.params["weight"], self.params["bias"], self.stride, self.pad,
                                  self.dilation, workspace=self._workspace if training else None)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        dx, self.grads["weight"], self.grads["bias"] = conv2d_backward(
            dy, self._need_cache(), need_dx=self.compute_input_gradient, workspace=self._workspace)
        return dx

    def describe(self) -> str:
        kh, kw = self.filter_size
        text = (f"{self.name or self.kind}: {self.num_filters} {kh}x{kw} convolutions with stride "
                f"[{self.stride[0]} {self.stride[1]}] and padding {format_padding(self.padding)}")
        if self.dilation != (1, 1):
            text += f", dilation [{self.dilation[0]} {self.dilation[1]}]"
        return text


class GroupedConvolution2D(WeightBiasLayer):
    """Grouped convolution (MATLAB groupedConvolution2dLayer): the C input channels split into G groups of C/G; each
    group has its own ``num_filters_per_group`` filters W: (G·F_g, C/G, KH, KW) (group g's filters are rows
    g·F_g … (g+1)·F_g − 1), bias b: (G·F_g,); output G·F_g channels, group by group.

    ``num_groups``: a positive integer dividing C, or "channel-wise" (G = C: a depth-wise convolution, C/G = 1).
    ``padding`` as Convolution2D.  fan_in = C/G·KH·KW and fan_out = F_g·KH·KW for 'glorot' and 'he' (one group's
    convolution).  Math: :func:`minidl.functional.conv.grouped_conv2d_forward`.
    """

    kind = "groupconv"

    def __init__(self, filter_size, num_filters_per_group: int, num_groups, stride=1, padding=0, dilation=1,
                 weights_initializer="normal", bias_initializer="zeros", weights=None, bias=None,
                 name: str | None = None, **factors: float):
        super().__init__(weights_initializer=weights_initializer, bias_initializer=bias_initializer,
                         weights=weights, bias=bias, name=name, **factors)
        self.filter_size = hw_pair("filter_size", filter_size)
        if not _is_int(num_filters_per_group) or num_filters_per_group < 1:
            raise ValueError(f"num_filters_per_group: got {num_filters_per_group!r}; allowed: a positive integer")
        self.num_filters_per_group = int(num_filters_per_group)
        if num_groups != "channel-wise" and (not _is_int(num_groups) or num_groups < 1):
            raise ValueError(f"num_groups: got {num_groups!r}; allowed: a positive integer or 'channel-wise'")
        self.num_groups = num_groups if num_groups == "channel-wise" else int(num_groups)
        self.stride = hw_pair("stride", stride)
        self.dilation = hw_pair("dilation", dilation)
        self.padding = padding_spec(padding)
        self.pad: tuple[int, int, int, int] | None = None
        self.groups: int | None = None  # G, fixed by build

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        check_image_shape(self, input_shape)
        c, h, w = input_shape
        g = c if self.num_groups == "channel-wise" else self.num_groups
        if c % g:
            raise ValueError(f"input_shape: got {tuple(input_shape)} for {self.describe()}: {c} channels do not "
                             f"split into num_groups={g} groups; allowed: a number of groups dividing {c}")
        self.groups = g
        kh, kw = self.filter_size
        self.pad = same_padding((h, w), self.filter_size, self.stride, self.dilation) \
            if self.padding == "same" else self.padding
        try:
            oh, ow = conv_output_size((h, w), self.filter_size, self.stride, self.pad, self.dilation)
        except ValueError as e:
            raise ValueError(f"input_shape: got {tuple(input_shape)}, too small for {self.describe()}: {e}") from None
        fg, cg = self.num_filters_per_group, c // g
        self._make_params((g * fg, cg, kh, kw), (g * fg,), cg * kh * kw, fg * kh * kw, rng)
        return g * fg, oh, ow

    def forward(self, x, training: bool = False):
        self._check_input(x)
        y, cache = grouped_conv2d_forward(x, self.params["weight"], self.params["bias"], self.groups, self.stride,
                                          self.pad, self.dilation)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        dx, self.grads["weight"], self.grads["bias"] = grouped_conv2d_backward(
            dy, self._need_cache(), need_dx=self.compute_input_gradient)
        return dx

    def describe(self) -> str:
        kh, kw = self.filter_size
        groups = "channel-wise" if self.num_groups == "channel-wise" else f"{self.num_groups} groups of"
        return (f"{self.name or self.kind}: {groups} {self.num_filters_per_group} {kh}x{kw} convolutions with stride "
                f"[{self.stride[0]} {self.stride[1]}] and padding {format_padding(self.padding)}")


class TransposedConvolution2D(WeightBiasLayer):
    """Transposed convolution (MATLAB transposedConv2dLayer, Wolfram DeconvolutionLayer): W: (C, F, KH, KW) (PyTorch's
    conv_transpose2d layout), b: (F,).  Output OH = SH·(H − 1) + KH − PT − PB (and the same for W).

    ``cropping``: p, (pt_b, pl_r) (top-bottom, left-right), (t, b, l, r), or 'same' (output = stride·input; the
    total filter − stride split as 'same' padding: top/left ⌊total/2⌋).  fan_in = F·KH·KW and fan_out = C·KH·KW
    for 'glorot' and 'he' (those of the convolution F → C it transposes).
    Math: :mod:`minidl.functional.conv_transposed`.
    """

    kind = "transconv"

    def __init__(self, filter_size, num_filters: int, stride=1, cropping=0, weights_initializer="normal",
                 bias_initializer="zeros", weights=None, bias=None, name: str | None = None, **factors: float):
        super().__init__(weights_initializer=weights_initializer, bias_initializer=bias_initializer,
                         weights=weights, bias=bias, name=name, **factors)
        self.filter_size = hw_pair("filter_size", filter_size)
        if not _is_int(num_filters) or num_filters < 1:
            raise ValueError(f"num_filters: got {num_filters!r}; allowed: a positive integer")
        self.num_filters = int(num_filters)
        self.stride = hw_pair("stride", stride)
        try:
            self.cropping = padding_spec(cropping)
        except ValueError:
            raise ValueError(f"cropping: got {cropping!r}; allowed: 'same', an integer >= 0, (top-bottom, "
                             "left-right) or (top, bottom, left, right) of integers >= 0") from None
        self.crop: tuple[int, int, int, int] | None = None  # (PT, PB, PL, PR), fixed by build

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        check_image_shape(self, input_shape)
        c, h, w = input_shape
        kh, kw = self.filter_size
        try:
            self.crop = same_cropping((h, w), self.filter_size, self.stride) if self.cropping == "same" \
                else self.cropping
            oh, ow = transposed_output_size((h, w), self.filter_size, self.stride, self.crop)
        except ValueError as e:
            raise ValueError(f"input_shape: got {tuple(input_shape)} for {self.describe()}: {e}") from None
        f = self.num_filters
        self._make_params((c, f, kh, kw), (f,), f * kh * kw, c * kh * kw, rng)
        return f, oh, ow

    def forward(self, x, training: bool = False):
        self._check_input(x)
        y, cache = conv_transpose2d_forward(x, self.params["weight"], self.params["bias"], self.stride, self.crop)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        dx, self.grads["weight"], self.grads["bias"] = conv_transpose2d_backward(
            dy, self._need_cache(), need_dx=self.compute_input_gradient)
        return dx

    def describe(self) -> str:
        kh, kw = self.filter_size
        return (f"{self.name or self.kind}: {self.num_filters} {kh}x{kw} transposed convolutions with stride "
                f"[{self.stride[0]} {self.stride[1]}] and cropping {format_padding(self.cropping)}")
