"""The training-progress figure (MATLAB ``Plots='training-progress'``): a live observer and a report of a finished run.

Layout (MATLAB's): the top panel shows the mini-batch accuracy (RMSE for regression networks) raw and faint, its
smoothed curve (:mod:`minidl.reporting.smoothing`) and the validation values as joined points; the bottom panel
shows the same for the loss. Epochs are alternating shaded bands, the x axis counts iterations. After training the
final validation values (after batch-norm finalization) are marked and labelled ``Final``. A side panel shows the
status, the training time, the training cycle and the main settings, and a Stop button ends training at the next
iteration.

:class:`TrainingProgressFigure` works in three places, chosen from the matplotlib backend:

- ``"window"``: an interactive backend (Tk, Qt, macOS, ipympl): a window that stays responsive while training;
- ``"notebook"``: Jupyter with the inline backend: the figure is displayed once and updated in place (stop by
  interrupting the kernel, which the engine turns into a clean stop);
- ``"file"``: any non-interactive backend (Agg): a PNG written atomically every few seconds and at the end.

Redraws are throttled by time and by their own cost: at least ``redraw_interval`` seconds apart, and only while the
time spent drawing so far plus the expected cost of one more redraw (the last one's) stays within
``OVERHEAD_BUDGET`` of the time since training started. Only the final picture after DONE comes on top.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from matplotlib.widgets import Button

from minidl._files import atomic_write
from minidl.reporting.notebook import in_notebook as _in_notebook
from minidl.reporting.smoothing import WINDOW, Smoother, smooth
from minidl.training import events
from minidl.training.events import Observer, TrainingState

__all__ = ["TrainingProgressFigure", "plot_info", "save_info_figure", "OVERHEAD_BUDGET", "DEFAULT_PLOTS_FILE"]

#: Where the headless figure goes when no ``plots_file`` is given (relative to the working folder).
DEFAULT_PLOTS_FILE = "training-progress.png"
#: Largest share of wall time the live figure may spend drawing (the throttle's target).
OVERHEAD_BUDGET = 0.03
#: Assumed cost of the first redraw (seconds; a full redraw of this figure on a CPU core).
FIRST_DRAW_ESTIMATE = 0.2
#: Default seconds between redraws per display mode (a floor; the cost-based throttle may wait longer).
REDRAW_INTERVALS = {"window": 0.5, "notebook": 2.0, "file": 5.0}
_FORMATS = ("png", "svg", "pdf")

# MATLAB's training-plot colours: blue accuracy/RMSE, orange loss, black dashed validation.
_COLORS = {"top": "#0072BD", "loss": "#D95319", "validation": "#1a1a1a", "band": ("#ebebeb", "#f7f7f7")}
_FIGSIZE = (13.0, 7.4)  # inches
_TEXT = "#262626"


# --------------------------------------------------------------------------------------------------------- helpers
def _is_interactive_backend(name: str) -> bool:
    """True when ``name`` is a GUI (or widget) matplotlib backend that can show a live window."""
    name = name.lower()
    if name.startswith("module://"):
        return "inline" not in name  # ipympl and third-party GUI backends; the inline backend renders PNGs
    try:
        from matplotlib.backends import BackendFilter, backend_registry
    except ImportError:  # matplotlib < 3.9
        return name not in {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
    return name in backend_registry.list_builtin(BackendFilter.INTERACTIVE)


def _display_mode(show: bool | None) -> str:
    """``"window"``, ``"notebook"`` or ``"file"`` for the current backend (``show=False`` forces a file)."""
    if show is False:
        return "file"
    backend = matplotlib.get_backend()
    if _in_notebook() and "inline" in backend.lower():
        return "notebook"
    if _is_interactive_backend(backend):
        return "window"
    return "file"


def _new_figure(interactive: bool) -> Figure:
    """A figure for a window (pyplot-managed) or a standalone one with an Agg canvas (files, notebooks, tests)."""
    if interactive:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=_FIGSIZE, num="Training Progress", clear=True)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=_FIGSIZE)
    FigureCanvasAgg(fig)
    return fig


def _check_path(path: str | os.PathLike, argument: str) -> tuple[str, str]:
    """(path, format) for a figure file; the format comes from the extension."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a file path (str or os.PathLike), got {type(path).__name__}")
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ValueError(f"{argument} must end in .png, .svg or .pdf, got {path!r}")
    return path, fmt


def atomic_savefig(fig: Figure, path: str | os.PathLike, fmt: str | None = None, dpi: float | None = None) -> str:
    """Save ``fig`` to ``path`` atomically: write a temporary file in the same folder, then ``os.replace`` it.

    A reader polling ``path`` sees the previous complete file or the new complete file, never a partial one.
    Returns the path written.
    """
    path = os.fspath(path)
    fmt = fmt or os.path.splitext(path)[1].lower().lstrip(".") or "png"
    # zlib level 3 instead of 6: a quarter of the encoding time for a 5 % larger PNG
    extra = {"pil_kwargs": {"compress_level": 3}} if fmt == "png" else {}
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi, facecolor=fig.get_facecolor(), **extra))


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


# ---------------------------------------------------------------------------------------------------- the drawing
class _ProgressPlot:
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
        y, line = 0.975, 0.0315
        for name, nlines in self._SECTIONS:
            panel.text(0.05, y, name, transform=panel.transAxes, fontsize=11, fontweight="bold", color=_TEXT,
                       va="top")
            y -= line * 1.15
            self.panel_bodies[name] = panel.text(0.07, y, "", transform=panel.transAxes, fontsize=9.3,
                                                 color="#333333", va="top", linespacing=1.45)
            y -= line * nlines + line * 0.65
        # legend: one section per panel, like MATLAB's
        top_name = "Accuracy" if self.is_classifier else "RMSE"
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

    def set_panel(self, sections: Mapping[str, list[str]]) -> None:
        """Replace the text of the side panel's sections (``{"Results": [line, ...], ...}``)."""
        for name, body in self.panel_bodies.items():
            body.set_text("\n".join(sections.get(name, [])))

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
        self._xmax = max(float(max_iterations), float(edges[-1]), 1.0)
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
        """Line data of one panel: (N,) iterations ``x`` with raw and smoothed values, (V,) validation points."""
        self.lines_raw[key].set_data(x, raw)
        self.lines_smooth[key].set_data(x, smoothed)
        self.lines_val[key].set_data(vx, val)

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

    def autoscale(self) -> None:
        """y limits from the data (accuracy stays 0–100); x limit grows with the iterations when none is known."""
        xmax = _finite_max(self.lines_raw["top"].get_xdata(), self.lines_val["top"].get_xdata())
        if xmax > self._xmax:
            self._xmax = xmax * 1.05
            self.axes["top"].set_xlim(0, self._xmax)
        keys = ("loss",) if self.is_classifier else ("top", "loss")
        for key in keys:
            ys = [np.asarray(line.get_ydata(), dtype=np.float64) for line in
                  (self.lines_raw[key], self.lines_val[key], self.lines_final[key])]
            hi, lo = _finite_max(*ys), min(0.0, _finite_min(*ys))
            if hi <= lo:
                hi = lo + 1.0
            self.axes[key].set_ylim(lo, hi + 0.06 * (hi - lo))
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


def _panel_sections(*, finished: bool, stop_reason: str | None, is_classifier: bool, epoch: int, max_epochs: int,
                    iteration: int, max_iterations: int, iterations_per_epoch: int, elapsed: float,
                    start_time: str | None, base_learn_rate: float | None, settings: Mapping[str, Any],
                    latest: Mapping[str, float | None], final: Mapping[str, float | None],
                    has_validation: bool) -> dict[str, list[str]]:
    """The side panel's text, section by section (shared by the live figure and the report of a finished run)."""
    top = "accuracy" if is_classifier else "RMSE"

    def metric(value: float | None) -> str:
        if value is None or not np.isfinite(value):
            return "–"
        return f"{value:.2f} %" if is_classifier else f"{value:.4g}"

    if finished:
        stopped = stop_reason not in (None, events.MAX_EPOCHS)
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
            redraw_interval: least seconds between redraws (default per mode: window 0.5, notebook 2, file 5).
                The cost-based throttle (``OVERHEAD_BUDGET``) may wait longer.
            settings: training settings for the side panel (keys ``solver``, ``hardware`` or
                ``execution_environment``, ``learn_rate_schedule``, ``mini_batch_size``, ``validation_frequency``);
                merged with ``state.extra["settings"]`` of the START event.
            dpi: resolution of the files written.
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
        self.plots_file, self._fmt = _check_path(plots_file, "plots_file") if plots_file is not None else (None, None)
        self.redraw_interval = float(REDRAW_INTERVALS[self.mode] if redraw_interval is None else redraw_interval)
        self.dpi = float(dpi)
        self.settings: dict[str, Any] = dict(settings or {})
        self.figure: Figure | None = None
        self.plot: _ProgressPlot | None = None
        self.stop_requested = False
        self.redraw_count = 0
        self.draw_seconds = 0.0  # total time spent drawing and writing (for the overhead bench)
        self._handle = None  # IPython display handle (notebook mode)
        self._closed_window = False
        self._next_redraw = 0.0  # the redraw_interval floor
        self._next_pump = 0.0
        self._t_open = 0.0  # perf_counter when the figure was opened
        self._expected_cost = FIRST_DRAW_ESTIMATE  # seconds the next redraw will take (the last one's)
        self._uncharged = 0.0  # one-time drawing cost kept out of the budget (opening the window)
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
        """Record the event's values, redraw when due; returns ``STOPPED_BY_USER`` after the Stop button."""
        self._state = state
        if self.plot is None:
            self._open(state)
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
        if now >= self._next_redraw and (
                self.draw_seconds - self._uncharged + self._expected_cost
                <= OVERHEAD_BUDGET * (now - self._t_open)):
            self.refresh()
        elif self.mode == "window" and now >= self._next_pump:
            self._pump()
        if self.stop_requested:
            return events.STOPPED_BY_USER
        return None

    def _open(self, state: TrainingState) -> None:
        extra_settings = state.extra.get("settings") if isinstance(state.extra, Mapping) else None
        if isinstance(extra_settings, Mapping):
            self.settings = {**extra_settings, **self.settings}
        self._start_wall = datetime.now() - timedelta(seconds=float(state.time_since_start))
        self.figure = _new_figure(self.mode == "window")
        self.plot = _ProgressPlot(self.figure, state.is_classifier, stop_button=self.mode != "notebook")
        if self.plot.stop_button is not None:
            self.plot.stop_button.on_clicked(self.request_stop)
        self.plot.subtitle.set_text(f"Started {self._start_wall:%Y-%m-%d %H:%M:%S}")
        self._edges_from(state)
        self._t_open = time.perf_counter()
        if self.mode == "window":  # the window appears at once; later redraws keep to the budget
            self.figure.show()
            self.refresh()
            # Opening a window (creating it, the first text layout) costs several ordinary redraws, once, like the
            # final picture: charging it would freeze the window for half a minute (measured under Xvfb: 0.5 s to
            # open, 0.14 s per redraw). The next redraw measures the real cost.
            self._uncharged, self._expected_cost = self.draw_seconds, 0.0

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
        return _panel_sections(
            finished=self._finished, stop_reason=st.stop_reason, is_classifier=st.is_classifier, epoch=st.epoch,
            max_epochs=st.max_epochs, iteration=st.iteration, max_iterations=st.max_iterations,
            iterations_per_epoch=st.iterations_per_epoch, elapsed=st.time_since_start,
            start_time=f"{self._start_wall:%Y-%m-%d %H:%M:%S}" if self._start_wall else None,
            base_learn_rate=st.base_learn_rate, settings=self.settings, latest=latest, final=self._final,
            has_validation=bool(getattr(st, "has_validation", False) or self._vit))

    def _update_artists(self) -> None:
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
        plot.autoscale()
        plot.set_panel(self._sections())
        status = "finished" if self._finished else "training"
        plot.subtitle.set_text(f"Started {self._start_wall:%Y-%m-%d %H:%M:%S} · {status}")

    def refresh(self) -> None:
        """Update every artist from the history and render now (window, notebook display, and/or file)."""
        if self.plot is None:
            return
        t0 = time.perf_counter()
        self._update_artists()
        if self.mode == "window" and not self._closed_window:
            self._render_window()
        elif self.mode == "notebook":
            self._render_notebook()
        if self.plots_file is not None:
            atomic_savefig(self.figure, self.plots_file, self._fmt, self.dpi)
        t1 = time.perf_counter()
        cost = t1 - t0
        self.draw_seconds += cost
        self.redraw_count += 1
        self._expected_cost = cost
        self._next_redraw = t1 + self.redraw_interval
        self._next_pump = t1 + 0.05

    def _render_window(self) -> None:
        import matplotlib.pyplot as plt

        if not plt.fignum_exists(self.figure.number):  # the user closed the window: keep training, stop drawing
            self._closed_window = True
            return
        self.figure.canvas.draw_idle()
        self.figure.canvas.flush_events()

    def _pump(self) -> None:
        """Let the GUI process clicks (the Stop button) between redraws."""
        if not self._closed_window:
            self.figure.canvas.flush_events()
        self._next_pump = time.perf_counter() + 0.05

    def _render_notebook(self) -> None:
        try:
            from IPython.display import Image, display
        except ImportError:  # no IPython after all: fall back to the file only
            self.mode = "file"
            return
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=self.dpi, facecolor="white")
        image = Image(data=buf.getvalue(), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def close(self) -> None:
        """Make sure the last state is drawn and written; the window (if any) stays open for the user."""
        if self.plot is not None and not self._finished:  # training ended without DONE (an error, Ctrl-C)
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - never hide the error that ended training behind a drawing error
                pass


# ---------------------------------------------------------------------------------------------- finished runs
class _InfoView:
    """Attribute access to a mapping (an info record loaded as a dict)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None


def _info_array(info: Any, name: str) -> np.ndarray:
    value = getattr(info, name, None)
    if value is None:
        return np.empty(0, dtype=np.float64)
    return np.asarray([np.nan if v is None else v for v in value] if isinstance(value, list) else value,
                      dtype=np.float64).reshape(-1)


def _info_scalar(info: Any, name: str) -> float | None:
    value = getattr(info, name, None)
    return None if value is None or not np.isfinite(float(value)) else float(value)


def plot_info(info: Any, fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """Draw the training-progress figure of a finished run from its info record.

    Args:
        info: the run's info (any object, or a mapping, with the arrays ``training_loss``, ``training_accuracy``
            or ``training_rmse``, ``validation_loss``, ``validation_accuracy`` or ``validation_rmse``,
            ``base_learn_rate`` (one entry per iteration, NaN where not computed), the scalars
            ``final_validation_*``, ``stop_reason``, ``elapsed_time``, ``iterations_per_epoch``, ``max_epochs``,
            ``is_classifier`` and a ``settings`` mapping). Loaded from a checkpoint or an audit log works the same.
        fig: a Figure (or SubFigure) to draw into (cleared first). Default: a new window figure on an interactive
            backend, else a standalone figure (shown as the cell's result in a notebook, saved with ``savefig``).

    Returns:
        The figure drawn.
    """
    if isinstance(info, Mapping):
        info = _InfoView(info)
    if not hasattr(info, "training_loss"):
        raise TypeError(f"info must be a training info record (with training_loss, ...), got {type(info).__name__}")
    if fig is None:
        fig = _new_figure(_is_interactive_backend(matplotlib.get_backend()) and not _in_notebook())
    elif isinstance(fig, (Figure, SubFigure)):
        fig.clear()
    else:
        raise TypeError(f"fig must be a matplotlib Figure, SubFigure or None, got {type(fig).__name__}")
    is_classifier = bool(getattr(info, "is_classifier", True))
    top_name = "accuracy" if is_classifier else "rmse"
    plot = _ProgressPlot(fig, is_classifier, stop_button=False)
    loss = _info_array(info, "training_loss")
    n = loss.size
    x = np.arange(1, n + 1, dtype=np.float64)
    for key, name in (("top", top_name), ("loss", "loss")):
        raw = _info_array(info, f"training_{name}")
        if raw.size != n:
            raw = np.full(n, np.nan)
        val = _info_array(info, f"validation_{name}")
        val = val if val.size == n else np.full(n, np.nan)
        has_val = ~np.isnan(val)
        plot.set_series(key, x, raw, smooth(raw), x[has_val], val[has_val])
        plot.set_final(key, float(n), _info_scalar(info, f"final_validation_{name}"))
    ipe = int(getattr(info, "iterations_per_epoch", 0) or 0)
    max_epochs = int(getattr(info, "max_epochs", 0) or 0)
    epochs_run = int(np.ceil(n / ipe)) if ipe else 0
    n_epochs = max(max_epochs, epochs_run)
    if ipe and n_epochs:
        plot.set_epochs([float(e * ipe) for e in range(n_epochs + 1)], ipe * max_epochs)
    plot.autoscale()
    settings = getattr(info, "settings", None) or {}
    lr = _info_array(info, "base_learn_rate")
    lr = lr[np.isfinite(lr)]
    final = {k: _info_scalar(info, f"final_validation_{nm}") for k, nm in (("top", top_name), ("loss", "loss"))}
    plot.set_panel(_panel_sections(
        finished=True, stop_reason=getattr(info, "stop_reason", None), is_classifier=is_classifier,
        epoch=epochs_run, max_epochs=max_epochs, iteration=n, max_iterations=ipe * max_epochs,
        iterations_per_epoch=ipe, elapsed=float(getattr(info, "elapsed_time", 0.0) or 0.0),
        start_time=settings.get("start_time") if isinstance(settings, Mapping) else None,
        base_learn_rate=float(lr[-1]) if lr.size else None,
        settings=settings if isinstance(settings, Mapping) else {}, latest={}, final=final,
        has_validation=any(v is not None for v in final.values())))
    reason = getattr(info, "stop_reason", None)
    plot.subtitle.set_text(f"Finished run: {n} iterations" + (f" · {reason}" if reason else ""))
    fig.minidl_plot = plot  # the artists, for inspection and tests
    return fig


def save_info_figure(info: Any, path: str | os.PathLike, dpi: float = 100.0) -> str:
    """Draw :func:`plot_info` of ``info`` and save it atomically to ``path`` (format from .png, .svg or .pdf).

    Returns the path written.
    """
    path, fmt = _check_path(path, "path")
    fig = plot_info(info, fig=_new_figure(False))
    return atomic_savefig(fig, path, fmt, dpi)
