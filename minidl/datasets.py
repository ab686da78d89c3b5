"""Embedded data sets: synthetic rotated digits (like MATLAB's DigitDataset), three synthetic sequence data sets
and a reader for MNIST's IDX files.

Synthetic digits
----------------
:func:`digit_train_data` and :func:`digit_test_data` each return 5000 grayscale 28×28 images of the digits 0–9
(white on black, 500 per class in shuffled order) together with the rotation angle applied to each image, so one
data set serves both the classification example and the rotation-angle regression example. Nothing is downloaded
and no font is read at run time: both sets, and the glyph bank they were drawn from, are stored in the package as
``minidl/data/digits.npz`` (uint8 images, labels, float64 angles; 4.1 MB, mostly the images' noise), so every
install returns the same bytes whatever its matplotlib. The file was made by ``tools/make_digit_data.py`` from the
fonts that ship inside matplotlib 3.11, in four steps (the outlines and the rasterizer live in that script; the
thinning and thickening of step 2 and steps 3–4 live here, where :func:`make_digits` runs them from the stored bank).

1. **Glyph outlines.** For each of the fonts in :data:`DIGIT_FONTS` and each digit, ``matplotlib.textpath.TextPath``
   gives the glyph outline (unhinted, in font units). Quadratic and cubic Bézier pieces are flattened to polylines
   at fixed parameter steps, the outline is scaled to a height of 20 output pixels and centred.
2. **Glyph bank.** Each outline is rasterized once at twice the output resolution (a 64×64 canvas, 4×4 samples per
   pixel) by a scanline rule: every polygon edge adds its winding sign (+1 upward, −1 downward) at the first sample
   right of where it crosses a sample row, a running sum along the row gives the winding number, and a sample is
   ink where that number is non-zero. The coverage of each pixel is the fraction of its samples that are ink. Each
   glyph is then thinned once or thickened 1–3 times (grey-level min/max filters, alternating a 3×3 square and a
   cross so strokes grow round), giving a bank ``(fonts·10, 5 stroke levels, 64, 64)``.
3. **Random affine sampling.** Each example picks a font, the digit, a stroke level (aimed at a random stroke width
   of 1.7–3.2 output pixels) and a transform ``p_out = shift + R(θ)·Sh(k)·diag(sx, sy)·p_glyph`` with the rotation
   θ ~ U[−45°, 45°] (counter-clockwise on screen for θ > 0, like MATLAB's ``imrotate``), scale ~ U[0.8, 1.1] with a
   mild aspect change, shear k ~ U[−0.1, 0.1], a small smooth random warp (hand-drawn wobble) and a shift of at most
   2 pixels that keeps the digit inside the frame. The inverse map is evaluated on a 56×56 grid for all examples at
   once, the bank is read with bilinear interpolation, and 2×2 averaging gives the anti-aliased 28×28 image.
4. **Finish.** A random mix with a 3×3 binomial blur, an ink intensity in [0.8, 1], mild Gaussian noise, clipping
   to [0, 1] and rounding to 8-bit levels (k/255), as images stored in files would be.

Everything is seeded (train and test use different seeds), computed in a fixed order without BLAS calls, and
rounded to 8 bits. The file's SHA-256 is recorded here (``_DATA_SHA256``) and checked when it is read. The two sets
are read from the file (``make_digits(5000, seed)`` for their two seeds, stored) and cached per process;
the cached arrays are returned **read-only** (``X.flags.writeable`` is False): call ``X.copy()`` to modify them.
:func:`make_digits` draws any number of fresh examples from a given seed (writable, not cached).

Sequences
---------
Three small generated sequence data sets (docs/sequences.md), each with a train and a test split, stored in
``minidl/data/sequences.npz`` (186 KB) by ``tools/make_sequence_data.py`` from fixed ``numpy.random.Generator``
seeds, and checked against the SHA-256 recorded here (``_SEQUENCE_SHA256``) when read. Sequences are channels-first
(C, T) float32 arrays; a split is a list of them (varying T), like MATLAB's N×1 cell array of C×T matrices.

- :func:`waveform_train_data` / :func:`waveform_test_data` (**sequence-to-label**, like MATLAB's Japanese Vowels):
  240 / 160 sequences of 12 channels and 20–60 steps, labels :data:`WAVEFORM_CLASSES` (balanced, shuffled). Each
  sequence is one waveform w(t) of amplitude U[0.5, 1.5], period U[6, 16] steps and random phase — a sine, a
  square wave, a sawtooth or a chirp (a sine whose frequency sweeps linearly up or down by a factor 2–3) — seen
  through 12 channels ``g_c·w(t) + b_c + 0.3·noise`` with per-sequence gains g_c ~ U[−1.5, 1.5] and offsets
  b_c ~ U[−0.5, 0.5].
- :func:`activity_train_data` / :func:`activity_test_data` (**sequence-to-sequence labelling**, like MATLAB's
  HumanActivity): 60 / 30 three-channel "accelerometer" sequences of 80–160 steps and a label per step among
  :data:`ACTIVITY_CLASSES`; the regime switches every 15–40 steps. Sitting: gravity, drift and noise only; walking:
  an oscillation of period 9–13 steps; running: period 4–6 steps (their amplitudes overlap, so the period, seen
  over several steps, tells them apart).
- :func:`seasonal_train_data` / :func:`seasonal_test_data` (**forecasting**, like MATLAB's chickenpox series): one
  univariate monthly series of 600 steps, ``10 + 0.01·t + 2·sin(2πt/12 + φ1) + sin(2πt/40 + φ2) +
  0.7·sin(4πt/12 + φ3) + 0.2·noise``; the first 540 steps are the training split (1, 540), the last 60 the test
  split (1, 60), its continuation.

The values are stored quantized (waveforms and activity: multiples of 1/32; the series: of 1/256), so the float32
arrays returned are exact and every install gets the same numbers; they are cached per process and read-only (the
lists are new on each call, their arrays shared).

MNIST
-----
:func:`load_mnist` reads the four IDX files of MNIST (or of any data set in the same format) that a user brings.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
from typing import NamedTuple

import numpy as np

__all__ = ["DIGIT_FONTS", "digit_train_data", "digit_test_data", "make_digits", "WAVEFORM_CLASSES",
           "ACTIVITY_CLASSES", "waveform_train_data", "waveform_test_data", "activity_train_data",
           "activity_test_data", "seasonal_train_data", "seasonal_test_data", "load_mnist"]

#: Font files from matplotlib's ``mpl-data/fonts/ttf`` that the synthetic digits are drawn from.
DIGIT_FONTS: tuple[str, ...] = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmss10.ttf", "cmb10.ttf", "cmti10.ttf", "cmtt10.ttf",
)  # fmt: skip

FRAME = 28  # output image side, pixels
_SS = 2  # bank pixels per output pixel (the affine sampling runs on a 2x finer grid, then 2x2 averaging)
_BANK = 64  # bank canvas side, bank pixels
_GLYPH_HEIGHT = 20.0  # glyph height at scale 1, output pixels (MNIST's 20-pixel box)
_LEVELS = (-1, 0, 1, 2, 3)  # stroke levels: number of min (−) or max (+) filter passes
_TRAIN_SEED = 20240601
_TEST_SEED = 20240602
_N_PER_SET = 5000

#: The stored data sets and glyph bank (written by ``tools/make_digit_data.py``), read instead of drawing glyphs.
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits.npz")
#: SHA-256 of DATA_FILE as tools/make_digit_data.py printed it; checked on every load.
_DATA_SHA256 = "17dbb1592ef71219bdfb672fd2e475a6f66e74d9b89b1b068d001f8b96e133bd"


# ---------------------------------------------------------------- the stored file and the glyph bank


def _filter3(a: np.ndarray, footprint: str, op) -> np.ndarray:
    """Grey-level 3×3 max or min filter (op = np.maximum / np.minimum) of (..., H, W) with a square or cross."""
    pad = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    h, w = a.shape[-2:]
    out = a.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if (dy, dx) != (0, 0) and (footprint == "square" or dy == 0 or dx == 0):
                out = op(out, pad[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w])
    return out


class _Bank(NamedTuple):
    """Glyph images at every stroke level, with the facts the sampler needs."""

    images: np.ndarray  # (G, L, 64, 64) float32 coverage, G = fonts·10 (index font·10 + digit), L = len(_LEVELS)
    stroke: np.ndarray  # (G,) stroke width before filtering, bank pixels (2·area / perimeter)
    half_size: np.ndarray  # (G, 2) half width and half height of the glyph box, output pixels


def _load_stored() -> dict[str, np.ndarray]:
    """Every array of ``minidl/data/digits.npz``, after checking the file's SHA-256 against ``_DATA_SHA256``."""
    with open(DATA_FILE, "rb") as fh:
        raw = fh.read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != _DATA_SHA256:
        raise RuntimeError(
            f"embedded data file {DATA_FILE!r} has SHA-256 {digest}, expected {_DATA_SHA256} "
            "(a damaged install, or a regenerated file whose checksum was not recorded in minidl/datasets.py)"
        )
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


@functools.lru_cache(maxsize=1)
def _stored() -> dict[str, np.ndarray]:
    """The stored arrays, read once per process."""
    return _load_stored()


def _bank_from_facts(coverage: np.ndarray, stroke: np.ndarray, half_size: np.ndarray) -> _Bank:
    """The glyph bank from the stored glyph facts: coverage (G, 64, 64) uint8 (×16), stroke (G,), half (G, 2).

    Each glyph is thinned once or thickened 1–3 times (grey-level min/max filters, alternating a 3×3 square and a
    cross so strokes grow round).
    """
    base = coverage.astype(np.float32) / np.float32(16)  # (G, 64, 64), exact: the rasterizer's k/16 levels
    levels = {0: base}
    for sign, op in ((1, np.maximum), (-1, np.minimum)):
        img = base
        for step in range(1, max(abs(v) for v in _LEVELS if v * sign > 0) + 1):
            img = _filter3(img, "square" if step % 2 else "cross", op)  # dilate (max) or erode (min)
            levels[sign * step] = img
    images = np.stack([levels[v] for v in _LEVELS], axis=1)
    if images[..., :2, :].any() or images[..., -2:, :].any() or images[..., :2].any() or images[..., -2:].any():
        raise RuntimeError("glyph bank: a glyph touches the canvas border (the bank needs a zero margin)")
    return _Bank(images, np.asarray(stroke, dtype=np.float64), np.asarray(half_size, dtype=np.float64))


@functools.lru_cache(maxsize=1)
def _glyph_bank() -> _Bank:
    """The bank of every (font, digit) at every stroke level, built from the stored glyph facts."""
    s = _stored()
    return _bank_from_facts(s["glyph_coverage"], s["glyph_stroke"], s["glyph_half_size"])


# ---------------------------------------------------------------- per-example transforms


class _Draws(NamedTuple):
    """Random choices for N examples (all host arrays; angles in degrees, lengths in output pixels)."""

    label: np.ndarray  # (N,) int64 digit
    font: np.ndarray  # (N,) int64 index into DIGIT_FONTS
    level: np.ndarray  # (N,) int64 index into _LEVELS
    angle: np.ndarray  # (N,) float64 rotation θ, degrees, counter-clockwise on screen
    scale: np.ndarray  # (N, 2) float64 (sx, sy)
    shear: np.ndarray  # (N,) float64 k in Sh = [[1, k], [0, 1]]
    shift: np.ndarray  # (N, 2) float64 (dx, dy), output pixels, y down
    warp: np.ndarray  # (N, 2, 4, 4) float64 displacement (x, y) at a 4×4 grid of nodes over the frame
    blur: np.ndarray  # (N,) float64 weight of the blurred image in the mix
    ink: np.ndarray  # (N,) float64 ink intensity
    noise: np.ndarray  # (N, 28, 28) float32 additive noise


def _affine(angle: np.ndarray, scale: np.ndarray, shear: np.ndarray) -> np.ndarray:
    """M = R(θ)·Sh(k)·diag(sx, sy), (N, 2, 2), mapping glyph offsets to image offsets (x right, y down).

    angle: (N,) degrees; scale: (N, 2) (sx, sy); shear: (N,) k.
    """
    th = np.deg2rad(angle)
    c, s = np.cos(th), np.sin(th)
    sx, sy, k = scale[:, 0], scale[:, 1], shear
    # R = [[c, s], [−s, c]] turns counter-clockwise on screen when y points down; Sh·diag = [[sx, k·sy], [0, sy]]
    return np.stack([np.stack([c * sx, c * k * sy + s * sy], -1), np.stack([-s * sx, -s * k * sy + c * sy], -1)], 1)


def _draw(n: int, rng: np.random.Generator, bank: _Bank) -> _Draws:
    """Draw every random choice for n examples from rng (labels balanced: n // 10 or n // 10 + 1 of each)."""
    label = rng.permutation(np.arange(n, dtype=np.int64) % 10)
    font = rng.integers(0, len(DIGIT_FONTS), size=n)
    angle = rng.uniform(-45.0, 45.0, size=n)
    size = rng.uniform(0.8, 1.1, size=n)
    aspect = np.exp(rng.uniform(-0.1, 0.1, size=n))
    scale = np.stack([size * aspect, size / aspect], axis=1)
    shear = rng.uniform(-0.1, 0.1, size=n)
    # stroke level: the number of filter passes (each adds about 2 bank px of width) nearest to a target width
    g = font * 10 + label
    target = rng.uniform(1.7, 3.2, size=n) * _SS / size  # output px → bank px before scaling
    passes = np.clip(np.round((target - bank.stroke[g]) / 2.0), _LEVELS[0], _LEVELS[-1]).astype(np.int64)
    level = passes - _LEVELS[0]
    warp = rng.normal(0.0, 0.5, size=(n, 2, 4, 4))
    # shift: at most 2 px, and no more than keeps the transformed glyph box 1 px inside the frame
    m = np.abs(_affine(angle, scale, shear))
    half = bank.half_size[g] + passes.clip(0)[:, None] / _SS  # (N, 2) glyph box half sides, thickening included
    reach = m[:, :, 0] * half[:, None, 0] + m[:, :, 1] * half[:, None, 1]  # (N, 2) half extents |M|·half
    room = np.clip(FRAME / 2 - 1.0 - reach, 0.0, 2.0)
    shift = rng.uniform(-1.0, 1.0, size=(n, 2)) * room
    blur = rng.uniform(0.0, 0.6, size=n)
    ink = rng.uniform(0.8, 1.0, size=n)
    noise = (rng.normal(size=(n, FRAME, FRAME)) * rng.uniform(0.0, 0.04, size=(n, 1, 1))).astype(np.float32)
    return _Draws(label, font, level, angle, scale, shear, shift, warp, blur, ink, noise)


def _hat(n_out: int, n_nodes: int) -> np.ndarray:
    """(n_out, n_nodes) linear-interpolation weights from nodes spread over the frame to a fine sample grid."""
    u = (np.arange(n_out) + 0.5) / n_out * (n_nodes - 1)
    return np.clip(1.0 - np.abs(u[:, None] - np.arange(n_nodes)[None, :]), 0.0, None)


def _render(d: _Draws, bank: _Bank, chunk: int = 1000) -> np.ndarray:
    """Images (N, 28, 28) float32 in [0, 1] (multiples of 1/255) for the choices d, chunk examples at a time."""
    out = np.empty((len(d.label), FRAME, FRAME), dtype=np.float32)
    for start in range(0, len(d.label), chunk):
        part = _Draws(*(a[start : start + chunk] for a in d))
        out[start : start + chunk] = _render_chunk(part, bank)
    return out


def _render_chunk(d: _Draws, bank: _Bank) -> np.ndarray:
    """One chunk of _render: inverse affine map, bilinear reads of the bank, 2×2 average, blur, ink, noise."""
    f, f32 = FRAME * _SS, np.float32
    q = ((np.arange(f) + 0.5) / _SS - FRAME / 2).astype(f32)  # (f,) fine sample centres, px from the frame centre
    hat = _hat(f, 4).astype(f32)  # (f, 4)
    # smooth warp w(y, x) = Σ_a hat_a(y)·Σ_b hat_b(x)·node_ab, as plain sums (no BLAS: the same on every machine)
    zero = np.zeros((), dtype=f32)  # the sums' start: 0 + v = v, as the built-in sum's int 0
    rows = [sum((d.warp[:, :, a, b, None].astype(f32) * hat[None, None, :, b] for b in range(4)), zero)
            for a in range(4)]
    w = sum((hat[None, None, :, a, None] * rows[a][:, :, None, :] for a in range(4)), zero)  # (n, 2, f, f)
    px = q[None, None, :] + w[:, 0] - d.shift[:, 0, None, None].astype(f32)  # (n, f, f) offset to undo, x
    py = q[None, :, None] + w[:, 1] - d.shift[:, 1, None, None].astype(f32)
    m = _affine(d.angle, d.scale, d.shear)
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    inv = np.stack([np.stack([m[:, 1, 1], -m[:, 0, 1]], -1), np.stack([-m[:, 1, 0], m[:, 0, 0]], -1)], 1)
    inv = (inv / det[:, None, None] * _SS).astype(f32)[..., None, None]  # M⁻¹ = adj(M) / det(M), in bank px
    # bank coordinates (pixel centres at integer + 0.5) of the glyph offset M⁻¹·(q + w − shift); points outside
    # the canvas are clamped into its zero border, so they read 0
    centre = f32(_BANK / 2 - 0.5)
    bx = np.clip(inv[:, 0, 0] * px + inv[:, 0, 1] * py + centre, 0, _BANK - 2)
    by = np.clip(inv[:, 1, 0] * px + inv[:, 1, 1] * py + centre, 0, _BANK - 2)
    x0, y0 = np.floor(bx), np.floor(by)
    fx, fy = bx - x0, by - y0
    glyph = (d.font * 10 + d.label) * len(_LEVELS) + d.level
    i00 = (glyph[:, None, None] * _BANK + y0.astype(np.int64)) * _BANK + x0.astype(np.int64)  # flat index
    flat = bank.images.reshape(-1)
    # bilinear: (1−fy)·[(1−fx)·I00 + fx·I01] + fy·[(1−fx)·I10 + fx·I11]
    fine = (1 - fy) * ((1 - fx) * flat[i00] + fx * flat[i00 + 1]) + fy * (
        (1 - fx) * flat[i00 + _BANK] + fx * flat[i00 + _BANK + 1]
    )
    img = (fine[:, 0::2, 0::2] + fine[:, 0::2, 1::2] + fine[:, 1::2, 0::2] + fine[:, 1::2, 1::2]) * np.float32(0.25)
    pad = np.pad(img, ((0, 0), (1, 1), (1, 1)))
    rows = (pad[:, :-2] + 2 * pad[:, 1:-1] + pad[:, 2:]) * np.float32(0.25)  # binomial [1 2 1]/4 down the rows
    blurred = (rows[:, :, :-2] + 2 * rows[:, :, 1:-1] + rows[:, :, 2:]) * np.float32(0.25)  # ... and along them
    a = d.blur.astype(np.float32)[:, None, None]
    img = ((1 - a) * img + a * blurred) * d.ink.astype(np.float32)[:, None, None] + d.noise
    return (np.round(np.clip(img, 0.0, 1.0) * 255) / np.float32(255)).astype(np.float32)


# ---------------------------------------------------------------- public API: synthetic digits


def make_digits(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw n fresh synthetic digit images (the generator behind digit_train_data / digit_test_data).

    Args:
        n: number of examples, ≥ 1. Labels are balanced: each digit appears n // 10 or n // 10 + 1 times.
        seed: seed of the numpy Generator all random choices come from; the same seed gives the same arrays.

    Returns:
        X: (n, 1, 28, 28) float32 in [0, 1], white digit on black, values multiples of 1/255.
        labels: (n,) int64 digits 0–9.
        angles: (n,) float64 rotation applied to each image, degrees in [−45, 45], counter-clockwise on screen.

    >>> X, labels, angles = make_digits(20, seed=0)
    >>> X.shape, X.dtype.name, labels.dtype.name, angles.dtype.name
    ((20, 1, 28, 28), 'float32', 'int64', 'float64')
    >>> sorted(labels.tolist()) == sorted(list(range(10)) * 2)
    True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return _make_digits(int(n), int(seed), _glyph_bank())


def _make_digits(n: int, seed: int, bank: _Bank) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """make_digits without the argument checks, from a given glyph bank (tools/make_digit_data.py uses it)."""
    draws = _draw(n, np.random.default_rng(seed), bank)
    return _render(draws, bank)[:, None], draws.label, draws.angle


@functools.lru_cache(maxsize=2)
def _digit_set(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cached, read-only set of 5000 digits, read from the stored file (``make_digits(5000, seed)``'s arrays)."""
    name = {_TRAIN_SEED: "train", _TEST_SEED: "test"}[seed]
    s = _stored()
    X = (s[f"{name}_images"][:, None].astype(np.float32) / np.float32(255)).astype(np.float32)
    arrays = (X, s[f"{name}_labels"].astype(np.int64), s[f"{name}_angles"].astype(np.float64))
    for a in arrays:
        a.flags.writeable = False
    return arrays


def digit_train_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 5000 training digits (like MATLAB's ``digitTrain4DArrayData``), cached and read-only.

    Returns:
        X: (5000, 1, 28, 28) float32 in [0, 1], NCHW, white digit on black.
        labels: (5000,) int64 digits 0–9, 500 of each, in shuffled order.
        angles: (5000,) float64 rotation applied to each image, degrees, uniform in [−45, 45], counter-clockwise
            on screen (the regression target of the rotation-angle example).

    The arrays are shared between calls and not writeable; use ``X.copy()`` for a private, writeable copy.

    >>> X, labels, angles = digit_train_data()
    >>> X.shape, labels.shape, angles.shape, X.flags.writeable
    ((5000, 1, 28, 28), (5000,), (5000,), False)
    """
    return _digit_set(_TRAIN_SEED)


def digit_test_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 5000 test digits (like MATLAB's ``digitTest4DArrayData``): as :func:`digit_train_data`, another seed.

    Returns:
        X: (5000, 1, 28, 28) float32 in [0, 1]; labels: (5000,) int64, 500 of each digit; angles: (5000,) float64
        degrees in [−45, 45]. Cached and read-only like the training set.
    """
    return _digit_set(_TEST_SEED)


# ---------------------------------------------------------------- public API: sequences

#: Class names of the waveform set, sorted (MATLAB's categorical order); labels are these strings.
WAVEFORM_CLASSES: tuple[str, ...] = ("chirp", "sawtooth", "sine", "square")
#: Class names of the activity set's per-step labels, sorted.
ACTIVITY_CLASSES: tuple[str, ...] = ("running", "sitting", "walking")

#: The stored sequence data sets (written by ``tools/make_sequence_data.py``).
SEQUENCE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sequences.npz")
#: SHA-256 of SEQUENCE_FILE as tools/make_sequence_data.py printed it; checked on every load.
_SEQUENCE_SHA256 = "d6847d33a40ca61c5c92268455f6036482b942ae77f0b1eaf7b455eb574b3258"
_CODE_SCALE = 32  # waveform and activity values: int8 codes k, value k / 32
_SERIES_SCALE = 256  # the seasonal series: int16 codes k, value k / 256


@functools.lru_cache(maxsize=1)
def _sequence_arrays() -> dict[str, np.ndarray]:
    """Every array of ``minidl/data/sequences.npz``, after checking its SHA-256, read once per process."""
    with open(SEQUENCE_FILE, "rb") as fh:
        raw = fh.read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != _SEQUENCE_SHA256:
        raise RuntimeError(
            f"embedded data file {SEQUENCE_FILE!r} has SHA-256 {digest}, expected {_SEQUENCE_SHA256} "
            "(a damaged install, or a regenerated file whose checksum was not recorded in minidl/datasets.py)"
        )
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=4)
def _sequence_split(name: str, split: str) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """(sequences (C, Tᵢ) float32, labels as class indices) of one stored split, read-only and cached."""
    s = _sequence_arrays()
    x = (s[f"{name}_{split}_x"].astype(np.float32) / np.float32(_CODE_SCALE)).astype(np.float32)  # exact k/32
    ends = np.cumsum(s[f"{name}_{split}_lengths"].astype(np.int64))
    seqs = tuple(_read_only(part) for part in np.split(x, ends[:-1], axis=1))
    return seqs, s[f"{name}_{split}_labels"]


@functools.lru_cache(maxsize=2)
def _waveform_set(split: str) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    seqs, labels = _sequence_split("waveforms", split)
    return seqs, _read_only(np.asarray(WAVEFORM_CLASSES)[labels])


@functools.lru_cache(maxsize=2)
def _activity_set(split: str) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    seqs, labels = _sequence_split("activity", split)
    names = np.asarray(ACTIVITY_CLASSES)[labels]
    ends = np.cumsum([x.shape[1] for x in seqs])
    return seqs, tuple(_read_only(part) for part in np.split(names, ends[:-1]))


def waveform_train_data() -> tuple[list[np.ndarray], np.ndarray]:
    """The 240 training waveforms (sequence-to-label, like MATLAB's ``japaneseVowelsTrainData``), read-only.

    Returns:
        X: a list of 240 arrays (12, Tᵢ) float32, Tᵢ from 20 to 60 (channels-first; values multiples of 1/32).
        labels: (240,) str, one of :data:`WAVEFORM_CLASSES` each (60 per class, shuffled).

    The list is new on each call; its arrays (and labels) are shared and not writeable (``x.copy()`` to modify).

    >>> X, labels = waveform_train_data()
    >>> len(X), X[0].shape[0], X[0].dtype.name, labels.shape, sorted(set(labels.tolist()))
    (240, 12, 'float32', (240,), ['chirp', 'sawtooth', 'sine', 'square'])
    """
    seqs, labels = _waveform_set("train")
    return list(seqs), labels


def waveform_test_data() -> tuple[list[np.ndarray], np.ndarray]:
    """The 160 test waveforms: as :func:`waveform_train_data` (40 per class), another seed.

    Returns:
        X: a list of 160 arrays (12, Tᵢ) float32, Tᵢ from 20 to 60. labels: (160,) str.
    """
    seqs, labels = _waveform_set("test")
    return list(seqs), labels


def activity_train_data() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The 60 training activity sequences (sequence-to-sequence labelling, like MATLAB's HumanActivity), read-only.

    Returns:
        X: a list of 60 arrays (3, Tᵢ) float32, Tᵢ from 80 to 160 (values multiples of 1/32).
        Y: a list of 60 arrays (Tᵢ,) str, each step's activity, one of :data:`ACTIVITY_CLASSES`.

    >>> X, Y = activity_train_data()
    >>> len(X), X[0].shape[0], all(x.shape[1:] == y.shape for x, y in zip(X, Y))
    (60, 3, True)
    """
    seqs, labels = _activity_set("train")
    return list(seqs), list(labels)


def activity_test_data() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The 30 test activity sequences: as :func:`activity_train_data`, another seed.

    Returns:
        X: a list of 30 arrays (3, Tᵢ) float32. Y: a list of 30 arrays (Tᵢ,) str.
    """
    seqs, labels = _activity_set("test")
    return list(seqs), list(labels)


@functools.lru_cache(maxsize=2)
def _seasonal(split: str) -> np.ndarray:
    codes = _sequence_arrays()[f"seasonal_{split}_x"]
    return _read_only((codes.astype(np.float32) / np.float32(_SERIES_SCALE)).astype(np.float32))


def seasonal_train_data() -> np.ndarray:
    """The first 540 steps of the seasonal series (forecasting, like MATLAB's ``chickenpox_dataset``), read-only.

    Returns:
        (1, 540) float32: one channel, 540 monthly steps (values multiples of 1/256, around 10 to 19).

    >>> x = seasonal_train_data()
    >>> x.shape, x.dtype.name, np.concatenate([x, seasonal_test_data()], axis=1).shape
    ((1, 540), 'float32', (1, 600))
    """
    return _seasonal("train")


def seasonal_test_data() -> np.ndarray:
    """The last 60 steps of the seasonal series (the continuation of :func:`seasonal_train_data`), read-only.

    Returns:
        (1, 60) float32.
    """
    return _seasonal("test")


# ---------------------------------------------------------------- public API: MNIST IDX files

_IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
_IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned bytes (type code 0x08), 3 or 1 dimensions


def _find_idx(folder: str, key: str) -> str:
    """Path of one of the four files, plain or .gz, under either common spelling."""
    names = [name + ext for name in _IDX_FILES[key] for ext in ("", ".gz")]
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"folder {folder!r} has no {key.replace('_', ' ')} file: expected one of {', '.join(names)} "
        f"(the four MNIST files are {', '.join(v[0] for v in _IDX_FILES.values())}, each optionally .gz)"
    )


def _read_idx(path: str, ndim: int) -> np.ndarray:
    """The uint8 array of an IDX file with ndim dimensions (big-endian header: magic, then one uint32 per dim)."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError; a cut .gz stream raises EOFError
        kind = "gzip" if path.endswith(".gz") else "IDX"
        raise ValueError(f"file {path!r} could not be read as {kind}: {err}") from err
    header = 4 * (1 + ndim)
    if len(data) < header:
        raise ValueError(f"file {path!r} is truncated: {len(data)} bytes, shorter than its {header}-byte IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != _IDX_MAGIC[ndim]:
        raise ValueError(
            f"file {path!r} has magic number 0x{magic:08X}, expected 0x{_IDX_MAGIC[ndim]:08X} "
            f"(IDX, unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(f"file {path!r} is {what}: header dims {dims} need {expected} bytes, file has {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read MNIST (or any data set in its IDX format) from the four files a user downloaded into folder.

    Expected files (each may also be gzipped, ``name.gz``; the spelling ``train-images.idx3-ubyte`` is accepted
    too): ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``.

    Returns:
        X_train: (N, 1, H, W) float32 in [0, 1] (pixel / 255; H = W = 28 for MNIST, N = 60000).
        y_train: (N,) int64 labels.
        X_test: (M, 1, H, W) float32 in [0, 1] (M = 10000 for MNIST).
        y_test: (M,) int64 labels.

    Raises:
        TypeError: folder is not a str or os.PathLike.
        FileNotFoundError: folder does not exist, or a file is missing (the message lists the names looked for).
        ValueError: a file is not gzip/IDX, has the wrong magic number, is truncated or too long, or image and label
            counts (or train and test image sizes) disagree.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a str or os.PathLike path, got {type(folder).__name__} {folder!r}")
    folder = os.path.expanduser(os.fspath(folder))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder {folder!r} does not exist or is not a directory")
    out = []
    for split in ("train", "test"):
        images = _read_idx(_find_idx(folder, f"{split}_images"), ndim=3)
        labels = _read_idx(_find_idx(folder, f"{split}_labels"), ndim=1)
        if len(images) != len(labels):
            raise ValueError(f"{split} set in {folder!r}: {len(images)} images but {len(labels)} labels")
        out += [(images[:, None] / np.float32(255)).astype(np.float32), labels.astype(np.int64)]
    if out[0].shape[1:] != out[2].shape[1:]:
        raise ValueError(f"images in {folder!r}: train are {out[0].shape[2:]} but test are {out[2].shape[2:]}")
    return out[0], out[1], out[2], out[3]
