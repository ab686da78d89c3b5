"""Using a trained network as MATLAB does: ``predict``, ``classify`` (with its scores) and ``activations``.

Inputs are MATLAB's: H×W×C×N images (or one H×W×C image) and N×F features; outputs come back in MATLAB's layouts
(docs/matlab-interop.md).  Options: 'MiniBatchSize' (128) and 'ExecutionEnvironment' ('auto' | 'cpu' | 'gpu'; the
network runs there, on a copy when it lives elsewhere, so the caller's network never moves).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from minidl.backend import get_device
from minidl.matlab.arrays import _predictors, nchw_to_hwcn
from minidl.matlab.display import _choice, _int_vector, _parse_pairs
from minidl.network import Network

__all__ = ["predict", "classify", "activations"]

ENVIRONMENTS = ("auto", "cpu", "gpu")
OUTPUT_AS = ("channels", "rows", "columns")


def _options(func: str, args: tuple, kwargs: Mapping[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    opts = _parse_pairs(func, args, kwargs, ("MiniBatchSize", "ExecutionEnvironment") + extra)
    opts["MiniBatchSize"] = _int_vector(func, "MiniBatchSize", opts.get("MiniBatchSize", 128), (1,), 1)[0]
    opts["ExecutionEnvironment"] = _choice(func, "ExecutionEnvironment", opts.get("ExecutionEnvironment", "auto"),
                                           ENVIRONMENTS)
    return opts


def _placed(func: str, net: Network, environment: str) -> Network:
    """The network on the requested device: itself when it is there already, else a moved copy."""
    if not isinstance(net, Network):
        raise TypeError(f"net: got {type(net).__name__}; allowed: a trained minidl Network (in {func})")
    try:
        device = get_device(environment)
    except RuntimeError as e:
        raise RuntimeError(f"{func}: 'ExecutionEnvironment': got {environment!r}: {e}") from e
    return net if net.device == device else net.copy().to(device)


def predict(net: Network, X, *args: Any, **kwargs: Any) -> np.ndarray:
    """MATLAB ``Y = predict(net, X, 'MiniBatchSize', 128, 'ExecutionEnvironment', 'auto')``.

    Returns the scores N×K (classification) or responses N×R; image responses as H×W×C×N.
    """
    opts = _options("predict", args, kwargs)
    y = _placed("predict", net, opts["ExecutionEnvironment"]).predict(_predictors(X, "X"),
                                                                     batch_size=opts["MiniBatchSize"])
    return nchw_to_hwcn(y) if y.ndim == 4 else y


def classify(net: Network, X, *args: Any, return_scores: bool = False, **kwargs: Any):
    """MATLAB ``YPred = classify(net, X, ...)``; ``[YPred, scores] = classify(net, X, ...)`` is
    ``YPred, scores = classify(net, X, ..., return_scores=True)``.

    YPred: (N,) labels as trained on (``net.classes``); scores: N×K class probabilities (columns in the order of
    ``net.classes``), the same numbers as ``predict``.  Options as :func:`predict`.
    """
    opts = _options("classify", args, kwargs)
    placed = _placed("classify", net, opts["ExecutionEnvironment"])
    if not placed.is_classifier:
        raise ValueError("classify: net is not a classifier (no classificationLayer); use predict")
    scores = placed.predict(_predictors(X, "X"), batch_size=opts["MiniBatchSize"])
    idx = np.argmax(scores, axis=1)      # the first of equal scores, as MATLAB's max
    labels = net.classes[idx] if net.classes is not None else idx
    return (labels, scores) if return_scores else labels


def _layer_index(net: Network, layer: Any) -> int:
    """A layer name or MATLAB's 1-based index → minidl's 0-based index."""
    if isinstance(layer, str):
        names = [lay.name for lay in net.layers]
        if layer not in names:
            raise ValueError(f"activations: layer: got {layer!r}; allowed: a layer name ({', '.join(names)}) or "
                             f"an index 1 to {len(names)}")
        return names.index(layer)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= len(net):
        raise ValueError(f"activations: layer: got {layer!r}; allowed: a layer name or an index 1 to {len(net)}")
    return int(layer) - 1


def activations(net: Network, X, layer: str | int, *args: Any, **kwargs: Any) -> np.ndarray:
    """MATLAB ``act = activations(net, X, layer, 'OutputAs', 'channels', 'MiniBatchSize', 128, ...)``.

    ``layer``: a name or MATLAB's 1-based index.  For image networks every layer's output is an h×w×c×N array
    ('channels', the default; a fully connected or softmax output is 1×1×c×N, as MATLAB shows it); 'rows' gives
    N×M and 'columns' M×N, with M = h·w·c in MATLAB's column-major order (h fastest, then w, then c).  For feature
    networks the output is N×c ('channels' and 'rows') or c×N ('columns').
    """
    opts = _options("activations", args, kwargs, ("OutputAs",))
    output_as = _choice("activations", "OutputAs", opts.get("OutputAs", "channels"), OUTPUT_AS)
    placed = _placed("activations", net, opts["ExecutionEnvironment"])
    x = _predictors(X, "X")
    a = placed.activations(x, _layer_index(placed, layer), batch_size=opts["MiniBatchSize"])
    image_net = len(placed.input_shape) == 3
    if image_net:
        if a.ndim == 2:                                    # (N, C) → MATLAB's 1×1×C×N
            a = a.reshape(a.shape[0], a.shape[1], 1, 1)
        hwcn = nchw_to_hwcn(a)                             # h×w×c×N
        if output_as == "channels":
            return hwcn
        m = hwcn.reshape(-1, hwcn.shape[3], order="F")     # M×N, h fastest (MATLAB's column-major)
        return np.ascontiguousarray(m if output_as == "columns" else m.T)
    a = a.reshape(a.shape[0], -1)
    return np.ascontiguousarray(a.T) if output_as == "columns" else a
