"""Arrays: MATLAB's H×W×C×N ↔ minidl's N×C×H×W, and the checks of trainNetwork's X and Y."""

from __future__ import annotations

import numpy as np

from minidl import layers as L
from minidl.network import Network


def hwcn_to_nchw(x, arg: str = "X"):
    """MATLAB images H×W×C×N (4-D; one image H×W×C as 3-D) → N×C×H×W; ``out[n, c, h, w] = x[h, w, c, n]``.

    A view (no copy) of host or device arrays; lists become host arrays.
    """
    a = x if hasattr(x, "shape") and hasattr(x, "transpose") else np.asarray(x)
    if a.ndim == 3:
        a = a.reshape(a.shape + (1,))
    if a.ndim != 4:
        raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed: H×W×C×N images "
                         "(4-D) or one H×W×C image (3-D)")
    return a.transpose(3, 2, 0, 1)


def nchw_to_hwcn(x, arg: str = "X"):
    """minidl images N×C×H×W → MATLAB's H×W×C×N; ``out[h, w, c, n] = x[n, c, h, w]`` (a view)."""
    a = x if hasattr(x, "shape") and hasattr(x, "transpose") else np.asarray(x)
    if a.ndim != 4:
        raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed: N×C×H×W (4-D)")
    return a.transpose(2, 3, 1, 0)


def _predictors(x, arg: str = "X"):
    """trainNetwork/predict input: images H×W×C×N (4-D) or H×W×C (3-D, one image) → NCHW; N×F features as is."""
    a = x if hasattr(x, "shape") and hasattr(x, "transpose") else np.asarray(x)
    if a.ndim in (3, 4):
        return hwcn_to_nchw(a, arg)
    if a.ndim == 2:
        return a
    raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed: H×W×C×N images "
                     "(4-D), one H×W×C image (3-D) or N×F features (2-D, observations in rows)")


def _responses(y, classifier: bool, arg: str = "Y"):
    """Labels (N,) (an N×1 column is flattened for classification), responses (N,) or (N, R), or H×W×C×N images."""
    if y is None:
        raise TypeError(f"{arg}: got None; allowed: labels (N,) or responses (N,), (N, R), H×W×C×N")
    a = y if hasattr(y, "shape") and hasattr(y, "transpose") else np.asarray(y)
    if a.ndim == 4 and not classifier:
        return hwcn_to_nchw(a, arg)
    if classifier and a.ndim == 2 and a.shape[1] == 1:
        return a.reshape(-1)
    if a.ndim in (1, 2):
        return a
    raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed: labels (N,), "
                     "responses (N,) or N×R, or H×W×C×N image responses")


def _is_classifier(layers) -> bool:
    last = layers.layers[-1] if isinstance(layers, Network) else list(layers)[-1] if layers else None
    return isinstance(last, L.ClassificationOutput)


# ------------------------------------------------------------------------------------------------ sequences
def is_sequence_cells(x) -> bool:
    """True for MATLAB's cell array of sequences as Python holds it: a list/tuple, or a numpy object array."""
    return isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.dtype == object)


def _cells(x) -> list:
    return list(x.reshape(-1)) if isinstance(x, np.ndarray) else list(x)   # an N×1 (or 1×N) cell array: N cells


def sequence_predictors(x, arg: str = "X"):
    """trainNetwork/predict sequences → a list of (C, Tᵢ) arrays (or an (N, C, T) array): a cell array of C×Tᵢ
    matrices (a list, or an object array such as scipy.io.loadmat's N×1 cell), one C×T matrix (one sequence), or a
    numeric C×T×N array (later releases' layout; ``out[n] = x[:, :, n]``)."""
    if is_sequence_cells(x):
        return [np.asarray(s) if not hasattr(s, "shape") else s for s in _cells(x)]
    a = x if hasattr(x, "shape") and hasattr(x, "transpose") else np.asarray(x)
    if a.ndim == 2:
        return [a]
    if a.ndim == 3:
        return a.transpose(2, 0, 1)
    raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed for a sequence "
                     "network: a cell array (list) of C×T matrices, one C×T matrix, or a C×T×N array")


def sequence_responses(y, classifier: bool, arg: str = "Y", steps: int | None = None):
    """Sequence responses: per sequence, labels (N,) (an N×1 column flattened) or N×R responses; per time step, a
    cell array (list) of 1×Tᵢ / (Tᵢ,) label arrays (categorical sequences) or R×Tᵢ response matrices.

    ``steps``: T when the predictors were one C×T matrix (one sequence, MATLAB's numeric-array form): then a numeric
    or categorical array whose last axis has T > 1 entries (an R×T matrix, a 1×T or (T,) array) is that sequence's
    per-step response (MATLAB's forecasting form ``trainNetwork(X, Y)`` with X C×T and Y R×T), not N×R.
    """
    if y is None:
        raise TypeError(f"{arg}: got None; allowed: labels (N,), responses N×R, or a cell array of per-step "
                        "responses")
    if is_sequence_cells(y):
        items = _cells(y)
        if items and all(np.ndim(v) == 0 for v in items):       # a list of N labels or numbers (per sequence)
            return np.asarray(items)
        return [np.asarray(v) if not hasattr(v, "shape") else v for v in items]
    a = y if hasattr(y, "shape") else np.asarray(y)
    if steps is not None and steps > 1 and a.ndim in (1, 2) and a.shape[-1] == steps:
        return [a.reshape(-1) if a.ndim == 2 and a.shape[0] == 1 and (classifier or a.dtype.kind not in "fc")
                else a]
    if classifier and a.ndim == 2 and a.shape[1] == 1:
        return a.reshape(-1)
    return a
