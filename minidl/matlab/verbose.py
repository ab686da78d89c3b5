"""The verbose table (MATLAB ``Verbose``): one row per reported iteration (docs/semantics-matlab.md#9-verbose-table).

Rows at iteration 1, every ``frequency``-th iteration, every validation and the final iteration; a header before
the first row and a closing rule after the last. Classification: accuracy columns ('%.2f%%'); regression: RMSE
columns ('%.2f'); validation columns only with validation data; loss '%.4f' (loss and RMSE in e-format below
10^−decimals and from 1e6); base rate '%.4f' ('%.4e' below 1e-4).
A configuration of :class:`minidl.reporting.table.TablePrinter` (columns as data, MATLAB's layout and row policy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TextIO

from minidl._checks import check_positive_int
from minidl.reporting.table import MATLAB_LAYOUT, Column, TablePrinter, every_n_iterations
from minidl.training import events as ev
from minidl.training.events import TrainingState

__all__ = ["VerboseTable", "columns", "format_time", "format_rate", "format_value"]


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


def format_value(value: float | None, decimals: int) -> str:
    """Loss and RMSE cells: ``%.<decimals>f``, switching to ``%.<decimals>e`` below 10^−decimals (zero apart) and
    at 1e6 or more, as MATLAB's display does, so a cell never outgrows its column.

    >>> format_value(0.25, 4), format_value(3.2e-7, 4), format_value(2.5e7, 2), format_value(0.0, 4)
    ('0.2500', '3.2000e-07', '2.50e+07', '0.0000')
    """
    if value is not None and math.isfinite(value) and (0 < abs(value) < 10.0 ** -decimals or abs(value) >= 1e6):
        return f"%.{decimals}e" % value
    return _num(value, f"%.{decimals}f")


def columns(is_classifier: bool, has_validation: bool) -> list[Column]:
    """The verbose table's columns: accuracy ('%.2f%%') or RMSE ('%.2f'), validation columns only with validation."""
    metric, key = ("Accuracy", "accuracy") if is_classifier else ("RMSE", "rmse")

    def cell(v):  # accuracy '%.2f%%'; RMSE '%.2f' (e-format out of range)
        return _num(v, "%.2f%%") if is_classifier else format_value(v, 2)

    cols = [Column(("Epoch", ""), 9, lambda s: str(s.epoch)),
            Column(("Iteration", ""), 13, lambda s: str(s.iteration)),
            Column(("Time Elapsed", "(hh:mm:ss)"), 16, lambda s: format_time(s.time_since_start)),
            Column(("Mini-batch", metric), 14, lambda s: cell(getattr(s, f"training_{key}")))]
    if has_validation:
        cols.append(Column(("Validation", metric), 14, lambda s: cell(getattr(s, f"validation_{key}"))))
    cols.append(Column(("Mini-batch", "Loss"), 14, lambda s: format_value(s.training_loss, 4)))
    if has_validation:
        cols.append(Column(("Validation", "Loss"), 14, lambda s: format_value(s.validation_loss, 4)))
    cols.append(Column(("Base Learning", "Rate"), 17, lambda s: format_rate(s.base_learn_rate)))
    return cols


class VerboseTable(TablePrinter):
    """Prints the training table to ``stream`` (default: sys.stdout at print time)."""

    def __init__(self, frequency: int = 50, stream: TextIO | None = None, header: Sequence[str] = ()):
        check_positive_int("frequency", frequency, wrong_type=ValueError)
        super().__init__(lambda s: columns(s.is_classifier, s.has_validation), policy=every_n_iterations(frequency),
                         header=list(header), layout=MATLAB_LAYOUT, final_row=True, stream=stream)
        self.frequency = frequency

    def on_event(self, state: TrainingState) -> None:
        """As the printer does; a VALIDATION of an iteration already passed (the last one, validated after an early
        stop) updates the final row it prints at DONE."""
        if (state.event == ev.VALIDATION and self._last is not None and self._last.iteration == state.iteration
                and self._last.validation_loss is None):
            self._last = state.copy()
        return super().on_event(state)
