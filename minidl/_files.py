"""Atomic file writes, the one helper every writer uses: a reader sees the old complete file or the new one.

Each writer puts the content in a hidden temporary entry in the target's own folder, flushes it to disk and renames
it over the target (``os.replace`` for files; for folders a rename with the old folder moved aside first). A crash
or an error mid-write leaves the target as it was; the temporary entry is removed on error. A folder replaced in
place is swapped with its new version in one step (Linux ``renameat2(RENAME_EXCHANGE)``), so its path always holds
a complete folder. Temporary entries are named ``.minidl.<pid>.<name>.<random>.tmp``; a process killed mid-write
leaves one behind, and the next write to that folder removes every such entry whose writer is no longer running
(:func:`clean_stale`).

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> p = atomic_write_text(os.path.join(d, "a.txt"), "one")
>>> with open(p) as f:
...     f.read()
'one'
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from typing import IO

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_bytes", "atomic_folder", "replace_folder",
           "clean_stale", "temp_entries", "TEMP_SUFFIX"]

#: Suffix of every temporary entry minidl writes (hidden: the names start with a dot).
TEMP_SUFFIX = ".tmp"
#: A temporary entry of minidl's own naming: ``.minidl.<pid of the writer>.<target name>.<random>.tmp``.
_TEMP = re.compile(r"^\.minidl\.(\d+)\..*\.tmp$", re.DOTALL)
_RENAME_EXCHANGE = 2


def _prefix(name: str) -> str:
    return f".minidl.{os.getpid()}.{name}."


def temp_entries(folder: str | os.PathLike) -> list[str]:
    """Names of the temporary entries of minidl's naming in ``folder`` (of any writer, running or not)."""
    try:
        return sorted(n for n in os.listdir(folder) if _TEMP.match(n))
    except OSError:
        return []


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except (OverflowError, OSError):
        return False
    return True


def clean_stale(folder: str | os.PathLike) -> list[str]:
    """Remove the temporary entries of minidl's naming in ``folder`` whose writing process is not running (left by
    a crash or kill -9 mid-write); returns the names removed.  Entries of running writers are left alone."""
    removed = []
    for name in temp_entries(folder):
        if _running(int(_TEMP.match(name)[1])):
            continue
        full = os.path.join(folder, name)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)
            removed.append(name)
        except FileNotFoundError:  # another process cleaned it first
            pass
    return removed


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _exchange(a: str, b: str) -> bool:
    """Swap the entries ``a`` and ``b`` in one step; False where the system cannot (then nothing changed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), b)


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
    clean_stale(folder)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(os.path.basename(path)), suffix=TEMP_SUFFIX, dir=folder)
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


def write_or_check_stored(path: str | os.PathLike, data: bytes, check: bool) -> int:
    """The tools' stored-data rule (tools/make_*_data.py): with ``check``, compare ``data`` with the file at ``path``
    (exit status 1 and a message on stderr when they differ), else write it atomically; returns the exit status."""
    import hashlib
    import sys

    digest = hashlib.sha256(data).hexdigest()
    if check:
        with open(path, "rb") as fh:
            stored = fh.read()
        if stored != data:
            print(f"{path}: differs from a fresh build (fresh sha256 {digest})", file=sys.stderr)
            return 1
        print(f"{path}: identical to a fresh build, sha256 {digest}")
        return 0
    atomic_write_bytes(path, data)
    print(f"wrote {path}: {len(data)} bytes, sha256 {digest}")
    return 0


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
    clean_stale(parent)
    tmp = tempfile.mkdtemp(prefix=_prefix(name), suffix=TEMP_SUFFIX, dir=parent)
    try:
        fill(tmp)
        final, k = os.path.join(parent, name), 1
        while os.path.exists(final):
            k += 1
            final = os.path.join(parent, f"{name}__{k}")
        os.rename(tmp, final)
        _fsync_dir(parent)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(path: str | os.PathLike, fill: Callable[[str], object], *, arg: str = "path") -> str:
    """Write the folder ``path`` anew, replacing what is there: written whole under a temporary name, then swapped
    with the old folder in one step (the old one, now under the temporary name, is removed after).  Where the
    system has no atomic exchange, the old folder is moved aside and the new one renamed into place."""
    path = os.path.abspath(os.fspath(path))
    parent, name = os.path.split(path)
    if not os.path.isdir(parent):
        raise ValueError(f"{arg}: the folder of {path!r} does not exist; create it first")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{arg}: {path!r} is a file; allowed: a folder path (a checkpoint is a folder)")
    clean_stale(parent)
    tmp = tempfile.mkdtemp(prefix=_prefix(name), suffix=TEMP_SUFFIX, dir=parent)
    try:
        fill(tmp)
        if not os.path.exists(path):
            os.rename(tmp, path)
        elif not _exchange(tmp, path):
            old = tempfile.mkdtemp(prefix=_prefix(name + ".old"), suffix=TEMP_SUFFIX, dir=parent)
            os.rmdir(old)
            os.rename(path, old)
            os.rename(tmp, path)
            tmp = old
        _fsync_dir(parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # on success: the old folder; on error: the unfinished new one
    return path
