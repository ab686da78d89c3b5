"""A tqdm progress bar over the iterations of a training run: epoch, loss, accuracy (or RMSE) and ETA.

Quiet by default where nobody watches: nothing is written when the output stream is not a terminal, unless
``force=True`` (or inside a Jupyter notebook, where ``tqdm.auto`` draws its widget). Redraws are rate-limited by
tqdm's ``mininterval``, so a fast loop does not flood a notebook.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from minidl.reporting.notebook import in_notebook
from minidl.training import events
from minidl.training.events import Observer, TrainingState

__all__ = ["ProgressBar", "in_notebook"]


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressBar(Observer):
    """tqdm bar over iterations with epoch, mini-batch loss, accuracy or RMSE, validation values and ETA."""

    def __init__(self, file: IO[str] | None = None, force: bool = False, mininterval: float = 0.5,
                 leave: bool = True, desc: str = "Training", notebook: bool | None = None) -> None:
        """
        Args:
            file: the stream written to (default ``sys.stderr``, looked up when training starts).
            force: write even when ``file`` is not a terminal (logs, tests).
            mininterval: least seconds between redraws (tqdm's rate limit).
            leave: keep the finished bar on screen.
            desc: the bar's label.
            notebook: use ``tqdm.auto`` (the notebook widget); default: when running in a Jupyter kernel and no
                ``file`` is given.
        """
        if not isinstance(force, bool):
            raise TypeError(f"force must be True or False, got {force!r}")
        if isinstance(mininterval, bool) or not isinstance(mininterval, (int, float)) or mininterval < 0:
            raise ValueError(f"mininterval must be a number of seconds >= 0, got {mininterval!r}")
        self.file = file
        self.force = force
        self.mininterval = float(mininterval)
        self.leave = bool(leave)
        self.desc = str(desc)
        self.notebook = notebook
        self.bar = None  # the tqdm instance while training (None when disabled)
        self._postfix: dict[str, str] = {}

    def _make_bar(self, state: TrainingState) -> Any:
        notebook = (self.file is None and in_notebook()) if self.notebook is None else self.notebook
        stream = sys.stderr if self.file is None else self.file
        if not (self.force or notebook or _is_terminal(stream)):
            return None
        if notebook:
            from tqdm.auto import tqdm
        else:
            from tqdm.std import tqdm
        total = int(state.max_iterations) or None
        return tqdm(total=total, initial=int(state.iteration), desc=self.desc, unit="it", file=stream,
                    mininterval=self.mininterval, leave=self.leave, dynamic_ncols=_is_terminal(stream))

    def on_event(self, state: TrainingState) -> bool | str | None:
        """Advance the bar to ``state.iteration`` and refresh its values (drawn at most every ``mininterval``)."""
        if state.event == events.START or (self.bar is None and state.event != events.DONE and not self._postfix):
            self._postfix = {"epoch": ""}
            self.bar = self._make_bar(state)
        bar = self.bar
        if bar is None:
            return None
        if state.max_epochs:
            self._postfix["epoch"] = f"{state.epoch}/{state.max_epochs}"
        else:
            self._postfix["epoch"] = str(state.epoch)
        if state.event == events.ITERATION:
            self._set("loss", state.training_loss, ".4f")
            if state.is_classifier:
                self._set("acc", state.training_accuracy, ".1f", "%")
            else:
                self._set("rmse", state.training_rmse, ".4g")
        if state.validation_loss is not None:
            self._set("val_loss", state.validation_loss, ".4f")
        val_top = state.validation_accuracy if state.is_classifier else state.validation_rmse
        if val_top is not None:
            self._set("val_acc" if state.is_classifier else "val_rmse", val_top,
                      ".1f" if state.is_classifier else ".4g", "%" if state.is_classifier else "")
        if state.event == events.DONE:
            final_top = state.final_validation_accuracy if state.is_classifier else state.final_validation_rmse
            if final_top is not None:
                self._set("final_acc" if state.is_classifier else "final_rmse", final_top,
                          ".2f" if state.is_classifier else ".4g", "%" if state.is_classifier else "")
            if state.stop_reason:
                self._postfix["stop"] = state.stop_reason
        bar.set_postfix(self._postfix, refresh=False)
        if state.iteration > bar.n:
            bar.update(int(state.iteration) - bar.n)  # draws when mininterval has passed
        if state.event == events.DONE:
            bar.refresh()
            self.close()
        return None

    def _set(self, name: str, value: float | None, fmt: str, unit: str = "") -> None:
        if value is not None:
            self._postfix[name] = f"{value:{fmt}}{unit}"

    def close(self) -> None:
        """Close the bar (idempotent)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
