"""Input layers: the network's input size and the data normalization set from the training data."""

from __future__ import annotations

import numpy as np

from minidl import functional as F
from minidl.backend import get_array_module, to_host
from minidl.layers.base import InputLayer, Shape

NORMALIZATIONS = ("zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none")
DIMENSIONS = ("auto", "channel", "element", "all")
#: the statistics each normalization needs (state keys)
_NEEDS = {"zerocenter": ("mean",), "zscore": ("mean", "std"), "rescale-symmetric": ("min", "max"),
          "rescale-zero-one": ("min", "max"), "none": ()}


class _NormalizedInput(InputLayer):
    """Shared by ImageInput and FeatureInput: normalization 'zerocenter', 'zscore', 'rescale-symmetric',
    'rescale-zero-one' or 'none', with statistics per element, per channel or over all values.

    - zerocenter: y = x − μ;  zscore: y = (x − μ)/σ;
    - rescale-zero-one: y = (x − min)/(max − min);  rescale-symmetric: y = 2(x − min)/(max − min) − 1.

    ``normalization_dimension``: 'element', 'channel', 'all' (scalar statistics) or 'auto': given statistics are
    used over the dimensions their shape matches; computed ones are per element for zerocenter (the mean training
    image) and per channel for the others (docs/matlab-interop.md).  A zero σ or range is replaced by 1.
    """

    def __init__(self, input_size, normalization: str = "zerocenter", mean=None, std=None, name: str | None = None,
                 normalization_dimension: str = "auto", minimum=None, maximum=None):
        super().__init__(name=name)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization: got {normalization!r}; allowed: {', '.join(map(repr, NORMALIZATIONS))}")
        if normalization_dimension not in DIMENSIONS:
            raise ValueError(f"normalization_dimension: got {normalization_dimension!r}; allowed: "
                             f"{', '.join(map(repr, DIMENSIONS))}")
        self.normalization = normalization
        self.normalization_dimension = normalization_dimension
        self.size = self._check_size(input_size)
        for key, value in (("mean", mean), ("std", std), ("min", minimum), ("max", maximum)):
            if value is not None:
                self.state[key] = np.asarray(to_host(value), dtype=np.float64)
        for k, v in self.state.items():  # given statistics: finite, and the std divides (> 0)
            if not np.isfinite(v).all() or (k == "std" and not (v > 0).all()):
                bad = "NaN or Inf" if not np.isfinite(v).all() else "a zero or negative value"
                raise ValueError(f"{k}: the given statistics hold {bad}; allowed: finite values"
                                 f"{', all > 0' if k == 'std' else ''}")

    def _check_size(self, input_size) -> Shape:
        raise NotImplementedError

    def _dimension(self) -> str:
        """The dimension computed statistics use: the given one, or auto's rule."""
        if self.normalization_dimension != "auto":
            return self.normalization_dimension
        return "element" if self.normalization == "zerocenter" else "channel"

    def _stat_shape(self, dimension: str | None = None) -> Shape:
        """Shape of the statistics (broadcast over N) for a dimension (default: :meth:`_dimension`)."""
        dimension = dimension or self._dimension()
        if dimension == "all":
            return ()
        if dimension == "element" or len(self.size) == 1:
            return self.size
        return (self.size[0],) + (1,) * (len(self.size) - 1)

    @property
    def needs_statistics(self) -> bool:
        """True when the normalization needs statistics that were not given."""
        return any(k not in self.state for k in _NEEDS[self.normalization])

    def reset_statistics(self) -> None:
        """Forget the statistics (MATLAB's ResetInputNormalization: they are computed again at training)."""
        for k in ("mean", "std", "min", "max"):
            self.state.pop(k, None)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if tuple(input_shape) != self.size:
            raise ValueError(f"{self.describe()}: data of per-example shape {tuple(input_shape)} does not match the "
                             f"input size {self.size}")
        dims = DIMENSIONS[1:] if self.normalization_dimension == "auto" else (self.normalization_dimension,)
        allowed = [self._stat_shape(d) for d in dims]
        for k, v in self.state.items():
            if tuple(v.shape) not in allowed and v.size != 1:
                raise ValueError(f"{k}: got statistics of shape {v.shape}; expected "
                                 f"{' or '.join(map(str, dict.fromkeys(allowed)))} or a scalar")
        return self.size

    def set_statistics(self, batches) -> None:
        """One pass over host or device batches (N, *size): the statistics the normalization uses.

        Per element, per channel or over all values (:meth:`_dimension`): mean and population standard deviation
        (zscore; a zero std is replaced by 1) merged exactly across batches in float64
        (minidl.functional.merge_moments); minimum and maximum for the rescalings.
        """
        if self.normalization == "none":
            return
        dimension, shape = self._dimension(), self._stat_shape()
        rescale = self.normalization.startswith("rescale")
        total, lo, hi = (0, 0.0, 0.0), None, None
        for xb in batches:
            xb = np.asarray(to_host(xb), dtype=np.float64)
            folded = (xb.reshape(-1, 1) if dimension == "all" else
                      xb.reshape(xb.shape[0], -1) if dimension == "element" else xb)
            if rescale:    # (N, K) or (N, C, ...): reduce over every axis but the channel axis 1
                axes = (0,) + tuple(range(2, folded.ndim))
                bmin, bmax = folded.min(axis=axes), folded.max(axis=axes)
                lo, hi = (bmin, bmax) if lo is None else (np.minimum(lo, bmin), np.maximum(hi, bmax))
                total = (total[0] + xb.shape[0], 0.0, 0.0)
            else:
                total = F.merge_moments(total, F.channel_moments(folded))
        m, mean, var = total
        if m == 0:
            raise ValueError("set_statistics: got no data; the normalization statistics need at least one example")
        if rescale:
            self.state["min"], self.state["max"] = lo.reshape(shape), hi.reshape(shape)
            return
        self.state["mean"] = mean.reshape(shape)
        if self.normalization == "zscore":
            std = np.sqrt(np.maximum(var, 0.0))
            self.state["std"] = np.where(std > 0, std, 1.0).reshape(shape)

    def _scale_shift(self, dtype) -> tuple:
        """(a, b) with y = (x − b)·a (a None for no scaling), as host or device arrays broadcast over N."""
        st = self.state
        if self.normalization in ("zerocenter", "zscore"):
            a = None if self.normalization == "zerocenter" else 1.0 / st["std"]
            return a, st["mean"]
        rng = st["max"] - st["min"]
        xp = get_array_module(rng)
        rng = xp.where(rng > 0, rng, 1.0)                        # a zero range: treated as 1
        return (2.0 if self.normalization == "rescale-symmetric" else 1.0) / rng, st["min"]

    def forward(self, x, training: bool = False):
        self._check_input(x)
        if self.normalization == "none":
            return x
        if self.needs_statistics:
            raise RuntimeError(f"{self.describe()}: its '{self.normalization}' statistics are not set; call "
                               "set_statistics(batches) or give them (mean=/std=/minimum=/maximum=)")
        a, b = self._scale_shift(x.dtype)
        y = x - b[None].astype(x.dtype, copy=False)               # x − μ  |  x − min
        if a is not None:
            y *= a[None].astype(x.dtype, copy=False)              # ·1/σ  |  ·1/(max − min)  |  ·2/(max − min)
        if self.normalization == "rescale-symmetric":
            y -= 1                                                # 2(x − min)/(max − min) − 1
        return y

    def backward(self, dy):
        if self.normalization in ("none", "zerocenter"):
            return dy
        a, _ = self._scale_shift(dy.dtype)
        return dy * a[None].astype(dy.dtype, copy=False)


class ImageInput(_NormalizedInput):
    """Images (N, C, H, W) of a given (C, H, W) size, normalized 'zerocenter' (default), 'zscore',
    'rescale-symmetric', 'rescale-zero-one' or 'none'."""

    kind = "imageinput"

    def _check_size(self, input_size) -> Shape:
        size = tuple(input_size) if isinstance(input_size, (tuple, list)) else None
        if size is None or len(size) not in (2, 3) or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size):
            raise ValueError(f"input_size: got {input_size!r}; allowed: (C, H, W) or (H, W) of positive integers")
        return tuple(int(s) for s in ((1,) + size if len(size) == 2 else size))

    def describe(self) -> str:
        c, h, w = self.size
        return f"{self.name or self.kind}: {h}x{w}x{c} images with '{self.normalization}' normalization"


class FeatureInput(_NormalizedInput):
    """Feature vectors (N, F) of a given size F, normalized 'zerocenter' (default), 'zscore', 'rescale-symmetric',
    'rescale-zero-one' or 'none' per feature (or over all values: normalization_dimension='all')."""

    kind = "featureinput"

    def _check_size(self, input_size) -> Shape:
        if isinstance(input_size, (tuple, list)) and len(input_size) == 1:
            input_size = input_size[0]
        if isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer)) or input_size < 1:
            raise ValueError(f"input_size: got {input_size!r}; allowed: a positive integer (number of features)")
        return (int(input_size),)

    def describe(self) -> str:
        return f"{self.name or self.kind}: {self.size[0]} features with '{self.normalization}' normalization"


class SequenceInput(_NormalizedInput):
    """Sequences (N, C, T) of C channels and any length T, normalized 'none' (default, as MATLAB's
    sequenceInputLayer), 'zerocenter', 'zscore', 'rescale-symmetric' or 'rescale-zero-one' per channel (or over all
    values: normalization_dimension='all').

    Computed statistics are taken over the observations and time steps of each channel, from the real steps only
    (padding never enters them): :meth:`set_statistics`. ``min_length``: the shortest sequence allowed (MATLAB's
    MinLength); :meth:`check_lengths` raises for a shorter one. ``output_shape`` is ``(C, None)``: None is the time
    axis. Forward normalizes every step of the padded batch, padded ones too (the layer does not see the mask,
    as MATLAB's input layer normalizes the padded array).
    """

    kind = "sequenceinput"
    is_sequence = True

    def __init__(self, input_size, normalization: str = "none", mean=None, std=None, name: str | None = None,
                 normalization_dimension: str = "auto", minimum=None, maximum=None, min_length: int = 1):
        if isinstance(min_length, bool) or not isinstance(min_length, (int, np.integer)) or min_length < 1:
            raise ValueError(f"min_length: got {min_length!r}; allowed: a positive integer")
        if normalization_dimension == "element":
            raise ValueError("normalization_dimension: got 'element'; allowed for sequences: 'auto', 'channel', "
                             "'all' (a sequence of varying length has no per-element statistics)")
        super().__init__(input_size, normalization, mean, std, name, normalization_dimension, minimum, maximum)
        self.min_length = int(min_length)

    def _check_size(self, input_size) -> Shape:
        if isinstance(input_size, (tuple, list)) and len(input_size) in (1, 2) and \
                (len(input_size) == 1 or input_size[1] is None):
            input_size = input_size[0]
        if isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer)) or input_size < 1:
            raise ValueError(f"input_size: got {input_size!r}; allowed: a positive integer (number of channels)")
        return (int(input_size), None)

    def _dimension(self) -> str:
        # MATLAB's 'auto' for sequence input: channel-wise statistics when it computes them
        return "all" if self.normalization_dimension == "all" else "channel"

    def _stat_shape(self, dimension: str | None = None) -> Shape:
        return () if (dimension or self._dimension()) == "all" else (self.size[0], 1)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if len(input_shape) != 2 or input_shape[0] != self.size[0]:
            raise ValueError(f"{self.describe()}: data of per-example shape {tuple(input_shape)} does not match "
                             f"({self.size[0]}, T)")
        for k, v in list(self.state.items()):
            if tuple(v.shape) in ((self.size[0],), (1, self.size[0])):   # (C,) or MATLAB's 1-by-C: per channel
                v = self.state[k] = v.reshape(self.size[0], 1)
            if tuple(v.shape) != (self.size[0], 1) and v.size != 1:
                raise ValueError(f"{k}: got statistics of shape {v.shape}; expected ({self.size[0]},) or "
                                 f"({self.size[0]}, 1) (per channel) or a scalar")
        return self.size

    def check_lengths(self, lengths) -> None:
        """Raise for a sequence shorter than ``min_length`` (host lengths (N,), before padding)."""
        lengths = np.asarray(lengths)
        short = np.flatnonzero(lengths < self.min_length)
        if short.size:
            i = int(short[0])
            raise ValueError(f"{self.describe()}: sequence {i} has {int(lengths[i])} time steps; MinLength is "
                             f"{self.min_length} (allowed: sequences of at least {self.min_length} steps, or a "
                             "smaller min_length)")

    def set_statistics(self, batches) -> None:
        """One pass over the training sequences: per-channel (or 'all') statistics from real time steps only.

        ``batches``: an iterable whose items are each an ``(x, mask)`` pair (x (N, C, T), mask (N, T) of 1 at real
        and 0 at padded steps, host or device), an (N, C, T) array (every step real), or a list of (C, Tᵢ) arrays.
        Mean and population standard deviation merged exactly in float64 (a zero std is replaced by 1); minimum
        and maximum for the rescalings.
        """
        if self.normalization == "none":
            return
        c = self.size[0]
        rescale = self.normalization.startswith("rescale")
        total, lo, hi = (0, 0.0, 0.0), None, None
        for item in batches:
            rows = self._real_rows(item, c)                        # (M, C): every real time step, one row each
            if self._dimension() == "all":
                rows = rows.reshape(-1, 1)
            if rows.shape[0] == 0:
                continue
            if rescale:
                bmin, bmax = rows.min(axis=0), rows.max(axis=0)
                lo, hi = (bmin, bmax) if lo is None else (np.minimum(lo, bmin), np.maximum(hi, bmax))
                total = (total[0] + rows.shape[0], 0.0, 0.0)
            else:
                total = F.merge_moments(total, F.channel_moments(rows))
        m, mean, var = total
        if m == 0:
            raise ValueError("set_statistics: got no data; the normalization statistics need at least one time step")
        shape = self._stat_shape()
        if rescale:
            self.state["min"], self.state["max"] = lo.reshape(shape), hi.reshape(shape)
            return
        self.state["mean"] = mean.reshape(shape)
        if self.normalization == "zscore":
            std = np.sqrt(np.maximum(var, 0.0))
            self.state["std"] = np.where(std > 0, std, 1.0).reshape(shape)

    @staticmethod
    def _real_rows(item, c: int) -> np.ndarray:
        """The real time steps of one statistics item as host float64 rows (M, C)."""
        if isinstance(item, tuple) and len(item) == 2 and getattr(item[0], "ndim", 0) == 3 and \
                (item[1] is None or getattr(item[1], "ndim", 0) == 2):
            x, mask = item
        elif isinstance(item, (list, tuple)):
            seqs = [np.asarray(to_host(s), dtype=np.float64) for s in item]
            bad = [i for i, s in enumerate(seqs) if s.ndim != 2 or s.shape[0] != c]
            if bad:
                raise ValueError(f"set_statistics: sequence {bad[0]} has shape {seqs[bad[0]].shape}; expected "
                                 f"({c}, T)")
            return np.concatenate([s.T for s in seqs]) if seqs else np.zeros((0, c))
        else:
            x, mask = item, None
        x = np.asarray(to_host(x), dtype=np.float64)
        if x.ndim != 3 or x.shape[1] != c:
            raise ValueError(f"set_statistics: got a batch of shape {x.shape}; expected (N, {c}, T)")
        rows = x.transpose(0, 2, 1).reshape(-1, c)
        if mask is None:
            return rows
        mask = np.asarray(to_host(mask))
        if mask.shape != (x.shape[0], x.shape[2]):
            raise ValueError(f"set_statistics: mask of shape {mask.shape}; expected {(x.shape[0], x.shape[2])}")
        return rows[mask.reshape(-1) > 0]

    def forward(self, x, training: bool = False):
        if x.ndim == 3 and x.shape[2] < self.min_length:
            self.check_lengths([x.shape[2]])
        return super().forward(x, training)

    def describe(self) -> str:
        return f"{self.name or self.kind}: sequences of {self.size[0]} channels with '{self.normalization}' " \
               "normalization"
