"""What the training loop tells its observers: event kinds, neutral stop kinds, the one state record, the protocol.

The loop never prints, plots or saves.  It emits ``(event, state)`` to observers in order; the verbose table, the
progress bar, the training-progress figure, output functions, checkpoints, early stopping and the info record are
all observers reading the same ``TrainingState``, so they can never disagree.

Stops are neutral *kinds* (:data:`STOP_KINDS`); each dialect maps them to its own wording (MATLAB's "Max epochs
completed", Wolfram's "MaxTrainingRounds") through ``EngineConfig.stop_reasons``.  An observer asks for a stop by
returning a kind (or ``True``: :data:`USER_FUNCTION`, or a :class:`StopRequest`); the engine records the kind and
which observer asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["START", "ITERATION", "VALIDATION", "EPOCH_END", "DONE", "EVENTS", "MAX_EPOCHS", "EARLY_STOP",
           "USER_FUNCTION", "STOP_BUTTON", "INTERRUPT", "NON_FINITE", "TIME_LIMIT", "FAILED", "STOP_KINDS",
           "StopRequest", "stop_request", "TrainingState", "Observer"]

#: Event kinds in the order they can occur.
START = "start"            # after set-up, before the first iteration (iteration = 0)
ITERATION = "iteration"    # after every iteration's update (training metrics of that mini-batch are set)
VALIDATION = "validation"  # after a validation pass (validation metrics are set; sent right after its ITERATION)
EPOCH_END = "epoch_end"    # after the last iteration of an epoch (or a Wolfram round)
DONE = "done"              # after training ended, finalization and final validation (stop_reason is set)
EVENTS = (START, ITERATION, VALIDATION, EPOCH_END, DONE)

#: Why training stopped, in neutral terms (the dialects word them: docs/semantics-matlab.md, semantics-wolfram.md).
MAX_EPOCHS = "max_epochs"          # every epoch (round) was trained
EARLY_STOP = "early_stop"          # an early-stopping rule fired (MATLAB ValidationPatience, Wolfram criterion)
USER_FUNCTION = "user_function"    # a user's function asked (MATLAB OutputFcn, Wolfram TrainingProgressFunction)
STOP_BUTTON = "stop_button"        # the Stop button of the training-progress figure
INTERRUPT = "interrupt"            # Ctrl-C (KeyboardInterrupt)
NON_FINITE = "non_finite"          # the loss, a gradient or an updated weight was NaN or Inf
TIME_LIMIT = "time_limit"          # the time limit was reached (Wolfram TimeGoal)
FAILED = "failed"                  # an exception after the first iteration (re-raised, carrying net and info)
STOP_KINDS = (MAX_EPOCHS, EARLY_STOP, USER_FUNCTION, STOP_BUTTON, INTERRUPT, NON_FINITE, TIME_LIMIT, FAILED)


@dataclass(frozen=True)
class StopRequest:
    """A request to stop after this event: its neutral ``kind`` and an optional message."""

    kind: str
    message: str | None = None

    def __post_init__(self):
        if self.kind not in STOP_KINDS:
            raise ValueError(f"kind: got {self.kind!r}; allowed: {', '.join(map(repr, STOP_KINDS))}")


def stop_request(result: Any) -> StopRequest | None:
    """What an observer's return value asks: None/False go on; True is :data:`USER_FUNCTION`; a kind string or a
    :class:`StopRequest` stops with that kind.

    >>> stop_request(None), stop_request(True).kind, stop_request("early_stop").kind
    (None, 'user_function', 'early_stop')
    """
    if result is None or result is False:
        return None
    if isinstance(result, StopRequest):
        return result
    if result is True:
        return StopRequest(USER_FUNCTION)
    if isinstance(result, str):
        return StopRequest(result)
    raise TypeError(f"an observer returned {result!r}; allowed: None or False (go on), True, a stop kind "
                    f"({', '.join(map(repr, STOP_KINDS))}) or a StopRequest")


@dataclass
class TrainingState:
    """The record every observer reads.  Metrics not computed at this event are None.

    Accuracy is in percent; RMSE for regression networks in place of accuracy.
    """

    event: str = START
    epoch: int = 0                       # 1-based epoch (Wolfram: round) of the current iteration; 0 before start
    iteration: int = 0                   # 1-based global iteration (Wolfram: batch); 0 before the first
    iterations_per_epoch: int = 0
    iterations_this_epoch: int = 0       # the current epoch's iterations: iterations_per_epoch, or for sequences in
                                         # chunks whose count varies by epoch (iterations_per_epoch 0) this epoch's
    max_epochs: int = 0
    max_iterations: int = 0              # iterations_per_epoch · max_epochs (0 when unknown)
    base_learn_rate: float | None = None
    time_since_start: float = 0.0        # seconds
    training_loss: float | None = None
    training_accuracy: float | None = None
    training_rmse: float | None = None
    gradient_norm: float | None = None   # global L2 norm of the data-loss gradient (audit log)
    validation_loss: float | None = None
    validation_accuracy: float | None = None
    validation_rmse: float | None = None
    is_classifier: bool = True
    stop_reason: str | None = None       # DONE: the stop in the dialect's wording (EngineConfig.stop_reasons)
    stop_kind: str | None = None         # DONE: the neutral kind (STOP_KINDS)
    stopped_by: str | None = None        # DONE: the observer (class name) that asked for the stop, if one did
    final_validation_loss: float | None = None
    final_validation_accuracy: float | None = None
    final_validation_rmse: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # dialect-specific values (e.g. the settings)
    has_validation: bool = False         # validation data were given (validation columns, plots)
    output_network_iteration: int | None = None  # DONE: the iteration of the returned network's last update
    non_finite: dict[str, Any] | None = None     # DONE after a non-finite loss: {"iteration", "parameter", "what"}
    # -- the mini-batch of this ITERATION
    batch_indices: Any = None            # (B,) int64: the batch's positions in the training source
    batch_size: int = 0                  # B, the actual number of observations in the batch
    batch_in_epoch: int = 0              # 1-based position of the batch within its epoch
    example_losses: Any = None           # (B,) float64 ℓₙ of the batch (when EngineConfig.record_example_losses)
    # -- outputs and targets as host arrays (when EngineConfig.record_outputs; for per-example measurements)
    batch_outputs: Any = None            # ITERATION: (B, ...) the network's training-mode outputs for the batch
    batch_targets: Any = None            # ITERATION: (B,) class indices or (B, R) responses, as the loss read them
    validation_outputs: Any = None       # VALIDATION: (M, ...) prediction-mode outputs over the validation data
    validation_targets: Any = None       # VALIDATION: their targets, in the same order
    # -- what observers may ask of the run (set by the engine before START)
    weights: Callable[[], dict[str, Any]] | None = None   # host copies of the network's arrays (params and state)
    snapshot: Callable[[], tuple[dict, dict]] | None = None  # (manifest, arrays): everything an exact resume needs
    mini_batch_size: int = 0             # the configured mini-batch size (set before START)

    def copy(self) -> TrainingState:
        """A snapshot (observers that keep history store copies)."""
        return dataclasses.replace(self, extra=dict(self.extra))


_HOOKS = {START: "on_start", ITERATION: "on_iteration", VALIDATION: "on_validation", EPOCH_END: "on_epoch_end",
          DONE: "on_done"}


class Observer:
    """Listens to the loop through named hooks; a hook may return a stop request (see :func:`stop_request`).

    The default :meth:`on_event` calls ``on_start``, ``on_iteration``, ``on_validation``, ``on_epoch_end`` or
    ``on_done``; override the hooks you need (or ``on_event`` itself).  Observers with state a resumed run needs
    (patience counters, best values) set ``state_key`` and implement ``state_dict`` / ``load_state_dict`` with
    JSON-serializable values.
    """

    state_key: str | None = None

    def on_event(self, state: TrainingState) -> Any:
        """Called for every event; dispatches to the named hook of ``state.event``."""
        return getattr(self, _HOOKS[state.event])(state)

    def on_start(self, state: TrainingState) -> Any:
        """After set-up, before the first iteration."""

    def on_iteration(self, state: TrainingState) -> Any:
        """After every iteration's update."""

    def on_validation(self, state: TrainingState) -> Any:
        """After a validation pass (right after its iteration's ``on_iteration``)."""

    def on_epoch_end(self, state: TrainingState) -> Any:
        """After the last iteration of an epoch."""

    def on_done(self, state: TrainingState) -> Any:
        """After training ended (finalization and final validation done; the stop fields are set)."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state needed to resume exactly."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def close(self) -> None:
        """Release resources (windows, files); called once after DONE, also when training failed."""
