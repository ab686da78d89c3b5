"""One training epoch of the documented example network (5000 digits, mini-batch 128, sgdm): the engine's loop
(``train_network``) against the raw step it wraps and against the same training in PyTorch on the CPU.

    python -m pytest bench/test_bench_epoch.py --benchmark-enable -s

Engine overhead = (time of train_network's 39 iterations) / (time of the same 39 raw steps) − 1. The raw step is
forward → loss → backward → L2 → optimizer step on the same mini-batches (gathered the same way). The engine adds
the audit (gradient norm, accuracy, the one host read, the finiteness check), events and observers. The
input-statistics and batch-norm population passes are outside the iterations and reported apart.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import pytest

from minidl import train_network, training_options
from minidl.__main__ import example_layers
from minidl.datasets import digit_train_data
from minidl.network import Network
from minidl.optim import SGDM, GradientPipeline
from minidl.training import Observer
from minidl.training import events as ev

B, SEED = 128, 0


def data():
    X, labels, _ = digit_train_data()
    return X.copy(), labels.astype(np.int64)  # writable copies (the cached arrays are read-only)


class LoopClock(Observer):
    """Wall time from START to the last iteration's event (the loop alone)."""

    def on_event(self, state):
        if state.event == ev.START:
            self.t0 = time.perf_counter()
        elif state.event == ev.EPOCH_END:
            self.loop = time.perf_counter() - self.t0


def engine_epoch(X, labels) -> tuple[float, float]:
    """(loop seconds, whole train_network seconds) of one epoch."""
    clock = LoopClock()
    opts = training_options("sgdm", max_epochs=1, mini_batch_size=B, verbose=False, shuffle="once", seed=SEED)
    t = time.perf_counter()
    train_network(X, labels, example_layers(), opts, observers=[clock])
    return clock.loop, time.perf_counter() - t


def raw_epoch(X, labels) -> float:
    """The same 39 steps without the engine: gather, forward, loss, backward, L2, sgdm step."""
    rng = np.random.default_rng(SEED)
    net = Network(example_layers())
    net.input_layer.set_statistics([X])
    net.initialize((1, 28, 28), rng=rng, dtype="float32")
    order = rng.permutation(len(X))
    opt, pipe = SGDM(0.9), GradientPipeline(l2=1e-4, l2_factors=net.l2_factors)
    factors = net.learn_rate_factors
    net.layers[1].compute_input_gradient = False  # as the engine does: nothing before the first layer learns
    t = time.perf_counter()
    for k in range(len(X) // B):
        idx = order[k * B:(k + 1) * B]
        x, y = X[idx], labels[idx]
        out = net.forward(x, training=True)
        net.loss_array(out, y)
        net.backward(out, y)
        grads = net.grads
        pipe(grads, net.params)
        opt.step(net.params, grads, 0.01, factors)
    return time.perf_counter() - t


def torch_epoch(X, labels, threads: int | None = None) -> float:
    """The same network and training in PyTorch (float32, CPU; ``threads``: torch's thread count, None: as set)."""
    import torch
    from torch import nn

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    mean = torch.from_numpy(X.mean(axis=0, keepdims=True))
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(labels)
    order = torch.from_numpy(np.random.default_rng(SEED).permutation(len(X)))
    model.train()
    t = time.perf_counter()
    for k in range(len(X) // B):
        idx = order[k * B:(k + 1) * B]
        opt.zero_grad()
        loss = loss_fn(model(Xt[idx] - mean), Yt[idx])
        loss.backward()
        opt.step()
        loss.item()  # the reported value, as the engine reads it
    return time.perf_counter() - t


def test_bench_train_network_epoch(benchmark):
    X, labels = data()
    benchmark.pedantic(engine_epoch, args=(X, labels), rounds=3, iterations=1)


def test_bench_raw_step_epoch(benchmark):
    X, labels = data()
    benchmark.pedantic(raw_epoch, args=(X, labels), rounds=3, iterations=1)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
def test_bench_torch_epoch(benchmark):
    X, labels = data()
    benchmark.pedantic(torch_epoch, args=(X, labels), rounds=3, iterations=1)


def test_engine_overhead_and_pytorch_ratio(benchmark):
    """Interleaved repeats in one run; the best of each (least disturbed by other load) is compared."""
    X, labels = data()
    loops, wholes, raws, torches = [], [], [], []
    have_torch = importlib.util.find_spec("torch") is not None

    def once():
        loop, whole = engine_epoch(X, labels)
        loops.append(loop)
        wholes.append(whole)
        raws.append(raw_epoch(X, labels))
        if have_torch:
            torches.append(torch_epoch(X, labels))

    benchmark.pedantic(once, rounds=5, iterations=1)
    overhead = min(loops) / min(raws) - 1
    benchmark.extra_info.update(engine_loop_s=min(loops), train_network_s=min(wholes), raw_s=min(raws),
                                engine_overhead=overhead)
    line = (f"epoch of the documented example: engine loop {min(loops):.3f} s, raw steps {min(raws):.3f} s "
            f"(overhead {100 * overhead:+.1f} %), whole train_network {min(wholes):.3f} s")
    if torches:
        benchmark.extra_info.update(torch_s=min(torches), minidl_over_torch=min(loops) / min(torches))
        line += f", PyTorch {min(torches):.3f} s (minidl/PyTorch {min(loops) / min(torches):.2f}x)"
    print("\n" + line)
