"""Wolfram's views of a run and its configurations of the engine's generic observers (docs/semantics-wolfram.md).

Nothing here trains, and no mechanism is written twice: early stopping, keep-best, user functions, checkpoints and
file logs are the engine's generic observers (:mod:`minidl.training.observers`), configured here with Wolfram's
rules; round values are views over the engine's :class:`~minidl.training.info.InfoRecorder`.

- :class:`RoundBook`: the measurement dicts of batches, rounds and validations, examples processed, permutations,
  example losses, and the progress association (:meth:`RoundBook.record`).
- :class:`BestRound`: TrainedNet's weights (a :class:`~minidl.training.observers.KeepBest`).
- :func:`stopping_criterion`, :func:`progress_function`, :func:`file_report`, :func:`net_checkpointer`:
  TrainingStoppingCriterion, TrainingProgressFunction, a reporting file, TrainingProgressCheckpointing.
- :class:`PrintReport`: TrainingProgressReporting "Print"; :class:`CustomProperty`: a custom property spec.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from minidl.reporting.table import Column, TablePrinter, every_n_seconds
from minidl.training import events as ev
from minidl.training.events import Observer, TrainingState
from minidl.training.info import InfoRecorder
from minidl.training.observers import Checkpointer, EarlyStopping, FileLog, KeepBest, UserFunction
from minidl.wolfram.options import Interval

__all__ = ["REASONS", "reason", "measures", "ProgressInfo", "RoundBook", "BestRound", "stopping_criterion",
           "progress_function", "Due", "print_columns", "PrintReport", "file_report", "net_checkpointer",
           "CustomProperty"]

#: The engine's neutral stop kinds -> Wolfram's ReasonTrainingStopped.
REASONS = {ev.MAX_EPOCHS: "MaxTrainingRounds", ev.TIME_LIMIT: "TimeGoal", ev.EARLY_STOP: "StoppingCriterion",
           ev.USER_FUNCTION: "ManualStop", ev.STOP_BUTTON: "ManualStop", ev.INTERRUPT: "Aborted",
           ev.NON_FINITE: "WeightsDiverged", ev.FAILED: "Aborted"}


def reason(kind: str | None) -> str:
    """Wolfram's ReasonTrainingStopped for a stop kind (Ctrl-C: "Aborted"; a Wolfram word stays as it is)."""
    return REASONS.get(kind or ev.MAX_EPOCHS, str(kind))


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


#: Progress keys made only on request (they copy arrays to the host): see :class:`ProgressInfo`.
LAZY_KEYS = ("Net", "BatchData", "Gradients", "GradientsRMS", "Weights", "WeightsRMS")
#: The engine's event kinds -> the progress association's "Event".
EVENTS = {ev.START: "TrainingStarted", ev.ITERATION: "BatchComplete", ev.VALIDATION: "ValidationComplete",
          ev.EPOCH_END: "RoundComplete", ev.DONE: "TrainingComplete"}


def _rms(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(a * a))) if a.size else math.nan


class ProgressInfo(dict):
    """The training state a TrainingProgressFunction receives (Wolfram's association), Wolfram key names.

    Made on request (:data:`LAZY_KEYS`, they copy arrays to the host): ``"Net"`` a copy of the network being
    trained at its current weights; ``"BatchData"`` ``{"Input": x, "Output": y}`` of the latest batch as given
    (array data only); ``"Gradients"`` / ``"Weights"`` ``{array name: host array}`` (the gradients as the latest
    update used them, after L2 and clipping); ``"GradientsRMS"`` / ``"WeightsRMS"`` their root mean squares.
    """

    def __init__(self, values: dict[str, Any], make_net: Callable[[], Any] | None = None,
                 makers: dict[str, Callable[[], Any]] | None = None):
        super().__init__(values)
        self._makers = dict(makers or {})
        if make_net is not None:
            self._makers["Net"] = make_net

    def __missing__(self, key):
        if key in self._makers:
            self[key] = self._makers[key]()
            return self[key]
        raise KeyError(f"progress info has no key {key!r}; keys: {', '.join(self)}, "
                       f"{', '.join(k for k in LAZY_KEYS if k in self._makers)}")


# ================================================================================================ bookkeeping
class RoundBook(Observer):
    """Wolfram's bookkeeping of a run: measurement dicts of batches, rounds and validations, examples processed,
    permutations and example losses; losses, rates, times and round positions are views over the engine's
    ``recorder`` (its per-iteration series and per-epoch aggregates).

    Batch loss = mean over the batch (the engine's); round loss = mean of the round's batch losses (the recorder's
    per-epoch aggregate); round measurements likewise; validation values are exact over the whole validation set.
    """

    def __init__(self, recorder: InfoRecorder, *, is_classifier: bool, names: list[str],
                 index_map: np.ndarray | None = None, n_rows: int | None = None, record_permutation: bool = False,
                 record_example_losses: bool = False, make_net: Callable[[], Any] | None = None,
                 time_goal: float | None = None, measurer=None):
        self.recorder, self.is_classifier, self.names = recorder, is_classifier, names
        self.time_goal = time_goal
        self.net: Any = None                   # the network being trained and the training source (set by NetTrain:
        self.source: Any = None                # Gradients, Weights, BatchData)
        self.batch_data_ok = False
        self.measurer = measurer   # minidl.wolfram.measurements.Measurer: measurements from each example's output
        self.index_map, self.n_rows = index_map, n_rows
        self.record_permutation, self.record_example_losses = record_permutation, record_example_losses
        self.make_net = make_net
        self.batch_sizes: list[int] = []
        self.batch_measures: list[dict[str, float]] = []
        self.round_measures: list[dict[str, float]] = []
        self.validation_measures: list[dict[str, float]] = []
        self.validation_positions: list[int] = []
        self.validation_rounds: list[int] = []
        self.permutation: list[np.ndarray] = []
        self.latest_losses = np.full(n_rows or 0, np.nan)   # ExampleLosses: each example's latest loss
        self.stop_reason: str | None = None
        self.elapsed = 0.0
        self.examples = 0                      # examples processed so far (Σ batch sizes)
        self.max_rounds = self.batches_per_round = self.batch_size = 0
        self._round_start = 0

    # -- views over the engine's record
    @property
    def batch_losses(self) -> list[float]:
        return self.recorder.series["training_loss"]

    @property
    def batch_rounds(self) -> list[int]:
        return self.recorder.series["epoch"]

    @property
    def rates(self) -> list[float]:
        return self.recorder.series["base_learn_rate"]

    @property
    def times(self) -> list[float]:
        return self.recorder.series["time_since_start"]

    @property
    def round_losses(self) -> list[float]:
        return self.recorder.epoch_values("epoch_training_loss")

    @property
    def round_positions(self) -> list[int]:
        return self.recorder.epoch_values("epoch_end_iteration")

    @property
    def round_loss(self) -> float | None:
        return self.round_losses[-1] if self.round_losses else None

    @property
    def validation_loss(self) -> float | None:
        return self.validation_measures[-1]["Loss"] if self.validation_measures else None

    def on_start(self, state: TrainingState):
        self.batches_per_round, self.max_rounds = state.iterations_per_epoch, state.max_epochs
        self.batch_size = state.mini_batch_size

    def on_iteration(self, state: TrainingState):
        self.batch_measures.append(measures(state.training_loss, state.training_accuracy, state.training_rmse,
                                            self.is_classifier))
        if self.measurer is not None:
            self.batch_measures[-1].update(self.measurer.batch(state.batch_outputs, state.batch_targets))
        size = int(state.batch_size)
        self.batch_sizes.append(size)
        self.examples += size
        if not (self.record_permutation or self.record_example_losses):
            return
        idx = np.asarray(state.batch_indices, dtype=np.int64)
        if self.index_map is not None:
            idx = self.index_map[idx]                              # positions in the data as given
        if self.record_permutation:
            self.permutation.append(idx)
        if self.record_example_losses:       # in batch order, so an example drawn twice keeps its later loss
            self.latest_losses[idx] = state.example_losses

    def on_validation(self, state: TrainingState):
        self.validation_measures.append(measures(state.validation_loss, state.validation_accuracy,
                                                 state.validation_rmse, self.is_classifier))
        if self.measurer is not None:
            self.validation_measures[-1].update(self.measurer.validation(state.validation_outputs,
                                                                         state.validation_targets))
        self.validation_positions.append(state.iteration)
        self.validation_rounds.append(state.epoch)

    def on_epoch_end(self, state: TrainingState):
        batch = self.batch_measures[self._round_start:]
        pooled = self.measurer.round() if self.measurer is not None else {}   # from the round's outputs
        self.round_measures.append({**{k: float(np.mean([b[k] for b in batch])) for k in batch[0] if k not in pooled},
                                    **pooled})
        self._round_start = len(self.batch_measures)

    def on_done(self, state: TrainingState):
        self.stop_reason, self.elapsed = state.stop_reason, state.time_since_start

    # -- views for the properties and reports
    def lists(self, which: str) -> list[dict[str, float]]:
        """Batch, round or validation measurement dicts, limited to the reported measurement names."""
        rows = {"batch": self.batch_measures, "round": self.round_measures,
                "validation": self.validation_measures}[which]
        return [_pick(r, self.names) for r in rows]

    def progress(self, state: TrainingState) -> float:
        """The fraction of the run done: batches done / total batches, or with a TimeGoal the larger of that and
        time elapsed / TimeGoal (the run ends at whichever comes first), at most 1."""
        done = state.iteration / max(state.max_iterations, 1)
        if self.time_goal is not None:
            done = max(done, state.time_since_start / self.time_goal)
        return min(done, 1.0)

    def record(self, state: TrainingState) -> ProgressInfo:
        """The progress association at ``state`` (Wolfram's TrainingProgressFunction argument)."""
        it = state.iteration
        elapsed = state.time_since_start
        progress = self.progress(state)
        times = self.times
        step = times[-1] - times[-2] if len(times) > 1 else times[-1] if times else 0.0
        per_second = 1.0 / step if step > 0 else None            # the latest batch's rate
        examples = self.examples
        return ProgressInfo({
            "AbsoluteBatch": it, "Batch": state.batch_in_epoch if it else 0,
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
            "BatchesPerSecond": per_second, "ExamplesPerSecond": per_second * self.batch_size if per_second else None,
            "BatchIndices": self._given_indices(state), "Event": EVENTS.get(state.event, state.event),
            "ExampleLosses": self.latest_losses.copy() if self.record_example_losses else None,
        }, self.make_net, self._makers(state))

    def _given_indices(self, state: TrainingState):
        """The latest batch's examples as positions in the data as given (None before the first batch)."""
        if state.batch_indices is None or not state.iteration:
            return None
        idx = np.asarray(state.batch_indices, dtype=np.int64)
        return self.index_map[idx] if self.index_map is not None else idx

    def _makers(self, state: TrainingState) -> dict[str, Callable[[], Any]]:
        from minidl.backend import to_host

        if self.net is None:
            return {}
        net = self.net
        def host(table):                       # copies: the engine updates its arrays in place
            return {k: np.array(to_host(v), copy=True) for k, v in table.items()}
        out = {"Weights": lambda: host(net.params), "Gradients": lambda: host(net.grads)}
        out["WeightsRMS"] = lambda: {k: _rms(to_host(v)) for k, v in net.params.items()}
        out["GradientsRMS"] = lambda: {k: _rms(to_host(v)) for k, v in net.grads.items()}
        if self.batch_data_ok and state.batch_indices is not None and state.iteration:
            idx = np.asarray(state.batch_indices, dtype=np.int64)

            def batch():
                x, y = self.source.X[idx], self.source.Y[idx]
                return {"Input": x, "Output": y}
            out["BatchData"] = batch
        return out


class BestRound(KeepBest):
    """TrainedNet: the weights of the best validation round, ``best_key`` over Wolfram's measurement dict of each
    validation (lower is better; ties keep the earlier round)."""

    def __init__(self, best_key: Callable[[dict], tuple], is_classifier: bool):
        super().__init__(lambda s: best_key(measures(s.validation_loss, s.validation_accuracy, s.validation_rmse,
                                                     is_classifier)))

    @property
    def best_round(self) -> int | None:
        return self.best_epoch


# ================================================================================================ stopping
def stopping_criterion(spec: dict[str, Any], book, on_validation: bool) -> EarlyStopping:
    """TrainingStoppingCriterion as the engine's early stopping (docs/semantics-wolfram.md#8-stopping-criterion):
    checked at each validation (else at each round end) on the criterion's measurement; checks of rounds below
    InitialPatience are skipped (no failure, no new best); the best is the running optimum of every check; a check
    fails when it does not improve on the best by at least AbsoluteChange (or RelativeChange·|best|); training
    stops after Patience consecutive failed checks (Patience 0: the first failed check, as Patience 1)."""
    rows = (lambda: book.validation_measures) if on_validation else (lambda: book.round_measures)
    return EarlyStopping(lambda s: rows()[-1][spec["Criterion"]], max(spec["Patience"], 1),
                         event=ev.VALIDATION if on_validation else ev.EPOCH_END,
                         mode="max" if spec["Criterion"] == "Accuracy" else "min",
                         absolute_change=spec["AbsoluteChange"], relative_change=spec["RelativeChange"],
                         running_best=True, skip_before=spec["InitialPatience"], key="stopping_criterion")


# ================================================================================================ callbacks
class Due:
    """Whether a callback with an :class:`~minidl.wolfram.options.Interval` runs at this event: every n rounds at
    the round's end; every n batches, every p percent of the run (``book.progress``) or every s seconds at a
    batch's end.  One instance per callback (percent and seconds remember when they last fired)."""

    def __init__(self, interval: Interval, book: RoundBook | None = None):
        self.interval, self.book = interval, book
        self._last_time = 0.0
        self._last_bucket = 0

    def __call__(self, state: TrainingState, *_) -> bool:
        kind, n = self.interval.kind, self.interval.n
        if kind == "rounds":
            return state.event == ev.EPOCH_END and state.epoch % n == 0
        if state.event != ev.ITERATION:
            return False
        if kind == "batches":
            return state.iteration % n == 0
        if kind == "percent":
            bucket = math.floor(100.0 * self.book.progress(state) / n + 1e-9)   # ⌊progress / p⌋
            fire, self._last_bucket = bucket > self._last_bucket, max(bucket, self._last_bucket)
            return fire
        t = state.time_since_start
        if t - self._last_time >= n:                                            # s seconds since the last time
            self._last_time = t
            return True
        return False


def progress_function(f: Callable[[ProgressInfo], Any], interval, book: RoundBook, can_stop: bool,
                      arg: str) -> UserFunction:
    """Calls ``f(progress_info)`` at its interval.  TrainingProgressFunction (``can_stop``): returning
    "StopTraining" or True stops training ("ManualStop"); a reporting function's result is ignored."""
    def wants_stop(fn, result) -> bool:
        if result is None or result is False:
            return False
        if result is True or (isinstance(result, str) and result == "StopTraining"):
            return True
        raise TypeError(f"{arg}: {getattr(fn, '__qualname__', fn)!r} returned {result!r}; allowed: "
                        "'StopTraining' (or True) to stop, None or False to go on")

    return UserFunction([f], book.record, Due(interval, book), wants_stop if can_stop else None)


# ================================================================================================ reports
def _num(v) -> str:
    """Wolfram's NumberForm[x, 3]: three significant digits; blank when absent."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or not isinstance(v, numbers.Real):
        return ""                                   # per-class dicts and matrices are not printed
    return f"{v:.3g}"


def _secs(v) -> str:
    return "" if v is None else f"{v:.1f}s"


def print_columns(names: list[str], has_validation: bool) -> list[Column]:
    """The "Print" report's columns (each a cell of the progress record), as wide as its title and at least 7."""
    cols = [("%", lambda r: f"{100 * r['Progress']:.0f}"),
            ("round", lambda r: f"{r['Round']}/{r['MaxTrainingRounds']}"),
            ("batch", lambda r: f"{r['Batch']}/{r['BatchesPerRound']}"),
            ("inputs/second", lambda r: f"{r['MeanExamplesPerSecond']:.0f}" if r["MeanExamplesPerSecond"] else ""),
            ("learning rate", lambda r: _num(r["LearningRate"])), ("batch loss", lambda r: _num(r["BatchLoss"])),
            ("round loss", lambda r: _num(r["RoundLoss"]))]
    if has_validation:
        cols.append(("validation loss", lambda r: _num(r["ValidationLoss"])))
    for name in names[1:]:
        cols.append((f"round {name}", lambda r, n=name: _num((r["RoundMeasurements"] or {}).get(n))))
        if has_validation:
            cols.append((f"validation {name}", lambda r, n=name: _num((r["ValidationMeasurements"] or {}).get(n))))
    cols += [("time elapsed", lambda r: _secs(r["TimeElapsed"])),
             ("time remaining", lambda r: _secs(r["TimeRemaining"]))]
    return [Column(title, max(len(title), 7), cell) for title, cell in cols]


class PrintReport(TablePrinter):
    """TrainingProgressReporting "Print": a header, then one table row per interval ("Batch", "Round", n rounds;
    default: the first batch, then a batch at least 2 s after the previous row), the last batch, a closing line.
    The engine's table printer with Wolfram's columns (cells of the progress record) and row rule."""

    ROW_SECONDS = 2.0

    def __init__(self, book: RoundBook, interval=None, stream=None, header: dict[str, Any] | None = None):
        lines = ["Starting training."] + [f"    {k}: {v}" for k, v in (header or {}).items()]
        policy = every_n_seconds(self.ROW_SECONDS) if interval is None else Due(interval, book)
        super().__init__(lambda s: print_columns(book.names, s.has_validation), policy=policy, record=book.record,
                         header=lines, closing=lambda s: ["Training complete." if s.stop_kind == ev.MAX_EPOCHS
                                                          else f"Training stopped: {s.stop_reason}."],
                         stream=stream, clock=lambda: time.perf_counter())


EACH_ROUND = Interval("rounds", 1)


def file_report(path: str, book: RoundBook, interval: Interval = EACH_ROUND) -> FileLog:
    """TrainingProgressReporting to a .csv or .json file: one row per interval (default each round), rewritten
    atomically at most every 2 s and at the end."""
    def fields(state: TrainingState) -> list[str]:
        out = ["Round", "AbsoluteBatch", "TimeElapsed", "LearningRate", "BatchLoss", "RoundLoss"]
        out += [f"Round{n}" for n in book.names[1:]]
        if state.has_validation:
            out += ["ValidationLoss"] + [f"Validation{n}" for n in book.names[1:]]
        return out

    def row(state: TrainingState) -> dict[str, Any]:
        rec = book.record(state)
        out = {k: rec[k] for k in ("Round", "AbsoluteBatch", "TimeElapsed", "LearningRate", "BatchLoss",
                                   "RoundLoss", "ValidationLoss")}
        for n in book.names[1:]:
            out[f"Round{n}"] = (rec["RoundMeasurements"] or {}).get(n)
            out[f"Validation{n}"] = (rec["ValidationMeasurements"] or {}).get(n)
        return out

    return FileLog(path, row, Due(interval, book), fields, every=2.0)


# ================================================================================================ checkpoints
def net_checkpointer(kind: str, path: str, interval: Interval, make_net: Callable[[], Any],
                     book: RoundBook) -> Checkpointer:
    """TrainingProgressCheckpointing: at every ``interval`` (default each round), the network being trained (as
    NetTrain returns it) saved in the engine's safe format (a folder with manifest.json and arrays.npz; read with
    ``minidl.load_network``).  "File": one path, replaced atomically each time; "Directory": a new folder each
    time, named ``<date>T<time>_round<r>_batch<b>_loss<l>``."""
    def name(state: TrainingState) -> str:
        return (f"{datetime.now():%Y-%m-%dT%H-%M-%S}_round{state.epoch:05d}_batch{state.iteration:07d}_"
                f"loss{book.round_loss:.3e}")

    return Checkpointer(path, Due(interval, book), name, network=make_net, replace=kind == "File")


# ================================================================================================ custom properties
class CustomProperty(Observer):
    """A custom property {"Property": p, "Form": ..., "Interval": ...}: p (a progress-info key, or a function of
    the progress info) collected at each interval, with the batch number where it was taken."""

    def __init__(self, prop, interval, book: RoundBook):
        self.prop, self.interval, self.book = prop, interval, book
        self.due = Due(interval, book)
        self.positions: list[int] = []
        self.rounds: list[int] = []
        self.values: list[Any] = []

    def on_event(self, state: TrainingState):
        if not self.due(state):
            return None
        rec = self.book.record(state)
        self.values.append(self.prop(rec) if callable(self.prop) else rec[self.prop])
        self.positions.append(state.iteration)
        self.rounds.append(state.epoch)
        return None
