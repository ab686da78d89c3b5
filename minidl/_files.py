"""Atomic file writes, the one helper every writer uses: a reader sees the old complete file or the new one.

Each writer puts the content in a hidden temporary entry in the target's own folder, flushes it to disk and renames
it over the target (``os.replace`` for files; for folders a rename with the old folder moved aside first). A crash
or an error mid-write leaves the target as it was; the temporary entry is removed on error.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> p = atomic_write_text(os.path.join(d, "a.txt"), "one")
>>> with open(p) as f:
...     f.read()
'one'
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import IO

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_bytes", "atomic_folder", "replace_folder",
           "TEMP_SUFFIX"]

#: Suffix of every temporary entry minidl writes (hidden: the names start with a dot).
TEMP_SUFFIX = ".tmp"


def _folder_of(path: str, arg: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{arg}: the folder of {path!r} does not exist; create it first")
    return folder


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object], *, arg: str = "path",
                 mode: int = 0o644) -> str:
    """Call ``write(f)`` on a temporary binary file beside ``path``, flush it to disk, rename it to ``path``."""
    path = os.fspath(path)
    folder = _folder_of(path, arg)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600 files; a written file should be readable like any other
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, arg: str = "path") -> str:
    """Write ``data`` to ``path`` atomically; returns the path."""
    return atomic_write(path, lambda f: f.write(data), arg=arg)


def atomic_write_text(path: str | os.PathLike, text: str, *, arg: str = "path") -> str:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically; returns the path."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")), arg=arg)


def atomic_folder(parent: str | os.PathLike, name: str, fill: Callable[[str], object], *,
                  arg: str = "path") -> str:
    """Create ``parent/name`` whole: ``fill(tmp)`` writes into a hidden temporary folder, which is then renamed.

    An existing ``name`` is never overwritten: ``__2``, ``__3``, ... is appended.  Returns the final path.
    """
    parent = os.fspath(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"{arg}: {parent!r} is not an existing folder")
    tmp = tempfile.mkdtemp(prefix=f".{name}.", suffix=TEMP_SUFFIX, dir=parent)
    try:
        fill(tmp)
        final, k = os.path.join(parent, name), 1
        while os.path.exists(final):
            k += 1
            final = os.path.join(parent, f"{name}__{k}")
        os.rename(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(path: str | os.PathLike, fill: Callable[[str], object], *, arg: str = "path") -> str:
    """Write the folder ``path`` anew, replacing what is there: written whole under a temporary name, then the old
    folder is moved aside and the new one renamed into place (the old one is removed after)."""
    path = os.path.abspath(os.fspath(path))
    parent, name = os.path.split(path)
    fresh = atomic_folder(parent, f"{name}.new", fill, arg=arg)
    old = None
    if os.path.exists(path):
        old = tempfile.mkdtemp(prefix=f".{name}.old.", suffix=TEMP_SUFFIX, dir=parent)
        os.rmdir(old)
        os.rename(path, old)
    os.rename(fresh, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path
