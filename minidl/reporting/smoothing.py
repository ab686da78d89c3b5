"""The smoothed training curve of the training-progress figure: a local linear fit over the last 15 iterations.

MATLAB: the smoothed curve at iteration i is the least-squares line through the raw values at iterations
i−14 … i (the ones that are NaN dropped), evaluated at i, then clipped to the range of the raw values seen so far.

With the window's points written in local coordinates x = j − i ∈ {−(w−1), …, 0} (so the fit is evaluated at x = 0)
and the sums n = Σ1, Sx = Σx, Sxx = Σx², Sy = Σy, Sxy = Σx·y over the valid points of the window:

    b = (n·Sxy − Sx·Sy) / (n·Sxx − Sx²)        slope of the least-squares line
    ŷ(0) = ȳ − b·x̄ = (Sy − b·Sx) / n           the line at the current iteration
    ŷ(0) = Sy / n                               when n·Sxx − Sx² = 0 (a single valid point: the value itself)
    s_i = min(max(ŷ(0), min_{j≤i} y_j), max_{j≤i} y_j)

Rules fixed here (docs/progress.md gives the reasons):

- The window is the last ``window`` *iterations*, not the last ``window`` valid values: NaNs inside it are dropped.
- A raw value that is NaN (or ±Inf) gives NaN: the smoothed line has a gap where the raw line has one.
  Non-finite values are treated as missing everywhere (they never enter a fit or the clipping range).
- Clipping uses the min/max of the whole raw series *up to and including i* (causal): the live figure and the
  figure redrawn from a finished run show the same curve.

:func:`smooth` does a whole series; :class:`Smoother` does the same thing incrementally for a live figure (each
new value costs O(window), and its results are bit-identical to :func:`smooth` on the concatenated series).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["WINDOW", "smooth", "Smoother"]

#: MATLAB's smoothing window, in iterations.
WINDOW = 15


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    return int(window)


def _local_fit(y: np.ndarray, window: int) -> np.ndarray:
    """Least-squares line over the last ``window`` points of (N,) ``y``, evaluated at each point; (N,) float64.

    Sliding sums by ``window`` shifted adds (a loop over offsets k, vectorized over all N points): each sum is
    accumulated in the same order wherever the series starts, and no cumulative sum cancels on long runs.
    """
    valid = np.isfinite(y)
    m = valid.astype(np.float64)          # 1 where the value takes part in the fit
    ym = np.where(valid, y, 0.0)
    n = np.zeros_like(y)
    sx = np.zeros_like(y)
    sxx = np.zeros_like(y)
    sy = np.zeros_like(y)
    sxy = np.zeros_like(y)
    for k in range(min(window, y.shape[0])):  # the point k iterations back has local coordinate x = −k
        n[k:] += m[: y.shape[0] - k]
        sx[k:] -= k * m[: y.shape[0] - k]
        sxx[k:] += (k * k) * m[: y.shape[0] - k]
        sy[k:] += ym[: y.shape[0] - k]
        sxy[k:] -= k * ym[: y.shape[0] - k]
    den = n * sxx - sx * sx  # n·Sxx − Sx²: exact (small integers), 0 for a single point
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(den > 0, (n * sxy - sx * sy) / np.where(den > 0, den, 1.0), 0.0)  # slope
        fit = (sy - b * sx) / n  # ŷ(0) = ȳ − b·x̄
    return np.where(valid, fit, np.nan)


def _clip_running(fit: np.ndarray, y: np.ndarray, lo0: float, hi0: float) -> tuple[np.ndarray, float, float]:
    """Clip (N,) ``fit`` to the running min/max of the finite values of ``y`` (starting from ``lo0``, ``hi0``)."""
    finite = np.isfinite(y)
    lo = np.minimum.accumulate(np.concatenate(([lo0], np.where(finite, y, np.inf))))[1:]   # min_{j≤i} y_j
    hi = np.maximum.accumulate(np.concatenate(([hi0], np.where(finite, y, -np.inf))))[1:]  # max_{j≤i} y_j
    out = np.where(finite, np.minimum(np.maximum(fit, lo), hi), np.nan)
    last_lo = float(lo[-1]) if lo.size else lo0
    last_hi = float(hi[-1]) if hi.size else hi0
    return out, last_lo, last_hi


def smooth(series: Iterable[float] | np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Smoothed training curve of a whole series: local linear fit over the last ``window`` points, clipped.

    Args:
        series: (N,) raw per-iteration values (loss, accuracy or RMSE); NaN where not computed. Host values.
        window: fit window in iterations (MATLAB: 15).

    Returns:
        (N,) float64 smoothed values; NaN where the raw value is NaN or ±Inf.

    >>> smooth([1.0, 3.0, 2.0, 5.0, 4.0]).tolist()
    [1.0, 3.0, 2.5, 4.4, 4.6]
    >>> smooth([0.0, 10.0, 10.0]).tolist()   # the fit gives 11.67 at the end: clipped to the maximum so far
    [0.0, 10.0, 10.0]
    """
    window = _check_window(window)
    y = np.asarray(series, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"series must be one-dimensional, got shape {y.shape}")
    out, _, _ = _clip_running(_local_fit(y, window), y, np.inf, -np.inf)
    return out


class Smoother:
    """Incremental :func:`smooth`: feed values as they arrive, get their smoothed values."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = _check_window(window)
        self._tail = np.empty(0, dtype=np.float64)  # the last window−1 raw values (context for the next fits)
        self._lo = np.inf   # min of the finite raw values so far
        self._hi = -np.inf  # max of the finite raw values so far
        self.count = 0      # values seen

    def extend(self, values: Iterable[float] | np.ndarray) -> np.ndarray:
        """Smoothed values of (M,) new raw ``values``, continuing the series seen so far; (M,) float64.

        >>> s = Smoother()
        >>> s.extend([1.0, 3.0]).tolist() + s.extend([2.0, 5.0, 4.0]).tolist()
        [1.0, 3.0, 2.5, 4.4, 4.6]
        """
        new = np.asarray(values, dtype=np.float64).reshape(-1)
        if new.size == 0:
            return new.copy()
        y = np.concatenate((self._tail, new))
        fit = _local_fit(y, self.window)[self._tail.size:]
        out, self._lo, self._hi = _clip_running(fit, new, self._lo, self._hi)
        self._tail = y[max(0, y.size - (self.window - 1)):].copy()
        self.count += new.size
        return out

    def append(self, value: float) -> float:
        """Smoothed value of one new raw ``value``."""
        return float(self.extend([value])[0])
