"""NetTrain's data forms (docs/semantics-wolfram.md#1-calling-forms-and-data) as the engine's mini-batch sources.

=====================================================  =================================================
Wolfram                                                minidl
=====================================================  =================================================
``{in1 -> out1, in2 -> out2, ...}``                    a list of (input, output) pairs
``{in1, in2, ...} -> {out1, out2, ...}``               a 2-tuple (inputs, outputs)
``<|"Input" -> {...}, "Output" -> {...}|>``            a mapping {"Input": inputs, "Output": outputs}
``{<|"Input" -> in1, "Output" -> out1|>, ...}``        a list of such mappings, one per example
``"MNIST"``                                            a name of :data:`DATASETS` ("SyntheticDigits", ...)
``f`` (called with <|"BatchSize" -> n, "Round" -> r|>) a callable f(spec) with spec = {"BatchSize": n,
                                                       "Round": r}, returning a batch in any form above
``{f, "RoundLength" -> n}``                            (f, {"RoundLength": n})
``Scaled[0.2]`` (ValidationSet)                        Scaled(0.2)
=====================================================  =================================================

A list always means examples (pairs); a tuple of two means (inputs, outputs).  Inputs become an (N, F) or
(N, C, H, W) array (scalar inputs (N,) become (N, 1)); outputs are class labels (N,) for cross-entropy or numbers
(N,) / (N, R) for a regression loss.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from minidl.backend import to_host
from minidl.training.data import MiniBatchSource, is_source
from minidl.wolfram import datasets as _remote

__all__ = ["Scaled", "DATASETS", "named_dataset", "as_arrays", "GeneratorSource", "is_generator_spec",
           "split_scaled", "OUTPUT_PORTS", "as_sequences", "port_arrays"]

#: Accepted names of the output port in a mapping of ports (Wolfram: the net's output, or a loss layer's Target).
OUTPUT_PORTS = ("Output", "Target")


@dataclass(frozen=True)
class Scaled:
    """Wolfram ``Scaled[frac]``: the fraction ``frac`` in (0, 1) of the training data, held out for validation."""

    frac: float

    def __post_init__(self):
        f = self.frac
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0 < f < 1:
            raise ValueError(f"Scaled: got {f!r}; allowed: a fraction strictly between 0 and 1")


# ------------------------------------------------------------------------------------------------ named data sets
def _digits(which: str):
    from minidl import datasets

    X, labels, _ = datasets.digit_train_data() if which == "train" else datasets.digit_test_data()
    return X, labels


def _digit_angles(which: str):
    from minidl import datasets

    X, _, angles = datasets.digit_train_data() if which == "train" else datasets.digit_test_data()
    return X, angles


#: Embedded named data sets: name -> (loader(which) -> (X, Y), one-line description).  "TestData" is the validation
#: set of ``ValidationSet="Automatic"``, as Wolfram's named sets do.
DATASETS: dict[str, tuple[Callable[[str], tuple[np.ndarray, np.ndarray]], str]] = {
    "SyntheticDigits": (_digits, "5000 synthetic 28x28 digit images (N, 1, 28, 28) -> labels 0-9; TestData: "
                                 "5000 more (minidl.datasets.digit_train_data / digit_test_data)"),
    "SyntheticDigitAngles": (_digit_angles, "the same images -> their rotation angle in degrees (regression)"),
}
# downloaded once into the cache folder and checksummed (minidl.wolfram.datasets)
DATASETS.update({name: (functools.partial(_remote.load, name), ds.description) for name, ds in _remote.REMOTE.items()})


def named_dataset(name: str, which: str = "train", arg: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) of an embedded named data set: ``which`` "train" (TrainingData) or "test" (TestData)."""
    if name not in DATASETS:
        hint = ""
        if name.lower() in ("cifar-10", "cifar-100", "moviereview"):
            hint = (f" ({name!r} is not built: read MNIST-format files with minidl.datasets.load_mnist(folder) "
                    "and pass the arrays)")
        raise ValueError(f"{arg}: unknown data set name {name!r}{hint}; known names: {', '.join(DATASETS)}")
    return DATASETS[name][0](which)


# ------------------------------------------------------------------------------------------------ arrays
def _stack(values, arg: str) -> np.ndarray:
    if hasattr(values, "shape") and hasattr(values, "dtype"):
        return np.asarray(to_host(values))
    if isinstance(values, (list, tuple)):
        if not values:
            raise ValueError(f"{arg}: got no examples; allowed: at least one")
        try:
            return np.stack([np.asarray(to_host(v)) if hasattr(v, "shape") else np.asarray(v) for v in values])
        except ValueError as e:
            raise ValueError(f"{arg}: the examples do not all have the same shape ({e})") from None
    raise TypeError(f"{arg}: got {type(values).__name__}; allowed: an array or a list of examples")


def _inputs(X: np.ndarray, arg: str) -> np.ndarray:
    if X.ndim == 1:
        X = X[:, None]  # scalar inputs: one feature each
    if X.dtype.kind not in "iufb":
        raise TypeError(f"{arg}: got inputs of dtype {X.dtype}; allowed: numbers (vectors (N, F) or images "
                        "(N, C, H, W))")
    return X


def _pairs(data: list, arg: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data[0], Mapping):  # {<|"Input" -> x1, "Output" -> y1|>, ...}: one mapping per example
        columns: dict[str, list] = {k: [] for k in data[0]}
        for i, ex in enumerate(data):
            if not isinstance(ex, Mapping) or set(ex) != set(columns):
                raise ValueError(f"{arg}[{i}]: got {type(ex).__name__}; allowed: a mapping with the ports "
                                 f"{list(columns)} like the first example")
            for k in columns:
                columns[k].append(ex[k])
        return _ports(columns, arg)
    ins, outs = [], []
    for i, ex in enumerate(data):
        if not isinstance(ex, (tuple, list)) or len(ex) != 2:
            raise TypeError(f"{arg}[{i}]: got {type(ex).__name__}; allowed: an (input, output) pair (a list of "
                            "pairs is Wolfram's {input -> output, ...})")
        ins.append(ex[0])
        outs.append(ex[1])
    return _inputs(_stack(ins, f"{arg} inputs"), f"{arg} inputs"), _stack(outs, f"{arg} outputs")


def _ports(data: Mapping, arg: str) -> tuple[np.ndarray, np.ndarray]:
    keys = list(data)
    out_keys = [k for k in keys if k in OUTPUT_PORTS]
    if "Input" not in keys or len(out_keys) != 1 or len(keys) != 2:
        raise ValueError(f"{arg}: got ports {keys}; allowed: 'Input' and one of {', '.join(map(repr, OUTPUT_PORTS))}"
                         " (a single-input, single-output net)")
    X = _inputs(_stack(data["Input"], f"{arg}['Input']"), f"{arg}['Input']")
    Y = _stack(data[out_keys[0]], f"{arg}[{out_keys[0]!r}]")
    return X, Y


def as_arrays(data: Any, arg: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) host arrays from pairs, (inputs, outputs), a mapping of ports or a list of per-example mappings.

    >>> X, Y = as_arrays([([0.0, 1.0], "a"), ([2.0, 3.0], "b")])
    >>> X.shape, Y.tolist()
    ((2, 2), ['a', 'b'])
    >>> as_arrays(([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]))[0].shape   # scalar inputs
    (3, 1)
    """
    if isinstance(data, Mapping):
        X, Y = _ports(data, arg)
    elif isinstance(data, tuple) and len(data) == 2 and not callable(data[0]):
        X = _inputs(_stack(data[0], f"{arg}[0] (inputs)"), f"{arg}[0] (inputs)")
        Y = _stack(data[1], f"{arg}[1] (outputs)")
    elif isinstance(data, list):
        if not data:
            raise ValueError(f"{arg}: got an empty list; allowed: at least one example")
        X, Y = _pairs(data, arg)
    else:
        raise TypeError(f"{arg}: got {type(data).__name__}; allowed: a list of (input, output) pairs, a tuple "
                        "(inputs, outputs), a mapping {'Input': ..., 'Output': ...}, a data set name, a generator "
                        "function f(spec) or (f, {'RoundLength': n}), or a mini-batch source")
    if len(X) != len(Y):
        raise ValueError(f"{arg}: got {len(X)} inputs and {len(Y)} outputs; allowed: one output per input")
    return X, Y


def split_scaled(n: int, frac: float, seed: int, arg: str = "ValidationSet") -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) sorted index arrays: round(frac·n) examples (at least 1, at most n − 1) held out at
    random.  The draw comes from its own generator seeded by (seed, 1), apart from the engine's stream."""
    if n < 2:
        raise ValueError(f"{arg}: Scaled({frac}) needs at least 2 training examples; got {n}")
    m = min(max(int(round(frac * n)), 1), n - 1)
    perm = np.random.default_rng([seed, 1]).permutation(n)
    return np.sort(perm[m:]), np.sort(perm[:m])


# ------------------------------------------------------------------------------------------------ generators
def is_generator_spec(data: Any) -> bool:
    """True for f or (f, {"RoundLength": n}) with f callable (and not a mini-batch source)."""
    if isinstance(data, tuple) and len(data) == 2 and callable(data[0]) and isinstance(data[1], Mapping):
        return True
    return callable(data) and not is_source(data) and not isinstance(data, type)


class GeneratorSource(MiniBatchSource):
    """A generator function as a mini-batch source: each batch is ``f({"BatchSize": n, "Round": r})``.

    A round is ``ceil(RoundLength / BatchSize)`` batches (Wolfram: f applied enough times for about RoundLength
    examples; one batch per round by default).  The indices the engine asks for are ignored: f makes the data.
    Until the engine starts the first round (``start_epoch``: shape and class checks, input-normalization
    statistics) the first batch, made when the source is created, is served again; from then on every batch is a
    fresh call of f with the round the engine says it serves.
    """

    def __init__(self, f: Callable[[dict], Any], batch_size: int, round_length: int | None = None,
                 arg: str = "data"):
        self.f, self.batch_size, self.arg = f, int(batch_size), arg
        self.batches_per_round = 1 if round_length is None else max(1, math.ceil(round_length / self.batch_size))
        self.n = self.batches_per_round * self.batch_size
        self.round = 0     # the round being served (0: before training)
        self.calls = 0
        self.first = self.call(self.batch_size, 1)
        self.classes = None  # set by the caller for classification (the engine reads it instead of a pass over f)

    def call(self, batch_size: int, round_number: int) -> tuple[np.ndarray, np.ndarray]:
        """One batch from f, as host arrays (X, Y)."""
        self.calls += 1
        out = self.f({"BatchSize": int(batch_size), "Round": int(round_number)})
        X, Y = as_arrays(out, f"{self.arg} (the batch f returned for round {round_number})")
        return X, Y

    def start_epoch(self, epoch: int) -> None:
        """The engine starts round ``epoch``: from now on batches are fresh calls of f with that round."""
        self.round = int(epoch)

    def __len__(self) -> int:
        return self.n

    def batches(self, order: np.ndarray, batch_size: int):
        for i in range(0, len(order), batch_size):
            m = min(batch_size, len(order) - i)
            if self.round == 0:
                reps = -(-m // len(self.first[0]))
                yield tuple(np.concatenate([a] * reps)[:m] if reps > 1 else a[:m] for a in self.first)
            else:
                yield self.call(m, self.round)

    def __repr__(self) -> str:
        return (f"GeneratorSource(f={getattr(self.f, '__qualname__', self.f)!r}, batch_size={self.batch_size}, "
                f"batches_per_round={self.batches_per_round})")


def generator_parts(data: Any, arg: str) -> tuple[Callable, int | None]:
    """(f, round length or None) of a generator spec."""
    if isinstance(data, tuple):
        f, opts = data
        unknown = [k for k in opts if k != "RoundLength"]
        if unknown:
            raise ValueError(f"{arg}: unknown generator option {unknown[0]!r}; allowed: 'RoundLength'")
        n = opts.get("RoundLength")
        if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
            raise ValueError(f"{arg}: RoundLength got {n!r}; allowed: a positive integer (examples per round)")
        return f, None if n is None else int(n)
    return data, None


# ------------------------------------------------------------------------------------------------ sequences
def _columns(data: Any, arg: str) -> tuple[list, list]:
    """(inputs, outputs) as given, unstacked, from pairs, (inputs, outputs), a mapping of ports or per-example
    mappings (the forms of :func:`as_arrays`)."""
    if isinstance(data, Mapping):
        keys = list(data)
        out_keys = [k for k in keys if k in OUTPUT_PORTS]
        if "Input" not in keys or len(out_keys) != 1 or len(keys) != 2:
            raise ValueError(f"{arg}: got ports {keys}; allowed: 'Input' and one of "
                             f"{', '.join(map(repr, OUTPUT_PORTS))} (a single-input, single-output net)")
        return list(data["Input"]), list(data[out_keys[0]])
    if isinstance(data, tuple) and len(data) == 2 and not callable(data[0]):
        return list(data[0]), list(data[1])
    if isinstance(data, list) and data:
        if isinstance(data[0], Mapping):
            rows = [(ex.get("Input"), next((ex[k] for k in OUTPUT_PORTS if k in ex), None)) for ex in data]
        else:
            rows = data
        for i, ex in enumerate(rows):
            if not isinstance(ex, (tuple, list)) or len(ex) != 2 or ex[0] is None or ex[1] is None:
                raise TypeError(f"{arg}[{i}]: got {type(ex).__name__}; allowed: an (input, output) pair or a "
                                "mapping {'Input': ..., 'Output': ...}")
        return [ex[0] for ex in rows], [ex[1] for ex in rows]
    raise TypeError(f"{arg}: got {type(data).__name__}; allowed for sequences: a list of (sequence, output) pairs, "
                    "a tuple (sequences, outputs) or a mapping {'Input': sequences, 'Output': outputs}")


def as_sequences(data: Any, arg: str, per_step: bool, classifier: bool) -> tuple[list[np.ndarray], Any]:
    """Varying-length sequence data ("Varying" inputs) for the engine: each input a list of T vectors (T, C) (or T
    numbers: C = 1) becomes a (C, T) array; outputs per sequence (labels (N,), numbers (N,) / (N, R)) or, for a
    net whose output keeps the time axis (``per_step``), a list of T labels → (T,) or T vectors (T, R) → (R, T).

    >>> X, Y = as_sequences([([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], "a"), ([[1.0, 1.0]], "b")], "data", False, True)
    >>> [x.shape for x in X], Y.tolist()
    ([(2, 3), (2, 1)], ['a', 'b'])
    """
    ins, outs = _columns(data, arg)
    if not ins:
        raise ValueError(f"{arg}: got no examples; allowed: at least one")
    if len(ins) != len(outs):
        raise ValueError(f"{arg}: got {len(ins)} inputs and {len(outs)} outputs; allowed: one output per input")
    X = []
    for i, s in enumerate(ins):
        a = np.asarray(to_host(s)) if hasattr(s, "shape") else np.asarray(s)
        if a.ndim == 1:
            a = a[:, None]                              # a sequence of numbers: one channel
        if a.ndim != 2 or a.dtype.kind not in "iufb":
            raise ValueError(f"{arg}[{i}] (input): got an array of shape {a.shape} and dtype {a.dtype}; allowed: "
                             "a sequence of T vectors (T, C) or of T numbers")
        X.append(np.ascontiguousarray(a.T.astype(np.float64)))   # Wolfram's (T, C) → minidl's (C, T)
    if not per_step:
        return X, np.asarray([np.asarray(to_host(y)) if hasattr(y, "shape") else y for y in outs])
    Y = []
    for y in outs:
        a = np.asarray(to_host(y)) if hasattr(y, "shape") else np.asarray(y)
        if classifier:
            Y.append(a.reshape(-1))                     # T labels
        else:
            Y.append((a[:, None] if a.ndim == 1 else a).T)   # T numbers (1, T) or T vectors (T, R) → (R, T)
    return X, Y


# ------------------------------------------------------------------------------------------------ port data (graphs)
def port_arrays(data, ports: list[str], arg: str = "data") -> dict[str, np.ndarray]:
    """NetTrain data for a graph: ``{port: values}`` (Wolfram ``<|port1 -> {...}, port2 -> {...}|>``) or a list of
    ``{port: value}``, one per example, → ``{port: (N, ...) array}`` for each of ``ports`` (every one must be
    present, with the same N); other keys are an error naming the ports allowed.

    >>> port_arrays([{"Input": [1.0, 2.0], "Target": 3.0}, {"Input": [0.0, 1.0], "Target": 1.0}], ["Input", "Target"])
    {'Input': array([[1., 2.],
           [0., 1.]]), 'Target': array([3., 1.])}
    """
    if isinstance(data, (list, tuple)) and data and all(isinstance(r, Mapping) for r in data):
        keys = set(data[0])
        for i, row in enumerate(data):
            if set(row) != keys:
                raise ValueError(f"{arg}[{i}]: got ports {sorted(row)}; the first example has {sorted(keys)}")
        data = {k: [row[k] for row in data] for k in data[0]}
    if not isinstance(data, Mapping):
        raise TypeError(f"{arg}: got {type(data).__name__}; allowed for a net with ports {', '.join(ports)}: a dict "
                        "{port: values} or a list of {port: value}, one per example")
    extra = [k for k in data if k not in ports]
    missing = [p for p in ports if p not in data]
    if missing or extra:
        raise ValueError(f"{arg}: got ports {sorted(map(str, data))}; the net takes {', '.join(map(repr, ports))}"
                         + (f" (missing {missing})" if missing else "") + (f" (unknown {extra})" if extra else ""))
    out = {p: np.asarray(data[p]) for p in ports}
    n = {p: len(v) for p, v in out.items()}
    if len(set(n.values())) > 1:
        raise ValueError(f"{arg}: the ports have different numbers of examples: {n}")
    return out
