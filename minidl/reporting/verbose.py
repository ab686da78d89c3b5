"""The verbose table (MATLAB ``Verbose``): an observer printing one row per reported iteration (SEMANTICS §2).

Rows at iteration 1, every ``frequency``-th iteration, every validation and the final iteration; a header before
the first row and a closing rule after the last. Classification: accuracy columns ('%.2f%%'); regression: RMSE
columns ('%.2f'); validation columns only with validation data; loss '%.4f'; base rate '%.4f' ('%.4e' below 1e-4).
"""

from __future__ import annotations

import math
import sys
from typing import TextIO

from minidl.training import events as ev
from minidl.training.events import Observer, TrainingState

__all__ = ["VerboseTable", "format_time", "format_rate"]


def format_time(seconds: float) -> str:
    """hh:mm:ss of elapsed seconds (floored).

    >>> format_time(3725.9)
    '01:02:05'
    """
    s = int(seconds)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _num(value: float | None, fmt: str) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return fmt % value


def format_rate(rate: float | None) -> str:
    """'%.4f', or '%.4e' below 1e-4 (MATLAB).

    >>> format_rate(0.01), format_rate(1e-5)
    ('0.0100', '1.0000e-05')
    """
    if rate is not None and 0 < abs(rate) < 1e-4:
        return _num(rate, "%.4e")
    return _num(rate, "%.4f")


def _center(text: str, width: int) -> str:
    left = (width - len(text)) // 2
    return " " * left + text + " " * (width - len(text) - left)


class VerboseTable(Observer):
    """Prints the training table to ``stream`` (default: sys.stdout at print time)."""

    def __init__(self, frequency: int = 50, stream: TextIO | None = None):
        if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
            raise ValueError(f"frequency: got {frequency!r}; allowed: a positive integer")
        self.frequency = frequency
        self.stream = stream
        self._columns: list[tuple[str, str, int, object]] = []
        self._last: TrainingState | None = None
        self._last_printed = False

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)

    def columns(self, is_classifier: bool, has_validation: bool) -> list[tuple[str, str, int, object]]:
        """(title line 1, title line 2, width, cell function of the state) per column."""
        metric, fmt, key = ("Accuracy", "%.2f%%", "accuracy") if is_classifier else ("RMSE", "%.2f", "rmse")
        cols = [("Epoch", "", 9, lambda s: str(s.epoch)),
                ("Iteration", "", 13, lambda s: str(s.iteration)),
                ("Time Elapsed", "(hh:mm:ss)", 16, lambda s: format_time(s.time_since_start)),
                ("Mini-batch", metric, 14, lambda s: _num(getattr(s, f"training_{key}"), fmt))]
        if has_validation:
            cols.append(("Validation", metric, 14, lambda s: _num(getattr(s, f"validation_{key}"), fmt)))
        cols.append(("Mini-batch", "Loss", 14, lambda s: _num(s.training_loss, "%.4f")))
        if has_validation:
            cols.append(("Validation", "Loss", 14, lambda s: _num(s.validation_loss, "%.4f")))
        cols.append(("Base Learning", "Rate", 17, lambda s: format_rate(s.base_learn_rate)))
        return cols

    def _rule(self) -> str:
        return "|" + "=" * (sum(c[2] for c in self._columns) + len(self._columns) - 1) + "|"

    def header(self) -> list[str]:
        """The rule, two title lines and the rule."""
        return [self._rule(),
                "|" + "|".join(_center(c[0], c[2]) for c in self._columns) + "|",
                "|" + "|".join(_center(c[1], c[2]) for c in self._columns) + "|",
                self._rule()]

    def row(self, state: TrainingState) -> str:
        """One table row: cells right-aligned with one trailing space."""
        return "|" + "|".join(f"{c[3](state):>{c[2] - 1}} " for c in self._columns) + "|"

    def on_event(self, state: TrainingState):
        if state.event == ev.START:
            self._columns = self.columns(state.is_classifier, state.has_validation)
            for line in self.header():
                self._print(line)
        elif state.event == ev.ITERATION:
            it = state.iteration
            due = (it == 1 or it % self.frequency == 0 or state.validation_loss is not None
                   or it == state.max_iterations)
            self._last, self._last_printed = state.copy(), due
            if due:
                self._print(self.row(state))
        elif state.event == ev.DONE and self._columns:
            if self._last is not None and not self._last_printed:  # the final iteration (an early stop)
                self._print(self.row(self._last))
            self._print(self._rule())
        return None
