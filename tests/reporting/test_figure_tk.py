"""The live figure's copies to a Tk window: opaque RGB blocks (no alpha), the same pixels on the screen."""

import os

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

from minidl.reporting import figure as F  # noqa: E402
from tests.reporting.test_reporting_figure import run_states  # noqa: E402

_backend_tk = pytest.importorskip("matplotlib.backends._backend_tk")  # tkinter: the window's toolkit
from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg  # noqa: E402


class HeadlessTkCanvas(FigureCanvasTkAgg):
    """A TkAgg canvas without a Tk window: its Agg buffer, and a photo name for the copies (recorded)."""

    def __init__(self, figure):
        FigureCanvasAgg.__init__(self, figure)
        self._tkphoto = "photo"
        self._tkcanvas = Widget()


class Widget:
    def update_idletasks(self):
        pass


def blitted_figure(monkeypatch, facecolor="white"):
    """A live figure on a headless TkAgg canvas after a few events; the copies to Tk's photo recorded."""
    copies = []
    monkeypatch.setattr(_backend_tk, "blit", lambda photo, data, offsets, bbox=None:
                        copies.append((photo, np.asarray(data), offsets, bbox)))
    fig = F.TrainingProgressFigure(show=False, redraw_interval=1e9, dpi=50)
    states = run_states()
    fig.on_event(states[0])
    fig.figure.set_facecolor(facecolor)
    HeadlessTkCanvas(fig.figure)
    fig.blitter = F.Blitter(fig.figure, fig.plot.changing_artists())
    fig.refresh()  # a full draw: the background of the new canvas
    for s in states[1:8]:
        fig.on_event(s)
    copies.clear()
    fig.refresh()
    return fig, copies


def test_an_opaque_figure_goes_to_tk_as_rgb_without_alpha(monkeypatch):
    """Tk scans the alpha of its whole photo after each copy that has alpha (measured under Xvfb: 0.89 ms for a
    200x30 box, 0.05 ms without alpha): an opaque figure's copies leave the alpha out; the same boxes, the
    canvas' own buffer."""
    fig, copies = blitted_figure(monkeypatch)
    assert fig.blitter.blits >= 1 and copies
    buffer = np.asarray(fig.figure.canvas.buffer_rgba())
    for photo, data, offsets, bbox in copies:
        assert photo == "photo" and offsets == F.TK_OPAQUE_OFFSETS and bbox is not None
        assert data.shape == buffer.shape and np.shares_memory(data, buffer)  # no copy of the picture
    assert (buffer[..., 3] == 255).all()  # what leaving the alpha out assumes


def test_a_transparent_figure_keeps_the_alpha(monkeypatch):
    """A figure with a see-through face: the copies keep their alpha (matplotlib's own blit, RGBA offsets)."""
    fig, copies = blitted_figure(monkeypatch, facecolor=(1.0, 1.0, 1.0, 0.0))
    assert copies and all(offsets == (0, 1, 2, 3) for _, _, offsets, _ in copies)


def test_only_a_tkagg_canvas_with_its_own_blit_is_copied_without_alpha():
    from matplotlib.figure import Figure

    figure = Figure()
    assert F._opaque_tk_photo(FigureCanvasAgg(figure)) is None

    class OwnBlit(HeadlessTkCanvas):
        def blit(self, bbox=None):
            pass

    assert F._opaque_tk_photo(OwnBlit(figure)) is None
    assert F._opaque_tk_photo(HeadlessTkCanvas(figure)) == "photo"


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (the bench starts an Xvfb)")
def test_a_tk_window_shows_the_pixels_of_the_canvas():
    """In a real Tk window (an X display), Tk's photo image holds the canvas' pixels after opaque blits."""
    import subprocess
    import sys

    code = r"""
import base64, io, matplotlib
from tests.reporting.test_reporting_figure import run_states  # (it selects Agg)
matplotlib.use("TkAgg", force=True)
import numpy as np
from PIL import Image
from minidl.reporting import figure as F
fig = F.TrainingProgressFigure(redraw_interval=0.0)
for s in run_states()[:12]:
    fig.on_event(s)
    fig.refresh()  # a blit after each event (the throttle aside)
canvas = fig.figure.canvas
photo = canvas._tkphoto
data = photo.tk.call(photo, "data", "-format", "png")  # PNG bytes (Tk 8.6.13), base64 text (older)
shown = Image.open(io.BytesIO(data if isinstance(data, bytes) else base64.b64decode(data)))
print(fig.blitter.blits, np.abs(np.asarray(shown.convert("RGB"), dtype=int)
                                - np.asarray(canvas.buffer_rgba())[..., :3]).max())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == 0, out.stderr[-2000:]
    blits, diff = map(int, out.stdout.split())
    assert blits >= 10 and diff == 0
