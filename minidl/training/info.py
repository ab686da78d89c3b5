"""The info record of a training run and the observer that builds it from the loop's events.

Per-iteration arrays hold NaN where a value was not computed (validation between validations); the arrays that do
not apply to the network (accuracy for regression, RMSE for classification) are None. Per-epoch aggregates (the
mean of the epoch's mini-batch values, as a Keras History has them) are kept beside them. The record doubles as the
audit log: loss, accuracy or RMSE, base rate and global gradient norm per iteration, exportable to CSV and JSON.
The names are neutral; a dialect passes its own field names (``fields``: MATLAB's ``info["TrainingLoss"]``).
"""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Any

import numpy as np

from minidl._files import atomic_write_text
from minidl.training.events import Observer, TrainingState

__all__ = ["TrainingInfo", "InfoRecorder"]

#: Per-iteration arrays, in audit-log column order.
SERIES = ("epoch", "time_since_start", "base_learn_rate", "training_loss", "training_accuracy", "training_rmse",
          "validation_loss", "validation_accuracy", "validation_rmse", "gradient_norm")
#: Scalars of the record.
SCALARS = ("final_validation_loss", "final_validation_accuracy", "final_validation_rmse",
           "output_network_iteration", "stop_reason", "stop_kind", "stopped_by", "elapsed_time",
           "iterations_per_epoch", "max_epochs", "is_classifier", "non_finite", "settings")
#: Per-epoch aggregates: the mean over the epoch's mini-batches, and the iteration that ended the epoch.
EPOCH_SERIES = ("epoch_training_loss", "epoch_training_accuracy", "epoch_training_rmse", "epoch_end_iteration")
_CLASSIFIER_ONLY = ("training_accuracy", "validation_accuracy", "final_validation_accuracy", "epoch_training_accuracy")
_REGRESSION_ONLY = ("training_rmse", "validation_rmse", "final_validation_rmse", "epoch_training_rmse")


def _applies(name: str, is_classifier: bool) -> bool:
    return not ((name in _CLASSIFIER_ONLY and not is_classifier) or (name in _REGRESSION_ONLY and is_classifier))


class TrainingInfo:
    """The record of one training run: per-iteration arrays, final validation values, stop reason, settings."""

    def __init__(self, series: dict[str, Any], scalars: dict[str, Any], fields: dict[str, str] | None = None):
        is_classifier = bool(scalars.get("is_classifier", True))
        self.fields = dict(fields or {})  # the dialect's field names -> attribute names
        n = len(series.get("training_loss", ()))
        for name in SERIES:
            if not _applies(name, is_classifier):
                setattr(self, name, None)
                continue
            dtype = np.int64 if name == "epoch" else np.float64
            values = series.get(name)
            arr = np.full(n, np.nan) if values is None else np.asarray(
                [np.nan if v is None else v for v in values], dtype=np.float64)
            setattr(self, name, arr.astype(dtype) if name == "epoch" else arr)
        for name in EPOCH_SERIES:
            values = series.get(name, ())
            setattr(self, name, None if not _applies(name, is_classifier) else np.asarray(
                values, dtype=np.int64 if name == "epoch_end_iteration" else np.float64))
        for name in SCALARS:
            value = scalars.get(name)
            if name.startswith("final_") and _applies(name, is_classifier):
                value = math.nan if value is None else float(value)
            elif name.startswith("final_"):
                value = None
            setattr(self, name, value)
        self.is_classifier = is_classifier
        self.settings = dict(self.settings or {})

    # -- sizes and names --
    @property
    def iterations(self) -> np.ndarray:
        """1-based iteration numbers, (n,)."""
        return np.arange(1, len(self.training_loss) + 1)

    def __len__(self) -> int:
        return len(self.training_loss)

    def series_names(self) -> tuple[str, ...]:
        """The per-iteration arrays that apply to this network, in audit-log order."""
        return tuple(n for n in SERIES if _applies(n, self.is_classifier))

    def __getitem__(self, key: str):
        """The dialect's field names (MATLAB: ``info["TrainingLoss"]``) or attribute names."""
        name = self.fields.get(key, key)
        known = name in SERIES or name in SCALARS or name in EPOCH_SERIES
        if not known or not _applies(name, self.is_classifier):
            raise KeyError(f"info has no field {key!r} for a {'classification' if self.is_classifier else 'regression'}"
                           f" network; fields: {', '.join(self.keys())}")
        return getattr(self, name)

    def keys(self) -> list[str]:
        """The field names that apply to this network (the dialect's, else the attribute names)."""
        if self.fields:
            return [k for k, v in self.fields.items() if _applies(v, self.is_classifier)]
        return [n for n in SERIES + EPOCH_SERIES + SCALARS if _applies(n, self.is_classifier)]

    def epochs(self) -> dict[str, np.ndarray]:
        """Per-epoch aggregates, a Keras-History-like view: ``{"loss": ..., "accuracy" | "rmse": ...,
        "end_iteration": ...}``, one value per completed epoch (the mean over the epoch's mini-batches)."""
        out = {"loss": self.epoch_training_loss}
        if self.is_classifier:
            out["accuracy"] = self.epoch_training_accuracy
        else:
            out["rmse"] = self.epoch_training_rmse
        out["end_iteration"] = self.epoch_end_iteration
        return out

    # -- export --
    def to_dict(self) -> dict[str, Any]:
        """Plain values: per-iteration lists (NaN where not computed) and the scalars; inapplicable fields left out."""
        out: dict[str, Any] = {"iteration": self.iterations.tolist()}
        out.update({n: getattr(self, n).tolist() for n in self.series_names()})
        out.update({n: getattr(self, n) for n in SCALARS if not n.startswith("final_") or
                    _applies(n, self.is_classifier)})
        out.update({n: getattr(self, n).tolist() for n in EPOCH_SERIES if _applies(n, self.is_classifier)})
        return out

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the record as JSON (NaN written as null), atomically (temporary file, then rename)."""
        d = self.to_dict()
        payload = {"format": "minidl-training-info", "version": 1,
                   "scalars": {k: _jsonable(v) for k, v in d.items() if k in SCALARS},
                   "series": {k: _jsonable(v) for k, v in d.items() if k not in SCALARS}, "fields": self.fields}
        atomic_write_text(path, json.dumps(payload, indent=1, allow_nan=False))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> TrainingInfo:
        """Read a record written by :meth:`to_json`."""
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
        if not isinstance(payload, dict) or payload.get("format") != "minidl-training-info":
            raise ValueError(f"path: {os.fspath(path)!r} is not a minidl training-info JSON file")
        series = {k: v for k, v in payload["series"].items() if k != "iteration"}
        scalars = dict(payload["scalars"])
        return cls(series, scalars, payload.get("fields"))

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the audit log: one row per iteration (empty cells where not computed), atomically."""
        names = ("iteration",) + self.series_names()
        cols = [self.iterations] + [getattr(self, n) for n in names[1:]]
        lines = [",".join(names)]
        for i in range(len(self)):
            lines.append(",".join(_cell(c[i]) for c in cols))
        atomic_write_text(path, "\n".join(lines) + "\n")

    @staticmethod
    def read_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
        """Columns of an audit-log CSV as float arrays (NaN for empty cells)."""
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        head, body = rows[0], rows[1:]
        return {h: np.array([float(r[j]) if r[j] else np.nan for r in body]) for j, h in enumerate(head)}

    # -- figures (minidl.reporting.figure) --
    def plot(self, **kwargs):
        """The training-progress figure of this record (drawn by the plotter registered in :data:`PLOTTERS`)."""
        return _plotter("plot")(self, **kwargs)

    def save_figure(self, path: str | os.PathLike, **kwargs) -> None:
        """Save the training-progress figure of this record to ``path``."""
        _plotter("save")(self, path, **kwargs)

    def __repr__(self) -> str:
        kind = "accuracy" if self.is_classifier else "rmse"
        final = getattr(self, f"final_validation_{kind}")
        return (f"TrainingInfo({len(self)} iterations, stop_reason={self.stop_reason!r}, final_validation_{kind}="
                f"{final!r}, output_network_iteration={self.output_network_iteration!r})")


def _cell(v) -> str:
    v = float(v)
    return "" if math.isnan(v) else repr(int(v)) if v.is_integer() and abs(v) < 2 ** 53 else repr(v)


def _jsonable(v):
    if isinstance(v, float):
        return None if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    return v


#: How a record is drawn: ``"plot"`` (info, **kw) -> figure and ``"save"`` (info, path, **kw).  The engine draws
#: nothing itself; the package registers minidl.reporting's figure here when it is imported (minidl/__init__.py).
PLOTTERS: dict[str, Any] = {}


def _plotter(kind: str):
    if kind not in PLOTTERS:
        raise RuntimeError("no training-progress plotter is registered; import minidl (it registers "
                           "minidl.reporting.figure) or set minidl.training.info.PLOTTERS")
    return PLOTTERS[kind]


class InfoRecorder(Observer):
    """Builds the :class:`TrainingInfo` from the loop's events (the same values the table and figure show).

    ``fields``: the dialect's field names for ``info[name]`` (e.g. MATLAB's ``{"TrainingLoss": "training_loss"}``).
    """

    state_key = "info"

    def __init__(self, settings: dict[str, Any] | None = None, fields: dict[str, str] | None = None):
        self.settings = dict(settings or {})
        self.fields = dict(fields or {})
        self.series: dict[str, list] = {n: [] for n in SERIES}
        self.epoch_series: dict[str, list] = {n: [] for n in EPOCH_SERIES}
        self.scalars: dict[str, Any] = {}
        self.info: TrainingInfo | None = None
        self._epoch_start = 0  # index in the series of the current epoch's first iteration

    def on_start(self, state: TrainingState):
        self.scalars.update(iterations_per_epoch=state.iterations_per_epoch, max_epochs=state.max_epochs,
                            is_classifier=state.is_classifier)

    def on_iteration(self, state: TrainingState):
        for name in SERIES:
            self.series[name].append(getattr(state, name))

    def on_validation(self, state: TrainingState):
        """A validation's values belong to its iteration's row (set already when it validated within the iteration;
        a validation after the iteration, such as the run's last one at the end, fills them in now)."""
        k = state.iteration - 1
        if 0 <= k < len(self.series["validation_loss"]):
            for name in ("validation_loss", "validation_accuracy", "validation_rmse"):
                self.series[name][k] = getattr(state, name)

    def on_epoch_end(self, state: TrainingState):
        """The epoch's aggregates: the mean of its mini-batch values (NaN when they do not apply)."""
        k = self._epoch_start
        for name in ("training_loss", "training_accuracy", "training_rmse"):
            values = [np.nan if v is None else v for v in self.series[name][k:]]
            self.epoch_series[f"epoch_{name}"].append(float(np.mean(values)) if values else math.nan)
        self.epoch_series["epoch_end_iteration"].append(int(state.iteration))
        self._epoch_start = len(self.series["training_loss"])

    def on_done(self, state: TrainingState):
        self.scalars.update(
            final_validation_loss=state.final_validation_loss,
            final_validation_accuracy=state.final_validation_accuracy,
            final_validation_rmse=state.final_validation_rmse,
            output_network_iteration=state.output_network_iteration, stop_reason=state.stop_reason,
            stop_kind=state.stop_kind, stopped_by=state.stopped_by,
            elapsed_time=state.time_since_start, is_classifier=state.is_classifier,
            iterations_per_epoch=state.iterations_per_epoch, max_epochs=state.max_epochs,
            non_finite=state.non_finite, settings=self.settings)
        self.info = TrainingInfo({**self.series, **self.epoch_series}, self.scalars, self.fields)

    # -- live views (for observers that show or use the values during training) --
    def epoch_values(self, name: str) -> list[float]:
        """The per-epoch aggregate ``name`` (an EPOCH_SERIES entry) of the epochs completed so far."""
        return self.epoch_series[name]

    # -- resume: the iterations so far (arrays go into the checkpoint's npz, bit for bit) --
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The per-iteration values and the per-epoch aggregates recorded so far as float64 arrays (NaN: None)."""
        out = {n: np.array([np.nan if v is None else v for v in self.series[n]], dtype=np.float64) for n in SERIES}
        out.update({n: np.array(self.epoch_series[n], dtype=np.float64) for n in EPOCH_SERIES})
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_arrays` returned."""
        self.series = {n: [None if np.isnan(v) else float(v) for v in np.asarray(arrays[n], dtype=np.float64)]
                       for n in SERIES}
        self.series["epoch"] = [int(v) for v in self.series["epoch"]]
        self.epoch_series = {n: [float(v) for v in np.asarray(arrays.get(n, ()), dtype=np.float64)]
                             for n in EPOCH_SERIES}
        self.epoch_series["epoch_end_iteration"] = [int(v) for v in self.epoch_series["epoch_end_iteration"]]
        ends = self.epoch_series["epoch_end_iteration"]
        self._epoch_start = ends[-1] if ends else 0
