"""Embedded data sets: synthetic rotated digits (like MATLAB's DigitDataset) and a reader for MNIST's IDX files.

Synthetic digits
----------------
:func:`digit_train_data` and :func:`digit_test_data` each return 5000 grayscale 28×28 images of the digits 0–9
(white on black, 500 per class in shuffled order) together with the rotation angle applied to each image, so one
data set serves both the classification example and the rotation-angle regression example. Nothing is downloaded:
the images are drawn from fonts that ship inside matplotlib, in four steps.

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
rounded to 8 bits, so the data are the same on every call and every machine. The two sets are cached per process;
the cached arrays are returned **read-only** (``X.flags.writeable`` is False): call ``X.copy()`` to modify them.
:func:`make_digits` draws any number of fresh examples from a given seed (writable, not cached).

MNIST
-----
:func:`load_mnist` reads the four IDX files of MNIST (or of any data set in the same format) that a user brings.
"""

from __future__ import annotations

import functools
import gzip
import os
from typing import NamedTuple

import numpy as np

__all__ = ["DIGIT_FONTS", "digit_train_data", "digit_test_data", "make_digits", "load_mnist"]

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
_RASTER_SS = 4  # rasterizer samples per bank pixel along each axis
_LEVELS = (-1, 0, 1, 2, 3)  # stroke levels: number of min (−) or max (+) filter passes
_CURVE_STEPS = 8  # straight pieces per Bézier segment
_TRAIN_SEED = 20240601
_TEST_SEED = 20240602
_N_PER_SET = 5000


# ---------------------------------------------------------------- glyph outlines and the rasterizer


def _font_path(name: str) -> str:
    """Absolute path of a font file shipped with matplotlib."""
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"font {name!r} is not in matplotlib's mpl-data/fonts/ttf ({path})")
    return path


def _flatten(vertices: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
    """Closed polygons (each (K, 2), first point repeated last) from a matplotlib path with Bézier pieces."""
    from matplotlib.path import Path

    t = np.arange(1, _CURVE_STEPS + 1)[:, None] / _CURVE_STEPS  # (steps, 1) parameter values in (0, 1]
    polygons, current, i = [], [], 0
    while i < len(codes):
        code = codes[i]
        if code == Path.MOVETO:
            if len(current) > 1:
                polygons.append(np.vstack(current + [current[0]]))
            current, i = [vertices[i][None]], i + 1
        elif code == Path.LINETO:
            current.append(vertices[i][None])
            i += 1
        elif code == Path.CURVE3:  # B(t) = (1−t)²·p0 + 2t(1−t)·p1 + t²·p2
            p0, p1, p2 = current[-1][-1], vertices[i], vertices[i + 1]
            current.append((1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t**2 * p2)
            i += 2
        elif code == Path.CURVE4:  # B(t) = (1−t)³·p0 + 3t(1−t)²·p1 + 3t²(1−t)·p2 + t³·p3
            p0, p1, p2, p3 = current[-1][-1], vertices[i], vertices[i + 1], vertices[i + 2]
            current.append((1 - t) ** 3 * p0 + 3 * t * (1 - t) ** 2 * p1 + 3 * t**2 * (1 - t) * p2 + t**3 * p3)
            i += 3
        else:  # CLOSEPOLY (or STOP): the contour ends
            if len(current) > 1:
                polygons.append(np.vstack(current + [current[0]]))
            current, i = [], i + 1
    if len(current) > 1:
        polygons.append(np.vstack(current + [current[0]]))
    return polygons


def _rasterize(polygons: list[np.ndarray], size: int) -> np.ndarray:
    """Coverage (size, size) float64 in [0, 1] of polygons given in pixel coordinates (x right, y down).

    Non-zero winding rule on a grid of ``_RASTER_SS``² samples per pixel, one scanline histogram per sample row.
    """
    s = _RASTER_SS
    edges = np.concatenate([np.stack([p[:-1], p[1:]], axis=1) for p in polygons])  # (E, 2 ends, 2 coords)
    (x0, y0), (x1, y1) = edges[:, 0].T, edges[:, 1].T
    ys = (np.arange(size * s) + 0.5) / s  # (rows,) sample row heights
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    crosses = (ys[:, None] >= lo) & (ys[:, None] < hi)  # (rows, E) half-open rule: each crossing counted once
    slope = np.where(hi > lo, (x1 - x0) / np.where(hi > lo, y1 - y0, 1.0), 0.0)
    xc = x0 + (ys[:, None] - y0) * slope  # (rows, E) x where the edge meets the row
    first = np.clip(np.floor(xc * s - 0.5).astype(np.int64) + 1, 0, size * s)  # first sample column right of it
    sign = np.where(y1 > y0, 1, -1)  # winding direction of the edge
    rows, cols = np.nonzero(crosses)
    hist = np.zeros((size * s, size * s + 1), dtype=np.int64)
    np.add.at(hist, (rows, first[rows, cols]), sign[cols])
    inside = np.cumsum(hist[:, :-1], axis=1) != 0  # winding number ≠ 0
    return inside.reshape(size, s, size, s).mean(axis=(1, 3))


def _glyph_polygons(font: str, digit: int) -> list[np.ndarray]:
    """Outline of one digit in bank pixels: height 2·20 px, bounding box centred on the canvas, y down."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), str(digit), size=1.0, prop=FontProperties(fname=_font_path(font)))
    polygons = _flatten(np.asarray(path.vertices, dtype=np.float64), np.asarray(path.codes))
    allpts = np.concatenate(polygons)
    (xmin, ymin), (xmax, ymax) = allpts.min(axis=0), allpts.max(axis=0)
    k = _GLYPH_HEIGHT * _SS / (ymax - ymin)  # font units → bank pixels
    centre = np.array([(xmin + xmax) / 2, (ymin + ymax) / 2])
    return [(p - centre) * [k, -k] + _BANK / 2 for p in polygons]  # flip y: rows grow downward


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


@functools.lru_cache(maxsize=1)
def _glyph_bank() -> _Bank:
    """Rasterize every (font, digit) once and precompute its thinned and thickened versions."""
    coverage, stroke, half = [], [], []
    for font in DIGIT_FONTS:
        for digit in range(10):
            polygons = _glyph_polygons(font, digit)
            cov = _rasterize(polygons, _BANK)
            perimeter = sum(np.hypot(*np.diff(p, axis=0).T).sum() for p in polygons)
            allpts = np.concatenate(polygons)
            coverage.append(cov)
            stroke.append(2.0 * cov.sum() / perimeter)  # a stroke of width w and length ℓ: area w·ℓ, perimeter ≈ 2ℓ
            half.append((allpts.max(axis=0) - allpts.min(axis=0)) / (2 * _SS))
    base = np.stack(coverage).astype(np.float32)  # (G, 64, 64)
    levels = {0: base}
    for sign, op in ((1, np.maximum), (-1, np.minimum)):
        img = base
        for step in range(1, max(abs(v) for v in _LEVELS if v * sign > 0) + 1):
            img = _filter3(img, "square" if step % 2 else "cross", op)  # dilate (max) or erode (min)
            levels[sign * step] = img
    images = np.stack([levels[v] for v in _LEVELS], axis=1)
    if images[..., :2, :].any() or images[..., -2:, :].any() or images[..., :2].any() or images[..., -2:].any():
        raise RuntimeError("glyph bank: a glyph touches the canvas border (the bank needs a zero margin)")
    return _Bank(images, np.array(stroke), np.array(half))


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
    rows = [sum(d.warp[:, :, a, b, None].astype(f32) * hat[None, None, :, b] for b in range(4)) for a in range(4)]
    w = sum(hat[None, None, :, a, None] * rows[a][:, :, None, :] for a in range(4))  # (n, 2, f, f)
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
    bank = _glyph_bank()
    draws = _draw(int(n), np.random.default_rng(int(seed)), bank)
    return _render(draws, bank)[:, None], draws.label, draws.angle


@functools.lru_cache(maxsize=2)
def _digit_set(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cached, read-only set of 5000 digits."""
    arrays = make_digits(_N_PER_SET, seed=seed)
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
