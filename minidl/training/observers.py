"""The one family of generic observers; each dialect configures them (docs/training.md, "The engine for dialects").

- :class:`EarlyStopping`: a measure checked at an event; stop after enough failed checks (MATLAB's
  ValidationPatience and Wolfram's TrainingStoppingCriterion are two configurations of it).
- :class:`KeepBest`: host copies of the network's arrays at the best check (Wolfram's TrainedNet).
- :class:`UserFunction`: calls user functions with a record the dialect builds; they may stop training.
- :class:`Checkpointer`: the full training state (exact resume) or the network alone, atomically, when due.
- :class:`FileLog`: rows of a record rewritten atomically to a .csv or .json file while training runs.
- :class:`AuditLog`: the audit log appended to a .csv or .jsonl file, flushed each epoch (readable mid-run).

The table printer (columns as data) lives with what a person sees: :mod:`minidl.reporting.table`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from minidl._files import atomic_write_text
from minidl.training import events as ev
from minidl.training.events import Observer, TrainingState

__all__ = ["EarlyStopping", "KeepBest", "UserFunction", "Checkpointer", "CheckpointWarning", "FileLog", "AuditLog",
           "every_epoch"]

Due = Callable[[TrainingState], bool]


def every_epoch(n: int = 1) -> Due:
    """A due-rule: at the end of every ``n``-th epoch."""
    return lambda s: s.event == ev.EPOCH_END and s.epoch % n == 0


def _ask(fn, what: str):
    """``fn`` when the engine (or the caller) provided it, else an error naming what is missing."""
    if fn is None:
        raise RuntimeError(f"state.{what}: not set; the engine sets it before START (a state made by hand needs it)")
    return fn


# ================================================================================================ early stopping
class EarlyStopping(Observer):
    """Stops training when a measure stops improving.

    At each check (``event``; ``measure(state)`` gives the value, None skips the check) the value *improves* when it
    beats the best so far by more than ``max(absolute_change, relative_change·|best|)`` (``mode`` "min": lower is
    better; "max": higher); then best ← value and the count of failed checks ← 0.  Otherwise the count grows by
    one, except during the first ``initial_patience`` epochs; training stops when the count reaches ``patience``.

    Two switches give the other family of rules (Wolfram's): ``running_best=True`` moves the best on every gain,
    also one below the threshold (best ← optimum(best, value)), and a gain equal to the threshold improves
    (at least the threshold, and more than 0); ``skip_before=k`` skips the checks of epochs below k altogether
    (they neither count nor move the best).

    - MATLAB ValidationPatience p: measure the validation loss, changes 0 (strictly lower), patience p.
    - Wolfram TrainingStoppingCriterion: its measure, changes, ``running_best=True``, ``skip_before``
      InitialPatience, ``patience`` max(Patience, 1) (docs/semantics-wolfram.md#8-stopping-criterion).
    """

    def __init__(self, measure: Callable[[TrainingState], float | None], patience: int, *,
                 event: str = ev.VALIDATION, mode: str = "min", absolute_change: float = 0.0,
                 relative_change: float = 0.0, initial_patience: int = 0, running_best: bool = False,
                 skip_before: int = 0, key: str = "early_stopping"):
        if mode not in ("min", "max"):
            raise ValueError(f"mode: got {mode!r}; allowed: 'min', 'max'")
        self.measure, self.patience, self.event, self.mode = measure, patience, event, mode
        self.absolute_change, self.relative_change = absolute_change, relative_change
        self.initial_patience, self.running_best, self.skip_before = initial_patience, running_best, skip_before
        self.state_key = key
        self.best: float | None = None
        self.count = 0

    def improves(self, value: float) -> bool:
        """Whether ``value`` beats the best by the change threshold (the first value always does)."""
        if self.best is None:
            return True
        gain = value - self.best if self.mode == "max" else self.best - value      # > 0: better
        threshold = max(self.absolute_change, self.relative_change * abs(self.best))
        if self.running_best:
            return gain > 0 and gain >= threshold                                # by at least the threshold
        return gain > threshold

    def on_event(self, state: TrainingState):
        if state.event != self.event or state.epoch < self.skip_before:
            return None
        value = self.measure(state)
        if value is None:
            return None
        if self.improves(value):
            self.best, self.count = value, 0                   # best ← value, count ← 0
        else:
            if self.running_best and self.best is not None:  # best ← optimum(best, value): any gain moves it
                self.best = max(self.best, value) if self.mode == "max" else min(self.best, value)
            if state.epoch > self.initial_patience:
                self.count += 1                                 # count ← count + 1
        return ev.EARLY_STOP if self.count >= self.patience else None

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best if self.best is None or math.isfinite(self.best) else None, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = None if state.get("best") is None else float(state["best"])
        self.count = int(state["count"])


# ================================================================================================ keep the best
class KeepBest(Observer):
    """At each check (``event``), keeps host copies of the network's arrays when ``key(state)`` is the lowest so
    far (a tuple compares element by element; ties keep the earlier).  ``best_arrays`` loads with
    ``Network.load_state_arrays``; ``best_epoch`` and ``best_iteration`` say where it was taken."""

    def __init__(self, key: Callable[[TrainingState], Any], event: str = ev.VALIDATION):
        self.key, self.event = key, event
        self.best: Any = None
        self.best_arrays: dict[str, Any] | None = None
        self.best_epoch: int | None = None
        self.best_iteration: int | None = None

    def on_event(self, state: TrainingState):
        if state.event != self.event:
            return None
        k = self.key(state)
        if k is not None and (self.best is None or k < self.best):   # strictly better: ties keep the earlier
            self.best, self.best_epoch, self.best_iteration = k, state.epoch, state.iteration
            self.best_arrays = _ask(state.weights, "weights")()
        return None


# ================================================================================================ user functions
class UserFunction(Observer):
    """Calls each of ``functions`` with ``record(state)`` when ``due(state)``; ``wants_stop(fn, result)`` says
    whether a result asks to stop (``None`` for functions whose results are ignored).  A stop is
    :data:`~minidl.training.events.USER_FUNCTION` and never happens at DONE."""

    def __init__(self, functions: Sequence[Callable[[Any], Any]], record: Callable[[TrainingState], Any],
                 due: Due, wants_stop: Callable[[Callable, Any], bool] | None):
        self.functions, self.record, self.due, self.wants_stop = tuple(functions), record, due, wants_stop

    def on_event(self, state: TrainingState):
        if not self.due(state):
            return None
        stop = False
        for fn in self.functions:
            result = fn(self.record(state))
            if self.wants_stop is not None:
                stop |= bool(self.wants_stop(fn, result))
        return ev.USER_FUNCTION if stop and state.event != ev.DONE else None


# ================================================================================================ checkpoints
class CheckpointWarning(UserWarning):
    """A checkpoint could not be written (``Checkpointer(..., on_failure="warn")``); training went on."""


class Checkpointer(Observer):
    """When ``due(state)``, writes a checkpoint atomically.

    ``network=None``: the whole training state (``state.snapshot()``: exact resume) as a new folder
    ``folder/name(state)``.  ``network`` given (a function returning the Network to save): that network alone, as a
    new folder ``folder/name(state)``, or, with ``replace=True``, to the one path ``folder`` replaced each time
    (it always loads).  ``paths`` lists what was written.  ``on_failure``: ``"raise"`` the save's error (ending
    training), or ``"warn"``: a :class:`CheckpointWarning` naming ``arg`` (the option, as the user spells it) and the
    folder, and training goes on (MATLAB).
    """

    def __init__(self, folder: str, due: Due, name: Callable[[TrainingState], str] | None = None, *,
                 network: Callable[[], Any] | None = None, replace: bool = False, on_failure: str = "raise",
                 arg: str = "folder"):
        if not replace and name is None:
            raise ValueError("name: a checkpoint written as new folders needs a naming function")
        if on_failure not in ("raise", "warn"):
            raise ValueError(f"on_failure: got {on_failure!r}; allowed: 'raise', 'warn'")
        self.folder, self.due, self.name, self.network, self.replace = folder, due, name, network, replace
        self.on_failure, self.arg = on_failure, arg
        self.paths: list[str] = []

    def on_event(self, state: TrainingState):
        if self.due(state):
            if self.on_failure == "raise":
                self.write(state)
            else:
                try:
                    self.write(state)
                except (OSError, ValueError) as e:  # folder removed or not writable, disk full
                    warnings.warn(f"{self.arg}: checkpoint not saved to the folder {self.folder!r} at iteration "
                                  f"{state.iteration}: {e}; training goes on", CheckpointWarning, stacklevel=2)
        return None

    def write(self, state: TrainingState) -> str:
        """Write one checkpoint now; returns its path."""
        from minidl.training.checkpoint import replace_network, save_network, write_checkpoint

        name = self.name
        if self.network is None:
            manifest, arrays = _ask(state.snapshot, "snapshot")()
            path = write_checkpoint(self.folder, _ask(name, "name")(state), manifest, arrays)
        elif self.replace:
            path = replace_network(self.network(), self.folder)
        else:
            path = save_network(self.network(), os.path.join(self.folder, _ask(name, "name")(state)), unique=True)
        if path not in self.paths:
            self.paths.append(path)
        return path


# ================================================================================================ file log
class FileLog(Observer):
    """Rows ``row(state)`` (dicts) taken when ``due(state)``, written to a .csv or .json file with the columns
    ``fields(state)`` (decided at START); the file is rewritten atomically at most every ``every`` seconds and at
    DONE, so it can be read while training runs."""

    def __init__(self, path: str, row: Callable[[TrainingState], dict[str, Any]], due: Due,
                 fields: Callable[[TrainingState], list[str]], every: float = 2.0):
        self.path, self.row, self.due, self.fields_of, self.every = path, row, due, fields, every
        self.rows: list[dict[str, Any]] = []
        self.fields: list[str] = []
        self._written_at = -math.inf

    def write(self) -> None:
        """Write every row so far."""
        if self.path.lower().endswith(".json"):
            text = json.dumps([{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                for k, v in r.items()} for r in self.rows], indent=1)
        else:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(self.fields)
            for r in self.rows:
                w.writerow(["" if r[k] is None else repr(r[k]) if isinstance(r[k], float) else r[k]
                            for k in self.fields])
            text = buf.getvalue()
        self._written_at = time.perf_counter()
        try:
            atomic_write_text(self.path, text)
        except (OSError, ValueError) as e:  # a log that cannot be written (its folder gone): a warning
            warnings.warn(f"{self.path!r}: the log could not be written ({e}); training goes on", RuntimeWarning,
                          stacklevel=2)

    def on_event(self, state: TrainingState):
        if state.event == ev.START:
            self.fields = self.fields_of(state)
        elif state.event == ev.DONE:
            self.write()
        elif self.due(state):
            row = self.row(state)
            self.rows.append({k: row.get(k) for k in self.fields})
            if time.perf_counter() - self._written_at >= self.every:
                self.write()
        return None


class AuditLog(Observer):
    """The audit log streamed to a file while training runs: one row per iteration, appended and flushed at the end
    of every epoch, at DONE and when the run ends in an error (``close``), so a long or crashed run can be read while
    it runs (docs/your-data.md#logs-while-training).

    ``path`` ends in ``.csv`` (a header, then the columns of :meth:`TrainingInfo.to_csv`: empty cells where not
    computed) or ``.jsonl`` (JSON Lines: one object per iteration with the same keys, null where not computed). The
    file is only ever appended to: a fresh run starts it empty; a resumed run (START at iteration k > 0) keeps the
    rows of iterations ≤ k already in the file (cutting rows a crashed run wrote after its checkpoint) and appends.
    ``every``: also flush when this many seconds passed since the last flush (None: at epoch ends only).
    """

    def __init__(self, path: str | os.PathLike, every: float | None = None):
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        if ext not in (".csv", ".jsonl"):
            raise ValueError(f"log_file: got {path!r}; allowed: a file name ending in .csv or .jsonl")
        self.path, self.jsonl, self.every = path, ext == ".jsonl", every
        self.columns: list[str] = []
        self._pending: list[str] = []
        self._flushed_at = time.perf_counter()

    def on_start(self, state: TrainingState):
        from minidl.training.info import SERIES, _applies

        self.columns = ["iteration"] + [n for n in SERIES if _applies(n, state.is_classifier)]
        self._pending = []
        if state.iteration > 0 and os.path.exists(self.path):
            self._cut_after(state.iteration)
        else:
            with open(self.path, "w", encoding="utf-8", newline="") as f:
                if not self.jsonl:
                    f.write(",".join(self.columns) + "\n")

    def _cut_after(self, iteration: int) -> None:
        """Truncate the file after the last row of an iteration ≤ ``iteration`` (the rows before stay as written)."""
        with open(self.path, "rb+") as f:
            keep = 0
            for k, line in enumerate(iter(f.readline, b"")):
                if not line.endswith(b"\n"):
                    break                                           # a partial last line of a killed run
                if k == 0 and not self.jsonl:
                    keep = f.tell()
                    continue
                text = line.decode("utf-8")
                it = json.loads(text)["iteration"] if self.jsonl else int(text.split(",", 1)[0])
                if it > iteration:
                    break
                keep = f.tell()
            f.truncate(keep)

    def on_iteration(self, state: TrainingState):
        from minidl.training.info import _cell

        values = {"iteration": state.iteration}
        values.update({n: getattr(state, n) for n in self.columns[1:]})
        if self.jsonl:
            row = {k: (int(v) if k in ("iteration", "epoch") else
                       None if v is None or not math.isfinite(float(v)) else float(v)) for k, v in values.items()}
            self._pending.append(json.dumps(row) + "\n")
        else:
            self._pending.append(",".join(_cell(math.nan if v is None else v) for v in values.values()) + "\n")
        if self.every is not None and time.perf_counter() - self._flushed_at >= self.every:
            self.flush()

    def on_epoch_end(self, state: TrainingState):
        self.flush()

    def on_done(self, state: TrainingState):
        self.flush()

    def close(self) -> None:
        self.flush()

    def flush(self) -> None:
        """Append the rows not yet written and flush them to the operating system."""
        if self._pending:
            try:
                with open(self.path, "a", encoding="utf-8", newline="") as f:
                    f.writelines(self._pending)
                    f.flush()
                    os.fsync(f.fileno())
                self._pending = []
            except (OSError, ValueError) as e:  # a log that cannot be written (its folder gone): a warning (rows kept)
                warnings.warn(f"{self.path!r}: the audit log could not be written ({e}); training goes on",
                              RuntimeWarning, stacklevel=2)
        self._flushed_at = time.perf_counter()
