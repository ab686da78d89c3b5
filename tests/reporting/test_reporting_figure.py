"""The training-progress figure, headless (Agg): line data, epoch bands, Final markers, files, Stop button."""

import os
import threading
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backend_bases import MouseEvent  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minidl.matlab import records as reasons  # noqa: E402  (stop reasons as MATLAB words them)
from minidl.reporting import figure as F  # noqa: E402
from minidl.reporting.smoothing import smooth  # noqa: E402
from minidl.training import events  # noqa: E402
from minidl.training.events import TrainingState  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IPE, EPOCHS, FREQ = 7, 3, 5
N = IPE * EPOCHS


def run_states(classifier=True, final=(97.5, 0.125), stop_reason=reasons.MAX_EPOCHS, seed=0):
    """The events of a small run: 3 epochs of 7 iterations, validation at 1, every 5 and at the end."""
    rng = np.random.default_rng(seed)
    base = dict(iterations_per_epoch=IPE, max_epochs=EPOCHS, max_iterations=N, base_learn_rate=0.01,
                is_classifier=classifier, has_validation=True)
    settings = {"solver": "adam", "hardware": "cpu", "mini_batch_size": 16, "validation_frequency": FREQ}
    states = [TrainingState(event=events.START, extra={"settings": settings}, **base)]
    top = "training_accuracy" if classifier else "training_rmse"
    vtop = "validation_accuracy" if classifier else "validation_rmse"
    for it in range(1, N + 1):
        common = dict(base, epoch=(it - 1) // IPE + 1, iteration=it, time_since_start=0.1 * it)
        value = 100 * rng.random() if classifier else 3 * rng.random()
        states.append(TrainingState(event=events.ITERATION, training_loss=float(rng.random() + 2 / it),
                                    **{top: float(value)}, **common))
        if it == 1 or it % FREQ == 0 or it == N:
            states.append(TrainingState(event=events.VALIDATION, validation_loss=1.0 / it,
                                        **{vtop: (90.0 if classifier else 1.0) - 1.0 / it}, **common))
        if it % IPE == 0:
            states.append(TrainingState(event=events.EPOCH_END, **common))
    ftop = "final_validation_accuracy" if classifier else "final_validation_rmse"
    kind = {reasons.MAX_EPOCHS: events.MAX_EPOCHS, reasons.STOPPED_BY_USER: events.STOP_BUTTON}[stop_reason]
    states.append(TrainingState(event=events.DONE, stop_reason=stop_reason, stop_kind=kind,
                                final_validation_loss=final[1], **{ftop: final[0]}, **common))
    return states


def replay(fig, states):
    return [fig.on_event(s) for s in states]


def expected(states, classifier=True):
    its = [s for s in states if s.event == events.ITERATION]
    vals = [s for s in states if s.event == events.VALIDATION]
    top = (lambda s: s.training_accuracy) if classifier else (lambda s: s.training_rmse)
    vtop = (lambda s: s.validation_accuracy) if classifier else (lambda s: s.validation_rmse)
    return types.SimpleNamespace(
        x=np.array([s.iteration for s in its], dtype=float), top=np.array([top(s) for s in its]),
        loss=np.array([s.training_loss for s in its]), vx=np.array([s.iteration for s in vals], dtype=float),
        vtop=np.array([vtop(s) for s in vals]), vloss=np.array([s.validation_loss for s in vals]))


def xy(line):
    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


def assert_lines_match(plot, exp):
    for key, raw, val in (("top", exp.top, exp.vtop), ("loss", exp.loss, exp.vloss)):
        x, y = xy(plot.lines_raw[key])
        assert np.array_equal(x, exp.x) and np.array_equal(y, raw)
        x, y = xy(plot.lines_smooth[key])
        assert np.array_equal(x, exp.x) and np.array_equal(y, smooth(raw))
        x, y = xy(plot.lines_val[key])
        assert np.array_equal(x, exp.vx) and np.array_equal(y, val)


@pytest.fixture
def live(tmp_path):
    """A headless live figure writing tmp/progress.png; no redraw before DONE unless asked."""
    return F.TrainingProgressFigure(plots_file=tmp_path / "progress.png", show=False, redraw_interval=1e9, dpi=40)


def test_line_data_equal_the_recorded_values(live):
    states = run_states()
    assert replay(live, states) == [None] * len(states)
    assert live.mode == "file" and live.plot.axes["top"].get_ylabel() == "Accuracy (%)"
    assert_lines_match(live.plot, expected(states))


def test_regression_plots_rmse_in_place_of_accuracy(live):
    states = run_states(classifier=False, final=(0.75, 0.3))
    replay(live, states)
    assert live.plot.axes["top"].get_ylabel() == "RMSE"
    assert_lines_match(live.plot, expected(states, classifier=False))
    assert xy(live.plot.lines_final["top"])[1].tolist() == [0.75]


def test_epoch_bands_at_the_epoch_boundaries(live):
    replay(live, run_states()[:3])
    live.refresh()
    bands = live.plot.epoch_bands
    assert [(b.get_x(), b.get_x() + b.get_width()) for b in bands] == [(0, 7), (7, 14), (14, 21)]
    assert bands[0].get_facecolor() == bands[2].get_facecolor() != bands[1].get_facecolor()  # alternating
    assert [t.get_text() for t in live.plot.epoch_labels] == ["Epoch 1", "Epoch 2", "Epoch 3"]
    assert live.plot.axes["top"].get_xlim() == (0.0, 21.0)  # x axis in iterations, to the maximum


def test_epoch_bands_from_epoch_end_events_when_the_epoch_length_is_unknown(live):
    states = [s for s in run_states() if s.event != events.DONE]
    for s in states:
        s.iterations_per_epoch = 0
        s.max_iterations = 0
    replay(live, states)
    live.refresh()
    assert [(b.get_x(), b.get_x() + b.get_width()) for b in live.plot.epoch_bands] == [(0, 7), (7, 14), (14, 21)]


def test_final_markers_after_done(live):
    states = run_states(final=(97.5, 0.125))
    replay(live, states[:-1])
    live.refresh()
    assert xy(live.plot.lines_final["top"])[0].size == 0 and not live.plot.final_labels["top"].get_visible()
    assert live.stop_button.ax.get_visible()
    live.on_event(states[-1])
    for key, value, text in (("top", 97.5, "Final  97.50 %"), ("loss", 0.125, "Final  0.125")):
        x, y = xy(live.plot.lines_final[key])
        assert x.tolist() == [N] and y.tolist() == [value]
        label = live.plot.final_labels[key]
        assert label.get_visible() and label.get_text() == text and label.xy == (N, value)
    assert not live.stop_button.ax.get_visible()  # training is over: no Stop button
    panel = live.plot.panel_bodies["Results"].get_text()
    assert "Training finished: Max epochs completed" in panel and "Final validation accuracy: 97.50 %" in panel
    cycle = live.plot.panel_bodies["Training Cycle"].get_text()
    assert "Epoch: 3 of 3" in cycle and "Iteration: 21 of 21" in cycle and "Iterations per epoch: 7" in cycle
    other = live.plot.panel_bodies["Other Information"].get_text()
    assert "Solver: adam" in other and "Hardware resource: CPU" in other and "Learning rate: 0.01" in other


def test_side_panel_while_training_and_after_a_stop(live):
    states = run_states(stop_reason=reasons.STOPPED_BY_USER)
    replay(live, states[:12])
    live.refresh()
    results = live.plot.panel_bodies["Results"].get_text()
    assert "Status: training" in results and "Validation accuracy: 89.80 %" in results  # latest: iteration 5
    cycle = live.plot.panel_bodies["Training Cycle"].get_text()
    assert "Epoch: 2 of 3" in cycle and "Iteration: 8 of 21" in cycle
    replay(live, states[12:])
    assert "Training stopped: Stopped by user" in live.plot.panel_bodies["Results"].get_text()


def test_png_written_at_the_end_is_a_valid_image(live, tmp_path):
    path = tmp_path / "progress.png"
    replay(live, run_states()[:-1])
    assert not path.exists()  # throttled: nothing drawn before DONE with a long redraw interval
    live.on_event(run_states()[-1])
    live.close()
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.shape == (round(7.4 * 40), 13 * 40, 4) and image.std() > 0.05
    assert sorted(os.listdir(tmp_path)) == ["progress.png"]  # no temporary files left behind


def test_default_file_is_training_progress_png_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = F.TrainingProgressFigure(show=False, redraw_interval=1e9, dpi=20)
    assert fig.plots_file == "training-progress.png"
    replay(fig, run_states())
    assert (tmp_path / "training-progress.png").read_bytes()[:8] == PNG_SIGNATURE


def click(button):
    """Press and release the mouse on the button, through the canvas's event processing."""
    canvas = button.ax.figure.canvas
    x, y = button.ax.transAxes.transform((0.5, 0.5))
    for name in ("button_press_event", "button_release_event"):
        canvas.callbacks.process(name, MouseEvent(name, canvas, x, y, button=1))


def test_stop_button_stops_at_the_next_event(live):
    states = run_states()
    assert replay(live, states[:5]) == [None] * 5
    assert not live.stop_requested
    click(live.stop_button)
    assert live.stop_requested
    assert live.on_event(states[5]) == events.STOP_BUTTON


def test_stop_button_ends_training_in_the_engine(tmp_path):
    from minidl import layers as L
    from minidl import train_network, training_options

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    Y = np.where(X[:, 0] > 0, "yes", "no")
    fig = F.TrainingProgressFigure(plots_file=tmp_path / "p.png", show=False, redraw_interval=1e9, dpi=20)

    class Clicker(events.Observer):  # a person clicking Stop during iteration 3
        def on_event(self, state):
            if state.event == events.ITERATION and state.iteration == 3:
                click(fig.stop_button)

    net_layers = [L.FeatureInput(3), L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()]
    options = training_options("sgdm", max_epochs=5, mini_batch_size=16, verbose=False, seed=0)
    _, info = train_network(X, Y, net_layers, options, observers=[fig, Clicker()])
    assert info.stop_reason == reasons.STOPPED_BY_USER
    assert len(info) == 4  # the click came during iteration 3; training ended at the next one
    assert "Training stopped: Stopped by user" in fig.plot.panel_bodies["Results"].get_text()
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.slow  # about 1 s: CI's slow set
def test_writes_are_atomic(live, tmp_path, monkeypatch):
    path = str(tmp_path / "progress.png")
    replaced = []
    real_replace = os.replace

    def checking_replace(src, dst):  # at the moment of the rename the temporary file is complete
        with open(src, "rb") as f:
            data = f.read()
        assert os.path.dirname(src) == os.path.dirname(os.path.abspath(dst)) and src != dst
        replaced.append(data[:8] == PNG_SIGNATURE and data.endswith(b"IEND\xaeB`\x82"))
        real_replace(src, dst)

    monkeypatch.setattr(F.os, "replace", checking_replace)
    seen, stop = [], threading.Event()

    def reader():  # a person watching the file: every read must be a whole PNG
        while not stop.is_set():
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            seen.append(data[:8] == PNG_SIGNATURE and data.endswith(b"IEND\xaeB`\x82"))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        states = run_states()
        for s in states:
            live.on_event(s)
            if s.event == events.ITERATION and s.iteration % 5 == 0:
                live.refresh()
    finally:
        stop.set()
        thread.join()
    assert len(replaced) == N // 5 + 1 and all(replaced)
    assert len(seen) > 0 and all(seen)
    assert os.listdir(tmp_path) == ["progress.png"]


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    fig = Figure()
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        F.atomic_savefig(fig, tmp_path / "x.png")
    assert os.listdir(tmp_path) == []


@pytest.mark.slow  # about 1 s: CI's slow set
def test_notebook_displays_once_then_updates_in_place(monkeypatch):
    import IPython.display

    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    def fake_display(obj, display_id=None):
        calls.append(("display", obj))
        return Handle()

    monkeypatch.setattr(F, "_in_notebook", lambda: True)
    monkeypatch.setattr(F.matplotlib, "get_backend", lambda: "module://matplotlib_inline.backend_inline")
    monkeypatch.setattr(IPython.display, "display", fake_display)
    fig = F.TrainingProgressFigure(redraw_interval=1e9, dpi=20)
    assert fig.mode == "notebook" and fig.plots_file is None
    replay(fig, run_states()[:4])
    assert fig.stop_button is None  # in a notebook the stop path is interrupting the kernel
    assert [c[0] for c in calls] == ["display"]  # displayed at START, before the first iteration
    fig.refresh()
    fig.refresh()
    assert [c[0] for c in calls] == ["display", "update", "update"]
    assert all(c[1].data[:3] == b"\xff\xd8\xff" for c in calls)  # live frames: JPEG (see jpeg_bytes)
    replay(fig, run_states()[4:])
    assert calls[-1][0] == "update" and calls[-1][1].data[:8] == PNG_SIGNATURE  # the final picture: a PNG


def test_window_mode_draws_pumps_events_and_survives_a_closed_window(monkeypatch):
    import matplotlib.pyplot as plt

    shown, flushed = [], []
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: shown.append(self))
    fig = F.TrainingProgressFigure(redraw_interval=1e9)
    assert fig.mode == "window" and fig.plots_file is None
    try:
        states = run_states()
        fig.on_event(states[0])
        assert shown == [fig.figure] and plt.fignum_exists(fig.figure.number)
        assert fig.redraw_count == 1 and len(fig.plot.epoch_bands) == EPOCHS  # the window shows at once
        monkeypatch.setattr(fig.figure.canvas, "flush_events", lambda: flushed.append(1))
        fig._next_pump = 0.0
        fig.on_event(states[1])
        assert flushed and fig.redraw_count == 1  # clicks are processed between (throttled) redraws
        plt.close(fig.figure)  # the person closes the window: training goes on, drawing stops
        replay(fig, states[2:])
        assert fig._closed_window and fig.redraw_count == 2
        assert xy(fig.plot.lines_raw["loss"])[0].size == N  # the record is complete all the same
    finally:
        plt.close("all")


def test_opening_the_window_is_not_charged_to_the_redraw_budget(monkeypatch):
    """Opening costs several redraws once; charged, it would freeze the window for half a minute."""
    import matplotlib.pyplot as plt

    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: None)
    fig = F.TrainingProgressFigure(redraw_interval=0.0)
    try:
        states = run_states()
        fig.on_event(states[0])
        fig.draw_seconds += 10.0  # pretend opening the window was very slow
        fig._uncharged += 10.0
        fig._shown += 10.0  # (the first picture's part of it: never charged)
        fig.on_event(states[1])  # the next event redraws at once: nothing of the opening counts
        assert fig.redraw_count == 2
    finally:
        plt.close("all")


def test_constructor_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="plots_file must end in .png, .svg or .pdf, got .*progress.jpg"):
        F.TrainingProgressFigure(plots_file=tmp_path / "progress.jpg", show=False)
    with pytest.raises(TypeError, match="show must be None, True or False, got 'yes'"):
        F.TrainingProgressFigure(show="yes")
    with pytest.raises(ValueError, match="redraw_interval must be a number of seconds >= 0 or None, got -1"):
        F.TrainingProgressFigure(show=False, redraw_interval=-1)
    with pytest.raises(TypeError, match="settings must be a mapping or None, got list"):
        F.TrainingProgressFigure(show=False, settings=["sgdm"])


# ------------------------------------------------------------------------------------------------ finished runs
def info_record(classifier=True):
    states = run_states(classifier=classifier, final=(97.5, 0.125) if classifier else (0.75, 0.3))
    exp = expected(states, classifier)
    n = exp.x.size
    vtop, vloss = np.full(n, np.nan), np.full(n, np.nan)
    vtop[exp.vx.astype(int) - 1] = exp.vtop
    vloss[exp.vx.astype(int) - 1] = exp.vloss
    name = "accuracy" if classifier else "rmse"
    info = {"training_loss": exp.loss, f"training_{name}": exp.top, "validation_loss": vloss,
            f"validation_{name}": vtop, "base_learn_rate": np.full(n, 0.01), "gradient_norm": np.ones(n),
            f"final_validation_{name}": 97.5 if classifier else 0.75, "final_validation_loss": 0.125,
            "output_network_iteration": n, "stop_reason": reasons.MAX_EPOCHS, "elapsed_time": 75.0,
            "iterations_per_epoch": IPE, "max_epochs": EPOCHS, "is_classifier": classifier,
            "settings": {"solver": "rmsprop", "hardware": "gpu"}}
    return info, exp


@pytest.mark.parametrize("as_object", [True, False])
def test_plot_info_draws_the_info_arrays(as_object):
    info, exp = info_record()
    fig = F.plot_info(types.SimpleNamespace(**info) if as_object else info)
    assert isinstance(fig, Figure)
    plot = fig.minidl_plot
    assert_lines_match(plot, exp)
    assert xy(plot.lines_final["top"])[1].tolist() == [97.5] and plot.final_labels["loss"].get_visible()
    assert [(b.get_x(), b.get_x() + b.get_width()) for b in plot.epoch_bands] == [(0, 7), (7, 14), (14, 21)]
    assert plot.stop_button is None
    assert "Elapsed time: 1 min 15 s" in plot.panel_bodies["Training Time"].get_text()
    assert "Solver: rmsprop" in plot.panel_bodies["Other Information"].get_text()


def test_plot_info_regression_and_a_given_figure():
    info, exp = info_record(classifier=False)
    info["training_accuracy"] = None  # how the engine's record marks arrays that do not apply
    target = Figure()
    assert F.plot_info(info, fig=target) is target
    assert target.minidl_plot.axes["top"].get_ylabel() == "RMSE"
    assert_lines_match(target.minidl_plot, exp)


def test_plot_info_rejects_what_is_not_an_info_record():
    with pytest.raises(TypeError, match="info must be a training info record"):
        F.plot_info(42)
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure, SubFigure or None, got str"):
        F.plot_info(info_record()[0], fig="figure")


@pytest.mark.parametrize("suffix, magic", [(".png", PNG_SIGNATURE), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_save_info_figure_by_extension(tmp_path, suffix, magic):
    path = tmp_path / f"run{suffix}"
    assert F.save_info_figure(info_record()[0], path, dpi=30) == str(path)
    assert path.read_bytes()[: len(magic)] == magic
    assert os.listdir(tmp_path) == [path.name]


def test_save_info_figure_rejects_other_formats(tmp_path):
    with pytest.raises(ValueError, match=r"path must end in .png, .svg or .pdf, got '.*run.gif'"):
        F.save_info_figure(info_record()[0], tmp_path / "run.gif")
    with pytest.raises(TypeError, match="path must be a file path"):
        F.save_info_figure(info_record()[0], 3)


@pytest.mark.slow  # about 1 s: CI's slow set
def test_engine_run_with_plots_and_its_info_figure(tmp_path):
    from minidl import layers as L
    from minidl import train_network, training_options
    from minidl.training import TrainingInfo

    rng = np.random.default_rng(1)
    X = rng.standard_normal((96, 3))
    Y = np.where(X[:, 0] + X[:, 1] > 0, "a", "b")
    Xv = rng.standard_normal((32, 3))
    Yv = np.where(Xv[:, 0] + Xv[:, 1] > 0, "a", "b")
    png = tmp_path / "tp.png"
    options = training_options("adam", max_epochs=3, mini_batch_size=16, validation_data=(Xv, Yv),
                               validation_frequency=4, verbose=False, plots="training-progress", plots_file=str(png),
                               seed=0)
    net_layers = [L.FeatureInput(3), L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()]
    _, info = train_network(X, Y, net_layers, options)
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    info.to_json(tmp_path / "info.json")
    for record in (info, TrainingInfo.from_json(tmp_path / "info.json")):
        plot = F.plot_info(record).minidl_plot
        x, y = xy(plot.lines_raw["top"])
        assert np.array_equal(x, np.arange(1, len(info) + 1)) and np.array_equal(y, info.training_accuracy)
        assert np.array_equal(xy(plot.lines_smooth["loss"])[1], smooth(info.training_loss))
        has_val = ~np.isnan(info.validation_loss)
        assert np.array_equal(xy(plot.lines_val["loss"])[1], info.validation_loss[has_val])
        assert xy(plot.lines_final["top"])[1].tolist() == [info.final_validation_accuracy]
