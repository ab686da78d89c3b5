"""Named data sets that are downloaded: "MNIST" and "FashionMNIST" (Wolfram's ResourceData names for NetTrain).

Each is fetched **once** into a cache folder and verified by checksum; later calls read the cached files
(docs/wolfram-layers.md, "Named data sets"):

- the cache folder is ``$MINIDL_DATA`` when that environment variable is set, else ``~/.cache/minidl``; a data set
  lives in its own subfolder (``~/.cache/minidl/MNIST/train-images-idx3-ubyte.gz``, ...);
- every file is checked against its published MD5 (the checksums torchvision and the data sets' authors publish)
  after download and before each first read in a process; a file that does not match is an error that names it;
- a download goes to a hidden temporary file renamed into place when complete and verified (``minidl._files``),
  so an interrupted download never leaves a partial file that looks complete;
- with no network the error names the file, its checksum and the folder to place it in (copy the four ``.gz``
  files there by hand and nothing is downloaded).

``load(name, "train")`` gives Wolfram's TrainingData, ``load(name, "test")`` its TestData (``ValidationSet ->
Automatic``): images (N, 1, 28, 28) float32 in [0, 1] and integer labels 0-9 as the IDX files hold them (FashionMNIST's
class names are :data:`FASHION_CLASSES`, by label).
"""

from __future__ import annotations

import functools
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np

from minidl._files import atomic_write

__all__ = ["CACHE_ENV", "RemoteDataSet", "REMOTE", "FASHION_CLASSES", "cache_folder", "fetch", "load"]

#: The environment variable naming the cache folder (default ``~/.cache/minidl``).
CACHE_ENV = "MINIDL_DATA"


@dataclass(frozen=True)
class RemoteDataSet:
    """A data set of IDX files: where to download them (mirrors, tried in order) and each file's MD5."""

    name: str
    mirrors: tuple[str, ...]
    files: dict[str, str]          # file name -> MD5 hex digest
    description: str = ""


_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz")

#: The downloadable named data sets.
REMOTE: dict[str, RemoteDataSet] = {
    "MNIST": RemoteDataSet(
        "MNIST", ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                  "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        dict(zip(_IDX, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                        "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
        "60000 handwritten digits (N, 1, 28, 28) -> labels 0-9; TestData: 10000 more (downloaded once)"),
    "FashionMNIST": RemoteDataSet(
        "FashionMNIST", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        dict(zip(_IDX, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                        "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
        "60000 clothing images (N, 1, 28, 28) -> labels 0-9 (FASHION_CLASSES); TestData: 10000 more (downloaded "
        "once)"),
}

#: FashionMNIST's class names, by label.
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


def cache_folder() -> str:
    """``$MINIDL_DATA`` if set (and not empty), else ``~/.cache/minidl`` (not created here)."""
    return os.path.abspath(os.path.expanduser(os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "minidl")))


def _md5(path: str) -> str:
    h = hashlib.md5(usedforsecurity=False)  # the published checksums are MD5: integrity, not security
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(url: str, path: str, expected: str, timeout: float) -> None:
    """url → path through a temporary file; the file is renamed into place only when its MD5 is ``expected``."""
    h = hashlib.md5(usedforsecurity=False)

    def write(f):
        with urllib.request.urlopen(url, timeout=timeout) as response:   # noqa: S310 (http(s) mirrors only)
            for block in iter(lambda: response.read(1 << 20), b""):
                h.update(block)
                f.write(block)
        if h.hexdigest() != expected:
            raise ValueError(f"{os.path.basename(path)}: downloaded from {url} with MD5 {h.hexdigest()}; expected "
                             f"{expected} (the file was not kept)")

    atomic_write(path, write, arg="path")


def fetch(name: str, *, timeout: float = 60.0) -> str:
    """The folder holding data set ``name``'s files, verified; files not there yet are downloaded (once).

    Raises:
        ValueError: ``name`` is not in :data:`REMOTE`, or a file's checksum does not match.
        ConnectionError: a file is missing and no mirror could be reached; the message names the file, its MD5
            and the folder to place it in.
    """
    if name not in REMOTE:
        raise ValueError(f"name: got {name!r}; allowed: {', '.join(REMOTE)}")
    ds = REMOTE[name]
    folder = os.path.join(cache_folder(), ds.name)
    os.makedirs(folder, exist_ok=True)
    for file, expected in ds.files.items():
        path = os.path.join(folder, file)
        if not os.path.exists(path):
            failures = []
            for mirror in ds.mirrors:
                url = mirror.rstrip("/") + "/" + file
                try:
                    _download(url, path, expected, timeout)
                    break
                except (urllib.error.URLError, OSError) as e:  # unreachable, refused, HTTP error, timeout
                    failures.append(f"{url} ({getattr(e, 'reason', e)})")
            else:
                raise ConnectionError(f"data set {name!r}: could not download {file} ({'; '.join(failures)}); "
                                      f"without a network, place the file {file} (MD5 {expected}) in {folder} "
                                      f"(the cache folder: ${CACHE_ENV}, else ~/.cache/minidl)")
        _verify(path, expected, name)
    return folder


_VERIFIED: set[tuple[str, int, int, str]] = set()   # (path, size, mtime_ns, md5) checked in this process


def _verify(path: str, expected: str, name: str) -> None:
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns, expected)
    if key in _VERIFIED:
        return
    got = _md5(path)
    if got != expected:
        raise ValueError(f"data set {name!r}: {path} has MD5 {got}; expected {expected} (delete it to download it "
                         "again, or place the right file there)")
    _VERIFIED.add(key)


@functools.lru_cache(maxsize=4)
def _arrays(name: str, folder: str) -> tuple[np.ndarray, ...]:
    from minidl.datasets import load_mnist

    arrays = load_mnist(folder)
    for a in arrays:
        a.flags.writeable = False   # shared by every caller of this process: read-only (copy to modify)
    return arrays


def load(name: str, which: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) of ``name``: ``which`` "train" (TrainingData) or "test" (TestData); read-only arrays, cached per
    process.  X: (N, 1, 28, 28) float32 in [0, 1]; Y: (N,) int64 labels."""
    if which not in ("train", "test"):
        raise ValueError(f"which: got {which!r}; allowed: 'train', 'test'")
    folder = fetch(name) if name in REMOTE else None
    if folder is None:
        raise ValueError(f"name: got {name!r}; allowed: {', '.join(REMOTE)}")
    X_train, y_train, X_test, y_test = _arrays(name, folder)
    return (X_train, y_train) if which == "train" else (X_test, y_test)
