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
           "sorted_classes", "encode_labels", "PreparedSource", "prepare_source"]


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
    """A mini-batch source from arrays (X, Y) or a source (Y must then be None)."""
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
        return X, self._targets(Y, len(X), f"{self.arg_y} (mini-batch {k})")


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
