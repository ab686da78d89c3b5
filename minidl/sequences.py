"""Sequence mini-batches: the ONE padding, truncation and chunking rule shared by the engine and prediction.

A batch of sequences is (N, C, T) with a mask (N, T): 1 at real time steps, 0 at padded ones. The rules are the
reference's SequenceLength / SequencePaddingValue / SequencePaddingDirection (docs/semantics-matlab.md, sequences):

- ``"longest"``: pad every sequence to the longest of the mini-batch;
- ``"shortest"``: truncate every sequence to the shortest of the mini-batch (no padding). Truncation happens on the
  padding side: on the right (the last steps are dropped) for ``direction="right"``, on the left (the first steps
  are dropped) for ``direction="left"`` (MATLAB: "'left' — Pad or truncate sequences on the left");
- an integer S: pad to the nearest multiple of S at or above the longest, then split into chunks of S
  (:func:`chunks`), processed one after the other with the recurrent state carried between them.

Host-side bookkeeping only: everything here is NumPy; the caller moves the padded batch to its device.

>>> import numpy as np
>>> x, mask, lengths = pad_batch([np.ones((2, 3)), np.ones((2, 1))], "longest", 0.0, "left")
>>> x.shape, mask.tolist(), lengths.tolist()
((2, 2, 3), [[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]], [3, 1])
>>> chunks(7, 3)
[slice(0, 3, None), slice(3, 6, None), slice(6, 7, None)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from minidl.backend import to_host

LENGTHS = ("longest", "shortest")
DIRECTIONS = ("right", "left")


# ------------------------------------------------------------------------------------------------ option checks
def check_sequence_length(length: Any, arg: str = "sequence_length") -> str | int:
    """``"longest"``, ``"shortest"`` or a positive integer, else a ValueError naming ``arg``."""
    if isinstance(length, str) and length in LENGTHS:
        return length
    if isinstance(length, (int, np.integer)) and not isinstance(length, bool) and length >= 1:
        return int(length)
    raise ValueError(f"{arg}: got {length!r}; allowed: 'longest', 'shortest' or a positive integer")


def check_direction(direction: Any, arg: str = "sequence_padding_direction") -> str:
    """``"right"`` or ``"left"``, else a ValueError naming ``arg``."""
    if not isinstance(direction, str) or direction not in DIRECTIONS:
        raise ValueError(f"{arg}: got {direction!r}; allowed: 'right', 'left'")
    return direction


def check_padding_value(value: Any, arg: str = "sequence_padding_value") -> float:
    """A real scalar (NaN refused: the reference says not to pad with NaN, it spreads through the network)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or math.isnan(value):
        raise ValueError(f"{arg}: got {value!r}; allowed: a real number (not NaN)")
    return float(value)


# ------------------------------------------------------------------------------------------------ lengths
def padded_length(lengths: Sequence[int] | np.ndarray, length: str | int) -> int:
    """The time length T of a mini-batch with these sequence lengths under a SequenceLength rule.

    >>> padded_length([5, 3, 8], "longest"), padded_length([5, 3, 8], "shortest"), padded_length([5, 3, 8], 3)
    (8, 3, 9)
    """
    length = check_sequence_length(length)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0:
        raise ValueError("lengths: got no sequences; allowed: at least one")
    if length == "longest":
        return int(lengths.max())
    if length == "shortest":
        return int(lengths.min())
    S = int(length)
    return int(-(-int(lengths.max()) // S) * S)                # the nearest multiple of S at or above the longest


def chunks(T: int, length: str | int) -> list[slice]:
    """Time slices of a padded batch of length T: one slice for "longest"/"shortest", else consecutive slices of
    ``length`` steps (the last one shorter only when T is not a multiple of it; :func:`pad_batch` makes it one)."""
    length = check_sequence_length(length, "length")
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 0:
        raise ValueError(f"T: got {T!r}; allowed: an integer >= 0")
    if isinstance(length, str):
        return [slice(0, int(T))]
    return [slice(s, min(s + length, int(T))) for s in range(0, int(T), length)]


def _time_window(lengths: np.ndarray, T: int, direction: str) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence: (first source step kept, first target step) so that min(Tᵢ, T) steps are copied."""
    kept = np.minimum(lengths, T)
    if direction == "right":
        return np.zeros_like(kept), np.zeros_like(kept)        # keep the first steps, place them at the start
    return lengths - kept, T - kept                             # keep the last steps, place them at the end


def time_mask(lengths: Sequence[int] | np.ndarray, T: int, direction: str = "right", dtype: Any = np.float64
              ) -> np.ndarray:
    """The mask (N, T) of sequences of these lengths padded (or truncated) to T steps in ``direction``.

    >>> time_mask([2, 4], 3).tolist()
    [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    """
    direction = check_direction(direction)
    lengths = np.asarray(lengths, dtype=np.int64)
    t = np.arange(T)[None, :]
    kept = np.minimum(lengths, T)[:, None]
    real = t < kept if direction == "right" else t >= T - kept
    return real.astype(dtype)


# ------------------------------------------------------------------------------------------------ inputs
def as_sequences(x: Any, arg: str = "x", channels: int | None = None) -> list[np.ndarray] | np.ndarray:
    """Check sequence data: a list (or tuple) of (C, Tᵢ) arrays, or an (N, C, T) array; host arrays returned.

    ``channels``: the C every sequence must have (None: any, but the same for all).
    """
    if isinstance(x, (list, tuple)):
        items = [np.asarray(to_host(s)) for s in x]
        if not items:
            raise ValueError(f"{arg}: got an empty list; allowed: a non-empty list of (C, T) sequences")
        for i, s in enumerate(items):
            if s.ndim != 2 or s.shape[1] < 1 or s.dtype.kind not in "iuf":
                raise ValueError(f"{arg}[{i}]: got an array of shape {s.shape} and dtype {s.dtype}; allowed: a real "
                                 "(C, T) array with T >= 1 (channels x time steps)")
        c = channels if channels is not None else items[0].shape[0]
        bad = [i for i, s in enumerate(items) if s.shape[0] != c]
        if bad:
            raise ValueError(f"{arg}[{bad[0]}]: got {items[bad[0]].shape[0]} channels; expected {c} (every sequence "
                             "has the same channels)")
        return items
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{arg}: got {type(x).__name__}; allowed: a list of (C, T) arrays or an (N, C, T) array")
    x = np.asarray(to_host(x))
    if x.ndim != 3 or x.shape[2] < 1 or x.dtype.kind not in "iuf":
        raise ValueError(f"{arg}: got an array of shape {x.shape} and dtype {x.dtype}; allowed: a real (N, C, T) "
                         "array or a list of (C, T) arrays")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{arg}: got {x.shape[1]} channels (shape {x.shape}); expected {channels}")
    return x


def sequence_lengths(x: Any) -> np.ndarray:
    """The lengths (N,) int64 of a list of (C, Tᵢ) / (Tᵢ,) / (R, Tᵢ) arrays (last axis) or of an (N, ..., T) array."""
    if isinstance(x, (list, tuple)):
        return np.array([np.shape(s)[-1] for s in x], dtype=np.int64)
    return np.full(x.shape[0], x.shape[-1], dtype=np.int64)


def _pad(items: Sequence[np.ndarray], lengths: np.ndarray, T: int, value: float, direction: str, dtype: Any
         ) -> np.ndarray:
    """Stack (..., Tᵢ) arrays into (N, ..., T): each window copied, the rest ``value``."""
    n = len(items)
    lead = items[0].shape[:-1]
    out = np.full((n,) + lead + (T,), value, dtype=dtype)
    src0, dst0 = _time_window(lengths, T, direction)
    kept = np.minimum(lengths, T)
    for i, s in enumerate(items):          # a copy per sequence: host bookkeeping, not math (the arrays differ in T)
        k = int(kept[i])
        out[i, ..., dst0[i]:dst0[i] + k] = s[..., src0[i]:src0[i] + k]
    return out


def pad_batch(seqs: Any, length: str | int = "longest", value: float = 0.0, direction: str = "right",
              dtype: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad or truncate a mini-batch of sequences to one length.

    Args:
        seqs: a list of (C, Tᵢ) arrays, or an (N, C, T) array (every sequence of length T).
        length: "longest", "shortest" or an integer S (pad to the nearest multiple of S ≥ the longest).
        value: the padding value (SequencePaddingValue).
        direction: "right" (pad/truncate at the end) or "left" (at the start).
        dtype: the dtype of x (default: the inputs' float dtype; integers become float64).

    Returns:
        x (N, C, T) host array, mask (N, T) host array of x's dtype (1 real step, 0 padded), lengths (N,) int64 (the
        sequences' own lengths, before truncation).
    """
    length = check_sequence_length(length, "length")
    value = check_padding_value(value, "value")
    direction = check_direction(direction, "direction")
    seqs = as_sequences(seqs, "seqs")
    lengths = sequence_lengths(seqs)
    T = padded_length(lengths, length)
    if dtype is None:
        kinds = [s.dtype for s in seqs] if isinstance(seqs, list) else [seqs.dtype]
        dtype = np.result_type(*kinds)
        dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    dtype = np.dtype(dtype)
    if not isinstance(seqs, list) and T == seqs.shape[2]:
        x = seqs.astype(dtype, copy=False)
    else:
        x = _pad(list(seqs), lengths, T, value, direction, dtype)
    return x, time_mask(lengths, T, direction, dtype), lengths


def pad_targets(targets: Any, length: str | int = "longest", direction: str = "right") -> np.ndarray:
    """Per-time-step targets padded with the rule of :func:`pad_batch` (so they line up with its x and mask).

    Args:
        targets: class indices — a list of (Tᵢ,) integer arrays or an (N, T) array — or responses — a list of
            (R, Tᵢ) arrays or an (N, R, T) array.
        length, direction: as for :func:`pad_batch`.

    Returns:
        (N, T) int64 class indices (0 at padded steps) or (N, R, T) float responses (0 at padded steps).
    """
    length = check_sequence_length(length, "length")
    direction = check_direction(direction, "direction")
    if isinstance(targets, (list, tuple)):
        items = [np.asarray(to_host(t)) for t in targets]
        if not items:
            raise ValueError("targets: got an empty list; allowed: a list of (T,) labels or (R, T) responses")
        nd = items[0].ndim
        for i, t in enumerate(items):
            if t.ndim not in (1, 2) or t.ndim != nd or t.shape[-1] < 1 or t.shape[:-1] != items[0].shape[:-1]:
                raise ValueError(f"targets[{i}]: got shape {t.shape}; allowed: every item (T,) class indices or "
                                 f"every item (R, T) responses with the same R (item 0: {items[0].shape})")
    else:
        arr = np.asarray(to_host(targets))
        if arr.ndim not in (2, 3):
            raise ValueError(f"targets: got shape {arr.shape}; allowed: (N, T) class indices or (N, R, T) responses")
        items, nd = list(arr), arr.ndim - 1
    lengths = sequence_lengths(items)
    T = padded_length(lengths, length)
    if nd == 1:
        if any(t.dtype.kind not in "iu" for t in items):
            raise TypeError("targets: per-step class indices must be integers; got dtype "
                            f"{next(t.dtype for t in items if t.dtype.kind not in 'iu')}")
        return _pad(items, lengths, T, 0, direction, np.int64)
    dtype = np.result_type(*[t.dtype for t in items])
    return _pad(items, lengths, T, 0.0, direction, dtype if dtype.kind == "f" else np.float64)


def trim_outputs(y: np.ndarray, lengths: Sequence[int] | np.ndarray, direction: str = "right") -> list[np.ndarray]:
    """Sequence-to-sequence outputs (N, K, T) back to each sequence's own steps: a list of (K, min(Tᵢ, T)) arrays
    (right padding trimmed from the right, left padding from the left)."""
    direction = check_direction(direction)
    lengths = np.asarray(lengths, dtype=np.int64)
    T = y.shape[-1]
    _, start = _time_window(lengths, T, direction)
    kept = np.minimum(lengths, T)
    return [y[i, ..., int(start[i]):int(start[i] + kept[i])] for i in range(y.shape[0])]
