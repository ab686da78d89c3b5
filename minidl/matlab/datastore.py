"""Image data from folders: ``imageDatastore`` (labels from folder names, ``splitEachLabel``) and
``augmentedImageDatastore`` with an ``imageDataAugmenter``, as mini-batch sources the engine streams.

Files are decoded with Pillow, one at a time (the only loop over images).  Resizing, cropping and the random
affine augmentation of a batch are one bilinear resampling through index maps, vectorized over the batch.  The
random draws come from the run's generator, which the engine hands to the source (``use_generator``) after
set-up, so a run with the same seed is reproducible; until then (shape peek, input-normalization statistics) the
images are read without augmentation.  Rules and their sources: docs/matlab-interop.md.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from minidl.errors import NotSupportedYetError
from minidl.matlab.arrays import hwcn_to_nchw
from minidl.matlab.display import _choice, _int_vector, _parse_pairs, _to_python
from minidl.training.data import MiniBatchSource, check_labels, sorted_classes

__all__ = ["ImageDatastore", "AugmentedImageDatastore", "ImageDataAugmenter", "imageDatastore", "splitEachLabel",
           "augmentedImageDatastore", "imageDataAugmenter", "IMAGE_EXTENSIONS"]

#: imageDatastore's default FileExtensions that Pillow reads.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".pbm", ".pgm", ".png", ".ppm", ".tif", ".tiff")


def _pillow():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(f"image datastores decode files with Pillow, which is not installed ({e}); "
                          "pip install pillow") from e
    return Image


def read_image(path: str) -> np.ndarray:
    """One image file → (C, H, W) in its own integer type (uint8 for 8-bit files): grayscale C = 1, else RGB C = 3
    (an alpha channel is dropped, a palette expanded), as MATLAB's imread returns them."""
    Image = _pillow()
    with Image.open(path) as im:
        if im.mode in ("1", "L", "LA"):
            im = im.convert("L")
        elif im.mode not in ("I;16", "I", "F"):
            im = im.convert("RGB")                       # palette, RGBA, CMYK, ... → RGB
        a = np.asarray(im)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


# ================================================================================================ imageDatastore
class ImageDatastore(MiniBatchSource):
    """Image files (``Files``) with optional labels (``Labels``); ``read(indices)`` → ((B, C, H, W), labels).

    Every image must have the same size to be batched (as trainNetwork requires of an imageDatastore); use an
    :class:`AugmentedImageDatastore` to resize.
    """

    def __init__(self, files: Sequence[str], labels: Sequence[Any] | None = None):
        self.Files = [os.fspath(f) for f in files]
        if not self.Files:
            raise ValueError("location: no image files found; allowed: folders or files with the extensions "
                             f"{', '.join(IMAGE_EXTENSIONS)}")
        self.Labels = None if labels is None else check_labels(np.asarray(labels), len(self.Files), "Labels")

    def __len__(self) -> int:
        return len(self.Files)

    @property
    def classes(self) -> np.ndarray | None:
        """The sorted distinct labels (the engine's classes), None without labels."""
        return None if self.Labels is None else sorted_classes(self.Labels, "Labels")

    def read_images(self, indices: np.ndarray) -> list[np.ndarray]:
        """The decoded images (C, H, W) of ``indices``, in order."""
        return [read_image(self.Files[int(i)]) for i in indices]

    def read(self, indices: np.ndarray):
        images = self.read_images(indices)
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise ValueError(f"imds: the images have different sizes {sorted(shapes)} (channels, height, width); "
                             "allowed: one size for training, or resize with augmentedImageDatastore(outputSize, "
                             "imds)")
        return np.stack(images), None if self.Labels is None else self.Labels[np.asarray(indices)]

    def countEachLabel(self) -> dict[Any, int]:
        """MATLAB ``countEachLabel(imds)``: {label: number of files}, labels sorted."""
        if self.Labels is None:
            raise ValueError("countEachLabel: the datastore has no labels (LabelSource 'none')")
        return {c: int(np.sum(self.Labels == c)) for c in self.classes}

    def subset(self, indices: Sequence[int]) -> ImageDatastore:
        """MATLAB ``subset(imds, indices)`` (0-based indices here)."""
        idx = np.asarray(indices, dtype=np.int64)
        return ImageDatastore([self.Files[i] for i in idx], None if self.Labels is None else self.Labels[idx])

    def __repr__(self) -> str:
        labels = "no labels" if self.Labels is None else f"{len(self.classes)} labels"
        return f"ImageDatastore({len(self)} files, {labels})"


def _list_files(location, include_subfolders: bool, extensions: tuple[str, ...]) -> list[str]:
    locations = [location] if isinstance(location, (str, os.PathLike)) else list(location)
    files: list[str] = []
    for loc in locations:
        loc = os.fspath(loc)
        if os.path.isfile(loc):
            files.append(loc)
        elif os.path.isdir(loc):
            if include_subfolders:
                found = [os.path.join(d, f) for d, _, fs in os.walk(loc) for f in fs]
            else:
                found = [os.path.join(loc, f) for f in os.listdir(loc) if os.path.isfile(os.path.join(loc, f))]
            files += sorted(f for f in found if os.path.splitext(f)[1].lower() in extensions)
        else:
            raise ValueError(f"location: got {loc!r}, which is neither a file nor a folder")
    return files


def imageDatastore(location, *args: Any, **kwargs: Any) -> ImageDatastore:
    """MATLAB ``imds = imageDatastore(location, 'IncludeSubfolders', false, 'LabelSource', 'none',
    'FileExtensions', {...}, 'Labels', labels)``.

    location: a folder, a file, or a list of them.  Files of a folder are taken in sorted path order; with
    'LabelSource' 'foldernames' each file's label is the name of the folder holding it.
    """
    func = "imageDatastore"
    opts = _parse_pairs(func, args, kwargs, ("IncludeSubfolders", "LabelSource", "FileExtensions", "Labels"))
    sub = _to_python(opts.get("IncludeSubfolders", False))
    if not isinstance(sub, (bool, int)) or sub not in (0, 1):
        raise TypeError(f"{func}: 'IncludeSubfolders': got {opts['IncludeSubfolders']!r}; allowed: true or false")
    source = _choice(func, "LabelSource", opts.get("LabelSource", "none"), ("none", "foldernames"))
    ext = opts.get("FileExtensions", IMAGE_EXTENSIONS)
    ext = (ext,) if isinstance(ext, str) else tuple(ext)
    if not all(isinstance(e, str) and e.startswith(".") for e in ext):
        raise ValueError(f"{func}: 'FileExtensions': got {opts['FileExtensions']!r}; allowed: extensions such as "
                         "'.png' or a list of them")
    files = _list_files(location, bool(sub), tuple(e.lower() for e in ext))
    labels = opts.get("Labels")
    if source == "foldernames":
        labels = [os.path.basename(os.path.dirname(os.path.abspath(f))) for f in files]
    return ImageDatastore(files, labels)


def splitEachLabel(imds: ImageDatastore, *args: Any, seed: int | np.random.Generator = 0):
    """MATLAB ``[imds1, imds2, ...] = splitEachLabel(imds, p1, p2, ..., 'randomized')``.

    Each p is a fraction in (0, 1) (round(p·n) files of each label with n files) or a whole number of files per
    label; the last datastore gets the remaining files.  Without 'randomized' each label's first files (in file
    order) go to the first datastore; with it the choice is random, drawn from ``seed`` (a number or a
    numpy Generator; MATLAB draws from its global stream).  Files keep their order within each datastore.
    """
    func = "splitEachLabel"
    if not isinstance(imds, ImageDatastore) or imds.Labels is None:
        raise TypeError(f"{func}: imds: got {imds!r}; allowed: an imageDatastore with labels")
    rest = list(args)
    randomized = bool(rest) and isinstance(rest[-1], str)
    if randomized:
        _choice(func, "option", rest.pop(), ("randomized",))
    if not rest:
        raise TypeError(f"{func}: got no proportions; allowed: splitEachLabel(imds, p1, p2, ...)")
    props = [_to_python(p) for p in rest]
    fractions = all(isinstance(p, float) and 0 < p < 1 for p in props)
    counts = all(isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 1 for p in props)
    if not (fractions or counts) or (fractions and sum(props) > 1):
        raise ValueError(f"{func}: proportions: got {rest!r}; allowed: fractions in (0, 1) summing to at most 1, or "
                         "whole numbers of files per label")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(len(props) + 1)]
    for c in imds.classes:
        idx = np.flatnonzero(imds.Labels == c)
        if randomized:
            idx = idx[rng.permutation(len(idx))]
        start = 0
        for k, p in enumerate(props):
            take = int(np.floor(p * len(idx) + 0.5)) if fractions else int(p)
            parts[k] += idx[start:start + take].tolist()
            start = min(start + take, len(idx))
        parts[-1] += idx[start:].tolist()
    return tuple(imds.subset(sorted(p)) for p in parts)


# ================================================================================================ the augmenter
class ImageDataAugmenter:
    """MATLAB ``imageDataAugmenter``: random reflection, rotation, scale, shear and translation of each image.

    Ranges are [min max] (uniform draws); reflections happen with probability 0.5 each.
    """

    RANGES = ("RandRotation", "RandScale", "RandXScale", "RandYScale", "RandXShear", "RandYShear",
              "RandXTranslation", "RandYTranslation")

    def __init__(self, **props: Any):
        self.RandXReflection = bool(props.pop("RandXReflection", False))
        self.RandYReflection = bool(props.pop("RandYReflection", False))
        defaults = {"RandRotation": (0.0, 0.0), "RandScale": (1.0, 1.0), "RandXScale": (1.0, 1.0),
                    "RandYScale": (1.0, 1.0), "RandXShear": (0.0, 0.0), "RandYShear": (0.0, 0.0),
                    "RandXTranslation": (0.0, 0.0), "RandYTranslation": (0.0, 0.0)}
        for name, d in defaults.items():
            v = props.pop(name, d)
            if callable(v):
                raise NotSupportedYetError(f"imageDataAugmenter: '{name}': got a function handle; not supported yet "
                                           "(allowed: a range [min max])")
            a = np.asarray(v, dtype=np.float64).reshape(-1)
            if a.shape != (2,) or not np.isfinite(a).all() or a[0] > a[1]:
                raise ValueError(f"imageDataAugmenter: '{name}': got {v!r}; allowed: a range [min max] with min <= "
                                 "max")
            if name.endswith("Scale") and a[0] <= 0:
                raise ValueError(f"imageDataAugmenter: '{name}': got {v!r}; allowed: a range of positive scales")
            if name.endswith("Shear") and not (-90 < a[0] and a[1] < 90):
                raise ValueError(f"imageDataAugmenter: '{name}': got {v!r}; allowed: angles in (-90, 90) degrees")
            setattr(self, name, (float(a[0]), float(a[1])))
        self.FillValue = float(_to_python(props.pop("FillValue", 0.0)))

    def draws(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """The random values for n images, drawn in a fixed order (only for the transforms that are on)."""
        out: dict[str, np.ndarray] = {}
        for name in ("RandXReflection", "RandYReflection"):
            if getattr(self, name):
                out[name] = rng.random(n) < 0.5
        for name in self.RANGES:
            lo, hi = getattr(self, name)
            if lo != hi:
                out[name] = rng.uniform(lo, hi, n)
            elif lo != (1.0 if name.endswith("Scale") else 0.0):
                out[name] = np.full(n, lo)
        return out

    def matrices(self, draws: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """(A (n, 2, 2), t (n, 2)): the forward maps p' = A·(p − centre) + centre + t in (row, column)
        coordinates: reflection, then rotation, scale and shear, then translation."""
        one, zero = np.ones(n), np.zeros(n)
        fy = np.where(draws.get("RandYReflection", zero).astype(bool), -1.0, 1.0)
        fx = np.where(draws.get("RandXReflection", zero).astype(bool), -1.0, 1.0)
        F = np.zeros((n, 2, 2))
        F[:, 0, 0], F[:, 1, 1] = fy, fx
        th = np.deg2rad(draws.get("RandRotation", zero))   # counterclockwise as displayed (rows point down):
        cos, sin = np.cos(th), np.sin(th)                   # row' = cos·row − sin·col, col' = sin·row + cos·col
        R = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)
        s = draws.get("RandScale", one)
        S = np.zeros((n, 2, 2))
        S[:, 0, 0], S[:, 1, 1] = s * draws.get("RandYScale", one), s * draws.get("RandXScale", one)
        Sh = np.tile(np.eye(2), (n, 1, 1))
        Sh[:, 1, 0] = np.tan(np.deg2rad(draws.get("RandXShear", zero)))   # column += tan(θx)·row
        Sh[:, 0, 1] = np.tan(np.deg2rad(draws.get("RandYShear", zero)))   # row += tan(θy)·column
        A = Sh @ S @ R @ F
        t = np.stack([draws.get("RandYTranslation", zero), draws.get("RandXTranslation", zero)], -1)
        return A, t

    def __repr__(self) -> str:
        on = [f"{k}={getattr(self, k)!r}" for k in ("RandXReflection", "RandYReflection") + self.RANGES]
        return f"imageDataAugmenter({', '.join(on)}, FillValue={self.FillValue!r})"


def imageDataAugmenter(*args: Any, **kwargs: Any) -> ImageDataAugmenter:
    """MATLAB ``aug = imageDataAugmenter('RandXReflection', true, 'RandRotation', [-10 10], ...)``."""
    names = ("RandXReflection", "RandYReflection", "FillValue") + ImageDataAugmenter.RANGES
    return ImageDataAugmenter(**_parse_pairs("imageDataAugmenter", args, kwargs, names))


# ================================================================================================ resampling
def resample(images: np.ndarray, out_size: tuple[int, int], A_inv: np.ndarray, origin: np.ndarray,
             fill: float) -> np.ndarray:
    """Bilinear resampling of a batch through index maps: out[n, :, i, j] = images[n, :, p] with
    p = A_inv[n] · (i, j) + origin[n] (row, column; pixel centres at integers), ``fill`` outside.

    images: (N, C, H, W); A_inv: (N, 2, 2); origin: (N, 2) → (N, C, OH, OW) float64.
    """
    n, c, h, w = images.shape
    oh, ow = out_size
    i = np.arange(oh, dtype=np.float64)[None, :, None]                    # (1, OH, 1)
    j = np.arange(ow, dtype=np.float64)[None, None, :]                    # (1, 1, OW)
    a = A_inv[:, :, :, None, None]                                        # (N, 2, 2, 1, 1)
    p = np.stack([a[:, 0, 0] * i + a[:, 0, 1] * j + origin[:, 0, None, None],   # source row    (N, OH, OW)
                  a[:, 1, 0] * i + a[:, 1, 1] * j + origin[:, 1, None, None]], -1)  # source column
    r0, c0 = np.floor(p[..., 0]), np.floor(p[..., 1])
    fr, fc = p[..., 0] - r0, p[..., 1] - c0
    out = np.zeros((n, c, oh * ow))
    flat = images.reshape(n, c, h * w).astype(np.float64)
    for dr, dc, wgt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        inside = ((rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)).reshape(n, 1, -1)
        idx = (np.clip(rr, 0, h - 1) * w + np.clip(cc, 0, w - 1)).astype(np.int64).reshape(n, 1, -1)
        vals = np.take_along_axis(flat, np.broadcast_to(idx, (n, c, oh * ow)), axis=2)   # (N, C, OH·OW)
        out += wgt.reshape(n, 1, -1) * np.where(inside, vals, fill)
    out = out.reshape(n, c, oh, ow)
    return out


# ================================================================================================ augmented datastore
_COLOR = ("none", "gray2rgb", "rgb2gray")
_SIZE_MODES = ("resize", "centercrop", "randcrop")


class AugmentedImageDatastore(MiniBatchSource):
    """MATLAB ``augmentedImageDatastore``: images of an ImageDatastore (or an array) at ``OutputSize``, with
    optional color preprocessing and random augmentation; ``read(indices)`` → ((B, C, OH, OW), labels)."""

    def __init__(self, output_size: tuple[int, int], images: ImageDatastore | np.ndarray, labels=None, *,
                 augmenter: ImageDataAugmenter | None = None, color: str = "none", size_mode: str = "resize"):
        self.OutputSize = tuple(int(s) for s in output_size)
        self.DataAugmentation = augmenter
        self.ColorPreprocessing, self.OutputSizeMode = color, size_mode
        self.images = images
        if isinstance(images, ImageDatastore):
            self.labels = images.Labels
        else:
            self.labels = None if labels is None else np.asarray(labels)
        self.rng: np.random.Generator | None = None
        self.DispatchInBackground = False  # True: trainNetwork reads it on a reader thread (minidl.training.prefetch)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def classes(self) -> np.ndarray | None:
        """The sorted distinct labels, None without labels."""
        if self.labels is None:
            return None
        return sorted_classes(check_labels(self.labels, len(self), "Labels"), "Labels")

    def use_generator(self, rng: np.random.Generator) -> None:
        """The engine's hook: augmentation and random crops draw from the run's generator from now on."""
        self.rng = rng

    def _decoded(self, indices: np.ndarray) -> list[np.ndarray]:
        if isinstance(self.images, ImageDatastore):
            return self.images.read_images(indices)
        return list(self.images[np.asarray(indices)])

    def _color(self, im: np.ndarray) -> np.ndarray:
        if self.ColorPreprocessing == "gray2rgb" and im.shape[0] == 1:
            return np.repeat(im, 3, axis=0)
        if self.ColorPreprocessing == "rgb2gray" and im.shape[0] == 3:   # MATLAB's rgb2gray weights
            g = np.tensordot(np.array([0.298936021293775, 0.587043074451121, 0.114020904255103]),
                             im.astype(np.float64), axes=1)[None]
            return np.round(g).astype(im.dtype) if im.dtype.kind in "ui" else g
        return im

    def read(self, indices: np.ndarray):
        indices = np.asarray(indices)
        images = [self._color(im) for im in self._decoded(indices)]
        groups: dict[tuple, list[int]] = {}
        for k, im in enumerate(images):
            groups.setdefault(im.shape, []).append(k)
        n, rng = len(images), self.rng
        draws = self.DataAugmentation.draws(rng, n) if (self.DataAugmentation is not None and rng is not None) \
            else {}
        A, t = (self.DataAugmentation or ImageDataAugmenter()).matrices(draws, n)
        oh, ow = self.OutputSize
        crop = None
        if self.OutputSizeMode == "randcrop" and rng is not None:
            crop = rng.random((n, 2))
        out = np.zeros((n, images[0].shape[0], oh, ow))
        fill = self.DataAugmentation.FillValue if self.DataAugmentation is not None else 0.0
        channels = sorted({c for c, _, _ in groups})
        if len(channels) > 1:
            raise ValueError(f"augmentedImageDatastore: the images have {channels} channels; allowed: one channel "
                             "count (use 'ColorPreprocessing', 'gray2rgb' or 'rgb2gray')")
        for (_, h, w), members in groups.items():           # one vectorized resampling per image size
            m = np.asarray(members)
            centre_in = np.array([(h - 1) / 2, (w - 1) / 2])
            if self.OutputSizeMode == "resize":
                S = np.diag([h / oh, w / ow])               # output pixel → the augmented image at input size
                base = centre_in - S @ np.array([(oh - 1) / 2, (ow - 1) / 2])
            else:
                if oh > h or ow > w:
                    raise ValueError(f"OutputSizeMode '{self.OutputSizeMode}': the output size {oh}x{ow} is larger "
                                     f"than the image {h}x{w}; allowed: 'resize', or a smaller OutputSize")
                S = np.eye(2)
                base = np.tile(np.array([(h - oh) // 2, (w - ow) // 2], dtype=np.float64), (len(m), 1))
                if crop is not None:
                    base = np.floor(crop[m] * np.array([h - oh + 1, w - ow + 1]))
            A_inv = np.linalg.inv(A[m])                     # augmented → source
            # p_src = A⁻¹·(S·o + base − centre − t) + centre
            M = A_inv @ S
            origin = np.einsum("nab,nb->na", A_inv, base - centre_in - t[m]) + centre_in
            out[m] = resample(np.stack([images[k] for k in members]), (oh, ow), M, origin, fill)
        if images[0].dtype.kind in "ui":                    # integer images stay integer (MATLAB's imresize/imwarp)
            info = np.iinfo(images[0].dtype)
            out = np.clip(np.round(out), info.min, info.max).astype(images[0].dtype)
        return out, None if self.labels is None else self.labels[indices]

    def __repr__(self) -> str:
        return (f"augmentedImageDatastore({len(self)} images → {self.OutputSize[0]}x{self.OutputSize[1]}, "
                f"{self.OutputSizeMode}, augmentation {'on' if self.DataAugmentation else 'off'})")


def augmentedImageDatastore(outputSize, data, *args: Any, **kwargs: Any) -> AugmentedImageDatastore:
    """MATLAB ``augimds = augmentedImageDatastore(outputSize, imds, 'DataAugmentation', aug, 'ColorPreprocessing',
    'none', 'OutputSizeMode', 'resize')`` or ``augmentedImageDatastore(outputSize, X, Y, ...)`` with H×W×C×N X.

    outputSize: [h w] (a third element, the channels, is ignored as MATLAB does).
    """
    func = "augmentedImageDatastore"
    size = _int_vector(func, "outputSize", outputSize, (2, 3), 1)[:2]
    labels = None
    if not isinstance(data, ImageDatastore):
        if not hasattr(data, "shape") or np.ndim(data) not in (3, 4):
            raise TypeError(f"{func}: got {type(data).__name__}; allowed: an imageDatastore or H×W×C×N images")
        data = hwcn_to_nchw(np.asarray(data), "X")
        if args and not isinstance(args[0], str):
            labels, args = args[0], args[1:]
    opts = _parse_pairs(func, args, kwargs, ("DataAugmentation", "ColorPreprocessing", "OutputSizeMode",
                                             "DispatchInBackground"))
    aug = opts.get("DataAugmentation", "none")
    if isinstance(aug, str):
        _choice(func, "DataAugmentation", aug, ("none",))
        aug = None
    elif not isinstance(aug, ImageDataAugmenter):
        raise TypeError(f"{func}: 'DataAugmentation': got {type(aug).__name__}; allowed: 'none' or an "
                        "imageDataAugmenter")
    out = AugmentedImageDatastore(tuple(size), data, labels, augmenter=aug,
                                  color=_choice(func, "ColorPreprocessing", opts.get("ColorPreprocessing", "none"),
                                                _COLOR),
                                  size_mode=_choice(func, "OutputSizeMode", opts.get("OutputSizeMode", "resize"),
                                                    _SIZE_MODES))
    background = _to_python(opts.get("DispatchInBackground", False))   # trainNetwork reads it in the background
    if not isinstance(background, (bool, int)) or background not in (0, 1):
        raise TypeError(f"{func}: 'DispatchInBackground': got {opts['DispatchInBackground']!r}; allowed: true or "
                        "false")
    out.DispatchInBackground = bool(background)
    return out
