"""TablePrinter on its own, fed a fake event stream: columns, layouts, row policies, header, final row, closing.

The last tests configure it as MATLAB's verbose table and as Wolfram's "Print" report and check that each prints
byte for byte what the dialect's own observer prints on the same stream.
"""

import io
import math

import pytest

from minidl.matlab.verbose import VerboseTable, format_time
from minidl.reporting import table as T
from minidl.reporting.table import Column, TablePrinter
from minidl.training import events as ev
from minidl.training.events import TrainingState


class FakeClock:
    """Seconds that advance only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def stream(epochs=3, ipe=4, validate_every=5, has_validation=True, classifier=True, stop_at=None, clock=None,
           seconds_per_iteration=0.0):
    """START, ITERATION (+ VALIDATION every ``validate_every``), EPOCH_END per epoch, DONE; optional early stop."""
    base = dict(iterations_per_epoch=ipe, max_epochs=epochs, max_iterations=ipe * epochs, is_classifier=classifier,
                has_validation=has_validation)
    yield TrainingState(event=ev.START, **base)
    it, reason = 0, ev.MAX_EPOCHS
    for epoch in range(1, epochs + 1):
        for _ in range(ipe):
            it += 1
            if clock is not None:
                clock.now += seconds_per_iteration
            loss = 2.0 / it
            values = dict(base, epoch=epoch, iteration=it, base_learn_rate=0.01 if it < 7 else 5e-5,
                          time_since_start=1.5 * it, training_loss=loss, training_accuracy=100 - 50 * loss,
                          training_rmse=math.sqrt(loss))
            validate = has_validation and (it % validate_every == 0 or it == ipe * epochs)
            if validate:
                values.update(validation_loss=loss + 0.1, validation_accuracy=90.0 - it, validation_rmse=loss)
            yield TrainingState(event=ev.ITERATION, **values)
            if validate:
                yield TrainingState(event=ev.VALIDATION, **values)
            if stop_at == it:
                reason = ev.USER_FUNCTION
                break
        else:
            yield TrainingState(event=ev.EPOCH_END, **values)
            continue
        break
    yield TrainingState(event=ev.DONE, **dict(values, stop_reason=reason, stop_kind=reason))


def run(printer, states):
    out = io.StringIO()
    printer.stream = out
    for s in states:
        assert printer.on_event(s) is None  # a table never stops training
    return out.getvalue().splitlines()


COLS = [Column("it", 4, lambda s: str(s.iteration)),
        Column(("loss", "(mean)"), None, lambda s: f"{s.training_loss:.2f}")]


# ------------------------------------------------------------------------------------------------ columns
def test_column_width_defaults_to_the_widest_title_line_and_checks_its_arguments():
    assert Column(("Mini-batch", "Loss"), None, str).width == 10
    assert Column("loss", 7, str).title == ("loss",)
    with pytest.raises(ValueError, match=r"width: got 0; allowed: a positive integer or None"):
        Column("x", 0, str)
    with pytest.raises(TypeError, match=r"cell: got 'x'"):
        Column("x", 3, "x")
    with pytest.raises(TypeError, match=r"columns: got 'it'"):
        TablePrinter(["it"])
    with pytest.raises(ValueError, match=r"title_align: got '\|'"):
        T.TableLayout(title_align="|")


def test_plain_layout_right_aligns_titles_and_cells_and_a_formatter_replaces_the_alignment():
    cols = COLS + [Column("epoch", 5, lambda s: str(s.epoch), formatter=lambda text: f"[{text}]")]
    lines = run(TablePrinter(cols, policy=T.at_events(ev.EPOCH_END)), stream(has_validation=False))
    assert lines == ["  it |   loss | epoch",
                     "     | (mean) |      ",
                     "   4 |   0.50 | [1]",
                     "   8 |   0.25 | [2]",
                     "  12 |   0.17 | [3]"]


def test_matlab_layout_frames_titles_with_rules_and_closes_with_one():
    lines = run(TablePrinter(COLS, policy=T.at_events(ev.EPOCH_END), layout=T.MATLAB_LAYOUT),
                stream(epochs=1, has_validation=False))
    rule = "|" + "=" * 11 + "|"
    assert lines == [rule, "| it | loss |", "|    |(mean)|", rule, "|  4 | 0.50 |", rule]


def test_columns_may_depend_on_the_start_state():
    def columns(start):
        extra = [Column("val", 5, lambda s: "" if s.validation_loss is None else f"{s.validation_loss:.2f}")]
        return COLS + (extra if start.has_validation else [])

    with_val = run(TablePrinter(columns, policy=T.at_events(ev.VALIDATION)), stream())
    without = run(TablePrinter(columns, policy=T.at_events(ev.ITERATION)), stream(has_validation=False))
    assert with_val[0] == "  it |   loss |   val" and with_val[2:] == ["   5 |   0.40 |  0.50", "  10 |   0.20 |  0.30",
                                                                      "  12 |   0.17 |  0.27"]
    assert without[0] == "  it |   loss" and len(without) == 2 + 12


def test_the_record_function_builds_what_the_cells_read():
    printer = TablePrinter([Column("pct", 4, lambda r: f"{r['progress']:.0%}")], policy=T.at_events(ev.EPOCH_END),
                           record=lambda s: {"progress": s.iteration / s.max_iterations})
    assert run(printer, stream(has_validation=False))[1:] == [" 33%", " 67%", "100%"]


# ------------------------------------------------------------------------------------------------ policies
def test_every_n_iterations_is_matlabs_rule():
    lines = run(TablePrinter(COLS, policy=T.every_n_iterations(3)), stream(validate_every=5))
    printed = [int(line.split("|")[0]) for line in lines[2:]]
    assert printed == [1, 3, 5, 6, 9, 10, 12]  # 1, every 3rd, every validation (5, 10, 12), the last (12)
    with pytest.raises(ValueError, match=r"frequency: got 0; allowed: a positive integer"):
        T.every_n_iterations(0)


def test_every_n_seconds_prints_the_first_batch_then_a_row_once_the_interval_has_passed():
    clock = FakeClock()
    printer = TablePrinter(COLS, policy=T.every_n_seconds(2.0), clock=clock)
    lines = run(printer, stream(has_validation=False, clock=clock, seconds_per_iteration=0.75))
    printed = [int(line.split("|")[0]) for line in lines[2:]]
    assert printed == [1, 4, 7, 10, 12]  # 0.75 s apiece: a row every third batch; the last batch at DONE
    assert printer.last_row_at == clock.now and printer.printed_iteration == 12
    with pytest.raises(ValueError, match=r"seconds: got -1"):
        T.every_n_seconds(-1)


def test_at_events_checks_its_kinds():
    with pytest.raises(ValueError, match=r"kinds: got \('done',\)"):
        T.at_events(ev.DONE)


def test_any_function_is_a_policy_and_sees_the_printer():
    seen = []

    def policy(state, printer):
        seen.append((state.event, printer.printed_iteration))
        return state.event == ev.ITERATION and state.iteration in (2, 3)

    lines = run(TablePrinter(COLS, policy=policy, final_row=False), stream(epochs=1, has_validation=False))
    assert [line.split("|")[0].strip() for line in lines[2:]] == ["2", "3"]
    assert seen == [("iteration", -1), ("iteration", -1), ("iteration", 2), ("iteration", 3), ("epoch_end", 3)]


# ------------------------------------------------------------------------------------------- header and end
def test_header_lines_final_row_and_closing_lines():
    printer = TablePrinter(COLS, policy=T.every_n_iterations(50),
                           header=lambda s: ["Starting.", f"  epochs: {s.max_epochs}"],
                           closing=lambda s: [f"Stopped: {s.stop_reason}."])
    lines = run(printer, stream(has_validation=False, stop_at=6))
    assert lines == ["Starting.", "  epochs: 3", "  it |   loss", "     | (mean)", "   1 |   2.00", "   6 |   0.33",
                     "Stopped: user_function."]  # row 6: the last iteration, printed at DONE


def test_no_final_row_twice_and_none_when_switched_off():
    full = run(TablePrinter(COLS, policy=T.at_events(ev.EPOCH_END)), stream(has_validation=False))
    assert [line.split("|")[0].strip() for line in full[2:]] == ["4", "8", "12"]  # 12 printed once
    off = run(TablePrinter(COLS, policy=T.at_events(ev.EPOCH_END), final_row=False),
              stream(has_validation=False, stop_at=6))
    assert [line.split("|")[0].strip() for line in off[2:]] == ["4"]


def test_nothing_is_printed_before_start():
    assert run(TablePrinter(COLS, closing=["end"]), list(stream())[1:]) == []


# -------------------------------------------------------------------------------------------- the dialects
def test_verbose_table_is_a_table_printer_with_matlabs_columns():
    table = VerboseTable(frequency=3)
    assert isinstance(table, TablePrinter)
    lines = run(table, stream(validate_every=5))
    rule = "|" + "=" * 118 + "|"
    assert lines[0] == lines[3] == lines[-1] == rule
    assert lines[1] == ("|  Epoch  |  Iteration  |  Time Elapsed  |  Mini-batch  |  Validation  |  Mini-batch  |"
                        "  Validation  |  Base Learning  |")
    assert lines[5] == ("|       1 |           3 |       " + format_time(4.5) + " |       66.67% |              |"
                        "       0.6667 |              |          0.0100 |")
    assert lines[8] == ("|       3 |           9 |       " + format_time(13.5) + " |       88.89% |              |"
                        "       0.2222 |              |      5.0000e-05 |")
    assert lines[9] == ("|       3 |          10 |       " + format_time(15.0) + " |       90.00% |       80.00% |"
                        "       0.2000 |       0.3000 |      5.0000e-05 |")  # a validation row
    assert len(lines) == 4 + 7 + 1
