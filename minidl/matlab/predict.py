"""Using a trained network as MATLAB does: ``predict``, ``classify`` (with its scores) and ``activations``.

Inputs are MATLAB's: H×W×C×N images (or one H×W×C image) and N×F features; outputs come back in MATLAB's layouts
(docs/matlab-interop.md).  Options: 'MiniBatchSize' (128) and 'ExecutionEnvironment' ('auto' | 'cpu' | 'gpu'; the
network runs there, on a copy when it lives elsewhere, so the caller's network never moves).

Sequence networks (a sequenceInputLayer) take a cell array of C×Tᵢ sequences (a Python list) or one C×T sequence,
with 'SequenceLength' ('longest' | 'shortest' | a positive integer), 'SequencePaddingValue' (0) and
'SequencePaddingDirection' ('right' | 'left'); ``predictAndUpdateState``, ``classifyAndUpdateState`` and
``resetState`` return the updated network, as MATLAB's ``[net, Y] = predictAndUpdateState(net, X)``: here
``net, Y = predictAndUpdateState(net, X)`` (a new Network; the one passed in is left as it was).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from minidl import sequences as S
from minidl.backend import get_device
from minidl.matlab.arrays import _predictors, nchw_to_hwcn
from minidl.matlab.display import _choice, _int_vector, _parse_pairs, _to_python
from minidl.network import Network

__all__ = ["predict", "classify", "activations", "predictAndUpdateState", "classifyAndUpdateState", "resetState"]

ENVIRONMENTS = ("auto", "cpu", "gpu")
OUTPUT_AS = ("channels", "rows", "columns")
SEQUENCE_OPTIONS = ("SequenceLength", "SequencePaddingValue", "SequencePaddingDirection")


def _options(func: str, args: tuple, kwargs: Mapping[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    opts = _parse_pairs(func, args, kwargs, ("MiniBatchSize", "ExecutionEnvironment") + SEQUENCE_OPTIONS + extra)
    opts["MiniBatchSize"] = _int_vector(func, "MiniBatchSize", opts.get("MiniBatchSize", 128), (1,), 1)[0]
    opts["ExecutionEnvironment"] = _choice(func, "ExecutionEnvironment", opts.get("ExecutionEnvironment", "auto"),
                                           ENVIRONMENTS)
    length = _to_python(opts.get("SequenceLength", "longest"))
    if isinstance(length, str):
        length = _choice(func, "SequenceLength", length, S.LENGTHS)
    elif isinstance(length, float) and length.is_integer():
        length = int(length)                                   # MATLAB's numbers are doubles: 20 is 20.0
    opts["SequenceLength"] = S.check_sequence_length(length, f"{func}: 'SequenceLength'")
    opts["SequencePaddingValue"] = S.check_padding_value(_to_python(opts.get("SequencePaddingValue", 0.0)),
                                                         f"{func}: 'SequencePaddingValue'")
    opts["SequencePaddingDirection"] = _choice(func, "SequencePaddingDirection",
                                               opts.get("SequencePaddingDirection", "right"), S.DIRECTIONS)
    return opts


def _sequence_kwargs(opts: Mapping[str, Any]) -> dict[str, Any]:
    """The Network.predict keywords of the MATLAB sequence options."""
    return {"batch_size": opts["MiniBatchSize"], "sequence_length": opts["SequenceLength"],
            "sequence_padding_value": opts["SequencePaddingValue"],
            "sequence_padding_direction": opts["SequencePaddingDirection"]}


def _sequences(X, arg: str = "X") -> tuple[list, bool]:
    """MATLAB sequence input: a cell array of C×Tᵢ (a list or tuple) or one C×T sequence (a 2-D array) → (a list
    of (C, Tᵢ), whether it was one sequence)."""
    if isinstance(X, (list, tuple)):
        return list(X), False
    a = X if hasattr(X, "shape") else np.asarray(X)
    if a.ndim == 2:
        return [a], True
    raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed for a sequence "
                     "network: a cell array (list) of C×T sequences or one C×T sequence")


def _sequence_result(y, single: bool):
    """One sequence in, one result out (K×T, or 1×K for a label network) as MATLAB returns a numeric array."""
    if single and isinstance(y, list):
        return y[0]
    return y


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
    placed = _placed("predict", net, opts["ExecutionEnvironment"])
    if placed.is_sequence:
        seqs, single = _sequences(X)
        return _sequence_result(placed.predict(seqs, **_sequence_kwargs(opts)), single)
    y = placed.predict(_predictors(X, "X"), batch_size=opts["MiniBatchSize"])
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
    if placed.is_sequence:
        seqs, single = _sequences(X)
        scores = placed.predict(seqs, **_sequence_kwargs(opts))
        labels = placed.labels_of(scores)      # a list of (Tᵢ,) labels for a sequence-to-sequence network
        scores, labels = _sequence_result(scores, single), _sequence_result(labels, single)
        return (labels, scores) if return_scores else labels
    scores = placed.predict(_predictors(X, "X"), batch_size=opts["MiniBatchSize"])
    idx = np.argmax(scores, axis=1)      # the first of equal scores, as MATLAB's max
    labels = net.classes[idx] if net.classes is not None else idx
    return (labels, scores) if return_scores else labels


def _updated_copy(func: str, net: Network, environment: str) -> Network:
    """A copy of net on the requested device that keeps net's carried recurrent state (moving drops it)."""
    if not isinstance(net, Network):
        raise TypeError(f"net: got {type(net).__name__}; allowed: a trained minidl Network (in {func})")
    if not net.is_sequence:
        raise ValueError(f"{func}: net has no sequenceInputLayer; allowed: a recurrent (sequence) network")
    state = net.recurrent_state()
    try:
        device = get_device(environment)
    except RuntimeError as e:
        raise RuntimeError(f"{func}: 'ExecutionEnvironment': got {environment!r}: {e}") from e
    out = net.copy()
    if out.device != device:
        out.to(device)
        out.set_recurrent_state(state)
    return out


def predictAndUpdateState(net: Network, X, *args: Any, **kwargs: Any):
    """MATLAB ``[updatedNet, Y] = predictAndUpdateState(net, X, 'MiniBatchSize', 128, 'SequenceLength', ...)`` →
    ``updatedNet, Y = predictAndUpdateState(net, X, ...)``.

    The prediction starts from net's recurrent state (the state its last predictAndUpdateState left; the initial
    state after resetState or training) and updatedNet carries the state it ends in.  A different number of
    sequences than the carried state's starts from the initial state.  X: a cell array (list) of C×Tᵢ sequences
    (at most MiniBatchSize of them: one mini-batch) or one C×T sequence; Y as :func:`predict`.
    """
    opts = _options("predictAndUpdateState", args, kwargs)
    out = _updated_copy("predictAndUpdateState", net, opts["ExecutionEnvironment"])
    seqs, single = _sequences(X)
    y = out.predict_and_update_state(seqs, **_sequence_kwargs(opts))
    return out, _sequence_result(y, single)


def classifyAndUpdateState(net: Network, X, *args: Any, return_scores: bool = False, **kwargs: Any):
    """MATLAB ``[updatedNet, YPred, scores] = classifyAndUpdateState(net, X, ...)`` →
    ``updatedNet, YPred = classifyAndUpdateState(net, X, ...)`` (``return_scores=True`` adds scores).

    As :func:`predictAndUpdateState`, with labels: (N,) for a sequence-to-label network, a list of (Tᵢ,) per
    sequence (one (T,) for one sequence) for sequence-to-sequence.
    """
    opts = _options("classifyAndUpdateState", args, kwargs)
    out = _updated_copy("classifyAndUpdateState", net, opts["ExecutionEnvironment"])
    if not out.is_classifier:
        raise ValueError("classifyAndUpdateState: net is not a classifier (no classificationLayer); use "
                         "predictAndUpdateState")
    seqs, single = _sequences(X)
    scores = out.predict_and_update_state(seqs, **_sequence_kwargs(opts))
    labels = _sequence_result(out.labels_of(scores), single)
    scores = _sequence_result(scores, single)
    return (out, labels, scores) if return_scores else (out, labels)


def resetState(net: Network) -> Network:
    """MATLAB ``net = resetState(net)``: a copy of net whose recurrent layers start from their initial state."""
    if not isinstance(net, Network):
        raise TypeError(f"net: got {type(net).__name__}; allowed: a minidl Network (in resetState)")
    out = net.copy()
    out.reset_state()
    return out


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
    if placed.is_sequence:                   # per sequence C×Tᵢ (a time axis) or N×C (after a 'last' layer)
        seqs, single = _sequences(X)
        a = placed.activations(seqs, _layer_index(placed, layer), **_sequence_kwargs(opts))
        if not isinstance(a, list) and output_as == "columns":
            a = np.ascontiguousarray(a.T)
        return _sequence_result(a, single)
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
