"""One training step of the documented example network, minidl against PyTorch on the CPU, interleaved.

imageInput 28×28×1 → conv 3×3 8 'same' → BN → ReLU → maxpool 2/2 → conv 3×3 16 'same' → BN → ReLU → maxpool 2/2
→ conv 3×3 32 'same' → BN → ReLU → FC 10 → softmax → cross-entropy; batch 128, SGDM (lr 0.01, momentum 0.9).

Each round runs one PyTorch step (timed here, in pytest-benchmark's untimed setup) and then one minidl step (timed
by pytest-benchmark), so both see the same machine state.  Images/s of each and their ratio are printed and stored
in the benchmark's ``extra_info``.  Run: ``python -m pytest bench/test_bench_step.py --benchmark-enable -s``.
"""

from __future__ import annotations

import statistics
import time

import conftest
import numpy as np
import pytest

import minidl as dl
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import MaxPooling2D
from minidl.optim import SGDM

BATCH, ROUNDS, WARMUP = 128, 60, 5
L = dl.layers


def documented_network(dtype: str, x: np.ndarray) -> dl.Network:
    """The example network of the documentation, initialized for ``x`` (its zero-center mean taken from x)."""
    net = dl.Network([
        L.ImageInput((1, 28, 28)),
        Convolution2D(3, 8, padding="same"), L.BatchNormalization(), L.ReLU(), MaxPooling2D(2, stride=2),
        Convolution2D(3, 16, padding="same"), L.BatchNormalization(), L.ReLU(), MaxPooling2D(2, stride=2),
        Convolution2D(3, 32, padding="same"), L.BatchNormalization(), L.ReLU(),
        L.FullyConnected(10), L.Softmax(), L.ClassificationOutput()])
    net.input_layer.set_statistics([x])
    return net.initialize(rng=np.random.default_rng(0), dtype=dtype)


def minidl_step(dtype: str, x: np.ndarray, t: np.ndarray):
    """A closure running one minidl training step: forward, loss gradient, backward, SGDM update."""
    net = documented_network(dtype, x)
    opt = SGDM(momentum=0.9)
    xb = x.astype(dtype)

    def step():
        y = net.forward(xb, training=True)
        net.backward(y, t)
        opt.step(net.params, net.grads, learning_rate=0.01)
        return y

    return net, step


def torch_step(x: np.ndarray, t: np.ndarray):
    """The same network and step in PyTorch (float32, 2 threads)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    xt = torch.tensor(x - x.mean(axis=0), dtype=torch.float32)  # zero-center, as minidl's image input does
    tt = torch.tensor(t)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt), tt)  # log-softmax + NLL: softmax and the loss together
        loss.backward()
        opt.step()
        return loss

    return net, step


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, BATCH)


def _interleaved(benchmark, timed, other) -> tuple[float | None, float]:
    """Median seconds per step of ``timed`` (pytest-benchmark) and of ``other`` (run just before each round)."""
    other_times = []

    def setup():
        t0 = time.perf_counter()
        other()
        other_times.append(time.perf_counter() - t0)

    for _ in range(WARMUP):
        timed()
        other()
    benchmark.pedantic(timed, setup=setup, rounds=ROUNDS, iterations=1)
    stats = getattr(benchmark, "stats", None)
    mine = stats.stats.median if stats is not None else None  # None when run with --benchmark-disable
    return mine, statistics.median(other_times)


def _layer_profile(net: dl.Network, x, t, steps: int = 20) -> dict[str, float]:
    """Milliseconds per step spent in each layer's forward and backward (the optimizer update separately)."""
    spent: dict[str, float] = {}
    opt = SGDM(momentum=0.9)
    for _ in range(steps):
        y = x
        for layer in net.layers:
            t0 = time.perf_counter()
            y = layer.forward(y, training=True)
            spent[f"{layer.name} forward"] = spent.get(f"{layer.name} forward", 0.0) + time.perf_counter() - t0
        dy = net.output_layer.loss_gradient(y, t)
        for layer in reversed(net.layers[1:-1]):
            t0 = time.perf_counter()
            dy = layer.backward(dy)
            spent[f"{layer.name} backward"] = spent.get(f"{layer.name} backward", 0.0) + time.perf_counter() - t0
        t0 = time.perf_counter()
        opt.step(net.params, net.grads, learning_rate=0.01)
        spent["sgdm update"] = spent.get("sgdm update", 0.0) + time.perf_counter() - t0
    return {k: round(v / steps * 1e3, 3) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}


def test_training_step_minidl_vs_pytorch_cpu(benchmark):
    x, t = _data()
    net, step = minidl_step("float32", x, t)
    tnet, tstep = torch_step(x, t)
    n_params = sum(int(np.prod(p.shape)) for p in net.params.values())
    assert n_params == sum(p.numel() for p in tnet.parameters())  # the same network on both sides
    mine, theirs = _interleaved(benchmark, step, tstep)
    assert np.isfinite(net.loss(step(), t))
    info = {"blas": conftest.BLAS_CONTROL, "allocator": conftest.MALLOC, "torch_threads": 2,
            "torch_img_per_s": round(BATCH / theirs, 1)}
    if mine is not None:
        info.update(minidl_img_per_s=round(BATCH / mine, 1), ratio_minidl_over_torch=round(theirs / mine, 3))
    info["layer_ms"] = _layer_profile(net, x.astype("float32"), t)
    benchmark.extra_info.update(info)
    print(f"\n[step] minidl {info.get('minidl_img_per_s')} img/s, PyTorch-CPU {info['torch_img_per_s']} img/s, "
          f"ratio {info.get('ratio_minidl_over_torch')} ({info['blas']}; {info['allocator']})")
    print("[step] per layer (ms/step):", info["layer_ms"])


def test_training_step_float64_vs_float32(benchmark):
    x, t = _data()
    _, step64 = minidl_step("float64", x, t)
    _, step32 = minidl_step("float32", x, t)
    mine64, mine32 = _interleaved(benchmark, step64, step32)
    info = {"blas": conftest.BLAS_CONTROL, "allocator": conftest.MALLOC,
            "float32_img_per_s": round(BATCH / mine32, 1)}
    if mine64 is not None:
        info.update(float64_img_per_s=round(BATCH / mine64, 1), time_ratio_float64_over_float32=round(mine64 / mine32,
                                                                                                        3))
    benchmark.extra_info.update(info)
    print(f"\n[dtype] minidl float64 {info.get('float64_img_per_s')} img/s, float32 {info['float32_img_per_s']} "
          f"img/s, float64/float32 time {info.get('time_ratio_float64_over_float32')}")
