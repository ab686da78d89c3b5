"""One training step of an LSTM sequence classifier, minidl (float32 and float64) against PyTorch on the CPU.

sequence input 12 channels, T 100 → LSTM 100 hidden units, output mode "last" → FC 5 → softmax → cross-entropy;
N 64, SGDM (lr 0.01, momentum 0.9).  Each round runs the other steps (timed here, in pytest-benchmark's untimed
setup; PyTorch with 2 threads, as bench/test_bench_step.py, and with 1, as minidl's BLAS here) and then minidl
float32's (timed by pytest-benchmark), so all see the same machine state.  Sequences/s of each
and their ratios are printed and stored in the benchmark's ``extra_info``.  Target: minidl ≥ 0.5× PyTorch.
A second test times minidl float32 alone with 1 and 2 BLAS threads, interleaved.
Run: ``python -m pytest bench/test_bench_lstm.py --benchmark-enable -s``.
"""

from __future__ import annotations

import statistics
import time

import conftest
import numpy as np
import pytest

import minidl as dl
from minidl.optim import SGDM

N, C, T, HIDDEN, K = 64, 12, 100, 100, 5
ROUNDS, WARMUP = 20, 3
L = dl.layers


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((N, C, T)), rng.integers(0, K, N)


def minidl_step(dtype: str, x: np.ndarray, t: np.ndarray):
    """A closure running one minidl training step: forward, loss gradient, backward, SGDM update."""
    net = dl.Network([L.SequenceInput(C), L.LSTM(HIDDEN, output_mode="last"), L.FullyConnected(K), L.Softmax(),
                      L.ClassificationOutput()])
    net.initialize(rng=np.random.default_rng(0), dtype=dtype)
    opt = SGDM(momentum=0.9)
    xb = x.astype(dtype)

    def step():
        y = net.forward(xb, training=True)
        net.backward(y, t)
        opt.step(net.params, net.grads, learning_rate=0.01)
        return y

    return net, step


def torch_step(x: np.ndarray, t: np.ndarray, threads: int = 2):
    """The same network and step in PyTorch (float32, ``threads`` threads, set before each step)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lstm, fc = torch.nn.LSTM(C, HIDDEN, batch_first=True), torch.nn.Linear(HIDDEN, K)
    params = list(lstm.parameters()) + list(fc.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    xt = torch.tensor(x.transpose(0, 2, 1), dtype=torch.float32)   # (N, T, C)
    tt = torch.tensor(t)

    def step():
        torch.set_num_threads(threads)
        opt.zero_grad()
        _, (h, _) = lstm(xt)
        loss = torch.nn.functional.cross_entropy(fc(h[0]), tt)
        loss.backward()
        opt.step()
        return loss

    return params, step


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def test_lstm_step_minidl_vs_pytorch_cpu(benchmark):
    x, t = _data()
    net32, step32 = minidl_step("float32", x, t)
    _, step64 = minidl_step("float64", x, t)
    tparams, tstep = torch_step(x, t)
    _, tstep1 = torch_step(x, t, threads=1)
    assert sum(int(np.prod(p.shape)) for p in net32.params.values()) + 4 * HIDDEN == \
        sum(p.numel() for p in tparams)  # the same network (PyTorch has a second LSTM bias)
    others: dict[str, list[float]] = {"torch": [], "torch1": [], "float64": []}

    def setup():
        others["torch"].append(_timed(tstep))
        others["torch1"].append(_timed(tstep1))
        others["float64"].append(_timed(step64))

    for _ in range(WARMUP):
        step32(), step64(), tstep(), tstep1()
    benchmark.pedantic(step32, setup=setup, rounds=ROUNDS, iterations=1)
    stats = getattr(benchmark, "stats", None)
    mine = stats.stats.median if stats is not None else None  # None when run with --benchmark-disable
    torch_s, f64_s = statistics.median(others["torch"]), statistics.median(others["float64"])
    torch1_s = statistics.median(others["torch1"])
    assert np.isfinite(net32.loss(step32(), t))
    info = {"blas": conftest.BLAS_CONTROL, "allocator": conftest.MALLOC, "torch_threads": 2,
            "torch_seq_per_s": round(N / torch_s, 1), "minidl_float64_seq_per_s": round(N / f64_s, 1),
            "ratio_float64_over_torch": round(torch_s / f64_s, 3), "torch_1_thread_seq_per_s": round(N / torch1_s, 1)}
    if mine is not None:
        info.update(minidl_float32_seq_per_s=round(N / mine, 1), ratio_float32_over_torch=round(torch_s / mine, 3),
                    ratio_float32_over_torch_1_thread=round(torch1_s / mine, 3))
    benchmark.extra_info.update(info)
    print(f"\n[lstm] minidl float32 {info.get('minidl_float32_seq_per_s')} seq/s, float64 "
          f"{info['minidl_float64_seq_per_s']} seq/s, PyTorch-CPU {info['torch_seq_per_s']} seq/s (2 threads), "
          f"{info['torch_1_thread_seq_per_s']} seq/s (1 thread); ratio float32 {info.get('ratio_float32_over_torch')} "
          f"(vs 1 thread {info.get('ratio_float32_over_torch_1_thread')}), float64 "
          f"{info['ratio_float64_over_torch']} ({info['blas']}; {info['allocator']})")


def test_lstm_step_minidl_blas_threads():
    """minidl float32's step with 1 and with 2 BLAS threads, interleaved round by round (threadpoolctl); reports
    the medians and their ratio (asserts nothing about speed: docs/performance.md, "BLAS threads")."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    x, t = _data()
    _, step = minidl_step("float32", x, t)
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(WARMUP):
        step()
    for _ in range(ROUNDS):
        for threads in (1, 2):
            with threadpoolctl.threadpool_limits(threads, user_api="blas"):
                times[threads].append(_timed(step))
    one, two = statistics.median(times[1]), statistics.median(times[2])
    assert one > 0 and two > 0
    print(f"\n[lstm blas threads] minidl float32 {N / one:.1f} seq/s with 1 BLAS thread, {N / two:.1f} with 2; "
          f"2 / 1 = {one / two:.3f}")
