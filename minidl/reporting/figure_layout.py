"""The drawing of the training-progress figure: pure functions of the data, no timing, no display, no files.

Layout (MATLAB's): the top panel shows the mini-batch accuracy (RMSE for regression networks) raw and faint, its
smoothed curve (:mod:`minidl.reporting.smoothing`) and the validation values as joined points; the bottom panel
shows the same for the loss. Epochs are alternating shaded bands, the x axis counts iterations. After training the
final validation values (after batch-norm finalization) are marked and labelled ``Final``. A side panel shows the
status, the training time, the training cycle and the main settings; a Stop button sits top right when asked for.

:class:`ProgressPlot` owns the artists and is fed whole series (:meth:`ProgressPlot.set_series`, ...);
:func:`panel_sections` writes the side panel's text. The live observer (:mod:`minidl.reporting.figure`) and the
report of a finished run (:mod:`minidl.reporting.figure_files`) both draw through them, so they look the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.artist import Artist, allow_rasterization
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from matplotlib.widgets import Button

from minidl.training import events

__all__ = ["ProgressPlot", "PanelValue", "panel_sections", "new_figure", "is_interactive_backend", "FIGSIZE"]

# MATLAB's training-plot colours: blue accuracy/RMSE, orange loss, black dashed validation.
_COLORS = {"top": "#0072BD", "loss": "#D95319", "validation": "#1a1a1a", "band": ("#ebebeb", "#f7f7f7")}
FIGSIZE = (13.0, 7.4)  # inches
_TEXT = "#262626"
_BODY_STYLE = {"fontsize": 9.3, "color": "#333333", "va": "top", "linespacing": 1.45}  # the side panel's text


# ---------------------------------------------------------------------------------------------------- the figure
def is_interactive_backend(name: str) -> bool:
    """True when ``name`` is a GUI (or widget) matplotlib backend that can show a live window."""
    name = name.lower()
    if name.startswith("module://"):
        return "inline" not in name  # ipympl and third-party GUI backends; the inline backend renders PNGs
    try:
        from matplotlib.backends import BackendFilter, backend_registry
    except ImportError:  # matplotlib < 3.9
        return name not in {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
    return name in backend_registry.list_builtin(BackendFilter.INTERACTIVE)


def new_figure(interactive: bool) -> Figure:
    """A figure for a window (pyplot-managed) or a standalone one with an Agg canvas (files, notebooks, tests)."""
    if interactive:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=FIGSIZE, num="Training Progress", clear=True)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    return fig


# ------------------------------------------------------------------------------------------------ number text
def _fmt_duration(seconds: float) -> str:
    """'8 s', '1 min 12 s', '2 h 03 min 04 s'."""
    s = int(round(max(0.0, float(seconds))))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min {s:02d} s"
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _fmt_num(x: Any, digits: int = 4) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{float(x):.{digits}g}"


def _finite_max(*arrays: np.ndarray) -> float:
    vals = [a[np.isfinite(a)] for a in arrays if np.size(a)]
    vals = [v for v in vals if v.size]
    return float(max(v.max() for v in vals)) if vals else 0.0


def _finite_min(*arrays: np.ndarray) -> float:
    vals = [a[np.isfinite(a)] for a in arrays if np.size(a)]
    vals = [v for v in vals if v.size]
    return float(min(v.min() for v in vals)) if vals else 0.0


# -------------------------------------------------------------------------------------------- side panel values
class PanelValue(Artist):
    """The changing part of one line of the live side panel (``"12 s"`` of ``"Elapsed time: 12 s"``).

    It is drawn where the whole line's text puts it: on line ``k`` of ``label`` (the line's fixed part, a
    :class:`~matplotlib.text.Text` ``"\\n" * k + "Elapsed time: "``), right after ``prefix`` (the label's text on
    that line), in the label's font and colour: the same glyphs at the same places as the one text (matplotlib
    >= 3.11 places each glyph at the pen position of its string's layout; the label's width is that pen's
    advance). It draws its string with one ``renderer.draw_text`` there, without a Text's layout: for a new
    string a Text measures its size (~0.9 ms with matplotlib 3.11) and lays out each of its ``k`` empty lines
    (~0.3 ms each) before its glyphs (~0.1 ms each). The live figure blits it in a fixed box that any value
    fits (:meth:`ProgressPlot.panel_value_box`), so its own size is never needed there.
    """

    def __init__(self, label: Text, k: int) -> None:
        """
        Args:
            label: the line's label (its position, font and colour are the value's).
            k: the line of ``label`` the value is on (0 the first).
        """
        super().__init__()
        self.label = label
        self.k = int(k)
        self.prefix = ""  # the label's text on line k: the value starts where it ends
        self._text = ""
        self._origins: dict[tuple, tuple[float, float]] = {}
        self.set_in_layout(False)

    def get_text(self) -> str:
        """The value's string."""
        return self._text

    def set_text(self, text: str) -> None:
        """Show ``text`` (a one-line string)."""
        if text != self._text:
            self._text = str(text)
            self.stale = True

    def origin(self, renderer: Any) -> tuple[float, float]:
        """Display position (x, baseline y) of the value's first glyph: where the label's line ends."""
        label = self.label
        pos = tuple(float(v) for v in label.get_transform().transform(label.get_position()))
        key = (label.get_text(), self.prefix, pos, float(renderer.dpi), renderer.get_canvas_width_height())
        origin = self._origins.get(key)
        if origin is None:
            _, info, _ = label._get_layout(renderer)  # the offsets Text.draw puts each line at
            entry = info[self.k]
            dx, dy = entry[2] if len(entry) == 3 else entry[2:4]  # (line, wad, (x, y)); before 3.9 (line, wad, x, y)
            width = renderer.get_text_width_height_descent(self.prefix, label.get_fontproperties(), False)[0] \
                if self.prefix else 0.0
            origin = (pos[0] + float(dx) + float(width), pos[1] + float(dy))
            if len(self._origins) > 8:
                self._origins.clear()
            self._origins[key] = origin
        return origin

    def reach(self, renderer: Any) -> float:
        """A display x the drawn string does not pass (its length times 1.1 em, plus 2 pixels: no glyph of a text
        font is wider than an em), found without measuring it; :meth:`origin`'s x for an empty string."""
        x = self.origin(renderer)[0]
        if not self._text:
            return x
        em = renderer.points_to_pixels(self.label.get_fontproperties().get_size_in_points())
        return x + 1.1 * em * len(self._text) + 2.0

    def get_window_extent(self, renderer: Any = None) -> Bbox:
        """Display box of the drawn string (an empty box at the origin for an empty string)."""
        if renderer is None:
            renderer = self.label.figure.canvas.get_renderer()
        x, y = self.origin(renderer)
        if not self._text:
            return Bbox([[x, y], [x, y]])
        w, h, d = renderer.get_text_width_height_descent(self._text, self.label.get_fontproperties(), False)
        return Bbox([[x, y - d], [x + w, y - d + h]])

    @allow_rasterization
    def draw(self, renderer: Any) -> None:
        """Draw the string at :meth:`origin` (nothing when it is empty or the value hidden)."""
        if not self.get_visible() or not self._text:
            return
        label = self.label
        x, y = self.origin(renderer)
        renderer.open_group("text", self.get_gid())
        gc = renderer.new_gc()
        gc.set_foreground(mcolors.to_rgba(label.get_color()), isRGBA=True)
        gc.set_alpha(label.get_alpha())
        gc.set_antialiased(getattr(label, "_antialiased", True))
        gc.set_snap(label.get_snap())
        self._set_gc_clip(gc)
        if renderer.flipy():
            y = renderer.get_canvas_width_height()[1] - y
        renderer.draw_text(gc, x, y, self._text, label.get_fontproperties(), 0.0, ismath=False, mtext=None)
        gc.restore()
        renderer.close_group("text")
        self.stale = False


# ---------------------------------------------------------------------------------------------------- the drawing
class ProgressPlot:
    """The artists of the training-progress figure: two metric panels, epoch bands, side panel, stop button."""

    def __init__(self, fig: Figure | SubFigure, is_classifier: bool, stop_button: bool) -> None:
        self.fig = fig
        self.is_classifier = bool(is_classifier)
        fig.set_facecolor("white")
        top_name = "Accuracy (%)" if self.is_classifier else "RMSE"
        self.title = fig.text(0.012, 0.965, "Training Progress", fontsize=15, fontweight="bold", color=_TEXT,
                              va="center")
        self.subtitle = fig.text(0.012, 0.928, "", fontsize=10, color="#555555", va="center")
        ax_top = fig.add_axes((0.062, 0.47, 0.64, 0.42))
        ax_loss = fig.add_axes((0.062, 0.075, 0.64, 0.31), sharex=ax_top)
        self.axes = {"top": ax_top, "loss": ax_loss}
        self.lines_raw: dict[str, Line2D] = {}     # mini-batch values, faint
        self.lines_smooth: dict[str, Line2D] = {}  # smoothed mini-batch values
        self.lines_val: dict[str, Line2D] = {}     # validation points, joined
        self.lines_final: dict[str, Line2D] = {}   # the final validation value (after DONE)
        self.final_labels: dict[str, Any] = {}     # its "Final" label
        for key, ylabel in (("top", top_name), ("loss", "Loss")):
            ax, color = self.axes[key], _COLORS[key]
            ax.set_ylabel(ylabel, fontsize=10.5, color=_TEXT)
            ax.set_xlabel("Iteration", fontsize=10.5, color=_TEXT)
            ax.grid(True, axis="y", color="#d0d0d0", linewidth=0.6)
            ax.set_axisbelow(True)
            ax.tick_params(labelsize=9, colors="#444444")
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            (self.lines_raw[key],) = ax.plot([], [], color=color, alpha=0.3, linewidth=0.9, zorder=2,
                                             label="Training", gid=f"{key}_raw")
            (self.lines_smooth[key],) = ax.plot([], [], color=color, linewidth=1.9, zorder=3,
                                                label="Training, smoothed", gid=f"{key}_smooth")
            (self.lines_val[key],) = ax.plot([], [], color=_COLORS["validation"], linestyle="--", linewidth=1.2,
                                             marker="o", markersize=4.5, zorder=4, label="Validation",
                                             gid=f"{key}_validation", clip_on=False)
            (self.lines_final[key],) = ax.plot([], [], linestyle="none", marker="o", markersize=8.5,
                                               markerfacecolor=_COLORS["validation"], markeredgecolor="white",
                                               markeredgewidth=1.5, zorder=5, label="Final", gid=f"{key}_final",
                                               clip_on=False)
            self.final_labels[key] = ax.annotate(
                "", xy=(0, 0), xytext=(-8, 9), textcoords="offset points", ha="right", va="bottom", fontsize=9,
                fontweight="bold", color=_COLORS["validation"], visible=False, zorder=6,
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "#999999", "alpha": 0.9})
        ax_top.tick_params(labelbottom=True)
        ax_top.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))  # iterations are whole numbers
        if self.is_classifier:
            ax_top.set_ylim(0, 101)
            ax_top.set_yticks(np.arange(0, 101, 20))
        ax_loss.set_ylim(0, 1)
        ax_top.set_xlim(0, 1)
        self.epoch_bands: list[Rectangle] = []
        self.epoch_labels: list[Any] = []
        self._band_edges: list[float] = [0.0]
        self._xmax = 1.0
        self._x_floor = 1.0  # the x limit the epochs ask for (the data may need more)
        self._live_limits: set[str] = set()  # panels whose y limits the live rule (headroom) has set
        self._grow_only = False  # True once the live rule (autoscale with headroom) drives the limits
        self._build_panel()
        self.stop_button: Button | None = None
        if stop_button:
            ax_btn = fig.add_axes((0.885, 0.935, 0.1, 0.048))
            self.stop_button = Button(ax_btn, "\u25a0  Stop", color="#f3f3f3", hovercolor="#fde2dc")
            self.stop_button.label.set_color("#c0392b")
            self.stop_button.label.set_fontweight("bold")
            for spine in ax_btn.spines.values():
                spine.set_edgecolor("#b0b0b0")

    # -- side panel
    _SECTIONS = (("Results", 3), ("Training Time", 2), ("Training Cycle", 4), ("Other Information", 6))

    def _build_panel(self) -> None:
        fig = self.fig
        panel = fig.add_axes((0.735, 0.04, 0.25, 0.87))
        panel.set_xticks([])
        panel.set_yticks([])
        panel.set_facecolor("#f6f7f9")
        for spine in panel.spines.values():
            spine.set_edgecolor("#d5d8dd")
        self.panel = panel
        self.panel_bodies: dict[str, Any] = {}
        self.panel_lines: dict[str, list[Any]] = {}  # the live figure's label of each line (see live_panel)
        self.panel_values: dict[str, list[PanelValue]] = {}  # and its value
        self.panel_headers: dict[str, Text] = {}
        self.panel_changed: set[str] = set()  # the sections whose live labels the last set_panel changed
        y, line = 0.975, 0.0315
        for name, nlines in self._SECTIONS:
            self.panel_headers[name] = panel.text(0.05, y, name, transform=panel.transAxes, fontsize=11,
                                                  fontweight="bold", color=_TEXT, va="top")
            y -= line * 1.15
            self.panel_bodies[name] = panel.text(0.07, y, "", transform=panel.transAxes, **_BODY_STYLE)
            y -= line * nlines + line * 0.65
        # legend: one section per panel, like MATLAB's
        top_name = "Accuracy" if self.is_classifier else "RMSE"
        self._legend_top = y  # (axes fraction) the legends' frame starts here: their ink lies below
        panel.add_artist(self._legend(top_name, "top", (0.05, y)))
        self._legend("Loss", "loss", (0.05, y - 0.115))

    def _legend(self, title: str, key: str, anchor: tuple[float, float]) -> Any:
        handles = [self.lines_smooth[key], self.lines_raw[key], self.lines_val[key], self.lines_final[key]]
        proxies = []
        for h in handles:  # legend stand-ins: the faint line is shown a little stronger to be readable
            alpha = None if h.get_alpha() is None else min(1.0, 2.0 * h.get_alpha())
            proxies.append(Line2D([], [], color=h.get_color(), alpha=alpha, linestyle=h.get_linestyle(),
                                  linewidth=max(1.2, h.get_linewidth()), marker=h.get_marker(),
                                  markersize=h.get_markersize(), markerfacecolor=h.get_markerfacecolor(),
                                  markeredgecolor=h.get_markeredgecolor()))
        leg = self.panel.legend(proxies, [h.get_label() for h in handles], title=title, loc="upper left",
                                bbox_to_anchor=anchor, bbox_transform=self.panel.transAxes, frameon=False,
                                fontsize=8.6, title_fontsize=9.6, handlelength=2.0, borderaxespad=0.0,
                                alignment="left", ncols=2, columnspacing=1.2, handletextpad=0.6)
        leg.get_title().set_fontweight("bold")
        return leg

    def set_panel(self, sections: Mapping[str, list[str]]) -> bool:
        """Replace the text of the side panel's sections (``{"Results": [line, ...], ...}``).

        Returns whether the live panel's fixed text changed (a label: a line came, went or was renamed), which the
        live figure's saved background holds; False without a live panel (:meth:`live_panel`).
        """
        changed = False
        self.panel_changed = set()
        for name, body in self.panel_bodies.items():
            lines = list(sections.get(name, []))
            body.set_text("\n".join(lines))
            labels, values = self.panel_lines.get(name, []), self.panel_values.get(name, [])
            for k, (label, value) in enumerate(zip(labels, values)):
                head, sep, rest = (lines[k] if k < len(lines) else "").partition(": ")
                prefix, text = (head + sep, rest) if sep else (head, "")
                extra = lines[k + 1:] if k == len(labels) - 1 else []  # more lines than places: under the last
                fixed = "\n" * k + prefix + "".join("\n" + line for line in extra)
                if fixed != label.get_text() or prefix != value.prefix:
                    label.set_text(fixed)
                    value.prefix = prefix
                    changed = True
                    self.panel_changed.add(name)
                value.set_text(text)
        return changed

    def live_panel(self, on: bool) -> None:
        """Draw each line of the side panel as a fixed label and a changing value (``on``, while training) or each
        section as one text.

        Line *k* of a section is split after its first ``": "``: the label (``"Elapsed time: "``) is the text ``k``
        newlines followed by it, at the section's place, so it lands where the section's text puts it, and the
        value (``"12 s"``) a :class:`PanelValue` drawn right after it. A live figure keeps the labels in its saved
        background and redraws only the values that changed (a line of text costs 2-6 ms to draw, its value
        alone about 1 ms). Off (the finished picture): the sections' texts again.
        """
        if on and not self.panel_lines:
            for name, nlines in self._SECTIONS:
                body = self.panel_bodies[name]
                x, y = body.get_position()
                self.panel_lines[name] = [self.panel.text(x, y, "\n" * k, transform=self.panel.transAxes,
                                                          **_BODY_STYLE) for k in range(nlines)]
                self.panel_values[name] = []
                for k, label in enumerate(self.panel_lines[name]):
                    value = PanelValue(label, k)
                    self.panel.add_artist(value)
                    value.set_clip_on(False)  # as the texts: not clipped to the panel
                    self.panel_values[name].append(value)
                body.set_visible(False)
                body.set_animated(True)  # hidden, and its new text asks for no redraw
            self.set_panel({name: body.get_text().split("\n") if body.get_text() else []
                            for name, body in self.panel_bodies.items()})
        elif not on and self.panel_lines:
            for artists in (*self.panel_lines.values(), *self.panel_values.values()):
                for artist in artists:
                    artist.remove()
            self.panel_lines, self.panel_values = {}, {}
            for body in self.panel_bodies.values():
                body.set_animated(False)
                body.set_visible(True)

    def panel_section_parts(self, names: set[str], renderer: Any) -> list[tuple[Bbox, list[Any]]] | None:
        """Where the live panel's sections ``names`` lie and what is drawn there: ``(box, [header, labels...])``
        each, the box the panel's inside (within its frame) from just above the section's header to just above
        the next one's (the last section's: the legends' top), in whole pixels; None when a label holds lines
        beyond its section's places (they may reach into the next section: the whole panel is drawn again).

        Drawing these again over the panel's colour gives the pixels a draw of the whole panel gives them there
        (nothing else of the panel lies in a section's box but its values, drawn over it), without the legends
        (~60 ms of the ~120 ms the whole panel costs) and the other sections."""
        order = [name for name, _ in self._SECTIONS]
        ax = self.panel
        frame = max((s.get_linewidth() for s in ax.spines.values()), default=0.0)
        inset = renderer.points_to_pixels(frame) + 1.0
        x0, x1 = float(np.ceil(ax.bbox.x0 + inset)), float(np.floor(ax.bbox.x1 - inset))
        y_top = float(np.floor(ax.bbox.y1 - inset))

        def top_of(y: float) -> float:  # display y just above a text whose top (va="top") is at axes y
            return float(np.ceil(ax.transAxes.transform((0.0, y))[1])) + 2.0

        parts = []
        for name in names:
            labels = self.panel_lines.get(name, [])
            if any(label.get_text().count("\n") > k for k, label in enumerate(labels)):
                return None
            i = order.index(name)
            header = self.panel_headers[name]
            below = self.panel_headers[order[i + 1]].get_position()[1] if i + 1 < len(order) else self._legend_top
            box = Bbox([[x0, top_of(below)], [x1, min(y_top, top_of(header.get_position()[1]))]])
            parts.append((box, [header, *labels]))
        return parts

    def panel_line_box(self, name: str, k: int, renderer: Any) -> Any:
        """Display box of line ``k`` of section ``name`` (live panel): its band of the panel, to the figure's edge."""
        line = self.panel_lines[name][k]
        probe = Text(*line.get_position(), "\n" * k + "lp", transform=self.panel.transAxes, **_BODY_STYLE)
        probe.set_figure(self.fig)  # not in the figure: measuring it changes nothing there
        below = probe.get_window_extent(renderer).y0
        probe.set_text("\n" * (k - 1) + "lp" if k else "lp")
        extent = probe.get_window_extent(renderer)
        above = extent.y0 if k else extent.y1 + 2.0
        x0, x1 = self.panel.bbox.x0, self.fig.bbox.x1
        return Bbox([[x0, below - 1.0], [x1, above]])

    def panel_value_box(self, name: str, k: int, renderer: Any) -> Any:
        """Display box of the value of line ``k`` of section ``name``: the line's band from the pixel before the one
        where the value starts (a glyph such as ``j`` reaches a little left of its origin) to the figure's edge, so
        any value fits (the label ends with ``": "``, whose space keeps the label's ink left of the box)."""
        band = self.panel_line_box(name, k, renderer)
        x0 = float(np.floor(self.panel_values[name][k].origin(renderer)[0])) - 1.0
        return Bbox([[max(band.x0, x0), band.y0], [band.x1, band.y1]])

    # -- epochs and x range
    def set_epochs(self, edges: list[float], max_iterations: float) -> None:
        """Epoch bands between consecutive iteration ``edges`` (first 0); x axis to ``max_iterations``."""
        if edges[: len(self._band_edges)] != self._band_edges or len(edges) < len(self._band_edges):
            for artist in self.epoch_bands + self.epoch_labels:
                artist.remove()
            self.epoch_bands, self.epoch_labels, self._band_edges = [], [], [0.0]
        for ax_key in ("top", "loss"):
            ax = self.axes[ax_key]
            for e in range(len(self._band_edges), len(edges)):
                x0, x1 = edges[e - 1], edges[e]
                band = Rectangle((x0, 0), x1 - x0, 1, transform=ax.get_xaxis_transform(), linewidth=0,
                                 facecolor=_COLORS["band"][(e - 1) % 2], zorder=0, gid=f"epoch_{e}")
                ax.add_patch(band)
                if ax_key == "top":
                    self.epoch_bands.append(band)
        n_new = len(edges) - len(self._band_edges)
        self._band_edges = list(edges)
        if n_new:
            self._label_epochs()
        self._x_floor = max(float(max_iterations), float(edges[-1]), 1.0)
        self._xmax = max(self._xmax, self._x_floor) if self._grow_only else self._x_floor
        self.axes["top"].set_xlim(0, self._xmax)

    def _label_epochs(self) -> None:
        for artist in self.epoch_labels:
            artist.remove()
        self.epoch_labels = []
        ax = self.axes["top"]
        n = len(self._band_edges) - 1
        stride = 1 if n <= 12 else int(np.ceil(n / 12))
        for e in range(1, n + 1, stride):
            x = 0.5 * (self._band_edges[e - 1] + self._band_edges[e])
            text = f"Epoch {e}" if n <= 12 else str(e)
            self.epoch_labels.append(ax.text(x, 1.012, text, transform=ax.get_xaxis_transform(), ha="center",
                                             va="bottom", fontsize=8.3, color="#666666", clip_on=False))

    # -- data
    def set_series(self, key: str, x: np.ndarray, raw: np.ndarray, smoothed: np.ndarray, vx: np.ndarray,
                   val: np.ndarray) -> None:
        """Line data of one panel: (N,) iterations ``x`` with raw and smoothed values, (V,) validation points.

        The validation line keeps its data when they are the same (new data make a line convert and transform
        its points again when drawn; the live figure sets them at every redraw, new points come rarely)."""
        self.lines_raw[key].set_data(x, raw)
        self.lines_smooth[key].set_data(x, smoothed)
        line = self.lines_val[key]
        old_x, old_y = line.get_xdata(orig=True), line.get_ydata(orig=True)
        if not (np.shape(old_x) == np.shape(vx) and np.array_equal(old_x, vx)
                and np.array_equal(old_y, val, equal_nan=True)):
            line.set_data(vx, val)

    def set_final(self, key: str, iteration: float, value: float | None) -> None:
        """Mark the final validation value of one panel at ``iteration`` and label it ``Final``."""
        if value is None or not np.isfinite(value):
            return
        self.lines_final[key].set_data([iteration], [value])
        label = self.final_labels[key]
        label.xy = (iteration, value)
        text = f"{value:.2f} %" if key == "top" and self.is_classifier else f"{value:.4g}"
        label.set_text(f"Final  {text}")
        label.set_visible(True)

    def changing_artists(self) -> list[tuple[Any, list[Any], Any]]:
        """The artists that change while training (what the live figure blits), as regions of the figure.

        Each region is ``(axes, artists, box)``: the axes they are drawn in, the artists, and ``box``: None for the
        axes' own area, or a function of the renderer giving the region's display box. The regions are each metric
        panel's raw, smoothed and validation lines, and the value of each line of the side panel (:meth:`live_panel`
        on). Everything else (axes, grids, labels, epoch bands, legends, titles, the panel's labels) changes only
        with the axis limits, a new epoch band, a new panel label (:meth:`set_panel` says when) or the end of
        training.
        """
        regions: list[tuple[Any, list[Any], Any]] = [
            (ax, [self.lines_raw[key], self.lines_smooth[key], self.lines_val[key]], None)
            for key, ax in self.axes.items()]
        for name, values in self.panel_values.items():
            for k, value in enumerate(values):
                regions.append((self.panel, [value], lambda r, name=name, k=k: self.panel_value_box(name, k, r)))
        return regions

    def limits(self) -> tuple[tuple[float, float], ...]:
        """The axis limits: the shared x range, the top panel's y range, the loss panel's y range."""
        return (tuple(self.axes["top"].get_xlim()), tuple(self.axes["top"].get_ylim()),
                tuple(self.axes["loss"].get_ylim()))

    def autoscale(self, headroom: float | None = None) -> None:
        """y limits from the data (accuracy stays 0–100); x limit grows with the iterations when none is known.

        Args:
            headroom: None (a finished picture): the limits fit the data (6 % above the largest value, x 5 %
                beyond the last iteration). A factor > 1 (the live figure): the limits only grow, and when the data
                leave them they grow to ``headroom`` times the span the data need, so that they change rarely
                (each change redraws the whole figure instead of blitting the lines).
        """
        xmax = _finite_max(self.lines_raw["top"].get_xdata(), self.lines_val["top"].get_xdata())
        self._grow_only = headroom is not None
        if headroom is None:
            self._xmax = self._x_floor
        if xmax > self._xmax:
            self._xmax = xmax * (1.05 if headroom is None else headroom)
        if self.axes["top"].get_xlim() != (0.0, self._xmax):
            self.axes["top"].set_xlim(0, self._xmax)
        keys = ("loss",) if self.is_classifier else ("top", "loss")
        for key in keys:
            ys = [np.asarray(line.get_ydata(), dtype=np.float64) for line in
                  (self.lines_raw[key], self.lines_val[key], self.lines_final[key])]
            hi, lo = _finite_max(*ys), min(0.0, _finite_min(*ys))
            if hi <= lo:
                hi = lo + 1.0
            need = (lo, hi + 0.06 * (hi - lo))
            if headroom is None:
                self.axes[key].set_ylim(*need)
                continue
            if not any(np.isfinite(y).any() for y in ys if y.size):
                continue  # no value yet: the limits wait for the first one
            span = need[1] - need[0]
            cur = self.axes[key].get_ylim() if key in self._live_limits else (np.inf, -np.inf)
            if need[0] < cur[0] or need[1] > cur[1]:
                new_lo = need[0] if need[0] >= cur[0] or need[0] >= 0 else need[1] - headroom * span
                new_hi = need[1] if need[1] <= cur[1] else need[0] + headroom * span
                self.axes[key].set_ylim(min(new_lo, cur[0]), max(new_hi, cur[1]))
                self._live_limits.add(key)
        for key, label in self.final_labels.items():  # "Final" goes where the curves are not
            if label.get_visible():
                lo, hi = self.axes[key].get_ylim()
                above = label.xy[1] < lo + 0.6 * (hi - lo)
                label.set_position((-10, 9 if above else -11))
                label.set_verticalalignment("bottom" if above else "top")


# ------------------------------------------------------------------------------------------------- panel contents
def _setting(settings: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if settings.get(name) is not None:
            return settings[name]
    return None


def panel_sections(*, finished: bool, stop_reason: str | None, is_classifier: bool, epoch: int, max_epochs: int,
                    iteration: int, max_iterations: int, iterations_per_epoch: int, elapsed: float,
                    start_time: str | None, base_learn_rate: float | None, settings: Mapping[str, Any],
                    latest: Mapping[str, float | None], final: Mapping[str, float | None],
                    has_validation: bool, stop_kind: str | None = None) -> dict[str, list[str]]:
    """The side panel's text, section by section (shared by the live figure and the report of a finished run)."""
    top = "accuracy" if is_classifier else "RMSE"

    def metric(value: float | None) -> str:
        if value is None or not np.isfinite(value):
            return "–"
        return f"{value:.2f} %" if is_classifier else f"{value:.4g}"

    if finished:
        # the neutral stop kind when known; else (a record without one) whether every iteration was trained
        stopped = stop_kind not in (None, events.MAX_EPOCHS) if stop_kind is not None else \
            stop_reason is not None and 0 < iteration < max_iterations
        results = [f"{'Training stopped' if stopped else 'Training finished'}: {stop_reason or 'done'}",
                   f"Final validation {top}: {metric(final.get('top'))}",
                   f"Final validation loss: {_fmt_num(final.get('loss'))}"]
        if final.get("top") is None and final.get("loss") is None:
            results = results[:1] + ["No validation data"]
    else:
        results = ["Status: training …",
                   f"Validation {top}: {metric(latest.get('top'))}",
                   f"Validation loss: {_fmt_num(latest.get('loss'))}"]
        if latest.get("top") is None and latest.get("loss") is None:
            results = results[:1]
    times = [f"Start time: {start_time}"] if start_time else []
    times.append(f"Elapsed time: {_fmt_duration(elapsed)}")
    cycle = [f"Epoch: {epoch} of {max_epochs}" if max_epochs else f"Epoch: {epoch}",
             f"Iteration: {iteration} of {max_iterations}" if max_iterations else f"Iteration: {iteration}"]
    if iterations_per_epoch:
        cycle.append(f"Iterations per epoch: {iterations_per_epoch}")
    if max_iterations:
        cycle.append(f"Maximum iterations: {max_iterations}")
    other = []
    hardware = _setting(settings, "hardware", "execution_environment")
    if isinstance(hardware, str) and hardware.lower() in ("cpu", "gpu"):
        hardware = hardware.upper()
    if hardware is not None:
        other.append(f"Hardware resource: {hardware}")
    solver = _setting(settings, "solver")
    if solver is not None:
        other.append(f"Solver: {solver}")
    if base_learn_rate is not None and np.isfinite(base_learn_rate):
        other.append(f"Learning rate: {base_learn_rate:.4g}")
    schedule = _setting(settings, "learn_rate_schedule")
    if schedule is not None:
        other.append(f"Learning rate schedule: {schedule}")
    batch = _setting(settings, "mini_batch_size")
    if batch is not None:
        other.append(f"Mini-batch size: {batch}")
    frequency = _setting(settings, "validation_frequency")
    if frequency is not None and has_validation:
        other.append(f"Validation frequency: {frequency} iterations")
    return {"Results": results, "Training Time": times, "Training Cycle": cycle, "Other Information": other[:6]}
