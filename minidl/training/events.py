"""What the training loop tells its observers: event kinds, the one state record, the observer protocol.

The loop never prints, plots or saves.  It emits ``(event, state)`` to observers in order; the verbose table, the
progress bar, the training-progress figure, output functions, checkpoints, patience-based stopping and the info
record are all observers reading the same ``TrainingState``, so they can never disagree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Event kinds in the order they can occur.
START = "start"            # after set-up, before the first iteration (iteration = 0)
ITERATION = "iteration"    # after every iteration's update (training metrics of that mini-batch are set)
VALIDATION = "validation"  # after a validation pass (validation metrics are set; sent right after its ITERATION)
EPOCH_END = "epoch_end"    # after the last iteration of an epoch (or a Wolfram round)
DONE = "done"              # after training ended, finalization and final validation (stop_reason is set)
EVENTS = (START, ITERATION, VALIDATION, EPOCH_END, DONE)

#: Reasons training stopped (MATLAB's wording; the Wolfram dialect maps them to its own names).
MAX_EPOCHS = "Max epochs completed"
VALIDATION_PATIENCE = "Met validation criterion"
STOPPED_BY_USER = "Stopped by user"          # stop button, Ctrl-C
OUTPUT_FUNCTION = "Stopped by OutputFcn"
NON_FINITE = "Training loss is NaN or Inf"
TIME_GOAL = "Time goal reached"
STOPPING_CRITERION = "Stopping criterion met"


@dataclass
class TrainingState:
    """The record every observer reads.  Metrics not computed at this event are None.

    Accuracy is in percent; RMSE for regression networks in place of accuracy.
    """

    event: str = START
    epoch: int = 0                       # 1-based epoch (Wolfram: round) of the current iteration; 0 before start
    iteration: int = 0                   # 1-based global iteration (Wolfram: batch); 0 before the first
    iterations_per_epoch: int = 0
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
    stop_reason: str | None = None
    final_validation_loss: float | None = None
    final_validation_accuracy: float | None = None
    final_validation_rmse: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # dialect-specific values (e.g. Wolfram round loss)
    has_validation: bool = False         # validation data were given (validation columns, plots)
    output_network_iteration: int | None = None  # DONE: the iteration of the returned network's last update
    non_finite: dict[str, Any] | None = None     # DONE after a non-finite loss: {"iteration", "parameter", "what"}

    def copy(self) -> TrainingState:
        """A snapshot (observers that keep history store copies)."""
        return dataclasses.replace(self, extra=dict(self.extra))


class Observer:
    """Listens to the loop.  ``on_event`` may return True (or a reason string) to ask training to stop.

    Observers with state a resumed run needs (patience counters, best values) implement ``state_dict`` and
    ``load_state_dict`` with JSON-serializable values.
    """

    def on_event(self, state: TrainingState) -> bool | str | None:
        """Called for every event; ``state.event`` says which."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state needed to resume exactly."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def close(self) -> None:
        """Release resources (windows, files); called once after DONE, also when training failed."""
