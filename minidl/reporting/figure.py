"""The training-progress figure (MATLAB ``Plots='training-progress'``): the live observer and its display modes.

The drawing (panels, smoothing, epoch bands, ``Final`` markers, side panel) is in
:mod:`minidl.reporting.figure_layout`; files and the report of a finished run (:func:`plot_info`,
:func:`save_info_figure`, :func:`atomic_savefig`) are in :mod:`minidl.reporting.figure_files` and re-exported here.
In a window the Stop button ends training at the next iteration.

:class:`TrainingProgressFigure` works in three places, chosen from the matplotlib backend:

- ``"window"``: an interactive backend (Tk, Qt, macOS, ipympl): a window that stays responsive while training;
- ``"notebook"``: Jupyter with the inline backend: the figure is displayed once and updated in place (stop by
  interrupting the kernel, which the engine turns into a clean stop);
- ``"file"``: any non-interactive backend (Agg): a PNG written atomically every few seconds and at the end.

The window and the notebook figure are drawn at START (before the first iteration). While training, only the
changing artists are redrawn (:class:`Blitter`): the lines, the validation points and the side panel's values
(``"12 s"`` of ``"Elapsed time: 12 s"``, those whose string changed) are drawn over a saved picture of everything
else (axes, grids, labels, epoch bands, the panel's labels), a few milliseconds instead of a full redraw's ~0.15 s.
Only what changes that background is drawn again: an axes whose limits grow (they grow by ``HEADROOM`` times what
the data need, so rarely) or that gets an epoch band, the side panel when a label changes (a line comes or goes);
the whole figure when the window is resized (its ``draw_event`` re-grabs the background), and for the final
picture after DONE, which is drawn as before.

Redraws are throttled by time and by their own cost: their starts at least ``redraw_interval`` seconds apart, and
only while the time spent drawing so far plus the expected cost of one more redraw (the last one's) stays within
``OVERHEAD_BUDGET`` of the training time since the first picture (wall time less the drawing's). The first picture
(opening the window or the notebook display) and the final picture after DONE come on top; the rest of the opening
(the first values' axis limits, the first validation's panel lines) is charged in step with the run (see
``_within_budget``). The side panel's changed labels draw their section alone, not the panel's legends.
"""

from __future__ import annotations

import io
import os
import sys
import time
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.transforms import Bbox, IdentityTransform
from matplotlib.widgets import Button

from minidl._files import atomic_write
from minidl.reporting.figure_files import (
    atomic_savefig,
    check_figure_path,
    jpeg_bytes,
    plot_info,
    png_bytes,
    save_info_figure,
)
from minidl.reporting.figure_layout import ProgressPlot, is_interactive_backend, new_figure, panel_sections
from minidl.reporting.notebook import in_notebook as _in_notebook
from minidl.reporting.smoothing import WINDOW, Smoother
from minidl.training import events
from minidl.training.events import Observer, TrainingState

__all__ = ["TrainingProgressFigure", "Blitter", "plot_info", "save_info_figure", "atomic_savefig",
           "OVERHEAD_BUDGET", "DEFAULT_PLOTS_FILE", "HEADROOM", "NOTEBOOK_DPI"]

#: Where the headless figure goes when no ``plots_file`` is given (relative to the working folder).
DEFAULT_PLOTS_FILE = "training-progress.png"
#: Largest share of wall time the live figure may spend drawing (the throttle's target).
OVERHEAD_BUDGET = 0.03
#: Assumed cost of the first redraw (seconds; a full redraw of this figure on a CPU core).
FIRST_DRAW_ESTIMATE = 0.2
#: Default seconds from the start of one redraw to the next per display mode (a floor; the cost-based throttle may
#: wait longer). 0.42 s, not 0.5: a redraw comes at the first event after the floor (half an iteration late on
#: average, later across a validation pass), so a 0.5 s floor gave at most ~1.8 redraws/s and 0.45 s 1.93-2.0 on
#: the documented example; at 0.42 s the 3 % budget decides (2/s at 15 ms a redraw).
REDRAW_INTERVALS = {"window": 0.42, "notebook": 0.42, "file": 5.0}
#: While training, an axis limit the data leave grows to this factor times the span they need (rare full redraws).
HEADROOM = 1.5
#: Resolution of the live notebook image (the inline backend's own; the final picture uses ``dpi``).
NOTEBOOK_DPI = 72.0
#: Least seconds between updates of the side panel's text while training (its clock counts whole seconds; its
#: changed values cost ~1 ms each to draw, a third of the six curves).
PANEL_INTERVAL = 1.0
#: Seconds between two passes of a window's event loop between redraws (clicks on the Stop button).
PUMP_INTERVAL = 0.1
#: Margin (points) around each blitted axes: validation markers are not clipped to the axes and reach past them.
BLIT_PAD = 8.0


# ------------------------------------------------------------------------------------------- the display modes
def _display_mode(show: bool | None) -> str:
    """``"window"``, ``"notebook"`` or ``"file"`` for the current backend (``show=False`` forces a file)."""
    if show is False:
        return "file"
    backend = matplotlib.get_backend()
    if _in_notebook() and "inline" in backend.lower():
        return "notebook"
    if is_interactive_backend(backend):
        return "window"
    return "file"



#: Most GUI events one pass of :func:`_process_events` handles (a bound: events that keep coming end the pass).
MAX_EVENTS_PER_PASS = 1000


def _process_events(canvas: Any) -> None:
    """Handle a window's pending events (a click on Stop, a resize) and idle tasks (redisplaying what was blitted)
    without waiting for any.

    A Tk canvas: Tcl's event loop until nothing is pending, without the round trip to the X server that
    ``flush_events`` (Tk's ``update``) makes and waits for (measured under Xvfb on the shared machine: 0.05 ms
    instead of 0.15-0.37 ms with nothing to do, 0.24-0.9 ms instead of 0.5-2.8 ms after a blit; the pass between
    redraws comes ten times a second and counts against the budget). Other canvases: ``flush_events``.
    """
    widget = getattr(canvas, "get_tk_widget", None)
    if widget is None:
        canvas.flush_events()
        return
    import _tkinter

    tk = widget().tk
    for _ in range(MAX_EVENTS_PER_PASS):
        if not tk.dooneevent(_tkinter.DONT_WAIT):
            break


#: Offsets of red, green, blue and alpha in an RGBA pixel for Tk's photo image with the alpha left out (an offset
#: past the pixel's 4 bytes tells Tk the block has no alpha: every pixel opaque). See :meth:`Blitter._copy`.
TK_OPAQUE_OFFSETS = (0, 1, 2, 4)


def _opaque_tk_photo(canvas: Any) -> Any:
    """The Tk photo image a TkAgg canvas shows when its figure is opaque (None: another canvas, a canvas that
    copies in its own way, a figure with a transparent face, a matplotlib without the photo)."""
    tkagg = sys.modules.get("matplotlib.backends.backend_tkagg")  # never imported here: a Tk window did
    if tkagg is None or not isinstance(canvas, tkagg.FigureCanvasTkAgg):
        return None
    if type(canvas).blit is not tkagg.FigureCanvasTkAgg.blit:
        return None
    if to_rgba(canvas.figure.get_facecolor())[3] < 1.0:
        return None
    return getattr(canvas, "_tkphoto", None)


# ---------------------------------------------------------------------------------------------------- blitting
class Blitter:
    """Redraws only the changing artists of a figure over a saved background of everything else.

    The figure is cut into regions, each ``(axes, artists, box)`` (:meth:`ProgressPlot.changing_artists`): the
    artists are made ``animated`` (a full draw leaves them out), so after each full draw (the canvas' ``draw_event``:
    ours, a resize, a draw the GUI asks for) the picture of each region (an axes with a margin of ``BLIT_PAD``
    points, or its ``box``) is saved and the changing artists are drawn on top. :meth:`blit` restores the saved
    picture of each region that changed (a region of texts only when a text did), draws its artists
    (``Axes.draw_artist``) and copies it to the screen (``canvas.blit``); :meth:`full` redraws everything. Saving
    the figure (``savefig``) may render at another resolution: :meth:`invalidate` then makes the next blit a full
    draw.
    """

    def __init__(self, figure: Figure, regions: list[tuple[Any, list[Any], Any]]) -> None:
        """
        Args:
            figure: the figure; its canvas must support blitting (``canvas.supports_blit``).
            regions: ``(axes, artists, box)`` each; ``box`` None (the axes, padded) or a function of the renderer
                returning the region's display box. Regions must not overlap.
        """
        self.figure = figure
        self.regions = [(ax, list(artists), box) for ax, artists, box in regions]
        for _, artists, _ in self.regions:
            for artist in artists:
                artist.set_animated(True)
        self.backgrounds: list[Any] | None = None
        self.full_draws = 0  # full redraws (draw events) seen, for tests and benches
        self.blits = 0
        self.drawn: list[Any] = []  # the artists the last blit drew
        self._bboxes: list[Bbox] = []
        self._areas: dict[Any, Bbox] = {}  # each blitted axes' area with its tick labels, as last drawn
        self.axes_redraws = 0  # metric axes drawn again (see _redraw_axes), and axes of boxed regions (the panel)
        self.panel_redraws = 0
        self.part_redraws = 0  # of which parts of the panel alone (see _redraw_part: its changed sections)
        self._drawn_texts: list[tuple[str, ...] | None] = []
        self._reaches: list[float | None] = []  # how far right each boxed region's artists drew (see _copy_box)
        self._canvas = figure.canvas
        self._cid = self._canvas.mpl_connect("draw_event", self._on_draw)

    @property
    def active(self) -> bool:
        """Whether the background is saved and the canvas is still the one it was saved from."""
        return self.backgrounds is not None and self.figure.canvas is self._canvas

    def _bbox(self, ax: Any, box: Any, renderer: Any) -> Bbox:
        if box is None:
            pad = BLIT_PAD * self.figure.dpi / 72.0
            bbox = ax.bbox.padded(pad)
        else:
            bbox = box(renderer)
        return Bbox.intersection(bbox, self.figure.bbox) or bbox

    @staticmethod
    def _texts(artists: list[Any]) -> tuple[str, ...] | None:
        """What a region of texts shows (None: a region with other artists, redrawn every time)."""
        if all(hasattr(a, "get_text") for a in artists):
            return tuple(a.get_text() for a in artists)
        return None

    def _on_draw(self, event: Any) -> None:
        canvas = self.figure.canvas
        if canvas is not self._canvas or canvas.is_saving():  # a savefig: its picture is not the screen's
            return
        renderer = canvas.get_renderer()
        self._bboxes = [self._bbox(ax, box, renderer) for ax, _, box in self.regions]
        self.backgrounds = [canvas.copy_from_bbox(bbox) for bbox in self._bboxes]
        # each metric axes' area (a tight box costs a layout of every tick label, ~15-25 ms) measured now, with
        # the draw (the opening's, a resize's: rare and slow anyway), not at the first values' limits
        self._areas = {}
        for ax, _, box in self.regions:
            if box is None:
                self._area(ax, renderer)
        self.full_draws += 1
        for ax, artists, _ in self.regions:
            for artist in artists:
                ax.draw_artist(artist)
        self._drawn_texts = [self._texts(artists) for _, artists, _ in self.regions]
        self._reaches = [self._reach(artists, renderer) for _, artists, _ in self.regions]

    @staticmethod
    def _reach(artists: list[Any], renderer: Any) -> float | None:
        """The display x the artists do not draw past (their ``reach``), None when one of them cannot tell."""
        if not artists or not all(hasattr(a, "reach") for a in artists):
            return None
        return max(a.reach(renderer) for a in artists)

    def _copy_box(self, i: int, renderer: Any) -> Bbox:
        """The part of boxed region ``i`` to copy to the screen after drawing its artists again: from its left
        edge to the farther of where the old and the new artists reach (the rest shows the background on the
        screen and on the canvas alike); the whole box when a reach is unknown."""
        bbox, old = self._bboxes[i], self._reaches[i]
        new = self._reaches[i] = self._reach(self.regions[i][1], renderer)
        if old is None or new is None:
            return bbox
        return Bbox([[bbox.x0, bbox.y0], [min(bbox.x1, max(old, new, bbox.x0 + 1.0)), bbox.y1]])

    def _area(self, ax: Any, renderer: Any) -> Bbox:
        """Where ``ax`` draws: the height of its padded box and its tick and axis labels, to the nearest other
        axes on the right (or the figure's edge), from the figure's left edge when no axes lies on its left (tick
        labels widen as the limits grow; nothing but the figure's colour lies left of a metric panel's label),
        else from its own padded box (the side panel, right of the metric panels)."""
        area = self._areas.get(ax)
        if area is None:
            tight = Bbox.union([ax.get_tightbbox(renderer), ax.bbox.padded(BLIT_PAD * self.figure.dpi / 72.0)])

            def beside(other: Any) -> bool:
                return other is not ax and other.bbox.y0 < tight.y1 and other.bbox.y1 > tight.y0

            right = min((other.bbox.x0 for other in self.figure.axes if other.bbox.x0 >= ax.bbox.x1 and beside(other)),
                        default=self.figure.bbox.x1)
            left = self.figure.bbox.x0
            if any(other.bbox.x1 <= ax.bbox.x0 for other in self.figure.axes if beside(other)):
                left = tight.x0
            area = Bbox([[left, tight.y0], [right - 1.0, tight.y1]])
            area = Bbox.intersection(area, self.figure.bbox) or area
            self._areas[ax] = area
        return area

    def _redraw_axes(self, ax: Any) -> Bbox:
        """Paint ``ax``'s area in the figure's colour, draw ``ax`` there again (its limits or epoch bands changed,
        or the side panel's labels) and save the new background of its regions (the boxes of regions with a box of
        their own measured again: a panel value moves with its label); returns the area."""
        canvas = self.figure.canvas
        renderer = canvas.get_renderer()
        area = self._area(ax, renderer)
        blank = Rectangle((area.x0, area.y0), area.width, area.height, transform=IdentityTransform(),
                          facecolor=self.figure.get_facecolor(), edgecolor="none", linewidth=0)
        blank.set_figure(self.figure)  # not in the figure: painting it changes nothing there
        blank.draw(renderer)
        ax.draw(renderer)  # everything of the axes but its (animated) changing artists
        boxed = False
        for i, (region_ax, _, box) in enumerate(self.regions):
            if region_ax is ax:
                if box is not None:
                    self._bboxes[i] = self._bbox(ax, box, renderer)
                    boxed = True
                self.backgrounds[i] = canvas.copy_from_bbox(self._bboxes[i])
                self._drawn_texts[i] = None
                self._reaches[i] = None  # the area goes to the screen whole
        if boxed:
            self.panel_redraws += 1
        else:
            self.axes_redraws += 1
        return area

    def _redraw_part(self, ax: Any, box: Bbox, artists: list[Any]) -> Bbox:
        """Paint ``box`` (inside ``ax``, where nothing of ``ax`` but ``artists`` and regions' changing artists lies)
        in ``ax``'s colour, draw ``artists`` there again (a part of the side panel whose labels changed) and save
        the new background of the regions of ``ax`` it meets (their boxes measured again); returns ``box``."""
        canvas = self.figure.canvas
        renderer = canvas.get_renderer()
        blank = Rectangle((box.x0, box.y0), box.width, box.height, transform=IdentityTransform(),
                          facecolor=ax.patch.get_facecolor(), edgecolor="none", linewidth=0)
        blank.set_figure(self.figure)  # not in the figure: painting it changes nothing there
        blank.draw(renderer)
        for artist in artists:
            artist.draw(renderer)
        for i, (region_ax, _, region_box) in enumerate(self.regions):
            if region_ax is not ax or not self._bboxes[i].overlaps(box):  # (a value's band stays; its start moves)
                continue
            if region_box is not None:
                self._bboxes[i] = self._bbox(ax, region_box, renderer)
            self.backgrounds[i] = canvas.copy_from_bbox(self._bboxes[i])
            self._drawn_texts[i] = None
            self._reaches[i] = None  # the region goes to the screen whole
        self.part_redraws += 1
        self.panel_redraws += 1  # the panel drawn again, in part
        return box

    def full(self) -> None:
        """Draw the whole figure now (the ``draw_event`` saves the new background and draws the changing artists)."""
        self.figure.canvas.draw()

    def blit(self, axes: list[Any] = (), span: tuple[float, float] | None = None,
             parts: list[tuple[Any, Bbox, list[Any]]] = ()) -> None:
        """Redraw the changed regions over the saved background (a full draw when there is none).

        Args:
            axes: axes whose background changed (their limits grew, an epoch band was added, the side panel's
                labels changed): drawn again first (a few tens of milliseconds instead of the whole figure's
                ~0.15 s).
            span: the data x range where the axes' artists changed (new points at the right end of curves that
                do not change behind them); only that band of each axes region goes to the screen. None: all.
            parts: ``(axes, box, artists)`` each: a part of an axes whose background changed (the side panel's
                sections with a changed label), drawn again alone (:meth:`_redraw_part`) after ``axes``.
        """
        if not self.active:
            self.full()
            return
        canvas = self.figure.canvas
        areas = [self._redraw_axes(ax) for ax in axes]
        areas += [self._redraw_part(ax, box, artists) for ax, box, artists in parts]
        self.drawn = []
        bands = []  # the axes' bands of new points: one copy for all (they share the x range)
        boxes = []  # regions with a box of their own (the side panel's values): copied to the screen at once
        for i, (ax, artists, box) in enumerate(self.regions):
            texts = self._texts(artists)
            if texts is not None and texts == self._drawn_texts[i]:
                continue  # the same text: the screen shows it already
            canvas.restore_region(self.backgrounds[i])
            for artist in artists:
                ax.draw_artist(artist)
            self.drawn.extend(artists)
            if box is None:
                (areas if span is None else bands).append(
                    self._bboxes[i] if span is None else self._band(ax, self._bboxes[i], span))
            else:
                boxes.append(self._copy_box(i, canvas.get_renderer()))
            self._drawn_texts[i] = texts
        # One copy to the screen for the bands of new points and one for the changed panel values: a copy costs
        # ~1-1.5 ms under Tk for such boxes, so the strip between the two axes' bands (unchanged pixels, equal on
        # the screen) is cheaper copied than skipped; but Tk redisplays the union of what was copied since its
        # last idle pass, so the two copies are redisplayed each on its own (the panel's far right of the bands).
        for group in (bands, boxes):
            if group:
                areas.append(Bbox.union(group))
        for k, area in enumerate(areas):
            if k:
                self._redisplay()
            self._copy(area)
        self.blits += 1

    def _copy(self, bbox: Bbox) -> None:
        """Copy ``bbox`` of the canvas' picture to the screen (``canvas.blit``).

        A TkAgg window whose figure is opaque: the pixels go to Tk's photo image as RGB without alpha
        (``TK_OPAQUE_OFFSETS``). With the alpha channel Tk scans the alpha of the whole image after every copy,
        however small, for partly transparent pixels (measured under Xvfb, a 1355x771 window: 0.89 ms for a
        200x30 box of panel values, 1.41 ms for a 100x600 band of new points; without alpha 0.05 and 0.46 ms).
        An opaque figure's picture is opaque everywhere, so the screen gets the same pixels.
        """
        canvas = self.figure.canvas
        photo = _opaque_tk_photo(canvas)
        if photo is None:
            canvas.blit(bbox)
            return
        from matplotlib.backends import _backend_tk

        _backend_tk.blit(photo, canvas.renderer.buffer_rgba(), TK_OPAQUE_OFFSETS, bbox=bbox)

    def _redisplay(self) -> None:
        """Let a Tk window redisplay what was copied to it so far (its idle tasks only: no user event is handled
        in the middle of a blit); nothing for other canvases."""
        widget = getattr(self.figure.canvas, "get_tk_widget", None)
        if widget is not None:
            widget().update_idletasks()

    def _band(self, ax: Any, bbox: Bbox, span: tuple[float, float]) -> Bbox:
        """The part of region ``bbox`` of ``ax`` above the data x range ``span`` (with the margin)."""
        pad = BLIT_PAD * self.figure.dpi / 72.0
        x0, x1 = sorted(ax.transData.transform([[span[0], 0.0], [span[1], 0.0]])[:, 0])
        x0, x1 = max(bbox.x0, x0 - pad), min(bbox.x1, x1 + pad)
        return Bbox([[x0, bbox.y0], [max(x0, x1), bbox.y1]])

    def invalidate(self) -> None:
        """Forget the saved background (the canvas' picture is no longer the background plus the changing artists)."""
        self.backgrounds = None

    def stop(self) -> None:
        """Make the changing artists ordinary again (a full draw includes them) and stop listening to draws."""
        self._canvas.mpl_disconnect(self._cid)
        for _, artists, _ in self.regions:
            for artist in artists:
                artist.set_animated(False)
        self.backgrounds = None


# ------------------------------------------------------------------------------------------------- the observer
class TrainingProgressFigure(Observer):
    """Live training-progress figure: an observer that plots every event and can stop training."""

    def __init__(self, plots_file: str | os.PathLike | None = None, show: bool | None = None,
                 redraw_interval: float | None = None, settings: Mapping[str, Any] | None = None,
                 dpi: float = 100.0) -> None:
        """
        Args:
            plots_file: PNG/SVG/PDF path written atomically every few seconds and at the end. Default: nothing in
                a window or notebook, ``training-progress.png`` in the working folder when headless.
            show: None picks the place from the backend (window, notebook, file); False never opens a window or
                displays in a notebook (file only); True is the same as None (the backend decides).
            redraw_interval: least seconds from the start of a redraw to the next (default per mode: window 0.42,
                notebook 0.42, file 5).
                The cost-based throttle (``OVERHEAD_BUDGET``) may wait longer. In a window or notebook,
                ``plots_file`` is written at most every 5 s (and at the end).
            settings: training settings for the side panel (keys ``solver``, ``hardware`` or
                ``execution_environment``, ``learn_rate_schedule``, ``mini_batch_size``, ``validation_frequency``);
                merged with ``state.extra["settings"]`` of the START event.
            dpi: resolution of the files written (and of the final notebook image; the live one has
                ``NOTEBOOK_DPI``).
        """
        if show is not None and not isinstance(show, bool):
            raise TypeError(f"show must be None, True or False, got {show!r}")
        if redraw_interval is not None and (isinstance(redraw_interval, bool) or
                                            not isinstance(redraw_interval, (int, float)) or redraw_interval < 0):
            raise ValueError(f"redraw_interval must be a number of seconds >= 0 or None, got {redraw_interval!r}")
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError(f"settings must be a mapping or None, got {type(settings).__name__}")
        self.mode = _display_mode(show)
        if plots_file is None and self.mode == "file":
            plots_file = DEFAULT_PLOTS_FILE
        self.plots_file, self._fmt = (None, None) if plots_file is None else check_figure_path(plots_file, "plots_file")
        self.redraw_interval = float(REDRAW_INTERVALS[self.mode] if redraw_interval is None else redraw_interval)
        self.dpi = float(dpi)
        self.settings: dict[str, Any] = dict(settings or {})
        self.figure: Figure | None = None
        self.plot: ProgressPlot | None = None
        self.blitter: Blitter | None = None  # None: full redraws (a canvas that cannot blit; after DONE)
        self.stop_requested = False
        self.redraw_count = 0
        self.draw_seconds = 0.0  # total time spent drawing and writing (for the overhead bench)
        self.blit_count = 0  # redraws that blitted (the rest drew the whole figure), and their time
        self.blit_seconds = 0.0
        self._handle = None  # IPython display handle (notebook mode)
        self._closed_window = False
        self._next_redraw = 0.0  # the redraw_interval floor
        self._next_pump = 0.0
        self._next_panel = 0.0  # the side panel's text: updated at most every PANEL_INTERVAL while training
        self._panel_moved = False  # a label of the live side panel changed since the last picture
        self._panel_changed: set[str] = set()  # the panel's sections with a changed label since then
        self._parts: list[tuple[Any, Bbox, list[Any]]] = []  # what the next blit draws of the panel (see _redraw)
        self._drawn_tail: tuple[int, int, float] = (0, 0, np.nan)  # what _render last drew (see _tail)
        self._next_file = 0.0  # plots_file in a window or notebook: written at most every REDRAW_INTERVALS["file"]
        self._t_open = 0.0  # perf_counter when the figure was opened
        self._t_shown = 0.0  # and when its first picture was done (the budget counts from there)
        self._expected_cost = FIRST_DRAW_ESTIMATE  # seconds the next redraw will take (the last one's)
        self._uncharged = 0.0  # one-time drawing cost kept out of the budget when drawn (opening the window)
        self._shown = 0.0  # of which the first picture's (START; the rest is charged later: _within_budget)
        self._opening = False  # a window or notebook display until its first blit of values: full draws uncharged
        # history, host-side
        self._it: list[int] = []
        self._raw: dict[str, list[float]] = {"top": [], "loss": []}
        self._smoothed: dict[str, list[float]] = {"top": [], "loss": []}
        self._smoothers = {"top": Smoother(WINDOW), "loss": Smoother(WINDOW)}
        self._vit: list[int] = []
        self._val: dict[str, list[float]] = {"top": [], "loss": []}
        self._final: dict[str, float | None] = {"top": None, "loss": None}
        self._edges: list[float] = [0.0]  # iterations where epochs end (bands between them)
        self._drawn_epochs: tuple[list[float], int] | None = None
        self._state: TrainingState | None = None
        self._start_wall: datetime | None = None
        self._finished = False

    # -- the Stop button
    def request_stop(self, event: Any = None) -> None:
        """Ask training to stop at the next event (what the Stop button calls)."""
        self.stop_requested = True

    @property
    def stop_button(self) -> Button | None:
        """The matplotlib Stop button (None before START, in a notebook, and hidden after DONE)."""
        return None if self.plot is None else self.plot.stop_button

    # -- events
    def on_event(self, state: TrainingState) -> bool | str | None:
        """Record the event's values, redraw when due; returns ``STOP_BUTTON`` after the Stop button."""
        self._state = state
        opened = self.plot is None
        if opened:
            self._open(state)  # in a window or notebook: drawn now
        kind = state.event
        if kind == events.ITERATION:
            self._it.append(int(state.iteration))
            top = state.training_accuracy if state.is_classifier else state.training_rmse
            self._raw["top"].append(np.nan if top is None else float(top))
            loss = state.training_loss
            self._raw["loss"].append(np.nan if loss is None else float(loss))
        if kind in (events.ITERATION, events.VALIDATION):
            vtop = state.validation_accuracy if state.is_classifier else state.validation_rmse
            if vtop is not None or state.validation_loss is not None:
                if self._vit and self._vit[-1] == state.iteration:  # the same validation reported twice
                    for values in self._val.values():
                        values.pop()
                    self._vit.pop()
                self._vit.append(int(state.iteration))
                self._val["top"].append(np.nan if vtop is None else float(vtop))
                self._val["loss"].append(np.nan if state.validation_loss is None else float(state.validation_loss))
        if kind == events.EPOCH_END and not state.iterations_per_epoch and state.iteration > self._edges[-1]:
            self._edges.append(float(state.iteration))
        if kind == events.DONE:
            self._finish(state)
            return None
        now = time.perf_counter()
        if opened and self.mode in ("window", "notebook"):
            pass  # just drawn by opening
        elif now >= self._next_redraw and self._within_budget(now, state):
            # while opening (until the first blit of values) the panel's text too: its first values change its
            # lines (the validation lines come with the first validation), part of the opening's new layout
            self._redraw(panel=now >= self._next_panel or self._opening)
        elif self.mode == "window" and now >= self._next_pump:
            self._pump()
        if self.stop_requested:
            return events.STOP_BUTTON
        return None

    def _open(self, state: TrainingState) -> None:
        extra_settings = state.extra.get("settings") if isinstance(state.extra, Mapping) else None
        if isinstance(extra_settings, Mapping):
            self.settings = {**extra_settings, **self.settings}
        self._start_wall = datetime.now() - timedelta(seconds=float(state.time_since_start))
        self.figure = new_figure(self.mode == "window")
        if self.mode != "window":  # the Agg canvas renders at the resolution of what it shows or writes
            self.figure.set_dpi(NOTEBOOK_DPI if self.mode == "notebook" else self.dpi)
        self.plot = ProgressPlot(self.figure, state.is_classifier, stop_button=self.mode != "notebook")
        if self.plot.stop_button is not None:
            self.plot.stop_button.on_clicked(self.request_stop)
        self.plot.subtitle.set_text(f"Started {self._start_wall:%Y-%m-%d %H:%M:%S}")
        self._edges_from(state)
        if self.figure.canvas.supports_blit:
            self.plot.live_panel(True)
            self.blitter = Blitter(self.figure, self.plot.changing_artists())
        self._t_open = time.perf_counter()
        if self.mode in ("window", "notebook"):  # it appears at once, before the first iteration
            self._opening = self.blitter is not None
            if self.mode == "window":
                self._update_artists()
                self.figure.show()
                self.figure.canvas.flush_events()  # the window maps and draws itself: the background is saved
                if self.blitter is not None and self.blitter.active:  # that draw holds the panel's labels: the
                    self._panel_moved, self._panel_changed = False, set()  # first blit draws none of them again
            self.refresh()  # (uncharged: see _redraw)
            if self.blitter is None:  # full redraws only: the opening is the first one, uncharged as it always was
                self._uncharged, self._expected_cost = self.draw_seconds, 0.0
        self._shown = self._uncharged
        self._t_shown = time.perf_counter()

    def _within_budget(self, now: float, state: TrainingState) -> bool:
        """Whether one more redraw (the last one's cost) keeps the drawing within ``OVERHEAD_BUDGET`` of the
        training time since the first picture (wall time less the drawing's own, as the bench counts it).

        The first picture (START) is not counted; the rest of the opening (the first values' axes, the panel's
        first validation lines: uncharged when drawn, so that the figure does not freeze for a second or two) is
        charged in step with the run, the share of ``max_iterations`` done (all of it at the end: over the run
        the figure costs at most the budget; not at all while still opening or when the run's length is
        unknown)."""
        first_values = max(self._uncharged - self._shown, 0.0)
        max_iterations = int(state.max_iterations or 0)
        done = min(1.0, float(state.iteration or 0) / max_iterations) if max_iterations else 0.0
        if self._opening:  # a redraw now is still the opening's (see _redraw)
            done = 0.0
        charged = self.draw_seconds - self._uncharged + done * first_values
        training = now - self._t_shown - (self.draw_seconds - self._shown)
        return charged + self._expected_cost <= OVERHEAD_BUDGET * training

    def _edges_from(self, state: TrainingState) -> None:
        ipe, max_epochs = int(state.iterations_per_epoch or 0), int(state.max_epochs or 0)
        if ipe and max_epochs:
            self._edges = [float(e * ipe) for e in range(max_epochs + 1)]

    def _finish(self, state: TrainingState) -> None:
        self._finished = True
        if state.is_classifier:
            self._final["top"] = state.final_validation_accuracy
        else:
            self._final["top"] = state.final_validation_rmse
        self._final["loss"] = state.final_validation_loss
        if self.plot.stop_button is not None:
            self.plot.stop_button.ax.set_visible(False)
        self.refresh()

    # -- drawing
    def _sections(self) -> dict[str, list[str]]:
        st = self._state
        latest = {k: (v[-1] if v and np.isfinite(v[-1]) else None) for k, v in self._val.items()}
        return panel_sections(
            finished=self._finished, stop_reason=st.stop_reason, stop_kind=st.stop_kind,
            is_classifier=st.is_classifier, epoch=st.epoch,
            max_epochs=st.max_epochs, iteration=st.iteration, max_iterations=st.max_iterations,
            iterations_per_epoch=st.iterations_per_epoch, elapsed=st.time_since_start,
            start_time=f"{self._start_wall:%Y-%m-%d %H:%M:%S}" if self._start_wall else None,
            base_learn_rate=st.base_learn_rate, settings=self.settings, latest=latest, final=self._final,
            has_validation=bool(getattr(st, "has_validation", False) or self._vit))

    def _update_artists(self, panel: bool = True) -> None:
        plot, st = self.plot, self._state
        x = np.asarray(self._it, dtype=np.float64)
        vx = np.asarray(self._vit, dtype=np.float64)
        for key in ("top", "loss"):
            raw = self._raw[key]
            done = len(self._smoothed[key])
            self._smoothed[key].extend(self._smoothers[key].extend(raw[done:]).tolist())
            plot.set_series(key, x, np.asarray(raw, dtype=np.float64), np.asarray(self._smoothed[key]), vx,
                            np.asarray(self._val[key], dtype=np.float64))
            if self._finished:
                plot.set_final(key, float(st.iteration), self._final[key])
        if (self._edges, st.max_iterations) != self._drawn_epochs:
            plot.set_epochs(self._edges, st.max_iterations or 0)
            self._drawn_epochs = (list(self._edges), st.max_iterations)
        plot.autoscale(None if self._finished else HEADROOM)
        if panel:
            if plot.set_panel(self._sections()):
                self._panel_moved = True  # a label changed: the panel's background (see _redraw)
                self._panel_changed |= plot.panel_changed
            self._next_panel = time.perf_counter() + PANEL_INTERVAL
        status = "finished" if self._finished else "training"
        plot.subtitle.set_text(f"Started {self._start_wall:%Y-%m-%d %H:%M:%S} · {status}")

    def refresh(self) -> None:
        """Update every artist from the history and render now (window, notebook display, and/or file).

        A blit of the changing artists when only they changed; the whole figure when the background did (axis
        limits, epoch bands, the first picture) and after DONE (the final picture, drawn as it always was).
        """
        self._redraw(panel=True)

    def _redraw(self, panel: bool) -> None:
        """:meth:`refresh`; ``panel`` False keeps the side panel's text as it is (a throttled live redraw)."""
        if self.plot is None:
            return
        t0 = time.perf_counter()
        before = (self.plot.limits(), self._drawn_epochs)
        self._update_artists(panel or self.blitter is None or self._finished)
        if self._finished and self.blitter is not None:  # the final picture: every artist an ordinary one
            self.blitter.stop()
            self.blitter = None
            self.plot.live_panel(False)
        full = self.blitter is None or not self.blitter.active
        axes = [] if full else self._changed_axes(*before)
        self._parts = []
        if self._panel_moved and not full:  # the changed sections alone, else the whole panel
            parts = self.plot.panel_section_parts(self._panel_changed, self.figure.canvas.get_renderer())
            if parts is None:
                axes.append(self.plot.panel)
            else:
                self._parts = [(self.plot.panel, box, artists) for box, artists in parts]
        self._panel_moved = False
        self._panel_changed = set()
        moved = bool(axes or self._parts)  # a background drawn again
        rendered = False  # whether the canvas' buffer now holds the current picture
        if self.mode == "window" and not self._closed_window:
            rendered = self._render_window(full, axes)
        elif self.mode == "notebook":
            rendered = self._render_notebook(full, axes)
        elif self.blitter is not None:  # a file: the Agg buffer, blitted, is what the file gets
            self._render(full, axes)
            rendered = True
        if self.plots_file is not None and (self.mode == "file" or self._finished or t0 >= self._next_file):
            self._write_file(rendered)
            self._next_file = t0 + REDRAW_INTERVALS["file"]
        t1 = time.perf_counter()
        cost = t1 - t0
        self.draw_seconds += cost
        self.redraw_count += 1
        if not full and self.blitter is not None:
            self.blit_count += 1
            self.blit_seconds += cost
        if self._opening and (full or moved or not self._it):
            # Opening a window or a notebook display (creating it, the first text layout, the axis limits of the
            # first values) costs a few full redraws, once, like the final picture: charged, they would freeze the
            # figure for many seconds (measured under Xvfb: 0.5 s to open, 0.15-0.3 s per full redraw). The first
            # blit of values measures the real cost.
            self._uncharged += cost
            self._expected_cost = 0.0
        else:
            self._opening = False
            if not (full or moved) or self.blitter is None or self.blitter.blits == 0:
                # a new background is rare: the next redraw is expected to cost what the last plain blit did
                self._expected_cost = cost
        self._next_redraw = t0 + self.redraw_interval  # start to start: the floor does not grow with the cost
        self._next_pump = t1 + PUMP_INTERVAL

    def _changed_axes(self, limits: tuple, epochs: Any) -> list[Any]:
        """The metric axes whose background changed since ``limits`` and ``epochs`` (limits, epoch bands)."""
        now, plot = self.plot.limits(), self.plot
        if now[0] != limits[0] or self._drawn_epochs != epochs:  # x range or bands: both (they share x)
            return [plot.axes["top"], plot.axes["loss"]]
        return [plot.axes[key] for key, i in (("top", 1), ("loss", 2)) if now[i] != limits[i]]

    def _render(self, full: bool, axes: list[Any]) -> None:
        """Draw the whole figure (``full``), or draw ``axes`` again and blit the changing artists."""
        if full:
            self.blitter.full()
        else:
            self.blitter.blit(axes, self._span(), self._parts)
        self._drawn_tail = self._tail()

    def _tail(self) -> tuple[int, int, float]:
        """The number of iterations and of validation points drawn, and the last validation value."""
        return (len(self._it), len(self._vit), self._val["top"][-1] if self._vit else np.nan)

    def _span(self) -> tuple[float, float] | None:
        """Iterations where the curves changed since the last picture (None: everything). A new point changes its
        curve from the point two before the last one drawn: the join at a sharp angle reaches back along the
        previous segment; a new or changed validation point likewise from two validation points back."""
        n_it, n_val, last_val = self._drawn_tail
        if not self._it:
            return None
        start = float(self._it[max(min(n_it, len(self._it)) - 3, 0)])
        _, v, value = self._tail()
        if v and (v != n_val or not (value == last_val or (np.isnan(value) and np.isnan(last_val)))):
            start = min(start, float(self._vit[max(v - 3, 0)]))
        end = max(float(self._it[-1]), float(self._vit[-1]) if self._vit else 0.0)
        return (min(start, end), end)

    def _png_from_canvas(self, compress_level: int) -> bytes:
        """The canvas' current picture (its Agg buffer) as PNG bytes (zlib ``compress_level``)."""
        return png_bytes(np.asarray(self.figure.canvas.buffer_rgba()), compress_level)

    def _write_file(self, rendered: bool) -> None:
        try:
            if rendered and self.blitter is not None and self._fmt == "png" and self.figure.dpi == self.dpi:
                data = self._png_from_canvas(3)  # the picture on screen, not drawn again
                atomic_write(self.plots_file, lambda f: f.write(data), arg="plots_file")
            else:
                atomic_savefig(self.figure, self.plots_file, self._fmt, self.dpi)
                if self.blitter is not None:  # savefig drew into the canvas at its own resolution
                    self.blitter.invalidate()
        except (OSError, ValueError) as e:  # a figure that cannot be written (its folder gone): a warning
            warnings.warn(f"plots_file: {self.plots_file!r} could not be written ({e}); training goes on",
                          RuntimeWarning, stacklevel=3)

    def _render_window(self, full: bool, axes: list[Any]) -> bool:
        import matplotlib.pyplot as plt

        if not plt.fignum_exists(self.figure.number):  # the user closed the window: keep training, stop drawing
            self._closed_window = True
            return False
        if self.blitter is None:  # a canvas that cannot blit, and the final picture
            self.figure.canvas.draw_idle()
            self.figure.canvas.flush_events()
            return False
        self._render(full, axes)
        _process_events(self.figure.canvas)
        return True

    def _pump(self) -> None:
        """Let the GUI process clicks (the Stop button) between redraws (its time counts as drawing time)."""
        t0 = time.perf_counter()
        if not self._closed_window:
            _process_events(self.figure.canvas)
        t1 = time.perf_counter()
        self.draw_seconds += t1 - t0
        self._next_pump = t1 + PUMP_INTERVAL

    def _render_notebook(self, full: bool, axes: list[Any]) -> bool:
        """Show the picture in the notebook: displayed once, then the same output updated in place."""
        try:
            from IPython.display import Image, display
        except ImportError:  # no IPython after all: fall back to the file only
            self.mode = "file"
            return False
        rendered = self.blitter is not None
        if rendered:  # while training: the blitted Agg buffer at NOTEBOOK_DPI, a JPEG (see jpeg_bytes)
            self._render(full, axes)
            image = Image(data=jpeg_bytes(np.asarray(self.figure.canvas.buffer_rgba())), format="jpeg")
        else:  # the final picture, as before
            buf = io.BytesIO()
            self.figure.savefig(buf, format="png", dpi=self.dpi, facecolor="white")
            image = Image(data=buf.getvalue(), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        return rendered

    def close(self) -> None:
        """Make sure the last state is drawn and written; the window (if any) stays open for the user."""
        if self.plot is not None and not self._finished:  # training ended without DONE (an error, Ctrl-C)
            try:
                self._next_file = 0.0  # the file gets the last state too
                self.refresh()
            except Exception:  # noqa: BLE001 - never hide the error that ended training behind a drawing error
                pass
