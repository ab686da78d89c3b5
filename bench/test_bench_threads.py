"""BLAS threads while training: one epoch of the documented example with the BLAS library's default thread count
(OpenBLAS: one per core) against minidl's pinned count (``minidl._threads.training_threads()``), interleaved.

    python -m pytest bench/test_bench_threads.py --benchmark-enable -s

Prints the median epoch time of each and their ratio (default / pinned; above 1 means pinning is faster) and stores
them in pytest-benchmark's ``extra_info``. It reports and asserts nothing about speed: a shared machine's noise must
not fail a bench. Measured on the 2-core development machine: see docs/performance.md, "BLAS threads".
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
import threadpoolctl
from conftest import LIBRARY_DEFAULT_BLAS_THREADS

from minidl import _threads
from minidl.__main__ import example_layers
from minidl.datasets import digit_train_data
from minidl.training import train_network, training_options

ROUNDS = 3


def _epoch(X, labels) -> float:
    """Seconds for one epoch of train_network on the documented example (5000 digits, mini-batch 128, sgdm)."""
    opts = training_options("sgdm", max_epochs=1, verbose=False, shuffle="once", seed=0)
    t = time.perf_counter()
    train_network(X, labels, example_layers(), opts)
    return time.perf_counter() - t


@pytest.mark.skipif(LIBRARY_DEFAULT_BLAS_THREADS is None, reason="threadpoolctl sees no BLAS library")
def test_default_blas_threads_against_pinned(benchmark, monkeypatch):
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    X, labels, _ = digit_train_data()
    default, pinned = [], []

    def once():
        with threadpoolctl.threadpool_limits(LIBRARY_DEFAULT_BLAS_THREADS, user_api="blas"):
            default.append(_epoch(X, labels))
        with _threads.training_threads() as n:
            pinned.append(_epoch(X, labels))
        once.pinned_threads = n

    benchmark.pedantic(once, rounds=ROUNDS, iterations=1)
    d, p = statistics.median(default), statistics.median(pinned)
    benchmark.extra_info.update(default_threads=LIBRARY_DEFAULT_BLAS_THREADS, pinned_threads=once.pinned_threads,
                                default_epoch_s=d, pinned_epoch_s=p, default_over_pinned=d / p,
                                default_all_s=default, pinned_all_s=pinned)
    print(f"\none epoch, medians of {ROUNDS} interleaved: library default ({LIBRARY_DEFAULT_BLAS_THREADS} BLAS "
          f"threads) {d:.2f} s, minidl pinned ({once.pinned_threads}) {p:.2f} s, default/pinned {d / p:.2f}x "
          f"(all: {np.round(default, 2).tolist()} vs {np.round(pinned, 2).tolist()})")
