"""The live figure blits: only the changing artists are redrawn over a saved background (headless, Agg)."""

import datetime
import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from minidl.reporting import figure as F  # noqa: E402
from minidl.reporting.figure_files import png_bytes  # noqa: E402
from minidl.reporting.figure_layout import _BODY_STYLE, PanelValue  # noqa: E402
from minidl.training import events  # noqa: E402
from minidl.training.events import TrainingState  # noqa: E402
from tests.reporting.test_reporting_figure import EPOCHS, IPE, N, run_states  # noqa: E402


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path, monkeypatch):
    """A headless figure without plots_file writes training-progress.png into the working folder: keep it out of
    the repository (a parallel test snapshots the repository to prove the examples write nothing there)."""
    monkeypatch.chdir(tmp_path)


def live(tmp_path=None, **kw):
    path = None if tmp_path is None else tmp_path / "progress.png"
    return F.TrainingProgressFigure(plots_file=path, show=False, redraw_interval=1e9, dpi=50, **kw)


def buffer(fig):
    return np.asarray(fig.figure.canvas.buffer_rgba())[..., :3].astype(np.int16).copy()


def changing(fig):
    return {id(a) for _, artists, _ in fig.blitter.regions for a in artists}


@pytest.fixture
def drawn_artists(monkeypatch):
    """Every artist ``Axes.draw_artist`` draws, in order."""
    drawn = []
    real = Axes.draw_artist

    def recording(self, a):
        drawn.append(a)
        return real(self, a)

    monkeypatch.setattr(Axes, "draw_artist", recording)
    return drawn


def test_a_blit_draws_only_the_changing_artists(drawn_artists, monkeypatch):
    states = run_states()
    fig = live()
    F.TrainingProgressFigure.on_event(fig, states[0])
    for s in states[1:6]:
        fig.on_event(s)
    fig.refresh()  # the first picture: a full draw, which saves the background
    assert fig.blitter.full_draws == 1 and fig.blitter.active
    full_draws = []
    monkeypatch.setattr(fig.figure.canvas, "draw", lambda: full_draws.append(1))
    drawn_artists.clear()
    fig.on_event(states[6])  # one more iteration, inside the axis limits
    assert states[6].event == events.ITERATION and states[6].iteration == 5
    fig.refresh()
    assert full_draws == [] and fig.blitter.blits == 1
    assert drawn_artists and {id(a) for a in drawn_artists} <= changing(fig)
    lines = [fig.plot.lines_raw, fig.plot.lines_smooth, fig.plot.lines_val]
    assert all(any(a is d[k] for a in drawn_artists) for d in lines for k in ("top", "loss"))
    # of the side panel only the values that changed: the iteration count, not its label nor the settings
    texts = [a for a in drawn_artists if hasattr(a, "get_text")]
    assert texts and all(isinstance(t, PanelValue) for t in texts)
    assert any(t.get_text() == "5 of 21" and t.prefix == "Iteration: " for t in texts)
    assert not any(t.prefix == "Solver: " for t in texts)
    assert not fig.plot.panel_bodies["Training Cycle"].get_visible()  # the section texts wait for the end


def test_a_blit_of_new_points_copies_to_the_screen_twice_at_most(monkeypatch):
    """The two axes' bands of new points go to the screen as one copy, the changed panel lines as another (a copy
    costs ~1.1-1.5 ms under Tk whatever its size)."""
    states = run_states()
    fig = live()
    fig.on_event(states[0])
    for s in states[1:6]:
        fig.on_event(s)
    fig.refresh()
    copies = []
    monkeypatch.setattr(fig.figure.canvas, "blit", lambda bbox=None: copies.append(bbox))
    fig.on_event(states[6])  # one more iteration, inside the axis limits: both axes and the panel change
    fig.refresh()
    assert fig.blitter.blits == 1 and fig.blitter.axes_redraws == 0
    assert len(copies) == 2
    top, loss = (fig.plot.axes[k].bbox for k in ("top", "loss"))
    band = next(b for b in copies if b.x1 <= top.x1 + 20)  # the bands: over both axes, narrow
    assert band.y1 >= top.y1 and band.y0 <= loss.y0 and band.width < 0.5 * top.width


def test_a_blit_renders_the_changed_values_and_no_label(monkeypatch):
    """The side panel's labels are in the saved background: a blit renders only the strings of the values that
    changed ("5 of 21", not "Iteration: 5 of 21" nor any settings line)."""
    from matplotlib.backends.backend_agg import RendererAgg

    states = run_states()
    fig = live()
    for s in states[:6]:
        fig.on_event(s)
    fig.refresh()
    rendered = []
    real = RendererAgg.draw_text
    monkeypatch.setattr(RendererAgg, "draw_text",
                        lambda self, gc, x, y, s, *a, **k: (rendered.append(s), real(self, gc, x, y, s, *a, **k))[1])
    fig.on_event(states[6])  # iteration 5 (at 0.5 s: the elapsed time still reads "0 s")
    fig.refresh()
    assert fig.blitter.blits == 1 and fig.blitter.panel_redraws == 0
    assert rendered == ["5 of 21"]  # no label, no settings line


def test_a_value_sits_where_the_whole_line_puts_it():
    """Its first glyph at the pen position the one-text line gives it (the label's advance), on the label's
    baseline; a changed label moves it, and the panel is drawn again (not the metric axes)."""
    from matplotlib.text import Text

    states = run_states()
    fig = live()
    for s in states[:3]:  # START, iteration 1, its validation
        fig.on_event(s)
    fig.refresh()
    plot, renderer = fig.plot, fig.figure.canvas.get_renderer()
    value = plot.panel_values["Training Cycle"][1]
    assert (value.prefix, value.get_text()) == ("Iteration: ", "1 of 21")
    label = value.label
    whole = Text(*label.get_position(), label.get_text() + value.get_text(), transform=label.get_transform(),
                 fontproperties=label.get_fontproperties(), va="top",
                 linespacing=_BODY_STYLE["linespacing"])  # Text.get_linespacing: matplotlib >= 3.7
    whole.set_figure(fig.figure)
    x, y = value.origin(renderer)
    _, info, _ = label._get_layout(renderer)
    dx, dy = info[1][2] if len(info[1]) == 3 else info[1][2:4]
    x_label, y_label = label.get_transform().transform(label.get_position()) + (dx, dy)
    line_width = renderer.get_text_width_height_descent("Iteration: 1 of 21", label.get_fontproperties(), False)[0]
    value_width = renderer.get_text_width_height_descent("1 of 21", label.get_fontproperties(), False)[0]
    assert x == pytest.approx(x_label + line_width - value_width) and y == pytest.approx(y_label)
    assert whole.get_window_extent(renderer).x1 == pytest.approx(value.get_window_extent(renderer).x1)
    box = fig.blitter._bboxes[[r[1][0] for r in fig.blitter.regions].index(value)]
    assert box.x0 <= x - 1 and box.x1 >= value.get_window_extent(renderer).x1  # the value's box holds it
    colon = renderer.get_text_width_height_descent("Iteration:", label.get_fontproperties(), False)[0]
    assert box.x0 >= x_label + colon - 1.0  # not the label's ink: it ends with the colon, whose right bearing is wider
    settings = plot.panel_values["Other Information"]
    assert [v.prefix for v in settings[:3]] == ["Hardware resource: ", "Solver: ", "Learning rate: "]
    metric_redraws = fig.blitter.axes_redraws
    fig.on_event(TrainingState(**{**states[3].__dict__, "base_learn_rate": None}))  # its line goes: labels move
    fig.refresh()
    assert [v.prefix for v in settings[:3]] == ["Hardware resource: ", "Solver: ", "Mini-batch size: "]
    assert fig.blitter.panel_redraws == 1 and fig.blitter.axes_redraws == metric_redraws
    assert fig.blitter.full_draws == 1


def test_the_panel_copy_holds_only_the_changed_values_and_tk_redisplays_each_copy(monkeypatch):
    """The changed values go to the screen as one box that ends where the farther of the old and the new values
    reaches, not at the figure's edge; a Tk window redisplays the bands before the panel's copy is made (Tk
    redisplays the union of all copies since its last idle pass)."""
    states = run_states()
    fig = live()
    for s in states[:6]:
        fig.on_event(s)
    fig.refresh()
    events_seen = []

    class Widget:
        def update_idletasks(self):
            events_seen.append("idle")

    monkeypatch.setattr(fig.figure.canvas, "get_tk_widget", lambda: Widget(), raising=False)
    monkeypatch.setattr(fig.figure.canvas, "blit", lambda bbox=None: events_seen.append(bbox))
    fig.on_event(states[6])  # iteration 5: the bands of new points and the value "5 of 21"
    fig.refresh()
    assert len(events_seen) == 3 and events_seen[1] == "idle"
    copy = events_seen[2]
    value = fig.plot.panel_values["Training Cycle"][1]
    renderer = fig.figure.canvas.get_renderer()
    extent = value.get_window_extent(renderer)
    assert copy.x0 < extent.x0 and extent.x1 <= copy.x1 <= value.reach(renderer)
    assert copy.x1 < fig.plot.panel.bbox.x1 and copy.height < 3 * extent.height  # one line, not the band


def test_a_tk_window_handles_its_events_without_waiting_for_the_x_server(monkeypatch):
    """Between redraws and after a blit a Tk window runs Tcl's event loop until nothing is pending (DONT_WAIT:
    no round trip to the X server, which Tk's ``update`` makes and waits for); other canvases flush_events."""
    import _tkinter

    calls = []

    class Tk:
        pending = 3

        def dooneevent(self, flags):
            calls.append(flags)
            Tk.pending -= 1
            return Tk.pending >= 0

    class Widget:
        tk = Tk()

    class Canvas:
        def get_tk_widget(self):
            return Widget()

        def flush_events(self):
            raise AssertionError("a Tk canvas waits for nothing")

    F._process_events(Canvas())
    assert calls == [_tkinter.DONT_WAIT] * 4  # three events, then nothing pending
    flushed = []
    monkeypatch.setattr(FigureCanvasAgg, "flush_events", lambda self: flushed.append(1), raising=False)
    F._process_events(FigureCanvasAgg(Figure()))
    assert flushed == [1]


def test_the_first_validation_lines_are_part_of_the_opening(monkeypatch):
    """While a window opens (until its first blit of values) each redraw updates the panel's text too: the lines
    the first validation brings redraw the panel there, uncharged like the first values' axis limits, instead of
    a charged panel redraw at the next panel update (measured: 0.15 s, which stalled the 3 % budget for 4 s)."""
    import matplotlib.pyplot as plt

    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: None)
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    monkeypatch.setattr(F, "PANEL_INTERVAL", 1e9)  # no panel update is due by time
    fig = F.TrainingProgressFigure(redraw_interval=0.0)
    try:
        states = run_states()
        for s in states[:3]:  # START, iteration 1, its validation
            fig.on_event(s)
        texts = {v.prefix: v.get_text() for v in fig.plot.panel_values["Results"]}
        assert texts["Validation accuracy: "] == "89.00 %"
        assert fig.blitter.panel_redraws == 1 and fig.draw_seconds == fig._uncharged
    finally:
        plt.close("all")


def assert_same_picture(fig):
    """The canvas now equals one full draw of the same state (every artist an ordinary one)."""
    blitted = buffer(fig)
    fig.blitter.stop()
    fig.figure.canvas.draw()
    full = buffer(fig)
    assert blitted.shape == full.shape
    differ = np.abs(blitted - full).max(axis=-1) > 8
    # Lines drawn after the spines instead of before them differ in a few pixels where they touch; nothing else
    assert differ.mean() < 2e-4, differ.sum()


def test_the_axes_whose_limits_grow_are_drawn_again_and_only_then():
    states = run_states()
    fig = live()
    for s in states[:4]:
        fig.on_event(s)
    fig.refresh()
    loss_axes = fig.plot.axes["loss"]
    top = max(s.training_loss for s in states[:4] if s.training_loss is not None)
    lo, hi = loss_axes.get_ylim()
    assert lo == 0 and hi == pytest.approx(F.HEADROOM * 1.06 * top)  # headroom: room to grow into
    # the run's settings, as run_states has them (a line of the side panel that went would redraw the panel too)
    base = dict(iterations_per_epoch=IPE, max_epochs=EPOCHS, max_iterations=N, is_classifier=True, epoch=1,
                base_learn_rate=0.01, has_validation=True)
    redrawn = []
    real = F.Blitter._redraw_axes
    fig.blitter._redraw_axes = lambda ax: (redrawn.append(ax), real(fig.blitter, ax))[1]
    for it, loss, grows in ((4, 0.5 * hi, False), (5, 0.9 * hi, False), (6, 2.0 * hi, True), (7, 1.1 * hi, False)):
        before = fig.blitter.axes_redraws
        fig.on_event(TrainingState(event=events.ITERATION, iteration=it, training_loss=loss, training_accuracy=50.0,
                                   **base))
        fig.refresh()
        assert (fig.blitter.axes_redraws == before + 1) is grows, it
        assert loss <= loss_axes.get_ylim()[1]
    assert redrawn == [loss_axes]  # not the accuracy panel, whose limits stay
    assert fig.blitter.full_draws == 1  # never the whole figure
    assert loss_axes.get_ylim()[1] == pytest.approx(F.HEADROOM * 1.06 * 2.0 * hi)
    assert_same_picture(fig)


def test_a_new_epoch_band_redraws_the_background():
    states = [s for s in run_states() if s.event != events.VALIDATION]
    unknown = [TrainingState(**{**s.__dict__, "iterations_per_epoch": 0, "max_iterations": 0, "max_epochs": 0})
               for s in states]
    fig = live()
    for s in unknown[:3]:
        fig.on_event(s)
    fig.refresh()
    draws = fig.blitter.full_draws
    for s in unknown[3:]:
        fig.on_event(s)
        if s.event == events.EPOCH_END:
            break
    redraws = fig.blitter.axes_redraws
    fig.refresh()
    assert len(fig.plot.epoch_bands) == 1
    assert fig.blitter.full_draws == draws and fig.blitter.axes_redraws == redraws + 2  # both panels have bands
    assert_same_picture(fig)


def test_the_background_is_grabbed_again_after_a_draw_event():
    states = run_states()
    fig = live()
    for s in states[:5]:
        fig.on_event(s)
    fig.refresh()
    old = fig.blitter.backgrounds
    fig.figure.set_size_inches(9.0, 5.0)  # a resized window: the GUI draws the figure again
    fig.figure.canvas.draw()
    assert fig.blitter.full_draws == 2 and fig.blitter.backgrounds is not old
    ax = fig.plot.axes["top"]
    assert fig.blitter._bboxes[0].width == pytest.approx(ax.bbox.width + 2 * F.BLIT_PAD * fig.figure.dpi / 72)
    fig.on_event(states[5])
    fig.refresh()
    assert fig.blitter.full_draws == 2 and fig.blitter.blits == 1  # blits again over the new background
    fig.figure.savefig(io.BytesIO(), format="png", dpi=30)  # a savefig is not a draw of the screen: no grab
    assert fig.blitter.full_draws == 2


@pytest.mark.slow  # pixel comparisons of whole figures (1-2 s): CI's slow set
def test_the_blitted_picture_equals_a_full_redraw_of_the_same_state():
    states = run_states()
    fig = live()
    fig.on_event(states[0])
    fig.refresh()
    for s in states[1:-1]:  # every event blitted (the limits grow once or twice: full draws)
        fig.on_event(s)
        fig.refresh()
    assert fig.blitter.blits > 10 and fig.blitter.axes_redraws >= 1  # the first values set the loss axis
    assert_same_picture(fig)


class FixedClock(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2026, 1, 2, 3, 4, 5)


@pytest.mark.slow  # pixel comparisons of whole figures (1-2 s): CI's slow set
def test_the_final_picture_is_the_one_drawn_without_blitting(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "datetime", FixedClock)  # both runs started at the same second
    states = run_states()
    blitting = live(tmp_path)
    for s in states:
        blitting.on_event(s)
        if s.event == events.ITERATION:
            blitting.refresh()
    assert blitting.blitter is None and not blitting.plot.panel_lines  # the final picture: ordinary artists
    monkeypatch.setattr(FigureCanvasAgg, "supports_blit", False)
    (tmp_path / "plain").mkdir()
    plain = live(tmp_path / "plain")
    for s in states:
        plain.on_event(s)
    assert plain.blitter is None
    a = np.asarray(Image.open(tmp_path / "progress.png"))
    b = np.asarray(Image.open(tmp_path / "plain" / "progress.png"))
    assert np.array_equal(a, b)
    assert blitting.plot.limits() == plain.plot.limits()


@pytest.mark.slow  # pixel comparisons of whole figures (1-2 s): CI's slow set
def test_window_and_notebook_draw_at_start_and_the_file_does_not(monkeypatch, tmp_path):
    import IPython.display
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: shown.append(self))
    headless = live(tmp_path)
    headless.on_event(run_states()[0])
    assert headless.redraw_count == 0 and not (tmp_path / "progress.png").exists()

    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    window = F.TrainingProgressFigure(redraw_interval=1e9)
    try:
        window.on_event(run_states()[0])
        assert shown == [window.figure] and window.redraw_count == 1 and window.blitter.full_draws == 1
    finally:
        plt.close("all")

    images = []

    class Handle:
        def update(self, obj):
            images.append(obj)

    def fake_display(obj, display_id=None):
        images.append(obj)
        return Handle()

    monkeypatch.setattr(F, "_display_mode", lambda show: "notebook")
    monkeypatch.setattr(IPython.display, "display", fake_display)
    notebook = F.TrainingProgressFigure(redraw_interval=1e9, dpi=100)
    states = run_states()
    notebook.on_event(states[0])
    assert len(images) == 1 and notebook.redraw_count == 1
    notebook.on_event(states[1])
    notebook.refresh()  # a live update: the blitted canvas at the notebook's resolution
    live_size = Image.open(io.BytesIO(images[-1].data)).size
    assert live_size == (int(13.0 * F.NOTEBOOK_DPI), int(7.4 * F.NOTEBOOK_DPI))
    for s in states[2:]:
        notebook.on_event(s)
    assert Image.open(io.BytesIO(images[-1].data)).size == (1300, 740)  # the final picture at dpi, as before


def test_a_window_writes_its_file_every_few_seconds_not_at_every_redraw(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: None)
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    fig = F.TrainingProgressFigure(plots_file=tmp_path / "p.png", redraw_interval=1e9)
    writes = []
    real = F.atomic_write
    monkeypatch.setattr(F, "atomic_write", lambda *a, **k: (writes.append(1), real(*a, **k))[1])
    try:
        states = run_states()
        fig.on_event(states[0])
        for s in states[1:6]:
            fig.on_event(s)
            fig.refresh()
        assert fig.redraw_count == 6 and len(writes) == 1  # the first picture; the next one is 5 s later
        assert np.asarray(Image.open(tmp_path / "p.png")).shape[:2] == (740, 1300)
    finally:
        plt.close("all")


def test_png_bytes_round_trip_and_argument_check():
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    data = png_bytes(rgba)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), rgba[..., :3])
    with pytest.raises(ValueError, match=r"rgba must be an \(H, W, 4\) uint8 array, got shape \(7, 5\)"):
        png_bytes(rgba[..., 0])


def test_jpeg_bytes_is_close_to_the_picture_and_checks_its_argument():
    from minidl.reporting.figure_files import jpeg_bytes

    rgba = np.full((16, 24, 4), 255, dtype=np.uint8)
    rgba[4:12, 6:18, :3] = (0, 114, 189)  # a block of the accuracy blue on white
    back = np.asarray(Image.open(io.BytesIO(jpeg_bytes(rgba)))).astype(int)
    assert back.shape == (16, 24, 3) and np.abs(back - rgba[..., :3]).max() <= 40
    assert np.abs(back - rgba[..., :3]).mean() <= 3
    with pytest.raises(ValueError, match=r"rgba must be an \(H, W, 4\) uint8 array, got shape \(16, 24, 3\)"):
        jpeg_bytes(rgba[..., :3])


class FakeClock:
    """``time`` for the figure module: a clock that moves only when told (training steps, drawing costs)."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self):
        return self.now


@pytest.mark.parametrize("blitting, cost, rate", [(True, 0.010, 2.25), (False, 0.150, 0.2)])
def test_the_throttle_gives_two_redraws_a_second_when_a_redraw_costs_little(monkeypatch, blitting, cost, rate):
    """The same rule (``redraw_interval`` floor, 3 % budget): 10 ms blits allow the floor's 2.2-2.4 Hz, 0.15 s full
    redraws 0.2 Hz."""
    import types

    clock = FakeClock()
    monkeypatch.setattr(F, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: None)
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    if not blitting:
        monkeypatch.setattr(FigureCanvasAgg, "supports_blit", False)
    real_render = F.TrainingProgressFigure._render_window

    def costly(self, full, axes):  # each redraw takes `cost` seconds of the clock
        clock.now += cost
        return real_render(self, full, axes)

    monkeypatch.setattr(F.TrainingProgressFigure, "_render_window", costly)
    monkeypatch.setattr(F.TrainingProgressFigure, "_pump", lambda self: None)
    import matplotlib.pyplot as plt

    fig = F.TrainingProgressFigure()
    try:
        n = 600  # 36 s of training at 60 ms per iteration
        base = dict(iterations_per_epoch=n, max_epochs=1, max_iterations=n, is_classifier=True)
        fig.on_event(TrainingState(event=events.START, **base))
        start, opened = clock.now, fig.redraw_count
        for it in range(1, n + 1):
            clock.now += 0.06
            fig.on_event(TrainingState(event=events.ITERATION, iteration=it, epoch=1, training_loss=2.0 / it,
                                       training_accuracy=50.0, time_since_start=clock.now - start, **base))
        seconds = clock.now - start
        redraws = fig.redraw_count - opened
        assert redraws / seconds == pytest.approx(rate, rel=0.15)
        charged = fig.draw_seconds - fig._uncharged
        assert charged <= F.OVERHEAD_BUDGET * seconds + cost
    finally:
        plt.close("all")


def test_cheap_redraws_come_at_least_twice_a_second_at_the_default_interval(monkeypatch):
    """The default floor is measured start to start and leaves room for the wait for the next event: 2 ms blits at
    60 ms per iteration give >= 2 redraws/s (a 0.5 s floor from the end of a redraw gave 1.85)."""
    import types

    import matplotlib.pyplot as plt

    clock = FakeClock()
    monkeypatch.setattr(F, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: None)
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    real_render = F.TrainingProgressFigure._render_window

    def costly(self, full, axes):
        clock.now += 0.002
        return real_render(self, full, axes)

    monkeypatch.setattr(F.TrainingProgressFigure, "_render_window", costly)
    monkeypatch.setattr(F.TrainingProgressFigure, "_pump", lambda self: None)
    fig = F.TrainingProgressFigure()
    try:
        n = 300
        base = dict(iterations_per_epoch=n, max_epochs=1, max_iterations=n, is_classifier=True)
        fig.on_event(TrainingState(event=events.START, **base))
        start, opened = clock.now, fig.redraw_count
        for it in range(1, n + 1):
            clock.now += 0.06
            fig.on_event(TrainingState(event=events.ITERATION, iteration=it, epoch=1, training_loss=2.0 / it,
                                       training_accuracy=50.0, time_since_start=clock.now - start, **base))
        assert 2.0 <= (fig.redraw_count - opened) / (clock.now - start) <= 1 / fig.redraw_interval
    finally:
        plt.close("all")


@pytest.mark.slow  # pixel comparisons of whole figures (1-2 s): CI's slow set
def test_the_screen_gets_every_changed_pixel(monkeypatch):
    """A stand-in screen that receives what ``canvas.blit`` copies (and a whole draw) stays equal to the canvas."""
    import math

    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: None)
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    import matplotlib.pyplot as plt

    fig = F.TrainingProgressFigure(redraw_interval=0.0)
    screen = {}
    try:
        states = run_states()
        fig.on_event(states[0])
        fig_canvas = fig.figure.canvas
        real_draw = fig_canvas.draw

        def draw():
            real_draw()
            screen["image"] = buffer(fig).copy()

        def blit(bbox=None):
            h = screen["image"].shape[0]
            x0, x1 = max(math.floor(bbox.x0), 0), math.ceil(bbox.x1)
            y0, y1 = max(h - math.ceil(bbox.y1), 0), h - math.floor(bbox.y0)
            screen["image"][y0:y1, x0:x1] = buffer(fig)[y0:y1, x0:x1]
            screen["copied"] = screen.get("copied", 0) + (y1 - y0) * (x1 - x0)

        monkeypatch.setattr(fig_canvas, "draw", draw)
        monkeypatch.setattr(fig_canvas, "blit", blit)
        draw()
        for s in states[1:-1]:
            fig.on_event(s)
            fig.refresh()
            assert np.array_equal(screen["image"], buffer(fig)), (s.event, s.iteration)
        assert fig.blitter.blits > 10
        # only the band of new points (and the changed panel lines) is copied: a fraction of the figure per blit
        assert screen["copied"] / fig.blitter.blits < 0.2 * screen["image"].shape[0] * screen["image"].shape[1]
    finally:
        plt.close("all")


@pytest.mark.slow  # pixel comparisons of whole figures (1-2 s): CI's slow set
def test_the_panel_after_values_of_other_widths_equals_a_full_redraw(monkeypatch):
    """Values that grow and shrink (the elapsed time, the learning rate, the validation loss), a line that comes
    (the first validation): each blit clears the old value's pixels; the screen gets every changed pixel."""
    import math

    import matplotlib.pyplot as plt

    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: None)
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    fig = F.TrainingProgressFigure(redraw_interval=0.0)
    base = dict(iterations_per_epoch=IPE, max_epochs=EPOCHS, max_iterations=N, is_classifier=True,
                has_validation=True)
    screen = {}
    try:
        fig.on_event(TrainingState(event=events.START, base_learn_rate=0.01, **base))
        canvas = fig.figure.canvas
        real_draw = canvas.draw

        def draw():
            real_draw()
            screen["image"] = buffer(fig).copy()

        def blit(bbox=None):
            h = screen["image"].shape[0]
            x0, x1 = max(math.floor(bbox.x0), 0), math.ceil(bbox.x1)
            y0, y1 = max(h - math.ceil(bbox.y1), 0), h - math.floor(bbox.y0)
            screen["image"][y0:y1, x0:x1] = buffer(fig)[y0:y1, x0:x1]

        monkeypatch.setattr(canvas, "draw", draw)
        monkeypatch.setattr(canvas, "blit", blit)
        draw()
        steps = [(5, 0.01, None), (59, 0.001234, 0.0831), (61, 0.1, 0.5), (3601, 0.0001, 0.07125), (75, 0.2, 1.0),
                 (8, 0.5, 2.0)]  # each value wider, then narrower again
        for it, (elapsed, rate, vloss) in enumerate(steps, start=1):
            common = dict(base, epoch=1, iteration=it, time_since_start=float(elapsed), base_learn_rate=rate)
            fig.on_event(TrainingState(event=events.ITERATION, training_loss=1.0 / it, training_accuracy=50.0,
                                       **common))
            if vloss is not None:
                fig.on_event(TrainingState(event=events.VALIDATION, validation_loss=vloss,
                                           validation_accuracy=60.0 + it, **common))
            fig.refresh()
            assert np.array_equal(screen["image"], buffer(fig)), it
        texts = {v.prefix: v.get_text() for values in fig.plot.panel_values.values() for v in values}
        assert texts["Elapsed time: "] == "8 s" and texts["Learning rate: "] == "0.5"
        assert texts["Validation loss: "] == "2"
        assert fig.blitter.blits >= 5 and fig.blitter.panel_redraws == 1  # the validation lines came once
        assert_same_picture(fig)
    finally:
        plt.close("all")


def test_a_changed_label_draws_its_section_alone_not_the_legends(monkeypatch):
    """The first validation's lines (a new label in "Results") draw that section again over the panel's colour,
    not the whole panel with its legends (~60 ms of its ~120 ms); the picture is the full redraw's."""
    from matplotlib.legend import Legend

    states = run_states()
    fig = live()
    for s in states[:2]:  # START, iteration 1: no validation line yet
        fig.on_event(s)
    fig.refresh()
    drawn = []
    real = Legend.draw
    monkeypatch.setattr(Legend, "draw", lambda self, renderer: (drawn.append(self), real(self, renderer))[1])
    fig.on_event(states[2])  # its validation: two lines come in "Results"
    fig.refresh()
    assert fig.plot.panel_changed == {"Results"}
    assert fig.blitter.part_redraws == 1 and fig.blitter.panel_redraws == 1 and drawn == []
    assert_same_picture(fig)


def test_a_label_with_lines_beyond_its_places_draws_the_whole_panel():
    """More lines than places (under the last label) may reach into the next section: the whole panel again."""
    states = run_states()
    fig = live()
    for s in states[:2]:
        fig.on_event(s)
    fig.refresh()
    plot = fig.plot
    sections = fig._sections()
    sections["Training Time"] = sections["Training Time"] + ["Extra: 1", "More: 2"]
    assert plot.set_panel(sections) and plot.panel_changed == {"Training Time"}
    assert plot.panel_section_parts({"Training Time"}, fig.figure.canvas.get_renderer()) is None
    assert plot.panel_section_parts({"Results"}, fig.figure.canvas.get_renderer()) is not None


def test_the_metric_areas_are_measured_with_the_full_draw_not_at_the_first_values(monkeypatch):
    """A tight box (a layout of every tick label) is measured in the opening's draw; the first values' limits
    then draw the loss axes again without measuring one (the bench counts that redraw, not the opening)."""
    states = run_states()
    fig = live()
    fig.on_event(states[0])
    fig.refresh()  # the first full draw
    plot = fig.plot
    assert set(fig.blitter._areas) == {plot.axes["top"], plot.axes["loss"]}
    measured = []
    real = Axes.get_tightbbox
    monkeypatch.setattr(Axes, "get_tightbbox", lambda self, *a, **k: (measured.append(self), real(self, *a, **k))[1])
    fig.on_event(states[1])  # iteration 1: the loss axis gets its first limits
    fig.refresh()
    assert fig.blitter.axes_redraws >= 1 and fig.blitter.full_draws == 1 and measured == []
    assert_same_picture(fig)


def test_the_opening_after_start_is_charged_in_step_with_the_run(monkeypatch):
    """The first values' redraws (uncharged when drawn: no freeze) are charged as the run goes, so over the whole
    run the drawing after the first picture stays within the budget of the training time (wall time less the
    drawing), as the bench counts it; the redraws keep coming from the start."""
    import types

    import matplotlib.pyplot as plt

    clock = FakeClock()
    monkeypatch.setattr(F, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: None)
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    real_render = F.TrainingProgressFigure._render_window

    def costly(self, full, axes):  # the opening's redraws 0.25 s each, a blit 20 ms: the budget decides
        clock.now += 0.25 if self._opening else 0.02
        return real_render(self, full, axes)

    monkeypatch.setattr(F.TrainingProgressFigure, "_render_window", costly)
    monkeypatch.setattr(F.TrainingProgressFigure, "_pump", lambda self: None)
    fig = F.TrainingProgressFigure()
    try:
        n = 600
        base = dict(iterations_per_epoch=n, max_epochs=1, max_iterations=n, is_classifier=True)
        fig.on_event(TrainingState(event=events.START, **base))
        start, shown = clock.now, fig.draw_seconds
        first_redraws = []
        for it in range(1, n + 1):
            clock.now += 0.06
            fig.on_event(TrainingState(event=events.ITERATION, iteration=it, epoch=1, training_loss=2.0 / it,
                                       training_accuracy=50.0, time_since_start=clock.now - start, **base))
            if it <= 50:
                first_redraws.append(fig.redraw_count)
        drawing = fig.draw_seconds - shown
        assert fig._uncharged - fig._shown >= 0.25  # the first values' redraw was uncharged when drawn
        assert drawing <= F.OVERHEAD_BUDGET * (clock.now - start - drawing) + 0.02
        assert first_redraws[-1] - first_redraws[0] >= 2  # 3 s in: redraws go on (charged at once: none for 8 s)
    finally:
        plt.close("all")


def test_the_window_s_first_blit_draws_no_panel_label_its_first_draw_drew(monkeypatch):
    """The window's panel text is set before it maps; the draw that maps it holds the labels, so the first picture
    blits values only (under Xvfb it redrew four panel sections again: 48 ms before the first picture)."""
    import matplotlib.pyplot as plt

    monkeypatch.setattr(Figure, "show", lambda self, *a, **k: self.canvas.draw())  # mapping draws the window
    monkeypatch.setattr(F, "_display_mode", lambda show: "window")
    window = F.TrainingProgressFigure(redraw_interval=1e9)
    try:
        window.on_event(run_states()[0])
        assert window.redraw_count == 1 and window.blit_count == 1 and window.blitter.full_draws == 1
        assert window.blitter.panel_redraws == 0 and window.blitter.axes_redraws == 0
    finally:
        plt.close("all")
