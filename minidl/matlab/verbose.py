"""The verbose table (MATLAB ``Verbose``): one row per reported iteration (docs/semantics-matlab.md#9-verbose-table).

Rows at iteration 1, every ``frequency``-th iteration, every validation and the final iteration; a header before
the first row and a closing rule after the last. Classification: accuracy columns ('%.2f%%'); regression: RMSE
columns ('%.2f'); validation columns only with validation data; loss '%.4f'; base rate '%.4f' ('%.4e' below 1e-4).
A configuration of :class:`minidl.reporting.table.TablePrinter` (columns as data, MATLAB's layout and row policy).
"""

from __future__ import annotations

import math
from typing import TextIO

from minidl._checks import check_positive_int
from minidl.reporting.table import MATLAB_LAYOUT, Column, TablePrinter, every_n_iterations

__all__ = ["VerboseTable", "columns", "format_time", "format_rate"]


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


def columns(is_classifier: bool, has_validation: bool) -> list[Column]:
    """The verbose table's columns: accuracy ('%.2f%%') or RMSE ('%.2f'), validation columns only with validation."""
    metric, fmt, key = ("Accuracy", "%.2f%%", "accuracy") if is_classifier else ("RMSE", "%.2f", "rmse")
    cols = [Column(("Epoch", ""), 9, lambda s: str(s.epoch)),
            Column(("Iteration", ""), 13, lambda s: str(s.iteration)),
            Column(("Time Elapsed", "(hh:mm:ss)"), 16, lambda s: format_time(s.time_since_start)),
            Column(("Mini-batch", metric), 14, lambda s: _num(getattr(s, f"training_{key}"), fmt))]
    if has_validation:
        cols.append(Column(("Validation", metric), 14, lambda s: _num(getattr(s, f"validation_{key}"), fmt)))
    cols.append(Column(("Mini-batch", "Loss"), 14, lambda s: _num(s.training_loss, "%.4f")))
    if has_validation:
        cols.append(Column(("Validation", "Loss"), 14, lambda s: _num(s.validation_loss, "%.4f")))
    cols.append(Column(("Base Learning", "Rate"), 17, lambda s: format_rate(s.base_learn_rate)))
    return cols


class VerboseTable(TablePrinter):
    """Prints the training table to ``stream`` (default: sys.stdout at print time)."""

    def __init__(self, frequency: int = 50, stream: TextIO | None = None):
        check_positive_int("frequency", frequency, wrong_type=ValueError)
        super().__init__(lambda s: columns(s.is_classifier, s.has_validation), policy=every_n_iterations(frequency),
                         layout=MATLAB_LAYOUT, final_row=True, stream=stream)
        self.frequency = frequency
