"""A table printed while training runs: columns as data, a pluggable row policy, header and closing lines.

:class:`TablePrinter` is the one printer behind every training table: MATLAB's verbose table
(:class:`minidl.matlab.verbose.VerboseTable` is a configuration of it) and Wolfram's "Print" report are the same
mechanism with other columns, another layout (:class:`TableLayout`) and another row policy. A policy says which
events make a row: :func:`every_n_iterations` (MATLAB), :func:`every_n_seconds` (Wolfram's default: a row every
2 s), :func:`at_events` (a row at chosen event kinds), or any function ``policy(state, printer) -> bool``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from minidl._checks import check_positive_int
from minidl.training import events as ev
from minidl.training.events import Observer, TrainingState

__all__ = ["Column", "TableLayout", "TablePrinter", "RowPolicy", "every_n_iterations", "every_n_seconds",
           "at_events", "MATLAB_LAYOUT", "PLAIN_LAYOUT"]


@dataclass(frozen=True)
class Column:
    """One column: its title lines, its width (or a formatter of its text) and its cell, a function of the record.

    ``width`` is the number of characters of the column (cells and titles are aligned in it by the table's
    :class:`TableLayout`); ``None`` means the widest title line. ``formatter``, when given, replaces the layout's
    alignment of the cells: it takes the cell's text and returns the text printed (its width is then its own).
    """

    title: str | tuple[str, ...]           # one string per title line; a plain string is one line
    width: int | None                      # characters; None: the widest title line
    cell: Callable[[Any], str]             # the row's record -> the cell's text
    formatter: Callable[[str], str] | None = None  # cell text -> printed text (instead of the layout's alignment)

    def __post_init__(self) -> None:
        if isinstance(self.title, str):
            object.__setattr__(self, "title", (self.title,))
        if not callable(self.cell):
            raise TypeError(f"cell: got {self.cell!r}; allowed: a function of the row's record returning text")
        if self.width is None:
            object.__setattr__(self, "width", max(len(t) for t in self.title))
        elif isinstance(self.width, bool) or not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"width: got {self.width!r}; allowed: a positive integer or None")


@dataclass(frozen=True)
class TableLayout:
    """How columns are joined and aligned, and whether rules of ``rule_char`` frame the titles and close the table.

    ``title_align`` and ``cell_align`` are format alignments (``"<"``, ``"^"``, ``">"``); ``cell_margin`` spaces
    are kept free at the right end of each cell (MATLAB: one).
    """

    left: str = ""
    sep: str = " | "
    right: str = ""
    title_align: str = ">"
    cell_align: str = ">"
    cell_margin: int = 0
    rule_char: str | None = None  # None: no rules

    def __post_init__(self) -> None:
        for name in ("title_align", "cell_align"):
            if getattr(self, name) not in ("<", "^", ">"):
                raise ValueError(f"{name}: got {getattr(self, name)!r}; allowed: '<', '^' or '>'")


#: MATLAB's verbose table: ``|``-framed columns, centred titles, cells right-aligned with one trailing space, ``=``
#: rules above and below the titles and at the end.
MATLAB_LAYOUT = TableLayout(left="|", sep="|", right="|", title_align="^", cell_align=">", cell_margin=1,
                            rule_char="=")
#: Columns joined by `` | ``, titles and cells right-aligned, no rules (Wolfram's "Print" report).
PLAIN_LAYOUT = TableLayout()

#: ``policy(state, printer) -> bool``: whether this event (ITERATION, VALIDATION or EPOCH_END) prints a row.
RowPolicy = Callable[[TrainingState, "TablePrinter"], bool]
Lines = Sequence[str] | Callable[[TrainingState], Sequence[str]] | None


def every_n_iterations(frequency: int) -> RowPolicy:
    """MATLAB's rows: iteration 1, every ``frequency``-th iteration, every validation, the last iteration.

    The row of an iteration with validation is printed at its ITERATION event (the validation values are set then).
    """
    check_positive_int("frequency", frequency, wrong_type=ValueError)

    def policy(state: TrainingState, printer: TablePrinter) -> bool:
        it = state.iteration
        return state.event == ev.ITERATION and (it == 1 or it % frequency == 0 or state.validation_loss is not None
                                                or it == state.max_iterations)
    return policy


def every_n_seconds(seconds: float) -> RowPolicy:
    """The first iteration, then an iteration at least ``seconds`` after the previous row (Wolfram: 2 s)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"seconds: got {seconds!r}; allowed: a number >= 0")

    def policy(state: TrainingState, printer: TablePrinter) -> bool:
        return state.event == ev.ITERATION and (
            state.iteration == 1 or printer.clock() - printer.last_row_at >= seconds)
    return policy


def at_events(*kinds: str) -> RowPolicy:
    """A row at every event of the given kinds (e.g. ``at_events(EPOCH_END)``: one row per epoch)."""
    bad = [k for k in kinds if k not in (ev.ITERATION, ev.VALIDATION, ev.EPOCH_END)]
    if not kinds or bad:
        raise ValueError(f"kinds: got {kinds!r}; allowed: one or more of 'iteration', 'validation', 'epoch_end'")

    def policy(state: TrainingState, printer: TablePrinter) -> bool:
        return state.event in kinds
    return policy


def _lines(lines: Lines, state: TrainingState) -> list[str]:
    if lines is None:
        return []
    return list(lines(state) if callable(lines) else lines)


class TablePrinter(Observer):
    """Prints a table of training progress: header lines, titles, one row per event the policy picks, closing lines.

    Args:
        columns: the columns (:class:`Column`), or a function of the START state returning them (columns that
            depend on the task, e.g. accuracy or RMSE, validation columns only with validation data).
        policy: which events make a row: ``policy(state, printer) -> bool``, asked at every ITERATION, VALIDATION
            and EPOCH_END (default :func:`every_n_iterations` ``(50)``). ``printer.last_row_at`` (``clock()`` time of
            the last row, ``-inf`` before) and ``printer.printed_iteration`` are there for time-based policies.
        record: the row's record from the state (default: the state itself); each cell is a function of it.
        header: lines printed at START before the titles (a list, or a function of the START state).
        closing: lines printed at DONE after the last row and closing rule (a list, or a function of the DONE
            state, e.g. its stop reason).
        layout: joining and alignment (:data:`PLAIN_LAYOUT` by default, :data:`MATLAB_LAYOUT`).
        final_row: at DONE, print the last iteration's row when the policy had not printed it (an early stop).
        stream: where lines go (default: ``sys.stdout`` at print time).
        clock: seconds for ``last_row_at`` (default ``time.perf_counter``; a fake one in tests).

    Example: a row per epoch with the loss, and a closing line with the stop reason.

    >>> from minidl.training.events import TrainingState
    >>> table = TablePrinter([Column("epoch", 5, lambda s: str(s.epoch)),
    ...                       Column("loss", 6, lambda s: f"{s.training_loss:.3f}")],
    ...                      policy=at_events("epoch_end"), header=["Starting training."],
    ...                      closing=lambda s: [f"Training stopped: {s.stop_reason}."])
    >>> for event, epoch, loss in [("start", 0, None), ("iteration", 1, 0.91), ("epoch_end", 1, 0.91),
    ...                            ("iteration", 2, 0.52), ("epoch_end", 2, 0.52)]:
    ...     _ = table.on_event(TrainingState(event=event, epoch=epoch, iteration=epoch, training_loss=loss))
    Starting training.
    epoch |   loss
        1 |  0.910
        2 |  0.520
    >>> _ = table.on_event(TrainingState(event="done", epoch=2, iteration=2, stop_reason="Max epochs completed"))
    Training stopped: Max epochs completed.
    """

    def __init__(self, columns: Sequence[Column] | Callable[[TrainingState], Sequence[Column]], *,
                 policy: RowPolicy | None = None, record: Callable[[TrainingState], Any] | None = None,
                 header: Lines = None, closing: Lines = None, layout: TableLayout = PLAIN_LAYOUT,
                 final_row: bool = True, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if not callable(columns):
            columns = list(columns)
            bad = [c for c in columns if not isinstance(c, Column)]
            if bad:
                raise TypeError(f"columns: got {bad[0]!r}; allowed: Column objects or a function returning them")
        if policy is not None and not callable(policy):
            raise TypeError(f"policy: got {policy!r}; allowed: a function (state, printer) -> bool")
        if not isinstance(layout, TableLayout):
            raise TypeError(f"layout: got {type(layout).__name__}; allowed: a TableLayout")
        self._column_spec = columns
        self.policy = every_n_iterations(50) if policy is None else policy
        self.record = record
        self.header_lines, self.closing_lines = header, closing
        self.layout = layout
        self.final_row = bool(final_row)
        self.stream = stream
        self.clock = clock
        self.columns: list[Column] = []  # the columns in use (set at START)
        self.last_row_at = -math.inf     # clock() when the last row was printed
        self.printed_iteration = -1      # the iteration of the last row printed
        self._last: TrainingState | None = None  # the last ITERATION's state (for the final row)
        self._started = False

    # -- text
    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)

    def _join(self, cells: Sequence[str]) -> str:
        return self.layout.left + self.layout.sep.join(cells) + self.layout.right

    def rule(self) -> str:
        """The rule across the table (MATLAB: ``|====...====|``); empty when the layout has none."""
        lay = self.layout
        if lay.rule_char is None:
            return ""
        inner = sum(c.width for c in self.columns) + len(lay.sep) * (len(self.columns) - 1)
        return lay.left + lay.rule_char * inner + lay.right

    def titles(self) -> list[str]:
        """The title lines (as many as the column with the most; shorter columns are blank at the bottom)."""
        n = max((len(c.title) for c in self.columns), default=0)
        align = self.layout.title_align
        return [self._join([f"{(c.title[i] if i < len(c.title) else ''):{align}{c.width}}" for c in self.columns])
                for i in range(n)]

    def header(self) -> list[str]:
        """The titles, framed by rules when the layout has them."""
        rule = [self.rule()] if self.layout.rule_char is not None else []
        return rule + self.titles() + rule

    def row(self, record: Any) -> str:
        """One row of cells from ``record``."""
        lay = self.layout
        cells = []
        for c in self.columns:
            text = c.cell(record)
            cells.append(c.formatter(text) if c.formatter is not None else
                         f"{text:{lay.cell_align}{c.width - lay.cell_margin}}" + " " * lay.cell_margin)
        return self._join(cells)

    def _print_row(self, state: TrainingState) -> None:
        self._print(self.row(state if self.record is None else self.record(state)))
        self.printed_iteration = state.iteration
        self.last_row_at = self.clock()

    # -- events
    def on_event(self, state: TrainingState) -> None:
        """START: header lines and titles; a row when the policy says so; DONE: final row, rule, closing lines."""
        kind = state.event
        if kind == ev.START:
            spec = self._column_spec
            self.columns = list(spec(state) if callable(spec) else spec)
            self._started = True
            for line in _lines(self.header_lines, state) + self.header():
                self._print(line)
        elif kind == ev.DONE:
            if not self._started:
                return None
            if self.final_row and self._last is not None and self.printed_iteration != self._last.iteration:
                self._print_row(self._last)
            if self.layout.rule_char is not None:
                self._print(self.rule())
            for line in _lines(self.closing_lines, state):
                self._print(line)
        elif self._started:
            if kind == ev.ITERATION:
                self._last = state.copy()
            if self.policy(state, self):
                self._print_row(state)
        return None
