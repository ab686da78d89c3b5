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
