"""Observers of MATLAB semantics: output functions, validation patience, checkpoints (SEMANTICS §2)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from minidl.training import events as ev
from minidl.training.events import Observer, TrainingState

__all__ = ["OutputFcnInfo", "OutputFunctions", "ValidationPatience", "Checkpointer"]

#: OutputFcn record fields (MATLAB names) -> TrainingState attributes.
OUTPUT_FIELDS = {
    "Epoch": "epoch", "Iteration": "iteration", "TimeSinceStart": "time_since_start",
    "TrainingLoss": "training_loss", "ValidationLoss": "validation_loss", "BaseLearnRate": "base_learn_rate",
    "TrainingAccuracy": "training_accuracy", "TrainingRMSE": "training_rmse",
    "ValidationAccuracy": "validation_accuracy", "ValidationRMSE": "validation_rmse", "State": "event",
}


class OutputFcnInfo(dict):
    """The record an output function receives: MATLAB field names as keys (None where not computed).

    Also readable as attributes, by MATLAB name or snake_case: ``info.TrainingLoss`` or ``info.training_loss``.
    """

    def __getattr__(self, name: str):
        if name in self:
            return self[name]
        for key, attr in OUTPUT_FIELDS.items():
            if attr == name or (name == "state" and key == "State"):
                return self[key]
        raise AttributeError(f"output-function info has no field {name!r}; fields: {', '.join(self)}")


def output_fcn_info(state: TrainingState) -> OutputFcnInfo:
    """The record for ``state`` (MATLAB: start / iteration / done).

    start: Epoch 0 (or the resumed epoch), Iteration 0 and TimeSinceStart only.  iteration: that iteration's values
    (validation values only when it validated).  done: the last iteration's training values and the final
    validation values of the finalized network.
    """
    rec = OutputFcnInfo((k, getattr(state, a)) for k, a in OUTPUT_FIELDS.items())
    if state.event == ev.START:
        for k in rec:
            if k not in ("Epoch", "Iteration", "TimeSinceStart", "State"):
                rec[k] = None
    elif state.event == ev.DONE:
        rec.update(ValidationLoss=state.final_validation_loss, ValidationAccuracy=state.final_validation_accuracy,
                   ValidationRMSE=state.final_validation_rmse)
    if state.is_classifier:
        rec.update(TrainingRMSE=None, ValidationRMSE=None)
    else:
        rec.update(TrainingAccuracy=None, ValidationAccuracy=None)
    return rec


def _wants_stop(fn: Callable, result) -> bool:
    if result is None:
        return False
    if isinstance(result, (bool, numbers.Number)) or type(result).__name__ == "bool_":
        return bool(result)
    raise TypeError(f"output_fcn: {getattr(fn, '__qualname__', fn)!r} returned {type(result).__name__}; allowed: "
                    "True (stop training), False or None")


class OutputFunctions(Observer):
    """Calls each output function at start, after every iteration and at done; True from any stops training."""

    def __init__(self, functions: Sequence[Callable[[OutputFcnInfo], Any]]):
        self.functions = tuple(functions)

    def on_event(self, state: TrainingState):
        if state.event not in (ev.START, ev.ITERATION, ev.DONE):
            return None
        rec = output_fcn_info(state)
        stop = False
        for fn in self.functions:
            stop |= _wants_stop(fn, fn(OutputFcnInfo(rec)))
        return ev.OUTPUT_FUNCTION if stop and state.event != ev.DONE else None


class ValidationPatience(Observer):
    """MATLAB ValidationPatience: after each validation, loss < best resets the count, else count += 1; stop at
    count ≥ patience."""

    state_key = "validation_patience"

    def __init__(self, patience: int):
        self.patience = patience
        self.best = math.inf
        self.count = 0

    def on_event(self, state: TrainingState):
        if state.event != ev.VALIDATION or state.validation_loss is None:
            return None
        if state.validation_loss < self.best:
            self.best, self.count = state.validation_loss, 0   # best ← loss, count ← 0
        else:
            self.count += 1                                     # count ← count + 1
        return ev.VALIDATION_PATIENCE if self.count >= self.patience else None

    def state_dict(self) -> dict[str, Any]:
        return {"best": None if math.isinf(self.best) else self.best, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = math.inf if state.get("best") is None else float(state["best"])
        self.count = int(state["count"])


class Checkpointer(Observer):
    """After every epoch, saves the network and the whole training state to ``folder`` (see checkpoint.py)."""

    def __init__(self, folder: str):
        self.folder = folder
        self.trainer = None
        self.paths: list[str] = []

    def bind(self, trainer) -> None:
        """Called by the trainer before START: the checkpoint needs the trainer's whole state."""
        self.trainer = trainer

    def on_event(self, state: TrainingState):
        if state.event == ev.EPOCH_END and self.trainer is not None:
            self.paths.append(self.trainer.save_checkpoint(self.folder))
        return None
