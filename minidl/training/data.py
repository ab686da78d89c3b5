"""Training data: checks that name the argument, label encoding, and the mini-batch source protocol.

A **mini-batch source** is anything with

- ``len(source)``: the number of observations N, and
- ``source.batches(order, batch_size)``: an iterator of host ``(X, Y)`` pairs for the observations
  ``order[0:B], order[B:2B], ...`` in that order (the last chunk may be shorter), where ``order`` is a 1-D int64
  numpy array of observation indices chosen by the engine (shuffled or not);

and optionally ``source.classes`` (the class labels, saving a pass over the labels). X is (B, C, H, W) images or
(B, F) features; Y is (B,) labels of any hashable kind (classification) or (B,) / (B, R) numbers (regression).
Subclass :class:`MiniBatchSource` and implement ``read(indices)`` to stream from disk (e.g. a ``numpy.memmap``);
arrays are wrapped in :class:`ArraySource`. The engine never special-cases data kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minidl.backend import get_array_module, to_host

__all__ = ["MiniBatchSource", "ArraySource", "as_source", "check_predictors", "check_labels", "check_responses",
           "sorted_classes", "encode_labels", "check_class_indices", "PreparedSource", "prepare_source",
           "SequenceSource", "check_sequences", "check_sequence_options", "sequence_chunk_counts", "as_sequence_source"]


# ----------------------------------------------------------------------------------------------------------- checks
def _kind(x) -> str:
    return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}" if hasattr(x, "shape") else \
        type(x).__name__


def check_predictors(X, arg: str = "X") -> np.ndarray:
    """X as a host array: (N, C, H, W) images, (N, F) features or any (N, d₁, …, dₖ) array (k ≥ 1: layers such as
    Flatten and FullyConnected take any rank), real numbers, N ≥ 1, no NaN or Inf."""
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        raise TypeError(f"{arg}: got {type(X).__name__}; allowed: a numpy array of shape (N, C, H, W) or (N, F)")
    X = to_host(X) if get_array_module(X) is not np else X
    if X.dtype.kind not in "iuf":
        raise TypeError(f"{arg}: got dtype {X.dtype}; allowed: real numbers (float or integer arrays)")
    if X.ndim < 2:
        raise ValueError(f"{arg}: got shape {tuple(X.shape)}; allowed: (N, C, H, W) images, (N, F) features or any "
                         "(N, d1, ..., dk) array")
    if X.shape[0] < 1 or X.size == 0:
        raise ValueError(f"{arg}: got shape {tuple(X.shape)}; allowed: at least one observation and one value each")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        bad = int(np.argmax(~np.isfinite(X.reshape(len(X), -1)).all(axis=1)))
        raise ValueError(f"{arg}: observation {bad} holds NaN or Inf; allowed: finite values")
    return X


def check_labels(Y, n: int | None, arg: str = "Y") -> np.ndarray:
    """Class labels as a 1-D host array of n hashable values (integers, strings, booleans; not floats)."""
    if isinstance(Y, (list, tuple)):
        Y = np.asarray(Y) if len(Y) else np.zeros(0, dtype=np.int64)
    if not hasattr(Y, "shape") or not hasattr(Y, "dtype"):
        raise TypeError(f"{arg}: got {type(Y).__name__}; allowed: an array or list of N class labels")
    Y = to_host(Y) if get_array_module(Y) is not np else Y
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.ndim != 1:
        raise ValueError(f"{arg}: got labels of shape {tuple(Y.shape)}; allowed: (N,) class labels (the network "
                         "ends in ClassificationOutput)")
    if n is not None and len(Y) != n:
        raise ValueError(f"{arg}: got {len(Y)} labels for {n} observations; allowed: one label per observation")
    if Y.dtype.kind in "fc":
        raise TypeError(f"{arg}: got {Y.dtype} labels; a classifier needs class labels (integers, strings or "
                        "booleans); convert with Y.astype(int), or end the network in RegressionOutput")
    if Y.dtype.kind == "O":
        for i, v in enumerate(Y):
            if isinstance(v, (float, complex, np.floating)) or v is None or not _hashable(v):
                raise TypeError(f"{arg}[{i}]: got {v!r}; allowed: hashable class labels that are not floats or None")
        if len(Y) and all(isinstance(v, str) for v in Y):
            Y = Y.astype(str)
    return Y


def _hashable(v) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def check_responses(Y, n: int | None, arg: str = "Y") -> np.ndarray:
    """Regression targets as a float64 host array (N,), (N, R) or any (N, d₁, …, dₖ) (the engine reads R = d₁·…·dₖ),
    no NaN or Inf; booleans count as 0 and 1 (binary cross-entropy targets)."""
    if isinstance(Y, (list, tuple)):
        Y = np.asarray(Y)
    if not hasattr(Y, "shape") or not hasattr(Y, "dtype"):
        raise TypeError(f"{arg}: got {type(Y).__name__}; allowed: a numeric array of N responses, shape (N,) or "
                        "(N, R)")
    Y = to_host(Y) if get_array_module(Y) is not np else Y
    if Y.dtype.kind == "b":
        Y = Y.astype(np.float64)
    if Y.dtype.kind not in "iuf":
        raise TypeError(f"{arg}: got dtype {Y.dtype}; a regression network needs numeric responses (the network "
                        "ends in RegressionOutput; use ClassificationOutput for class labels)")
    if Y.ndim < 1:
        raise ValueError(f"{arg}: got responses of shape {tuple(Y.shape)}; allowed: (N,), (N, R) or (N, d1, ..., dk)")
    if n is not None and len(Y) != n:
        raise ValueError(f"{arg}: got {len(Y)} responses for {n} observations; allowed: one row per observation")
    Y = Y.astype(np.float64, copy=False)
    if not np.isfinite(Y).all():
        raise ValueError(f"{arg}: responses hold NaN or Inf; allowed: finite values")
    return Y


def sorted_classes(labels: np.ndarray, arg: str = "Y") -> np.ndarray:
    """The distinct labels in sorted order (MATLAB: categories sorted); the class index of a label is its position."""
    try:
        classes = np.unique(labels)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in labels})
        raise TypeError(f"{arg}: labels of mixed kinds {kinds} cannot be sorted into classes; allowed: labels of "
                        "one kind") from None
    if classes.dtype.kind == "O" and len(classes) and all(isinstance(v, str) for v in classes):
        classes = classes.astype(str)
    return classes


def encode_labels(labels: np.ndarray, classes: np.ndarray, arg: str = "Y") -> np.ndarray:
    """Class indices (N,) int64 of ``labels`` in ``classes`` (sorted); a label not among them is an error."""
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        idx = np.searchsorted(classes, labels)
    except TypeError:
        idx = None
    if idx is not None:
        idx = np.minimum(idx, len(classes) - 1)
        ok = np.asarray(classes[idx] == labels, dtype=bool)
    if idx is None or ok.shape != (len(labels),) or not ok.all():
        lookup = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
        out = np.empty(len(labels), dtype=np.int64)
        for i, v in enumerate(labels):
            key = v.item() if hasattr(v, "item") else v
            if key not in lookup:
                shown = classes[:20].tolist()
                raise ValueError(f"{arg}[{i}]: label {key!r} is not one of the classes {shown}"
                                 f"{' ...' if len(classes) > 20 else ''} (classes come from the training labels)")
            out[i] = lookup[key]
        return out
    return idx.astype(np.int64, copy=False)


def check_class_indices(t, k: int, arg: str = "t") -> np.ndarray:
    """Class indices ``t`` (any shape of integers) as a host array, each in [0, k); else ValueError naming ``arg``,
    the first bad index and its value.  Checked on the host before the indices travel: on a GPU, one-hot encoding
    (``out[rows, t] = 1``) wraps an out-of-range index silently into another class (CuPy does not raise).

    >>> check_class_indices(np.array([0, 2, 3]), 3, "Y")
    Traceback (most recent call last):
    ValueError: Y: class index 3 at position 2 is out of range; allowed: integers in [0, 3) (one per class)
    """
    t = to_host(t) if get_array_module(t) is not np else np.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{arg}: got class indices of dtype {t.dtype}; allowed: integers in [0, {k})")
    bad = (t < 0) | (t >= k)
    if bad.any():
        i = int(np.argmax(bad.reshape(-1)))
        where = tuple(int(j) for j in np.unravel_index(i, t.shape)) if t.ndim > 1 else i
        raise ValueError(f"{arg}: class index {int(t.reshape(-1)[i])} at position {where} is out of range; allowed: "
                         f"integers in [0, {k}) (one per class)")
    return t


# ----------------------------------------------------------------------------------------------------------- sources
class MiniBatchSource:
    """Base class of mini-batch sources: implement ``__len__`` and ``read(indices) -> (X, Y)`` (host arrays)."""

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, indices: np.ndarray) -> tuple[Any, Any]:
        """The observations at ``indices`` (1-D int64, in that order): X (B, ...) and Y (B,) or (B, R)."""
        raise NotImplementedError

    def batches(self, order: np.ndarray, batch_size: int) -> Iterator[tuple[Any, Any]]:
        """(X, Y) for ``order`` in consecutive chunks of ``batch_size`` (the last may be shorter)."""
        for i in range(0, len(order), batch_size):
            yield self.read(order[i:i + batch_size])


class ArraySource(MiniBatchSource):
    """In-memory arrays as a source: X (N, C, H, W) or (N, F) and Y (N,) labels or (N,) / (N, R) responses.

    >>> import numpy as np
    >>> src = ArraySource(np.arange(12.0).reshape(6, 2), np.array(list("abcabc")))
    >>> [y.tolist() for _, y in src.batches(np.array([5, 0, 1, 2]), 3)]
    [['c', 'a', 'b'], ['c']]
    """

    def __init__(self, X, Y=None, arg_x: str = "X", arg_y: str = "Y"):
        self.X = check_predictors(X, arg_x)
        if Y is not None:
            if isinstance(Y, (list, tuple)):
                Y = np.asarray(Y)
            if not hasattr(Y, "shape"):
                raise TypeError(f"{arg_y}: got {type(Y).__name__}; allowed: an array or list of N labels or "
                                "responses")
            Y = to_host(Y) if get_array_module(Y) is not np else Y
            if Y.ndim < 1 or len(Y) != len(self.X):
                raise ValueError(f"{arg_y}: got {len(Y) if Y.ndim else 'a scalar'} labels/responses for "
                                 f"{len(self.X)} observations in {arg_x}; allowed: one per observation")
        self.Y = Y
        self.arg_x, self.arg_y = arg_x, arg_y

    def __len__(self) -> int:
        return len(self.X)

    def read(self, indices: np.ndarray):
        return self.X[indices], (None if self.Y is None else self.Y[indices])

    def batches(self, order: np.ndarray, batch_size: int):
        contiguous = len(order) > 0 and order[-1] - order[0] == len(order) - 1 and \
            bool(np.all(np.diff(order) == 1))
        for i in range(0, len(order), batch_size):
            if contiguous:  # an unshuffled order: views, no copies
                s = slice(int(order[i]), int(order[min(i + batch_size, len(order)) - 1]) + 1)
                yield self.X[s], (None if self.Y is None else self.Y[s])
            else:
                yield self.read(order[i:i + batch_size])

    def __repr__(self) -> str:
        return f"ArraySource(X: {_kind(self.X)}, Y: {_kind(self.Y) if self.Y is not None else None})"


def is_source(obj) -> bool:
    """True for objects following the mini-batch source protocol."""
    return hasattr(obj, "__len__") and callable(getattr(obj, "batches", None))


def as_source(X, Y=None, arg_x: str = "X", arg_y: str = "Y"):
    """A mini-batch source from arrays (X, Y) or a source (Y must then be None); X or Y given per port (a dict, or a
    tuple/list of arrays: several inputs or losses of a graph network) gives a
    :class:`minidl.training.graph.MultiArraySource`."""
    if is_source(X):
        if Y is not None:
            raise TypeError(f"{arg_y}: got {type(Y).__name__} together with a mini-batch source in {arg_x}; "
                            "a source yields its own responses, give None")
        if len(X) < 1:
            raise ValueError(f"{arg_x}: the mini-batch source is empty; allowed: at least one observation")
        return X
    if Y is None:
        raise TypeError(f"{arg_y}: got None; allowed: the labels or responses for the observations in {arg_x} "
                        "(or give a mini-batch source)")
    from minidl.training.graph import MultiArraySource, is_port_data  # data by port, for graph networks

    if is_port_data(X) or is_port_data(Y):
        return MultiArraySource(X, Y, arg_x, arg_y)
    return ArraySource(X, Y, arg_x, arg_y)


# ----------------------------------------------------------------------------------------------------------- prepared
class PreparedSource:
    """What the engine reads: host batches (X, T) with T class indices (B,) int64 or float64 responses (B, R).

    Array sources are checked and encoded once; other sources are checked batch by batch as they stream.
    """

    def __init__(self, source, classifier: bool, classes: np.ndarray | None, arg_x: str, arg_y: str,
                 input_shape: tuple[int, ...], n_responses: int | None):
        self.source, self.classifier, self.classes = source, classifier, classes
        self.arg_x, self.arg_y = arg_x, arg_y
        self.input_shape, self.n_responses = input_shape, n_responses
        self.n = len(source)
        self._encoded = None
        if isinstance(source, ArraySource):
            self._encoded = self._targets(source.Y, self.n, arg_y)

    def __len__(self) -> int:
        return self.n

    def _targets(self, Y, n, arg):
        if self.classifier:
            return encode_labels(check_labels(Y, n, arg), self.classes, arg)
        T = check_responses(Y, n, arg)
        T = T.reshape(len(T), -1)
        if self.n_responses is not None and T.shape[1] != self.n_responses:
            raise ValueError(f"{arg}: got {T.shape[1]} responses per observation; the network outputs "
                             f"{self.n_responses}")
        return T

    def batches(self, order: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Host (X, T) batches for ``order``."""
        if self._encoded is not None:
            T = self._encoded
            if self.classifier:  # the indices the device will one-hot, checked here on the host (once)
                check_class_indices(T, len(self.classes), self.arg_y)
            for (X, _), idx in zip(self.source.batches(order, batch_size), _chunks(order, batch_size)):
                yield X, T[idx]
            return
        for k, (X, Y) in enumerate(self.source.batches(order, batch_size)):
            yield self._check_batch(X, Y, len(order[k * batch_size:(k + 1) * batch_size]), k)

    def _check_batch(self, X, Y, expected: int, k: int):
        where = f"{self.arg_x} (mini-batch {k})"
        X = check_predictors(X, where)
        if len(X) != expected:
            raise ValueError(f"{where}: the source yielded {len(X)} observations; the order asked for {expected}")
        if tuple(X.shape[1:]) != self.input_shape:
            raise ValueError(f"{where}: got observations of shape {tuple(X.shape[1:])}; expected "
                             f"{self.input_shape} like the first")
        T = self._targets(Y, len(X), f"{self.arg_y} (mini-batch {k})")
        if self.classifier:  # the indices the device will one-hot, checked on the host
            check_class_indices(T, len(self.classes), f"{self.arg_y} (mini-batch {k})")
        return X, T


def _chunks(order: np.ndarray, batch_size: int):
    for i in range(0, len(order), batch_size):
        yield order[i:i + batch_size]


def peek_shape(source, arg: str) -> tuple[int, ...]:
    """Per-observation input shape of a source (arrays: from X; other sources: from the first observation)."""
    if isinstance(source, ArraySource):
        return tuple(source.X.shape[1:])
    X, _ = next(iter(source.batches(np.zeros(1, dtype=np.int64), 1)))
    return tuple(check_predictors(X, arg).shape[1:])


def source_classes(source, arg: str) -> np.ndarray:
    """Sorted class labels of a classification source: its ``classes`` attribute, else one pass over its labels."""
    if isinstance(source, ArraySource):
        return sorted_classes(check_labels(source.Y, len(source), arg), arg)
    given = getattr(source, "classes", None)
    if given is not None:
        return sorted_classes(check_labels(given, None, f"{arg}.classes"), f"{arg}.classes")
    seen: list[np.ndarray] = []
    order = np.arange(len(source), dtype=np.int64)
    for k, (_, Y) in enumerate(source.batches(order, 1024)):
        seen.append(sorted_classes(check_labels(Y, None, f"{arg} (mini-batch {k})"), arg))
    return sorted_classes(np.concatenate(seen) if seen else np.zeros(0), arg)


def prepare_source(source, classifier: bool, classes: np.ndarray | None, input_shape: tuple[int, ...],
                   n_responses: int | None, arg_x: str, arg_y: str) -> PreparedSource:
    """Check a source against the network (input shape, response count) and wrap it for the engine."""
    shape = peek_shape(source, arg_x)
    if shape != tuple(input_shape):
        raise ValueError(f"{arg_x}: got observations of shape {shape}; the network's input needs "
                         f"{tuple(input_shape)}")
    return PreparedSource(source, classifier, classes, arg_x, arg_y, tuple(input_shape), n_responses)


# ----------------------------------------------------------------------------------------------------------- sequences
def check_sequence_options(length, value, direction, names=None) -> tuple[Any, float, str]:
    """(length, value, direction) checked by :mod:`minidl.sequences`' rules: 'longest' | 'shortest' | a positive
    integer S; a real padding value; 'right' | 'left'.  ``names(key)`` gives the user's spelling of an option."""
    from minidl import sequences as sq

    def name(key):
        return names(key) if callable(names) else key
    return (sq.check_sequence_length(length, name("sequence_length")),
            sq.check_padding_value(value, name("sequence_padding_value")),
            sq.check_direction(direction, name("sequence_padding_direction")))


def _sequence_list(X, arg: str) -> list[np.ndarray]:
    """X as a list of (C, Tᵢ) host arrays: a list/tuple of 2-D arrays, or an (N, C, T) array (one length)."""
    if hasattr(X, "shape") and hasattr(X, "dtype"):
        X = to_host(X) if get_array_module(X) is not np else X
        if X.dtype.kind == "O":
            X = list(X)
        else:
            if X.ndim != 3:
                raise ValueError(f"{arg}: got an array of shape {tuple(X.shape)}; allowed: (N, C, T) sequences or a "
                                 "list of (C, T_i) arrays")
            return list(X)
    if not isinstance(X, (list, tuple)):
        raise TypeError(f"{arg}: got {type(X).__name__}; allowed: a list of (C, T_i) arrays or an (N, C, T) array")
    if not X:
        raise ValueError(f"{arg}: got no sequences; allowed: at least one (C, T_i) array")
    out = []
    for i, s in enumerate(X):
        a = to_host(s) if hasattr(s, "shape") and get_array_module(s) is not np else np.asarray(s)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"{arg}[{i}]: got dtype {a.dtype}; allowed: real numbers")
        if a.ndim != 2:
            raise ValueError(f"{arg}[{i}]: got shape {tuple(a.shape)}; allowed: a (C, T_i) array (channels by time "
                             "steps)")
        out.append(a)
    return out


def check_sequences(X, channels: int | None, min_length: int, arg: str = "X") -> list[np.ndarray]:
    """Sequences as a list of (C, Tᵢ) host arrays, checked: C channels each, Tᵢ ≥ ``min_length``, finite values."""
    seqs = _sequence_list(X, arg)
    for i, a in enumerate(seqs):
        if a.dtype.kind not in "iuf":
            raise TypeError(f"{arg}[{i}]: got dtype {a.dtype}; allowed: real numbers")
        if channels is not None and a.shape[0] != channels:
            raise ValueError(f"{arg}[{i}]: got {a.shape[0]} channels (shape {tuple(a.shape)}); the network's sequence "
                             f"input takes {channels}")
        if a.shape[1] < max(min_length, 1):
            raise ValueError(f"{arg}[{i}]: got {a.shape[1]} time steps; allowed: at least {max(min_length, 1)} (the "
                             "sequence input's MinLength)")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{arg}[{i}]: the sequence holds NaN or Inf; allowed: finite values")
    return seqs


def _per_step_list(Y, lengths: np.ndarray, classifier: bool, arg: str) -> list[np.ndarray]:
    """Per-step responses as a list of (R, Tᵢ) host arrays (labels: (1, Tᵢ) of labels), Tᵢ its sequence's length."""
    n = len(lengths)
    if hasattr(Y, "shape") and hasattr(Y, "dtype") and Y.dtype.kind != "O":
        Y = to_host(Y) if get_array_module(Y) is not np else Y
        if classifier and Y.ndim == 2 or not classifier and Y.ndim == 3:
            Y = list(Y)                   # (N, T) labels or (N, R, T) responses: one length for all
        else:
            want = "(T_i,) labels or an (N, T) array" if classifier else "(R, T_i) arrays or an (N, R, T) array"
            raise ValueError(f"{arg}: got an array of shape {tuple(Y.shape)}; allowed per time step: a list of "
                             f"{want}")
    if not isinstance(Y, (list, tuple, np.ndarray)):
        raise TypeError(f"{arg}: got {type(Y).__name__}; allowed per time step: a list of one response array per "
                        "sequence")
    if len(Y) != n:
        raise ValueError(f"{arg}: got {len(Y)} response sequences for {n} sequences; allowed: one per sequence")
    out = []
    for i, y in enumerate(Y):
        a = to_host(y) if hasattr(y, "shape") and get_array_module(y) is not np else np.asarray(y)
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2 or (classifier and a.shape[0] != 1):
            want = "(T_i,) or (1, T_i) labels" if classifier else "(R, T_i) or (T_i,) responses"
            raise ValueError(f"{arg}[{i}]: got shape {tuple(a.shape)}; allowed: {want}")
        if a.shape[1] != lengths[i]:
            raise ValueError(f"{arg}[{i}]: got {a.shape[1]} time steps of responses for a sequence of {lengths[i]}; "
                             "allowed: one response per time step")
        out.append(a)
    return out


class SequenceSource:
    """Sequences for the engine: host mini-batches ``(x (B, C, T), t, mask (B, T))`` padded by the sequence rules.

    Made by a dialect from the user's data (structure checked); the engine then calls :meth:`setup` (the
    network's channels and MinLength, the sequence options) and :meth:`prepare` (targets encoded).

    ``X`` is a list of (C, Tᵢ) arrays, an (N, C, T) array, or a mini-batch source whose batches yield either with
    their responses.  ``Y`` per sequence: labels (N,) or responses (N,) / (N, R); per time step (``per_step``):
    a list of (Tᵢ,) labels or (R, Tᵢ) arrays, or (N, T) / (N, R, T) arrays.  Targets ``t``: class indices (B,) or
    (B, T) int64 (0 at padded steps), responses (B, R) or (B, R, T) float64 (0 at padded steps).  Padding is
    :func:`minidl.sequences.pad_batch` (the one helper shared with prediction).
    """

    def __init__(self, X, Y=None, arg_x: str = "X", arg_y: str = "Y"):
        self.arg_x, self.arg_y = arg_x, arg_y
        self.classifier: bool | None = None
        self.channels: int | None = None
        self.min_length = 1
        self.length: str | int = "longest"
        self.value, self.direction = 0.0, "right"
        self.per_step: bool | None = None       # set by prepare() once the network says
        self.classes: np.ndarray | None = None
        self.n_responses: int | None = None
        self.stream = X if is_source(X) else None
        if self.stream is not None:
            if Y is not None:
                raise TypeError(f"{arg_y}: got {type(Y).__name__} together with a mini-batch source in {arg_x}; "
                                "a source yields its own responses, give None")
            self.seqs, self.Y = None, None
            self.n = len(X)
            if self.n < 1:
                raise ValueError(f"{arg_x}: the mini-batch source is empty; allowed: at least one sequence")
            self._lengths: np.ndarray | None = None
        else:
            if Y is None:
                raise TypeError(f"{arg_y}: got None; allowed: the responses of the sequences in {arg_x}")
            self.seqs = check_sequences(X, None, 1, arg_x)
            self.n = len(self.seqs)
            self._lengths = np.array([s.shape[1] for s in self.seqs], dtype=np.int64)
            self.Y = Y
        self._t: Any = None                       # encoded targets (arrays): (N,) / (N, R) or a list per sequence

    def setup(self, classifier: bool, channels: int, min_length: int = 1, length: str | int = "longest",
              value: float = 0.0, direction: str = "right") -> None:
        """The network's and the options' side: C channels, MinLength, SequenceLength, padding value/direction."""
        self.classifier, self.channels, self.min_length = classifier, channels, min_length
        self.length, self.value, self.direction = length, value, direction
        if self.seqs is not None:
            check_sequences(self.seqs, channels, min_length, self.arg_x)

    def __len__(self) -> int:
        return self.n

    # ------------------------------------------------------------------ set-up
    def labels(self) -> np.ndarray:
        """Every class label of the data (per step: all steps of all sequences), for the class list."""
        if self.stream is not None:
            given = getattr(self.stream, "classes", None)
            if given is not None:
                return check_labels(given, None, f"{self.arg_x}.classes")
            seen = [self._flat_labels(Y, len(X), f"{self.arg_y} (mini-batch {k})")
                    for k, (X, Y) in enumerate(self.stream.batches(np.arange(self.n, dtype=np.int64), 1024))]
            return np.concatenate(seen) if seen else np.zeros(0)
        return self._flat_labels(self.Y, self.n, self.arg_y)

    def _flat_labels(self, Y, n: int, arg: str) -> np.ndarray:
        if isinstance(Y, (list, tuple)) and Y and any(hasattr(y, "__len__") and not isinstance(y, str) for y in Y):
            parts = [check_labels(np.asarray(y).reshape(-1), None, f"{arg}[{i}]") for i, y in enumerate(Y)]
            return np.concatenate(parts)
        if hasattr(Y, "ndim") and Y.ndim == 2 and Y.shape[1] != 1:   # (N, T) labels
            return check_labels(np.asarray(Y).reshape(-1), None, arg)
        return check_labels(Y, n, arg)

    def prepare(self, per_step: bool, classes: np.ndarray | None, n_responses: int | None) -> None:
        """Encode the targets once the network is known: per sequence or per time step, its classes, its R."""
        self.per_step, self.classes, self.n_responses = per_step, classes, n_responses
        if self.stream is None:
            self._t = self._targets(self.Y, self._lengths, self.arg_y)

    def lengths(self) -> np.ndarray:
        """Tᵢ of every sequence (N,) int64 (a streamed source: one pass over it, the first time)."""
        if self._lengths is None:
            lengths = []
            for k, (X, _) in enumerate(self.stream.batches(np.arange(self.n, dtype=np.int64), 1024)):
                seqs = check_sequences(X, self.channels, self.min_length, f"{self.arg_x} (mini-batch {k})")
                lengths.extend(s.shape[1] for s in seqs)
            self._lengths = np.array(lengths, dtype=np.int64)
        return self._lengths

    def sequences(self, order: np.ndarray, batch_size: int):
        """The sequences of ``order``, unpadded, as lists of up to ``batch_size`` (C, Tᵢ) arrays (statistics)."""
        if self.stream is None:
            for i in range(0, len(order), batch_size):
                yield [self.seqs[int(j)] for j in order[i:i + batch_size]]
            return
        for k, (X, _) in enumerate(self.stream.batches(order, batch_size)):
            yield check_sequences(X, self.channels, self.min_length, f"{self.arg_x} (mini-batch {k})")

    def _targets(self, Y, lengths: np.ndarray, arg: str):
        n = len(lengths)
        if self.per_step:
            seqs = _per_step_list(Y, lengths, self.classifier, arg)
            out = []
            for i, a in enumerate(seqs):
                if self.classifier:
                    out.append(encode_labels(check_labels(a[0], None, f"{arg}[{i}]"), self.classes, f"{arg}[{i}]"))
                else:
                    r = check_responses(a, None, f"{arg}[{i}]")
                    if self.n_responses is not None and r.shape[0] != self.n_responses:
                        raise ValueError(f"{arg}[{i}]: got {r.shape[0]} responses per time step; the network "
                                         f"outputs {self.n_responses}")
                    out.append(r)
            return out
        if isinstance(Y, (list, tuple)) and Y and hasattr(Y[0], "shape") and np.ndim(Y[0]) >= 1 and \
                np.size(Y[0]) > 1:
            raise ValueError(f"{arg}: got a response sequence per observation, but the network outputs one "
                             "response per sequence (its recurrent layer's OutputMode is 'last'); allowed: "
                             f"{'(N,) labels' if self.classifier else '(N,) or (N, R) responses'}")
        if self.classifier:
            return encode_labels(check_labels(Y, n, arg), self.classes, arg)
        T = check_responses(Y, n, arg).reshape(n, -1)
        if self.n_responses is not None and T.shape[1] != self.n_responses:
            raise ValueError(f"{arg}: got {T.shape[1]} responses per observation; the network outputs "
                             f"{self.n_responses}")
        return T

    # ------------------------------------------------------------------ batches
    def batches(self, order: np.ndarray, batch_size: int, length=None):
        """Host ``(x (B, C, T), t, mask (B, T))`` for ``order`` in chunks of ``batch_size``; ``length`` overrides
        the source's SequenceLength (validation of an integer S: whole sequences padded to a multiple of S)."""
        length = self.length if length is None else length
        if self.stream is None:
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                yield self._pad([self.seqs[int(j)] for j in idx], self._pick(idx), length)
            return
        for k, (X, Y) in enumerate(self.stream.batches(order, batch_size)):
            seqs = check_sequences(X, self.channels, self.min_length, f"{self.arg_x} (mini-batch {k})")
            expected = len(order[k * batch_size:(k + 1) * batch_size])
            if len(seqs) != expected:
                raise ValueError(f"{self.arg_x} (mini-batch {k}): the source yielded {len(seqs)} sequences; the "
                                 f"order asked for {expected}")
            lengths = np.array([s.shape[1] for s in seqs], dtype=np.int64)
            yield self._pad(seqs, self._targets(Y, lengths, f"{self.arg_y} (mini-batch {k})"), length)

    def _pick(self, idx: np.ndarray):
        if self.per_step:
            return [self._t[int(j)] for j in idx]
        return self._t[idx]

    def _pad(self, seqs: list[np.ndarray], t, length):
        from minidl.sequences import pad_batch, pad_targets

        x, mask, _ = pad_batch(seqs, length, self.value, self.direction)
        mask = np.asarray(mask, dtype=np.float64)
        if self.per_step:
            t = pad_targets(t, length, self.direction)             # the same padding/truncation as x (0 at pads)
        return np.asarray(x), t, mask


def as_sequence_source(X, Y=None, arg_x: str = "X", arg_y: str = "Y") -> SequenceSource:
    """Sequence data for a sequence network: a :class:`SequenceSource` as it is, else one made from (X, Y) or from
    a mini-batch source yielding lists of (C, Tᵢ) arrays (or (B, C, T) arrays) with their responses."""
    if isinstance(X, SequenceSource):
        if Y is not None:
            raise TypeError(f"{arg_y}: got {type(Y).__name__} together with a SequenceSource in {arg_x}; give None")
        return X
    if isinstance(X, ArraySource):            # an (N, C, T) array already wrapped
        return SequenceSource(X.X, X.Y, arg_x, arg_y)
    return SequenceSource(X, Y, arg_x, arg_y)


def sequence_chunk_counts(lengths: np.ndarray, order: np.ndarray, batch_size: int, length) -> np.ndarray:
    """Iterations of each mini-batch of ``order``: ceil(Tmax/S) for an integer SequenceLength S (the mini-batch
    padded to the nearest multiple of S ≥ its longest sequence, one iteration per chunk of S), else 1 each.

    >>> sequence_chunk_counts(np.array([3, 9, 4, 5]), np.array([0, 1, 2, 3]), 2, 4).tolist()
    [3, 2]
    """
    n_batches = -(-len(order) // batch_size)
    if not isinstance(length, int) or isinstance(length, bool):
        return np.ones(n_batches, dtype=np.int64)
    L = lengths[order]
    pad = n_batches * batch_size - len(L)
    longest = np.concatenate([L, np.zeros(pad, dtype=L.dtype)]).reshape(n_batches, batch_size).max(axis=1)
    return -(-longest // length)
