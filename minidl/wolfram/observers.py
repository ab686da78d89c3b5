"""Wolfram's bookkeeping and reporting as engine observers (SEMANTICS §3): nothing here trains.

- :class:`RoundBook` keeps what the properties need: batch and round losses and measurements, validations,
  permutations, example losses and the best validation round's weights.
- :class:`StoppingCriterion` stops training when a measurement stopped improving.
- :class:`Callback` calls TrainingProgressFunction (which may stop training) or a reporting function.
- :class:`PrintReport`, :class:`FileReport`, :class:`PanelReport`, :class:`ProgressIndicatorReport`:
  TrainingProgressReporting.  :class:`NetCheckpointer`: TrainingProgressCheckpointing.
  :class:`CustomProperty`: the values of a custom property spec.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from minidl._files import atomic_write_text
from minidl.training import events as ev
from minidl.training.checkpoint import replace_network, save_network
from minidl.training.events import Observer, TrainingState

__all__ = ["REASONS", "reason", "measures", "ProgressInfo", "RoundBook", "StoppingCriterion", "Callback",
           "PrintReport", "FileReport", "PanelReport", "ProgressIndicatorReport", "NetCheckpointer",
           "CustomProperty"]

MANUAL_STOP = "ManualStop"
STOPPING_CRITERION = "StoppingCriterion"
#: Engine stop reasons -> Wolfram's ReasonTrainingStopped.
REASONS = {ev.MAX_EPOCHS: "MaxTrainingRounds", ev.TIME_GOAL: "TimeGoal", STOPPING_CRITERION: STOPPING_CRITERION,
           MANUAL_STOP: MANUAL_STOP, ev.STOPPED_BY_USER: "Aborted", ev.OUTPUT_FUNCTION: MANUAL_STOP,
           ev.NON_FINITE: "WeightsDiverged"}


def reason(engine_reason: str | None) -> str:
    """Wolfram's ReasonTrainingStopped for an engine stop reason (Ctrl-C: "Aborted")."""
    return REASONS.get(engine_reason or ev.MAX_EPOCHS, str(engine_reason))


def measures(loss: float | None, accuracy_percent: float | None, rmse: float | None,
             is_classifier: bool) -> dict[str, float]:
    """Every measurement that applies, from the engine's values: Loss; Accuracy and ErrorRate (fractions) for
    cross-entropy nets; MeanSquare and RootMeanSquare for regression."""
    out = {"Loss": math.nan if loss is None else float(loss)}
    if is_classifier:
        acc = math.nan if accuracy_percent is None else accuracy_percent / 100.0
        out.update(ErrorRate=1.0 - acc, Accuracy=acc)
    else:
        r = math.nan if rmse is None else float(rmse)
        out.update(MeanSquare=r * r, RootMeanSquare=r)
    return out


def _pick(values: dict[str, float] | None, names: list[str]) -> dict[str, float] | None:
    return None if values is None else {k: values[k] for k in names}


class ProgressInfo(dict):
    """The training state a TrainingProgressFunction receives (Wolfram's association), Wolfram key names.

    ``info["Net"]`` is made on request: a copy of the network being trained, at its current weights.
    """

    def __init__(self, values: dict[str, Any], make_net: Callable[[], Any] | None = None):
        super().__init__(values)
        self._make_net = make_net

    def __missing__(self, key):
        if key == "Net" and self._make_net is not None:
            self["Net"] = self._make_net()
            return self["Net"]
        raise KeyError(f"progress info has no key {key!r}; keys: {', '.join(self)}, Net")


# ================================================================================================ bookkeeping
class RoundBook(Observer):
    """Records batches, rounds and validations; keeps the weights of the best validation round (SEMANTICS §3).

    Batch loss = mean over the batch (the engine's); round loss = mean of the round's batch losses; round
    measurements likewise; validation values are exact over the whole validation set.  ``best_key`` maps a
    validation's measurements to a tuple, lower is better (classification: (ErrorRate, Loss); else (Loss,)).
    """

    def __init__(self, *, is_classifier: bool, names: list[str], best_key: Callable[[dict], tuple] | None,
                 index_map: np.ndarray | None = None, n_rows: int | None = None, record_permutation: bool = False,
                 record_example_losses: bool = False, sources: tuple = (), make_net: Callable[[], Any] | None = None):
        self.is_classifier, self.names, self.best_key = is_classifier, names, best_key
        self.index_map, self.n_rows = index_map, n_rows
        self.record_permutation, self.record_example_losses = record_permutation, record_example_losses
        self.sources, self.make_net = sources, make_net
        self.trainer = None
        self.batch_losses: list[float] = []
        self.batch_sizes: list[int] = []
        self.batch_rounds: list[int] = []
        self.rates: list[float] = []
        self.times: list[float] = []
        self.batch_measures: list[dict[str, float]] = []
        self.round_losses: list[float] = []
        self.round_measures: list[dict[str, float]] = []
        self.round_positions: list[int] = []
        self.validation_measures: list[dict[str, float]] = []
        self.validation_positions: list[int] = []
        self.validation_rounds: list[int] = []
        self.permutation: list[np.ndarray] = []
        self.example_losses: list[np.ndarray] = []
        self.best: tuple | None = None
        self.best_round: int | None = None
        self.best_arrays: dict[str, np.ndarray] | None = None
        self.stop_reason: str | None = None
        self.elapsed = 0.0
        self.examples = 0                      # examples processed so far (Σ batch sizes)
        self.max_rounds = self.batches_per_round = self.batch_size = 0
        self._round_start = 0

    def bind(self, trainer) -> None:
        """The engine hands over the trainer before START: its data order and network are read here."""
        self.trainer = trainer
        for source in self.sources:
            source.bind(trainer)

    # -- the latest values, for progress records and the stopping criterion
    @property
    def round_loss(self) -> float | None:
        return self.round_losses[-1] if self.round_losses else None

    @property
    def validation_loss(self) -> float | None:
        return self.validation_measures[-1]["Loss"] if self.validation_measures else None

    def on_event(self, state: TrainingState):
        kind = state.event
        if kind == ev.START:
            self.batches_per_round, self.max_rounds = state.iterations_per_epoch, state.max_epochs
            self.batch_size = self.trainer.config.batch_size if self.trainer is not None else 0
        elif kind == ev.ITERATION:
            self._batch(state)
        elif kind == ev.VALIDATION:
            m = measures(state.validation_loss, state.validation_accuracy, state.validation_rmse, self.is_classifier)
            self.validation_measures.append(m)
            self.validation_positions.append(state.iteration)
            self.validation_rounds.append(state.epoch)
            if self.best_key is not None and self.trainer is not None:
                key = self.best_key(m)
                if self.best is None or key < self.best:  # strictly better: ties keep the earlier round
                    self.best, self.best_round = key, state.epoch
                    self.best_arrays = self.trainer.net.state_arrays()  # host copies of the weights
        elif kind == ev.EPOCH_END:
            batch = self.batch_measures[self._round_start:]
            self.round_losses.append(float(np.mean(self.batch_losses[self._round_start:])))  # mean of batch losses
            self.round_measures.append({k: float(np.mean([b[k] for b in batch])) for k in batch[0]})
            self.round_positions.append(state.iteration)
            self._round_start = len(self.batch_losses)
        elif kind == ev.DONE:
            self.stop_reason, self.elapsed = state.stop_reason, state.time_since_start
        return None

    def _batch(self, state: TrainingState) -> None:
        self.batch_losses.append(float(state.training_loss))
        self.batch_rounds.append(state.epoch)
        self.rates.append(float(state.base_learn_rate))
        self.times.append(float(state.time_since_start))
        self.batch_measures.append(measures(state.training_loss, state.training_accuracy, state.training_rmse,
                                            self.is_classifier))
        tr = self.trainer
        size = self.batch_size
        if tr is not None:
            start = (tr.next_batch - 1) * self.batch_size          # the batch's slice of this round's order
            size = min(self.batch_size, tr.n - start)
        self.batch_sizes.append(int(size))
        self.examples += int(size)
        if tr is None or not (self.record_permutation or self.record_example_losses):
            return
        idx = np.asarray(tr.order[start:start + size], dtype=np.int64)
        if self.index_map is not None:
            idx = self.index_map[idx]                              # positions in the data as given
        if self.record_permutation:
            self.permutation.append(idx)
        if self.record_example_losses:
            while len(self.example_losses) < state.epoch:
                self.example_losses.append(np.full(self.n_rows, np.nan))
            self.example_losses[state.epoch - 1][idx] = state.extra["example_losses"]

    # -- views for the properties and reports
    def lists(self, which: str) -> list[dict[str, float]]:
        """Batch, round or validation measurement dicts, limited to the reported measurement names."""
        rows = {"batch": self.batch_measures, "round": self.round_measures,
                "validation": self.validation_measures}[which]
        return [_pick(r, self.names) for r in rows]

    def record(self, state: TrainingState) -> ProgressInfo:
        """The progress association at ``state`` (Wolfram's TrainingProgressFunction argument)."""
        it = state.iteration
        total = max(state.max_iterations, 1)
        elapsed = state.time_since_start
        progress = min(it / total, 1.0)
        examples = self.examples
        tr = self.trainer
        return ProgressInfo({
            "AbsoluteBatch": it, "Batch": (tr.next_batch if tr is not None else it) if it else 0,
            "Round": state.epoch, "MaxTrainingRounds": state.max_epochs, "BatchesPerRound": self.batches_per_round,
            "BatchSize": self.batch_size, "TotalBatches": state.max_iterations,
            "BatchLoss": self.batch_losses[-1] if self.batch_losses else None, "RoundLoss": self.round_loss,
            "ValidationLoss": self.validation_loss,
            "BatchMeasurements": _pick(self.batch_measures[-1], self.names) if self.batch_measures else None,
            "RoundMeasurements": _pick(self.round_measures[-1], self.names) if self.round_measures else None,
            "ValidationMeasurements": _pick(self.validation_measures[-1], self.names)
            if self.validation_measures else None,
            "LearningRate": self.rates[-1] if self.rates else None, "TimeElapsed": elapsed,
            "TimeRemaining": elapsed / progress - elapsed if progress > 0 else None, "Progress": progress,
            "ExamplesProcessed": examples,
            "MeanBatchesPerSecond": len(self.batch_losses) / elapsed if elapsed > 0 else None,
            "MeanExamplesPerSecond": examples / elapsed if elapsed > 0 else None,
        }, self.make_net)


# ================================================================================================ stopping
class StoppingCriterion(Observer):
    """TrainingStoppingCriterion: checked at each validation (else at each round end).

    A check improves when the measurement beats the best so far by more than AbsoluteChange (or by more than
    RelativeChange·|best|); checks in the first InitialPatience rounds never count as failures; training stops at
    the first failed check after Patience consecutive failed checks (Patience 0: the first failure stops).
    """

    def __init__(self, spec: dict[str, Any], book: RoundBook, on_validation: bool):
        self.spec, self.book, self.on_validation = spec, book, on_validation
        self.maximize = spec["Criterion"] == "Accuracy"
        self.best: float | None = None
        self.failures = 0

    def improved(self, value: float) -> bool:
        """Whether ``value`` improves on the best by more than the change threshold."""
        if self.best is None:
            return True
        gain = value - self.best if self.maximize else self.best - value      # > 0: better
        need = max(self.spec["AbsoluteChange"], self.spec["RelativeChange"] * abs(self.best))
        return gain > need

    def on_event(self, state: TrainingState):
        due = ev.VALIDATION if self.on_validation else ev.EPOCH_END
        if state.event != due:
            return None
        rows = self.book.validation_measures if self.on_validation else self.book.round_measures
        value = rows[-1][self.spec["Criterion"]]
        if self.improved(value):
            self.best, self.failures = value, 0
        elif state.epoch > self.spec["InitialPatience"]:
            self.failures += 1
        return STOPPING_CRITERION if self.failures > self.spec["Patience"] else None


# ================================================================================================ callbacks
def _due(interval, state: TrainingState) -> bool:
    """Whether a callback with ``interval`` ("Batch", "Round", n rounds) runs at this event."""
    if interval == "Batch":
        return state.event == ev.ITERATION
    if state.event != ev.EPOCH_END:
        return False
    return interval == "Round" or state.epoch % interval == 0


class Callback(Observer):
    """Calls ``f(progress_info)`` at its interval.  TrainingProgressFunction (``can_stop``): returning
    "StopTraining" or True stops training ("ManualStop"); a reporting function's result is ignored."""

    def __init__(self, f: Callable[[ProgressInfo], Any], interval, book: RoundBook, can_stop: bool, arg: str):
        self.f, self.interval, self.book, self.can_stop, self.arg = f, interval, book, can_stop, arg

    def on_event(self, state: TrainingState):
        if not _due(self.interval, state):
            return None
        result = self.f(self.book.record(state))
        if not self.can_stop or result is None or result is False:
            return None
        if result is True or (isinstance(result, str) and result == "StopTraining"):
            return MANUAL_STOP
        raise TypeError(f"{self.arg}: {getattr(self.f, '__qualname__', self.f)!r} returned {result!r}; allowed: "
                        "'StopTraining' (or True) to stop, None or False to go on")


# ================================================================================================ reports
def _num(v) -> str:
    """Wolfram's NumberForm[x, 3]: three significant digits; blank when absent."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.3g}"


def _secs(v) -> str:
    return "" if v is None else f"{v:.1f}s"


class PrintReport(Observer):
    """TrainingProgressReporting "Print": a header, then one table row per interval ("Batch", "Round", n rounds;
    default: the first batch, then a batch at least 2 s after the previous row), the last batch, a closing line."""

    ROW_SECONDS = 2.0

    def __init__(self, book: RoundBook, interval=None, stream=None, header: dict[str, Any] | None = None):
        self.book, self.interval, self.stream = book, interval, stream
        self.header = dict(header or {})
        self._cols: list[tuple[str, Callable[[dict], str]]] = []
        self._last_row_at = -math.inf
        self._printed_iteration = -1
        self._last_state: TrainingState | None = None

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)

    def columns(self, has_validation: bool) -> list[tuple[str, Callable[[dict], str]]]:
        """(title, cell of a progress record) per column."""
        cols = [("%", lambda r: f"{100 * r['Progress']:.0f}"),
                ("round", lambda r: f"{r['Round']}/{r['MaxTrainingRounds']}"),
                ("batch", lambda r: f"{r['Batch']}/{r['BatchesPerRound']}"),
                ("inputs/second", lambda r: f"{r['MeanExamplesPerSecond']:.0f}" if r["MeanExamplesPerSecond"] else ""),
                ("learning rate", lambda r: _num(r["LearningRate"])), ("batch loss", lambda r: _num(r["BatchLoss"])),
                ("round loss", lambda r: _num(r["RoundLoss"]))]
        if has_validation:
            cols.append(("validation loss", lambda r: _num(r["ValidationLoss"])))
        for name in self.book.names[1:]:
            cols.append((f"round {name}", lambda r, n=name: _num((r["RoundMeasurements"] or {}).get(n))))
            if has_validation:
                cols.append((f"validation {name}", lambda r, n=name: _num((r["ValidationMeasurements"] or {}).get(n))))
        cols += [("time elapsed", lambda r: _secs(r["TimeElapsed"])),
                 ("time remaining", lambda r: _secs(r["TimeRemaining"]))]
        return cols

    def _row(self, state: TrainingState) -> None:
        rec = self.book.record(state)
        self._print(" | ".join(f"{cell(rec):>{max(len(title), 7)}}" for title, cell in self._cols))
        self._printed_iteration = state.iteration
        self._last_row_at = time.perf_counter()

    def on_event(self, state: TrainingState):
        if state.event == ev.START:
            self._print("Starting training.")
            for key, value in self.header.items():
                self._print(f"    {key}: {value}")
            self._cols = self.columns(state.has_validation)
            self._print(" | ".join(f"{title:>{max(len(title), 7)}}" for title, _ in self._cols))
        elif state.event == ev.DONE:
            if self._last_state is not None and self._printed_iteration != self._last_state.iteration:
                self._row(self._last_state)
            why = reason(state.stop_reason)
            self._print("Training complete." if why == "MaxTrainingRounds" else f"Training stopped: {why}.")
        else:
            if state.event == ev.ITERATION:
                self._last_state = state.copy()
            if self.interval is None:
                due = state.event == ev.ITERATION and (
                    state.iteration == 1 or time.perf_counter() - self._last_row_at >= self.ROW_SECONDS)
            else:
                due = _due(self.interval, state)
            if due:
                self._row(state)
        return None


class FileReport(Observer):
    """TrainingProgressReporting to a .csv or .json file: one row per interval (default each round), rewritten
    atomically at most every 2 s and at the end."""

    WRITE_SECONDS = 2.0

    def __init__(self, path: str, book: RoundBook, interval="Round"):
        self.path, self.book, self.interval = path, book, interval
        self.rows: list[dict[str, Any]] = []
        self._written_at = -math.inf
        self._fields: list[str] = []

    def _fields_for(self, has_validation: bool) -> list[str]:
        fields = ["Round", "AbsoluteBatch", "TimeElapsed", "LearningRate", "BatchLoss", "RoundLoss"]
        fields += [f"Round{n}" for n in self.book.names[1:]]
        if has_validation:
            fields += ["ValidationLoss"] + [f"Validation{n}" for n in self.book.names[1:]]
        return fields

    def _add(self, state: TrainingState) -> None:
        rec = self.book.record(state)
        row = {k: rec[k] for k in ("Round", "AbsoluteBatch", "TimeElapsed", "LearningRate", "BatchLoss",
                                   "RoundLoss", "ValidationLoss")}
        for n in self.book.names[1:]:
            row[f"Round{n}"] = (rec["RoundMeasurements"] or {}).get(n)
            row[f"Validation{n}"] = (rec["ValidationMeasurements"] or {}).get(n)
        self.rows.append({k: row.get(k) for k in self._fields})

    def write(self) -> None:
        """Write every row so far."""
        if self.path.lower().endswith(".json"):
            text = json.dumps([{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                for k, v in r.items()} for r in self.rows], indent=1)
        else:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(self._fields)
            for r in self.rows:
                w.writerow(["" if r[k] is None else repr(r[k]) if isinstance(r[k], float) else r[k]
                            for k in self._fields])
            text = buf.getvalue()
        atomic_write_text(self.path, text)
        self._written_at = time.perf_counter()

    def on_event(self, state: TrainingState):
        if state.event == ev.START:
            self._fields = self._fields_for(state.has_validation)
        elif state.event == ev.DONE:
            self.write()
        elif _due(self.interval, state):
            self._add(state)
            if time.perf_counter() - self._written_at >= self.WRITE_SECONDS:
                self.write()
        return None


class PanelReport(Observer):
    """TrainingProgressReporting "Panel": the live training-progress figure (minidl.reporting.figure); its Stop
    button stops training with "ManualStop"."""

    def __init__(self, settings: dict[str, Any], plots_file: str | None = None):
        from minidl.reporting.figure import TrainingProgressFigure

        self.figure = TrainingProgressFigure(plots_file=plots_file, settings=settings)

    def on_event(self, state: TrainingState):
        result = self.figure.on_event(state)
        return MANUAL_STOP if result else None

    def close(self) -> None:
        self.figure.close()


class ProgressIndicatorReport(Observer):
    """TrainingProgressReporting "ProgressIndicator": the tqdm progress bar of minidl.reporting.progress_bar (on
    standard error when it is a terminal or in a notebook; ``file`` and ``force`` as ProgressBar takes them)."""

    def __init__(self, file=None, force: bool = False):
        try:
            from minidl.reporting.progress_bar import ProgressBar
        except ImportError as e:
            raise ImportError("TrainingProgressReporting 'ProgressIndicator' needs minidl.reporting.progress_bar "
                              f"(tqdm): {e}") from e
        self.bar = ProgressBar(file=file, force=force, desc="NetTrain")

    def on_event(self, state: TrainingState):
        result = self.bar.on_event(state)
        return MANUAL_STOP if result else None

    def close(self) -> None:
        self.bar.close()


# ================================================================================================ checkpoints
class NetCheckpointer(Observer):
    """TrainingProgressCheckpointing: every ``interval`` rounds, the network being trained (as NetTrain returns
    it) saved in the engine's safe format (a folder with manifest.json and arrays.npz; read with
    ``minidl.load_network``).  "File": one path, replaced each time; "Directory": a new folder each time, named
    ``<date>T<time>_round<r>_batch<b>_loss<l>``."""

    def __init__(self, kind: str, path: str, interval: int, make_net: Callable[[], Any], book: RoundBook):
        self.kind, self.path, self.interval, self.make_net, self.book = kind, path, interval, make_net, book
        self.files: list[str] = []

    def on_event(self, state: TrainingState):
        if state.event != ev.EPOCH_END or state.epoch % self.interval:
            return None
        net = self.make_net()
        if self.kind == "Directory":
            loss = self.book.round_loss
            name = (f"{datetime.now():%Y-%m-%dT%H-%M-%S}_round{state.epoch:05d}_batch{state.iteration:07d}_"
                    f"loss{loss:.3e}")
            target, k = os.path.join(self.path, name), 1
            while os.path.exists(target):
                k += 1
                target = os.path.join(self.path, f"{name}__{k}")
            self.files.append(save_network(net, target))
        else:
            target = os.path.abspath(self.path)
            replace_network(net, target)
            if target not in self.files:
                self.files.append(target)
        return None


# ================================================================================================ custom properties
class CustomProperty(Observer):
    """A custom property {"Property": p, "Form": ..., "Interval": ...}: p (a progress-info key, or a function of
    the progress info) collected at each interval, with the batch number where it was taken."""

    def __init__(self, prop, interval, book: RoundBook):
        self.prop, self.interval, self.book = prop, interval, book
        self.positions: list[int] = []
        self.rounds: list[int] = []
        self.values: list[Any] = []

    def on_event(self, state: TrainingState):
        if not _due(self.interval, state):
            return None
        rec = self.book.record(state)
        self.values.append(self.prop(rec) if callable(self.prop) else rec[self.prop])
        self.positions.append(state.iteration)
        self.rounds.append(state.epoch)
        return None
