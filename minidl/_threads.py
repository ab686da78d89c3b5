"""The BLAS thread count while minidl trains: the one it measured best for its hot loops, the caller's restored after.

minidl's hot loops are many small, thin matrix products (convolutions as F × C·KH·KW by C·KH·KW × N·OH·OW with
F = 8…32, batch-norm channel sums) between elementwise NumPy passes. Extra BLAS threads barely speed such products
up, and the threads they wake compete with NumPy's own single-threaded work: on the 2-core development machine the
documented example (``python -m minidl``) takes 24–44 s with OpenBLAS's default (one thread per core) and
12.5–15.5 s with one thread (docs/performance.md, "BLAS threads"). So training runs with
:data:`DEFAULT_BLAS_THREADS` BLAS threads unless told otherwise, and the caller's setting is put back afterwards.

Which count applies, first match wins:

1. the ``threads`` argument of :func:`training_threads` (a trainer option passes it through);
2. the environment variable ``MINIDL_BLAS_THREADS``;
3. :data:`DEFAULT_BLAS_THREADS`.

Each is a positive int, or ``"keep"``: leave the BLAS threads as the caller has them (minidl changes nothing).
The limit is applied with threadpoolctl to every BLAS library loaded in the process (NumPy's OpenBLAS or MKL); it
does not touch CuPy, whose work runs on the GPU.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["DEFAULT_BLAS_THREADS", "ENV_VAR", "KEEP", "resolve_blas_threads", "training_threads"]

#: BLAS threads while training when neither the argument nor the environment says otherwise (measured best).
DEFAULT_BLAS_THREADS = 1
#: The environment variable that overrides the default (the argument overrides both).
ENV_VAR = "MINIDL_BLAS_THREADS"
#: The value meaning "leave the caller's BLAS threads as they are".
KEEP = "keep"


def _parse(value: object, name: str) -> int | None:
    """A positive int, or None for "keep"; value comes from name (the argument or the environment variable)."""
    allowed = f"allowed: a positive int (BLAS threads while training) or {KEEP!r} (leave the caller's setting)"
    shown = repr(value)
    if isinstance(value, str):
        text = value.strip()
        shown = repr(text)
        if text.lower() == KEEP:
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{name} must be a positive int or {KEEP!r}, got {text!r}; {allowed}") from None
    elif isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int or {KEEP!r}, got {type(value).__name__} {value!r}; {allowed}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int or {KEEP!r}, got {shown}; {allowed}")
    return int(value)


def resolve_blas_threads(threads: int | str | None = None) -> int | None:
    """The BLAS thread count training will use: an int, or None for "keep the caller's".

    threads: the explicit choice (a positive int or ``"keep"``); None defers to ``MINIDL_BLAS_THREADS``, then to
    :data:`DEFAULT_BLAS_THREADS`.

    >>> resolve_blas_threads(3), resolve_blas_threads("keep")
    (3, None)
    """
    if threads is not None:
        return _parse(threads, "threads")
    env = os.environ.get(ENV_VAR)
    if env is not None and env.strip() != "":
        return _parse(env, f"environment variable {ENV_VAR}")
    return DEFAULT_BLAS_THREADS


@contextlib.contextmanager
def training_threads(threads: int | str | None = None) -> Iterator[int | None]:
    """Run the with-block with minidl's BLAS thread count, then restore the caller's.

    threads: a positive int, ``"keep"``, or None (``MINIDL_BLAS_THREADS``, else :data:`DEFAULT_BLAS_THREADS`).
    Yields the count in force (None for "keep"). Errors in threads or in the environment variable are raised
    before anything changes.

    >>> with training_threads(1) as n:
    ...     n
    1
    """
    n = resolve_blas_threads(threads)
    if n is None:
        yield None
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield n
