"""The engine's step on the CPU, per-array (as before issue 16) against flat buffers and the fused pass, interleaved.

Both sides run the documented network of bench/test_bench_step.py (float32, batch 128): forward, backward, then
the engine's work around the optimizer.  Per array: the audit norm over the arrays, a backup copy and an all-finite
check per array, ``optimizer.step`` per array.  Flat: the gradients gathered into the flat buffer (one
concatenation), one norm, one backup copy, the fused pass (minidl.optim.flat.FlatStep), one all-finite check.
Run: ``python -m pytest bench/test_bench_flat.py --benchmark-enable -s`` (numbers in docs/gpu.md#launches).
"""

from __future__ import annotations

import numpy as np
import pytest
import test_bench_step as S

from minidl.optim import SGDM, Adam, GradientPipeline, global_norm
from minidl.optim.flat import FlatStep


def per_array_step(opt, x, t):
    net = S.documented_network("float32", x)
    pipe = GradientPipeline()
    backup = {k: np.empty_like(p) for k, p in net.params.items()}

    def step():
        y = net.forward(x, training=True)
        net.backward(y, t)
        params, grads = net.params, net.grads
        norm = global_norm(grads)
        for k, p in params.items():
            np.copyto(backup[k], p)
        pipe(grads, params)
        opt.step(params, grads, 0.01)
        ok = None
        for p in params.values():
            f = np.isfinite(p).all()
            ok = f if ok is None else ok & f
        return norm, ok

    return step


def flat_step(opt, x, t):
    net = S.documented_network("float32", x)
    (group,) = net.flat_buffers()
    backup = np.empty_like(group.params)
    fused = FlatStep(GradientPipeline(), opt)

    def step():
        y = net.forward(x, training=True)
        net.backward(y, t)
        (g,) = net.gather_grads()
        norm = np.sqrt(np.dot(g.grads, g.grads))
        np.copyto(backup, g.params)
        fused(g.layout, g.params, g.grads, 0.01)
        return norm, np.isfinite(g.params).all()

    return step


@pytest.mark.parametrize("method", ["sgdm", "adam"])
def test_flat_step_against_the_per_array_step_cpu(benchmark, method):
    x, t = S._data()
    make = {"sgdm": lambda: SGDM(0.9), "adam": Adam}[method]
    flat, per_array = flat_step(make(), x, t), per_array_step(make(), x, t)
    mine, theirs = S._interleaved(benchmark, flat, per_array)
    assert np.isfinite(flat()[0]) and np.isfinite(per_array()[0])
    info = {"per_array_ms": round(theirs * 1e3, 3)}
    if mine is not None:
        info.update(flat_ms=round(mine * 1e3, 3), time_ratio_flat_over_per_array=round(mine / theirs, 3))
    benchmark.extra_info.update(info)
    print(f"\n[flat {method}] flat {info.get('flat_ms')} ms/step, per array {info['per_array_ms']} ms/step, "
          f"ratio {info.get('time_ratio_flat_over_per_array')}")


def _update_parts(opt_flat, opt_per_array, x, t):
    """The work after backward only, on two networks with gradients from one backward each: (flat, per array)
    closures, and a ``refresh`` that gives the flat network's layers new gradient arrays (as a backward does)."""
    nets = [S.documented_network("float32", x) for _ in range(2)]
    for net in nets:
        net.backward(net.forward(x, training=True), t)
    net_f, net_p = nets
    (group,) = net_f.flat_buffers()
    fresh = {(layer.name, k): g.copy() for layer in net_f.layers for k, g in layer.grads.items()}

    def refresh():
        for layer in net_f.layers:
            for k in layer.grads:
                layer.grads[k] = fresh[(layer.name, k)].copy()

    def flat():
        (g,) = net_f.gather_grads()
        norm = np.sqrt(np.dot(g.grads, g.grads))
        np.copyto(backup_f, g.params)
        fused(g.layout, g.params, g.grads, 1e-6)
        return norm, np.isfinite(g.params).all()

    backup_f, fused = np.empty_like(group.params), FlatStep(GradientPipeline(), opt_flat)
    backup_p, pipe = {k: np.empty_like(p) for k, p in net_p.params.items()}, GradientPipeline()

    def per_array():
        params, grads = net_p.params, net_p.grads
        norm = global_norm(grads)
        for k, p in params.items():
            np.copyto(backup_p[k], p)
        pipe(grads, params)
        opt_per_array.step(params, grads, 1e-6)
        ok = None
        for p in params.values():
            f = np.isfinite(p).all()
            ok = f if ok is None else ok & f
        return norm, ok

    return flat, per_array, refresh


@pytest.mark.parametrize("method", ["sgdm", "adam"])
def test_the_update_alone_flat_against_per_array_cpu(method):
    """Median microseconds of the work after backward, 300 interleaved rounds (timing printed, never asserted)."""
    import statistics
    import time
    x, t = S._data()
    make = {"sgdm": lambda: SGDM(0.9), "adam": Adam}[method]
    flat, per_array, refresh = _update_parts(make(), make(), x, t)
    times: dict[str, list[float]] = {"flat": [], "per_array": []}
    for _ in range(300):
        refresh()
        t0 = time.perf_counter()
        flat()
        times["flat"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        per_array()
        times["per_array"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    assert all(np.isfinite(v) for v in med.values())
    print(f"\n[update {method}] flat {med['flat']:.1f} µs, per array {med['per_array']:.1f} µs (medians)")
