"""Benchmark environment: BLAS thread count and host allocator, fixed before NumPy is imported, and reported.

Run a bench by path, with timing on (setup.cfg's addopts disable it):

    python -m pytest bench/test_bench_step.py --benchmark-enable -s

Environment knobs (read here, before NumPy loads its BLAS):

- ``MINIDL_BENCH_BLAS_THREADS`` (default 1): OpenBLAS threads for NumPy.  On this 2-core machine one thread is
  stable; two are bimodal (sometimes 10% faster, sometimes several times slower).  Set through threadpoolctl (a
  minidl dependency; the library's own default is recorded first, for bench/test_bench_threads.py), else through
  ``OPENBLAS_NUM_THREADS`` before NumPy is imported (``BLAS_CONTROL`` says which).
- ``MINIDL_BENCH_MALLOC`` (default ``tuned``): ``tuned`` asks glibc to serve arrays below 32 MiB from its heap and
  never to give that memory back (``mallopt(M_MMAP_THRESHOLD, 32 MiB)``, ``mallopt(M_TRIM_THRESHOLD, 1 GiB)``), so
  a training step does not pay page faults for every fresh temporary; ``default`` leaves glibc as it is.  It applies
  to the whole process (minidl and PyTorch alike).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

BLAS_THREADS = int(os.environ.get("MINIDL_BENCH_BLAS_THREADS", "1"))
MALLOC_MODE = os.environ.get("MINIDL_BENCH_MALLOC", "tuned")
#: BLAS threads the library would use by itself (OpenBLAS: one per core, or OPENBLAS_NUM_THREADS), read before the
#: bench limits them; bench/test_bench_threads.py compares training with this against minidl's pinned count.
LIBRARY_DEFAULT_BLAS_THREADS: int | None = None

try:
    import threadpoolctl  # a minidl dependency; the fallback below is for a bare checkout
except ImportError:
    threadpoolctl = None
if threadpoolctl is not None:
    import numpy  # noqa: F401  (load its BLAS so that threadpoolctl sees it)

    counts = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    LIBRARY_DEFAULT_BLAS_THREADS = max(counts) if counts else None
    threadpoolctl.threadpool_limits(BLAS_THREADS, user_api="blas")
    BLAS_CONTROL = f"threadpoolctl.threadpool_limits({BLAS_THREADS}, 'blas') (library default {counts})"
elif "numpy" not in sys.modules:
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(BLAS_THREADS)
    BLAS_CONTROL = f"OPENBLAS_NUM_THREADS={BLAS_THREADS} set before numpy was imported"
else:
    BLAS_CONTROL = "none: numpy was imported before bench/conftest.py (BLAS threads as the environment says)"


def _tune_glibc_malloc() -> str:
    """Keep freed arrays in the heap for reuse instead of returning them to the kernel (glibc only)."""
    if MALLOC_MODE != "tuned":
        return "glibc default"
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        ok = libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024) == 1 and libc.mallopt(m_trim_threshold, 1 << 30) == 1
    except (OSError, AttributeError, TypeError):
        ok = False
    return "mallopt: mmap threshold 32 MiB, trim threshold 1 GiB" if ok else "default (mallopt unavailable)"


MALLOC = _tune_glibc_malloc()


def pytest_report_header(config):
    return [f"minidl bench: BLAS threads: {BLAS_CONTROL}", f"minidl bench: allocator: {MALLOC}"]
