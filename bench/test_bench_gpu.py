"""The GPU bench: one training step of the documented network in float32 at batch 128 and 1024.

Four ways, each timed per step and counted in kernels and launch calls per step:

- minidl eager (``cuda_graphs="off"``) and minidl with CUDA graphs (``cuda_graphs="on"``): a real ``Trainer`` run
  (SGDM, lr 0.01, momentum 0.9, moving batch-norm statistics, no validation); per step = the median interval
  between ITERATION events after the warm-up, which includes the step's one host read;
- PyTorch-CUDA eager and PyTorch with a whole-step CUDA graph (``torch.cuda.graph``), each step ending with
  ``loss.item()`` (the same one read per step); skipped without a CUDA build of PyTorch.

Kernels per step (GPU side) and launch calls per step (``cudaLaunchKernel``/``cuLaunchKernel``/graph launches, CPU
side) come from PyTorch's profiler (CUPTI sees every CUDA call of the process, CuPy's too); ``None`` without a
CUDA PyTorch.  Results: printed, and written as JSON to ``$MINIDL_BENCH_GPU_OUT`` (bench/device_check.sh sets it).
Target (issue 16): minidl with graphs ≥ 1.0× PyTorch eager at batch 128.

Run: ``python -m pytest bench/test_bench_gpu.py -s`` on a machine with CuPy and a GPU (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import statistics
import time

import numpy as np
import pytest

import minidl as dl
from minidl.backend import gpu_available
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import MaxPooling2D
from minidl.optim import SGDM, ConstantSchedule
from minidl.training import ArraySource, EngineConfig, Observer, Trainer

pytestmark = pytest.mark.skipif(not gpu_available(), reason="CuPy with a CUDA GPU is not available")

BATCHES = (128, 1024)
WARM, STEPS, PROFILED = 8, 40, 5
L = dl.layers
LAUNCH_CALLS = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx", "cudaGraphLaunch",
                "cuGraphLaunch")
RESULTS: dict[str, dict] = {}


def documented_layers() -> list:
    """The documented example network (as bench/test_bench_step.py)."""
    return [L.ImageInput((1, 28, 28)),
            Convolution2D(3, 8, padding="same"), L.BatchNormalization(), L.ReLU(), MaxPooling2D(2, stride=2),
            Convolution2D(3, 16, padding="same"), L.BatchNormalization(), L.ReLU(), MaxPooling2D(2, stride=2),
            Convolution2D(3, 32, padding="same"), L.BatchNormalization(), L.ReLU(),
            L.FullyConnected(10), L.Softmax(), L.ClassificationOutput()]


def _data(batch: int, steps: int):
    rng = np.random.default_rng(1)
    return (rng.standard_normal((batch * steps, 1, 28, 28)).astype(np.float32),
            rng.integers(0, 10, batch * steps))


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


class _Profiler:
    """Counts kernels (GPU side) and launch calls (CPU side) over ``n`` steps with PyTorch's profiler."""

    def __init__(self, n: int):
        self.n, self.prof, self.result = n, None, {"kernels_per_step": None, "launch_calls_per_step": None}
        torch = _torch_cuda()
        if torch is not None:
            from torch.profiler import ProfilerActivity, profile
            self.prof = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])

    def start(self):
        if self.prof is not None:
            self.prof.__enter__()

    def stop(self):
        if self.prof is None:
            return
        self.prof.__exit__(None, None, None)
        from torch.autograd import DeviceType
        events = self.prof.events()
        kernels = sum(1 for e in events if e.device_type == DeviceType.CUDA)
        calls = sum(1 for e in events if e.device_type == DeviceType.CPU and e.name in LAUNCH_CALLS)
        self.result = {"kernels_per_step": round(kernels / self.n, 1),
                       "launch_calls_per_step": round(calls / self.n, 1)}


class _Clock(Observer):
    """Iteration times; the profiler runs over PROFILED iterations after the timed ones."""

    def __init__(self, profiler: _Profiler):
        self.times: list[float] = []
        self.profiler = profiler

    def on_iteration(self, state):
        self.times.append(time.perf_counter())
        if state.iteration == WARM + STEPS:
            self.profiler.start()
        elif state.iteration == WARM + STEPS + PROFILED:
            self.profiler.stop()


def minidl_run(batch: int, mode: str) -> dict:
    X, Y = _data(batch, WARM + STEPS + PROFILED)
    cfg = EngineConfig(optimizer=SGDM(0.9), schedule=ConstantSchedule(0.01), max_epochs=1, batch_size=batch,
                       shuffle="never", device="gpu", dtype="float32", cuda_graphs=mode, validation_frequency=None,
                       validate_first_iteration=False, validate_at_end=False, batch_norm_statistics="moving")
    profiler = _Profiler(PROFILED)
    clock = _Clock(profiler)
    trainer = Trainer(dl.Network(documented_layers()), ArraySource(X, Y), cfg, observers=[clock])
    _, info = trainer.run()
    step = trainer._graph_step
    per_step = float(statistics.median(np.diff(clock.times[WARM:WARM + STEPS + 1])))
    return {"ms_per_step": round(per_step * 1e3, 3), "img_per_s": round(batch / per_step, 1),
            "captured": bool(step is not None and step.graph is not None),
            "capture_failure": None if step is None else step.failed,
            "final_loss": float(info.training_loss[-1]), **profiler.result}


def torch_run(batch: int, graphed: bool) -> dict:
    torch = _torch_cuda()
    if torch is None:
        return {"skipped": "no CUDA build of PyTorch"}
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 10)).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    X, Y = _data(batch, 1)
    sx, st = torch.tensor(X, device="cuda"), torch.tensor(Y, device="cuda")
    xs = [torch.tensor(X, device="cuda") for _ in range(2)]
    ts = [torch.tensor(Y, device="cuda") for _ in range(2)]

    def eager(i):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xs[i % 2]), ts[i % 2])
        loss.backward()
        opt.step()
        return loss.item()

    step = eager
    if graphed:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for i in range(3):
                eager(i)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        try:
            with torch.cuda.graph(graph):
                static_loss = F.cross_entropy(net(sx), st)
                static_loss.backward()
                opt.step()
        except Exception as e:
            return {"skipped": f"capture failed: {type(e).__name__}: {e}"}

        def step(i):
            sx.copy_(xs[i % 2])
            st.copy_(ts[i % 2])
            graph.replay()
            return static_loss.item()

    for i in range(WARM):
        step(i)
    times = []
    for i in range(STEPS):
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
    profiler = _Profiler(PROFILED)
    profiler.start()
    for i in range(PROFILED):
        step(i)
    profiler.stop()
    per_step = statistics.median(times)
    return {"ms_per_step": round(per_step * 1e3, 3), "img_per_s": round(batch / per_step, 1), **profiler.result}


def _write() -> None:
    folder = os.environ.get("MINIDL_BENCH_GPU_OUT")
    if folder:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "bench-gpu.json"), "w") as f:
            json.dump(RESULTS, f, indent=1)


@pytest.mark.parametrize("batch", BATCHES)
def test_gpu_step(batch):
    row = {"minidl eager": minidl_run(batch, "off"), "minidl graphs": minidl_run(batch, "on"),
           "pytorch eager": torch_run(batch, False), "pytorch graphs": torch_run(batch, True)}
    RESULTS[f"batch {batch}"] = row
    _write()
    for name, r in row.items():
        print(f"\n[gpu bench] batch {batch} {name}: {r}")
    assert np.isfinite(row["minidl eager"]["final_loss"]) and np.isfinite(row["minidl graphs"]["final_loss"])
    te = row["pytorch eager"].get("ms_per_step")
    if te:
        row["ratio graphs vs pytorch eager"] = round(te / row["minidl graphs"]["ms_per_step"], 3)
        print(f"[gpu bench] batch {batch}: minidl graphs / PyTorch eager = {row['ratio graphs vs pytorch eager']}")
        _write()
