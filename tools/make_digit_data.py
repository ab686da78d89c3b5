"""Regenerate ``minidl/data/digits.npz``, the embedded synthetic digits, from the fonts that ship with matplotlib.

The package reads the stored file and never draws glyphs itself, so the data sets are the same bytes on every install
(whatever matplotlib ships). This script holds the part that needs the fonts: steps 1 and 2 of the recipe in
``minidl/datasets.py`` (glyph outlines, scanline rasterizer). It writes

- ``glyph_coverage`` (190, 64, 64) uint8: the glyph bank before thinning/thickening, coverage × 16 (the rasterizer's
  4×4 samples per pixel make every coverage a multiple of 1/16, so this is exact); index font·10 + digit.
- ``glyph_stroke`` (190,) float64 and ``glyph_half_size`` (190, 2) float64: the facts the sampler needs per glyph.
- ``train_images``/``test_images`` (5000, 28, 28) uint8 (pixel × 255), ``train_labels``/``test_labels`` (5000,)
  uint8, ``train_angles``/``test_angles`` (5000,) float64: the two sets, drawn with the package's sampler from
  this bank (``digit_train_data()`` returns ``images / 255`` as float32, exactly the sampler's output).

into a zip of ``.npy`` members (what ``numpy.load`` reads) with fixed timestamps and LZMA compression, so the same
arrays give the same bytes. Then it prints the file's SHA-256, which ``minidl/datasets.py`` records
(``_DATA_SHA256``) and checks on load.

    python tools/make_digit_data.py            # rewrite the file, print its checksum
    python tools/make_digit_data.py --check    # rebuild in memory, fail unless it equals the stored bytes

Needs matplotlib >= 3.11 (its fonts and TextPath as the stored file was made with: matplotlib 3.11.2).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile

import numpy as np

from minidl import datasets as D
from minidl._files import write_or_check_stored

RASTER_SS = 4  # rasterizer samples per bank pixel along each axis
CURVE_STEPS = 8  # straight pieces per Bézier segment
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "minidl", "data", "digits.npz")


def font_path(name: str) -> str:
    """Absolute path of a font file shipped with matplotlib."""
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"font {name!r} is not in matplotlib's mpl-data/fonts/ttf ({path})")
    return path


def flatten(vertices: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
    """Closed polygons (each (K, 2), first point repeated last) from a matplotlib path with Bézier pieces."""
    from matplotlib.path import Path

    t = np.arange(1, CURVE_STEPS + 1)[:, None] / CURVE_STEPS  # (steps, 1) parameter values in (0, 1]
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


def rasterize(polygons: list[np.ndarray], size: int) -> np.ndarray:
    """Coverage (size, size) float64 in [0, 1] of polygons given in pixel coordinates (x right, y down).

    Non-zero winding rule on a grid of ``RASTER_SS``² samples per pixel, one scanline histogram per sample row.
    """
    s = RASTER_SS
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


def glyph_polygons(font: str, digit: int) -> list[np.ndarray]:
    """Outline of one digit in bank pixels: height 2·20 px, bounding box centred on the canvas, y down."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), str(digit), size=1.0, prop=FontProperties(fname=font_path(font)))
    polygons = flatten(np.asarray(path.vertices, dtype=np.float64), np.asarray(path.codes))
    allpts = np.concatenate(polygons)
    (xmin, ymin), (xmax, ymax) = allpts.min(axis=0), allpts.max(axis=0)
    k = D._GLYPH_HEIGHT * D._SS / (ymax - ymin)  # font units → bank pixels
    centre = np.array([(xmin + xmax) / 2, (ymin + ymax) / 2])
    return [(p - centre) * [k, -k] + D._BANK / 2 for p in polygons]  # flip y: rows grow downward


def glyph_facts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coverage (G, 64, 64) uint8 ×16, stroke (G,) float64, half size (G, 2) float64) for every (font, digit)."""
    coverage, stroke, half = [], [], []
    for font in D.DIGIT_FONTS:
        for digit in range(10):
            polygons = glyph_polygons(font, digit)
            cov = rasterize(polygons, D._BANK)
            perimeter = sum(np.hypot(*np.diff(p, axis=0).T).sum() for p in polygons)
            allpts = np.concatenate(polygons)
            coverage.append(cov)
            stroke.append(2.0 * cov.sum() / perimeter)  # a stroke of width w and length ℓ: area w·ℓ, perimeter ≈ 2ℓ
            half.append((allpts.max(axis=0) - allpts.min(axis=0)) / (2 * D._SS))
    k = np.stack(coverage) * RASTER_SS**2
    if not np.array_equal(k, np.round(k)):
        raise RuntimeError("glyph coverage is not a multiple of 1/16")
    return k.astype(np.uint8), np.array(stroke), np.array(half)


def build() -> dict[str, np.ndarray]:
    """Every array of the file, in the order written."""
    coverage, stroke, half = glyph_facts()
    arrays = {"glyph_coverage": coverage, "glyph_stroke": stroke, "glyph_half_size": half}
    bank = D._bank_from_facts(coverage, stroke, half)
    for name, seed in (("train", D._TRAIN_SEED), ("test", D._TEST_SEED)):
        X, labels, angles = D._make_digits(D._N_PER_SET, seed, bank)
        k = np.round(X[:, 0] * np.float32(255))
        if not np.array_equal((k / np.float32(255)).astype(np.float32), X[:, 0]):
            raise RuntimeError(f"{name} images are not k/255 exactly")
        arrays.update({f"{name}_images": k.astype(np.uint8), f"{name}_labels": labels.astype(np.uint8),
                       f"{name}_angles": angles})
    return arrays


def encode(arrays: dict[str, np.ndarray]) -> bytes:
    """A deterministic .npz: one .npy member per array, fixed timestamp, LZMA compression."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with the stored file instead of writing it")
    p.add_argument("--output", default=OUTPUT, help="where to write (default: minidl/data/digits.npz)")
    args = p.parse_args(argv)
    return write_or_check_stored(args.output, encode(build()), args.check)


if __name__ == "__main__":
    sys.exit(main())
