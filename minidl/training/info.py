"""The info record of a training run (MATLAB's ``info``) and the observer that builds it from the loop's events.

Per-iteration arrays hold NaN where a value was not computed (validation between validations); the arrays that do
not apply to the network (accuracy for regression, RMSE for classification) are None. The record doubles as the
audit log: loss, accuracy or RMSE, base rate and global gradient norm per iteration, exportable to CSV and JSON.
"""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Any

import numpy as np

from minidl._files import atomic_write_text
from minidl.training import events as ev
from minidl.training.events import Observer, TrainingState

__all__ = ["TrainingInfo", "InfoRecorder"]

#: Per-iteration arrays, in audit-log column order.
SERIES = ("epoch", "time_since_start", "base_learn_rate", "training_loss", "training_accuracy", "training_rmse",
          "validation_loss", "validation_accuracy", "validation_rmse", "gradient_norm")
#: Scalars of the record.
SCALARS = ("final_validation_loss", "final_validation_accuracy", "final_validation_rmse",
           "output_network_iteration", "stop_reason", "elapsed_time", "iterations_per_epoch", "max_epochs",
           "is_classifier", "non_finite", "settings")
#: MATLAB's info field names -> attribute names (for the MATLAB dialect: ``info["TrainingLoss"]``).
MATLAB_FIELDS = {
    "TrainingLoss": "training_loss", "TrainingAccuracy": "training_accuracy", "TrainingRMSE": "training_rmse",
    "ValidationLoss": "validation_loss", "ValidationAccuracy": "validation_accuracy",
    "ValidationRMSE": "validation_rmse", "BaseLearnRate": "base_learn_rate",
    "FinalValidationLoss": "final_validation_loss", "FinalValidationAccuracy": "final_validation_accuracy",
    "FinalValidationRMSE": "final_validation_rmse", "OutputNetworkIteration": "output_network_iteration",
}
_CLASSIFIER_ONLY = ("training_accuracy", "validation_accuracy", "final_validation_accuracy")
_REGRESSION_ONLY = ("training_rmse", "validation_rmse", "final_validation_rmse")


def _applies(name: str, is_classifier: bool) -> bool:
    return not ((name in _CLASSIFIER_ONLY and not is_classifier) or (name in _REGRESSION_ONLY and is_classifier))


class TrainingInfo:
    """The record of one training run: per-iteration arrays, final validation values, stop reason, settings."""

    def __init__(self, series: dict[str, Any], scalars: dict[str, Any]):
        is_classifier = bool(scalars.get("is_classifier", True))
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
        """MATLAB field names (``info["TrainingLoss"]``) or attribute names."""
        name = MATLAB_FIELDS.get(key, key)
        if name not in SERIES and name not in SCALARS or not _applies(name, self.is_classifier):
            allowed = [k for k, v in MATLAB_FIELDS.items() if _applies(v, self.is_classifier)]
            raise KeyError(f"info has no field {key!r} for a {'classification' if self.is_classifier else 'regression'}"
                           f" network; fields: {', '.join(allowed)}")
        return getattr(self, name)

    def keys(self) -> list[str]:
        """MATLAB field names that apply to this network."""
        return [k for k, v in MATLAB_FIELDS.items() if _applies(v, self.is_classifier)]

    # -- export --
    def to_dict(self) -> dict[str, Any]:
        """Plain values: per-iteration lists (NaN where not computed) and the scalars; inapplicable fields left out."""
        out: dict[str, Any] = {"iteration": self.iterations.tolist()}
        out.update({n: getattr(self, n).tolist() for n in self.series_names()})
        out.update({n: getattr(self, n) for n in SCALARS if not n.startswith("final_") or
                    _applies(n, self.is_classifier)})
        return out

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the record as JSON (NaN written as null), atomically (temporary file, then rename)."""
        d = self.to_dict()
        payload = {"format": "minidl-training-info", "version": 1,
                   "scalars": {k: _jsonable(v) for k, v in d.items() if k in SCALARS},
                   "series": {k: _jsonable(v) for k, v in d.items() if k not in SCALARS}}
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
        return cls(series, scalars)

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
        """The training-progress figure of this record (needs minidl.reporting.figure)."""
        from minidl.reporting.figure import plot_info
        return plot_info(self, **kwargs)

    def save_figure(self, path: str | os.PathLike, **kwargs) -> None:
        """Save the training-progress figure of this record to ``path``."""
        from minidl.reporting.figure import save_info_figure
        save_info_figure(self, path, **kwargs)

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


class InfoRecorder(Observer):
    """Builds the :class:`TrainingInfo` from ITERATION / DONE events (the same values the table and figure show)."""

    state_key = "info"

    def __init__(self, settings: dict[str, Any] | None = None):
        self.settings = dict(settings or {})
        self.series: dict[str, list] = {n: [] for n in SERIES}
        self.scalars: dict[str, Any] = {}
        self.info: TrainingInfo | None = None

    def on_event(self, state: TrainingState):
        if state.event == ev.START:
            self.scalars.update(iterations_per_epoch=state.iterations_per_epoch, max_epochs=state.max_epochs,
                                is_classifier=state.is_classifier)
        elif state.event == ev.ITERATION:
            for name in SERIES:
                self.series[name].append(getattr(state, name))
        elif state.event == ev.DONE:
            self.scalars.update(
                final_validation_loss=state.final_validation_loss,
                final_validation_accuracy=state.final_validation_accuracy,
                final_validation_rmse=state.final_validation_rmse,
                output_network_iteration=state.output_network_iteration, stop_reason=state.stop_reason,
                elapsed_time=state.time_since_start, is_classifier=state.is_classifier,
                iterations_per_epoch=state.iterations_per_epoch, max_epochs=state.max_epochs,
                non_finite=state.non_finite, settings=self.settings)
            self.info = TrainingInfo(self.series, self.scalars)
        return None

    # -- resume: the iterations so far (arrays go into the checkpoint's npz, bit for bit) --
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The per-iteration values recorded so far as float64 arrays (NaN for None)."""
        return {n: np.array([np.nan if v is None else v for v in self.series[n]], dtype=np.float64)
                for n in SERIES}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_arrays` returned."""
        self.series = {n: [None if np.isnan(v) else float(v) for v in np.asarray(arrays[n], dtype=np.float64)]
                       for n in SERIES}
        self.series["epoch"] = [int(v) for v in self.series["epoch"]]
