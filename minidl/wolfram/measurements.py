"""Wolfram's measurements that need each example's output: Precision, Recall, F1Score, ConfusionMatrix (and its plot),
AreaUnderROCCurve, CohenKappa for classifiers; R2 and MeanDeviation for regression; custom ``{"Measurement": f}``.

They are computed on the host from the outputs and targets the engine hands over when
``EngineConfig.record_outputs`` is set (``state.batch_outputs`` / ``batch_targets`` at each batch,
``validation_outputs`` / ``validation_targets`` at each validation), vectorized over the examples
(docs/wolfram-layers.md, "Measurements"):

- **batch** values from the batch's outputs; **round** values from all outputs of the round pooled (a confusion
  matrix summed over the round's batches, not a mean of per-batch precisions, which are undefined for a batch
  without a class); **validation** values over the whole validation set;
- per-class measurements (Precision, Recall, F1Score, AreaUnderROCCurve) are dicts {class label: value} in the
  order of the net's classes, as Wolfram's associations; a ratio 0/0 (no example of a class, or none predicted)
  is NaN;
- ConfusionMatrix: a (K, K) int64 array, rows the true class, columns the predicted class (argmax);
  ConfusionMatrixPlot: a :class:`ConfusionMatrixPlot` (``.figure()`` draws it with matplotlib);
- AreaUnderROCCurve of class k: one class against the rest, scored by the probability of k, ties counted half
  (the Mann–Whitney statistic); "AUC" is accepted for it;
- CohenKappa κ = (p_o − p_e)/(1 − p_e), p_o the accuracy, p_e = Σₖ rowₖ·colₖ / N² from the confusion matrix;
- R2 = 1 − Σ(y − t)² / Σ(t − t̄)² over every element, t̄ the mean of each response over the examples;
  MeanDeviation = the mean of |y − t| over every element;
- a custom measurement ``{"Measurement": f, "Key": name}`` calls ``f({"Output": outputs, "Target": targets})``
  (outputs as the net gives them, targets as the data gave them: labels for a classifier) and must return a
  number; its round value is the mean of the round's batch values (Wolfram's default aggregation, the mean),
  its validation value f over the whole validation set.  ``"Key"`` names it (default: f's ``__name__``).

>>> import numpy as np
>>> y = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
>>> t = np.array([0, 0, 1, 1])
>>> confusion_matrix(y, t, 2).tolist()            # rows: true class; columns: predicted
[[1, 1], [1, 1]]
>>> area_under_roc(y, t, 2).tolist()   # class 0 by p0: 0.9, 0.4 against 0.3, 0.8 wins 3 of 4 pairs
[0.75, 0.75]
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from minidl.errors import NotSupportedYetError
from minidl.wolfram import options as opt

__all__ = ["OUTPUT_MEASUREMENTS", "ALIASES", "ConfusionMatrixPlot", "Measurer", "parse", "check_criterion",
           "confusion_matrix", "area_under_roc", "from_confusion", "regression_values", "needs_outputs", "NOT_SCALAR"]

#: Measurements computed from the outputs: name -> the kind of net they apply to.
OUTPUT_MEASUREMENTS = {"Precision": "classification", "Recall": "classification", "F1Score": "classification",
                       "ConfusionMatrix": "classification", "ConfusionMatrixPlot": "classification",
                       "AreaUnderROCCurve": "classification", "CohenKappa": "classification",
                       "R2": "regression", "MeanDeviation": "regression"}
#: Other spellings accepted for them.
ALIASES = {"AUC": "AreaUnderROCCurve", "FScore": "F1Score"}
_PER_CLASS = ("Precision", "Recall", "F1Score", "AreaUnderROCCurve")
#: Measurements whose value is not one number (FinalPlots and the Print report leave them out).
NOT_SCALAR = _PER_CLASS + ("ConfusionMatrix", "ConfusionMatrixPlot")


# ================================================================================================ the math
def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b elementwise, NaN where b = 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b != 0)
    return out


def confusion_matrix(y: np.ndarray, t: np.ndarray, k: int) -> np.ndarray:
    """C[i, j] = the number of examples of true class i predicted as j (argmax of y).  y: (N, K), t: (N,) indices."""
    pred = np.argmax(y, axis=1)
    return np.bincount(np.asarray(t, dtype=np.int64) * k + pred, minlength=k * k).reshape(k, k)


def from_confusion(c: np.ndarray) -> dict[str, Any]:
    """Precision, Recall, F1Score (arrays (K,)), CohenKappa (float) from a confusion matrix (K, K)."""
    tp, true, predicted = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    n = c.sum()
    p_o = _ratio(tp.sum(), n)                                      # accuracy
    p_e = _ratio((true * predicted).sum(), float(n) ** 2)         # agreement by chance
    return {"Precision": _ratio(tp, predicted), "Recall": _ratio(tp, true),
            "F1Score": _ratio(2 * tp, true + predicted),          # 2PR/(P + R) = 2·tp/(true + predicted)
            "CohenKappa": float(_ratio(p_o - p_e, 1 - p_e)) if p_e != 1 else float("nan")}


def _average_ranks(v: np.ndarray) -> np.ndarray:
    """1-based ranks of v with ties given their average rank."""
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def area_under_roc(y: np.ndarray, t: np.ndarray, k: int) -> np.ndarray:
    """AUC of each class against the rest: (R₊ − n₊(n₊ + 1)/2)/(n₊·n₋), R₊ the rank sum of the class's examples
    scored by y[:, class] (ties half); NaN when a class has no example or every example.  Returns (K,)."""
    out = np.full(k, np.nan)
    t = np.asarray(t, dtype=np.int64)
    for c in range(k):                                             # over classes; each class vectorized over N
        pos = t == c
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos and n_neg:
            ranks = _average_ranks(y[:, c])
            out[c] = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return out


def regression_values(y: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """R2 and MeanDeviation over every element.  y, t: (N, ...) alike (t reshaped to y)."""
    y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    t2 = np.asarray(t, dtype=np.float64).reshape(y2.shape)
    d = y2 - t2
    ss_tot = ((t2 - t2.mean(axis=0)) ** 2).sum()
    return {"R2": float(1.0 - _ratio((d * d).sum(), ss_tot)), "MeanDeviation": float(np.abs(d).mean())}


class ConfusionMatrixPlot:
    """Wolfram's ConfusionMatrixPlot as a value: the matrix and the class labels; ``figure()`` draws it."""

    def __init__(self, matrix: np.ndarray, classes):
        self.matrix, self.classes = np.asarray(matrix), list(np.asarray(classes).tolist())

    def figure(self):
        """A matplotlib Figure: counts as a heat map, true class down, predicted class across, counts in cells."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(1.2 + 0.6 * len(self.classes), 1.0 + 0.6 * len(self.classes)))
        ax = fig.subplots()
        ax.imshow(self.matrix, cmap="Blues")
        ticks = range(len(self.classes))
        ax.set_xticks(ticks, [str(c) for c in self.classes])
        ax.set_yticks(ticks, [str(c) for c in self.classes])
        ax.set_xlabel("predicted class")
        ax.set_ylabel("actual class")
        top = self.matrix.max() if self.matrix.size else 0
        for (i, j), v in np.ndenumerate(self.matrix):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
        return fig

    def __repr__(self) -> str:
        return f"ConfusionMatrixPlot({self.matrix.tolist()}, classes={self.classes})"


# ================================================================================================ the options
def parse(spec, is_classifier: bool, arg: str) -> tuple[list[str], list[dict[str, Any]]]:
    """TrainingProgressMeasurements → (the names to track, in order, Loss first; the custom specs).

    Names go through :func:`minidl.wolfram.options.measurements` (aliases resolved first); each custom spec is
    ``{"Measurement": f, "Key": name}`` with f callable; its key is added to the names.
    """
    if opt.is_automatic(spec):
        return opt.measurements(spec, is_classifier, arg), []
    items = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    customs = [_custom(i, arg) for i in items if isinstance(i, Mapping)]
    named = [ALIASES.get(i, i) if isinstance(i, str) else i for i in items if not isinstance(i, Mapping)]
    names = opt.measurements(named, is_classifier, arg) if named else ["Loss"]
    for c in customs:
        if c["Key"] in names:
            raise ValueError(f"{arg}: a custom measurement's Key {c['Key']!r} repeats a measurement name")
        names.append(c["Key"])
    return names, customs


def _custom(item: Mapping, arg: str) -> dict[str, Any]:
    keys = set(item)
    if "Measurement" not in keys or keys - {"Measurement", "Key"}:
        raise ValueError(f"{arg}: got a custom measurement with keys {sorted(map(str, keys))}; allowed: "
                         "{'Measurement': f, 'Key': name} (Key optional)")
    f = item["Measurement"]
    if not callable(f):
        raise TypeError(f"{arg} 'Measurement': got {type(f).__name__}; allowed: a function f(batch) of the dict "
                        "{'Output': outputs, 'Target': targets} returning a number")
    key = item.get("Key", getattr(f, "__name__", None))
    if not isinstance(key, str) or not key or key == "<lambda>":
        raise ValueError(f"{arg}: a custom measurement needs 'Key': a name (got {key!r})")
    return {"Measurement": f, "Key": key}


def check_criterion(criterion: dict[str, Any] | None, arg: str) -> None:
    """TrainingStoppingCriterion on an output measurement is not built (it needs per-example outputs at every
    check, and the direction of improvement per measurement)."""
    if criterion is not None and criterion["Criterion"] in OUTPUT_MEASUREMENTS:
        raise NotSupportedYetError(f"{arg} 'Criterion': got {criterion['Criterion']!r}; not supported yet as a "
                                   "stopping criterion (built: Loss, ErrorRate, Accuracy, MeanSquare, "
                                   "RootMeanSquare)")


def needs_outputs(names: list[str], customs: list) -> bool:
    """Whether the engine must hand over outputs (EngineConfig.record_outputs)."""
    return bool(customs) or any(n in OUTPUT_MEASUREMENTS for n in names)


# ================================================================================================ the observer's part
class Measurer:
    """Computes the output measurements of ``names`` (and the customs) for batches, rounds and validations."""

    def __init__(self, names: list[str], customs: list[dict[str, Any]], classes, is_classifier: bool):
        self.names = [n for n in names if n in OUTPUT_MEASUREMENTS]
        self.customs = customs
        self.classes = None if classes is None else np.asarray(classes)
        self.is_classifier = is_classifier
        self._round: list[tuple[np.ndarray, np.ndarray]] = []
        self._round_custom: list[dict[str, float]] = []

    def _values(self, y, t) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.names:
            return out
        if self.is_classifier:
            k = len(self.classes)
            c = confusion_matrix(y, t, k)
            derived = from_confusion(c)
            derived["ConfusionMatrix"] = c
            derived["ConfusionMatrixPlot"] = ConfusionMatrixPlot(c, self.classes)
            if "AreaUnderROCCurve" in self.names:
                derived["AreaUnderROCCurve"] = area_under_roc(y, t, k)
        else:
            derived = regression_values(y, t)
        for n in self.names:
            v = derived[n]
            out[n] = dict(zip(self.classes.tolist(), v.tolist())) if n in _PER_CLASS else v
        return out

    def _custom_values(self, y, t) -> dict[str, float]:
        if not self.customs:
            return {}
        target = self.classes[np.asarray(t, dtype=np.int64)] if self.is_classifier else t
        out = {}
        for c in self.customs:
            v = c["Measurement"]({"Output": y, "Target": target})
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"TrainingProgressMeasurements {c['Key']!r}: f returned {v!r}; allowed: a number")
            out[c["Key"]] = float(v)
        return out

    def batch(self, y, t) -> dict[str, Any]:
        """Values of one batch (and pooled for the round).  y: (B, ...) outputs, t: (B,) indices or (B, R)."""
        self._round.append((y, t))
        custom = self._custom_values(y, t)
        self._round_custom.append(custom)
        return {**self._values(y, t), **custom}

    def round(self) -> dict[str, Any]:
        """Values of the round's pooled outputs (custom ones: the mean of the batch values); starts a new round."""
        if not self._round:
            return {}
        y = np.concatenate([a for a, _ in self._round])
        t = np.concatenate([b for _, b in self._round])
        custom = {c["Key"]: float(np.mean([b[c["Key"]] for b in self._round_custom])) for c in self.customs}
        self._round, self._round_custom = [], []
        return {**self._values(y, t), **custom}

    def validation(self, y, t) -> dict[str, Any]:
        """Values over the whole validation set."""
        return {**self._values(y, t), **self._custom_values(y, t)}

