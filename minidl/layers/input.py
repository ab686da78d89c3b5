"""Input layers: the network's input size and the data normalization set from the training data."""

from __future__ import annotations

import numpy as np

from minidl import functional as F
from minidl.backend import to_host
from minidl.layers.base import InputLayer, Shape

NORMALIZATIONS = ("zerocenter", "zscore", "none")


class _NormalizedInput(InputLayer):
    """Shared by ImageInput and FeatureInput: normalization 'zerocenter', 'zscore' or 'none'."""

    def __init__(self, input_size, normalization: str = "zerocenter", mean=None, std=None, name: str | None = None):
        super().__init__(name=name)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization: got {normalization!r}; allowed: {', '.join(map(repr, NORMALIZATIONS))}")
        self.normalization = normalization
        self.size = self._check_size(input_size)
        if mean is not None:
            self.state["mean"] = np.asarray(to_host(mean), dtype=np.float64)
        if std is not None:
            self.state["std"] = np.asarray(to_host(std), dtype=np.float64)
        for k, v in self.state.items():  # given statistics: finite, and the std divides (> 0)
            if not np.isfinite(v).all() or (k == "std" and not (v > 0).all()):
                bad = "NaN or Inf" if not np.isfinite(v).all() else "a zero or negative value"
                raise ValueError(f"{k}: the given statistics hold {bad}; allowed: finite values"
                                 f"{', all > 0' if k == 'std' else ''}")

    def _check_size(self, input_size) -> Shape:
        raise NotImplementedError

    def _stat_shape(self) -> Shape:
        """Shape of the statistics (broadcast over N): per element for zerocenter, per channel for zscore."""
        raise NotImplementedError

    @property
    def needs_statistics(self) -> bool:
        """True when the normalization needs statistics that were not given."""
        need = {"zerocenter": ("mean",), "zscore": ("mean", "std"), "none": ()}[self.normalization]
        return any(k not in self.state for k in need)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if tuple(input_shape) != self.size:
            raise ValueError(f"{self.describe()}: data of per-example shape {tuple(input_shape)} does not match the "
                             f"input size {self.size}")
        for k, v in self.state.items():
            if v.shape != self._stat_shape() and v.size != 1:
                raise ValueError(f"{k}: got statistics of shape {v.shape}; expected {self._stat_shape()} or a scalar")
        return self.size

    def set_statistics(self, batches) -> None:
        """One pass over host or device batches (N, *size): the mean (and std) the normalization uses.

        zerocenter: the mean per element (MATLAB's mean training image).  zscore: mean and standard deviation per
        channel (population std over N and the spatial positions; a zero std is replaced by 1).  Merged exactly
        across batches in float64 (minidl.functional.merge_moments).
        """
        if self.normalization == "none":
            return
        per_element = self.normalization == "zerocenter"
        total = (0, 0.0, 0.0)
        for xb in batches:
            xb = np.asarray(to_host(xb), dtype=np.float64)
            folded = xb.reshape(xb.shape[0], -1) if per_element else xb
            total = F.merge_moments(total, F.channel_moments(folded))
        m, mean, var = total
        if m == 0:
            raise ValueError("set_statistics: got no data; the normalization statistics need at least one example")
        self.state["mean"] = mean.reshape(self._stat_shape())
        if not per_element:
            std = np.sqrt(np.maximum(var, 0.0))
            self.state["std"] = np.where(std > 0, std, 1.0).reshape(self._stat_shape())

    def forward(self, x, training: bool = False):
        self._check_input(x)
        if self.normalization == "none":
            return x
        if self.needs_statistics:
            raise RuntimeError(f"{self.describe()}: its '{self.normalization}' statistics are not set; call "
                               "set_statistics(batches) or give mean=/std=")
        y = x - self.state["mean"][None].astype(x.dtype, copy=False)
        if self.normalization == "zscore":
            y /= self.state["std"][None].astype(x.dtype, copy=False)
        return y

    def backward(self, dy):
        if self.normalization == "zscore":
            return dy / self.state["std"][None].astype(dy.dtype, copy=False)
        return dy


class ImageInput(_NormalizedInput):
    """Images (N, C, H, W) of a given (C, H, W) size, normalized 'zerocenter' (default), 'zscore' or 'none'."""

    kind = "imageinput"

    def _check_size(self, input_size) -> Shape:
        size = tuple(input_size) if isinstance(input_size, (tuple, list)) else None
        if size is None or len(size) not in (2, 3) or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size):
            raise ValueError(f"input_size: got {input_size!r}; allowed: (C, H, W) or (H, W) of positive integers")
        return tuple(int(s) for s in ((1,) + size if len(size) == 2 else size))

    def _stat_shape(self) -> Shape:
        return self.size if self.normalization == "zerocenter" else (self.size[0], 1, 1)

    def describe(self) -> str:
        c, h, w = self.size
        return f"{self.name or self.kind}: {h}x{w}x{c} images with '{self.normalization}' normalization"


class FeatureInput(_NormalizedInput):
    """Feature vectors (N, F) of a given size F, normalized 'zerocenter' (default), 'zscore' or 'none' per feature."""

    kind = "featureinput"

    def _check_size(self, input_size) -> Shape:
        if isinstance(input_size, (tuple, list)) and len(input_size) == 1:
            input_size = input_size[0]
        if isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer)) or input_size < 1:
            raise ValueError(f"input_size: got {input_size!r}; allowed: a positive integer (number of features)")
        return (int(input_size),)

    def _stat_shape(self) -> Shape:
        return self.size

    def describe(self) -> str:
        return f"{self.name or self.kind}: {self.size[0]} features with '{self.normalization}' normalization"
