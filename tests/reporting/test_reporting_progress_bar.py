"""The tqdm progress bar observer: what it writes, where, and when it stays quiet."""

import io

import pytest

from minidl.matlab import records as reasons  # stop reasons as MATLAB words them
from minidl.reporting.progress_bar import ProgressBar
from minidl.training import events
from minidl.training.events import TrainingState

IPE, EPOCHS = 5, 4
N = IPE * EPOCHS


def run_states(classifier=True):
    base = dict(iterations_per_epoch=IPE, max_epochs=EPOCHS, max_iterations=N, is_classifier=classifier)
    states = [TrainingState(event=events.START, **base)]
    for it in range(1, N + 1):
        common = dict(base, epoch=(it - 1) // IPE + 1, iteration=it)
        top = {"training_accuracy": 50.0 + 2 * it} if classifier else {"training_rmse": 2.0 / it}
        states.append(TrainingState(event=events.ITERATION, training_loss=1.0 / it, **top, **common))
        if it % 10 == 0:
            vtop = {"validation_accuracy": 80.0 + it / 2} if classifier else {"validation_rmse": 1.5 / it}
            states.append(TrainingState(event=events.VALIDATION, validation_loss=1.2 / it, **vtop, **common))
        if it % IPE == 0:
            states.append(TrainingState(event=events.EPOCH_END, **common))
    final = {"final_validation_accuracy": 91.25} if classifier else {"final_validation_rmse": 0.0625}
    states.append(TrainingState(event=events.DONE, stop_reason=reasons.MAX_EPOCHS, **final, **common))
    return states


def replay(bar, states):
    return [bar.on_event(s) for s in states]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def last_line(text):
    return text.replace("\r", "\n").strip().splitlines()[-1]


def test_forced_bar_shows_epoch_loss_accuracy_and_eta():
    out = io.StringIO()
    bar = ProgressBar(file=out, force=True, mininterval=0)
    assert replay(bar, run_states()) == [None] * len(run_states())
    text = out.getvalue()
    assert "epoch=2/4, loss=0.1667, acc=62.0%" in text  # iteration 6: loss 1/6, accuracy 50 + 12
    assert "<" in text  # tqdm's elapsed<remaining (ETA) field
    final = last_line(text)
    assert "20/20" in final and "epoch=4/4" in final and "loss=0.0500" in final and "acc=90.0%" in final
    assert "val_loss=0.0600" in final and "val_acc=90.0%" in final and "final_acc=91.25%" in final
    assert "stop=Max epochs completed" in final
    assert bar.bar is None  # closed after DONE


def test_regression_bar_shows_rmse():
    out = io.StringIO()
    replay(ProgressBar(file=out, force=True, mininterval=0), run_states(classifier=False))
    final = last_line(out.getvalue())
    assert "rmse=0.1" in final and "val_rmse=0.075" in final and "final_rmse=0.0625" in final and "acc=" not in final


def test_nothing_written_to_a_stream_that_is_not_a_terminal():
    out = io.StringIO()
    bar = ProgressBar(file=out)
    replay(bar, run_states())
    assert out.getvalue() == "" and bar.bar is None


def test_a_terminal_gets_the_bar_without_force():
    out = Terminal()
    replay(ProgressBar(file=out, mininterval=0), run_states())
    assert "20/20" in out.getvalue()


def test_redraws_are_rate_limited():
    out = io.StringIO()
    replay(ProgressBar(file=out, force=True, mininterval=1e9), run_states())
    # one line at the start and the closing refreshes; none of the 20 iterations drew on its own
    assert out.getvalue().count("\r") <= 4
    assert "20/20" in last_line(out.getvalue())


def test_resumed_run_starts_at_its_iteration():
    out = io.StringIO()
    states = [s for s in run_states() if s.event != events.START and s.iteration > 12]
    replay(ProgressBar(file=out, force=True, mininterval=0), states)
    text = out.getvalue()
    assert "13/20" in text and "20/20" in last_line(text) and " 0/20" not in text


@pytest.mark.parametrize("kwargs, error, message", [
    ({"force": 1}, TypeError, "force must be True or False, got 1"),
    ({"mininterval": -1.0}, ValueError, "mininterval must be a number of seconds >= 0, got -1.0"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        ProgressBar(**kwargs)


def test_training_options_wire_the_bar_when_verbose_is_off_or_when_asked():
    """progress_bar=None: a bar only when the table is off; True: always (forced); False: never."""
    from minidl import training_options
    from minidl.matlab.train import make_observers
    from minidl.reporting.progress_bar import ProgressBar

    def bars(**kw):
        return [o for o in make_observers(training_options("sgdm", **kw), {}) if isinstance(o, ProgressBar)]

    assert bars(verbose=True) == []
    assert len(bars(verbose=False)) == 1 and bars(verbose=False)[0].force is False
    assert len(bars(verbose=True, progress_bar=True)) == 1 and bars(verbose=True, progress_bar=True)[0].force
    assert bars(verbose=False, progress_bar=False) == []
    with pytest.raises(TypeError, match="progress_bar: got 'yes'"):
        training_options("sgdm", progress_bar="yes")
