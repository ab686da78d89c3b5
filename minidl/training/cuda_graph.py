"""The training step restructured so that CUDA can capture it once and replay it (EngineConfig ``cuda_graphs``).

A CUDA graph replays the kernels recorded during one capture on the same memory; Python does not run again. So
every value the step reads or writes must live at a fixed device address, and nothing may depend on host values
that change between iterations. :class:`GraphStep` provides exactly that around the trainer's step:

- the mini-batch is copied into preallocated buffers ``x`` (B, ...) and ``t`` (B,) or (B, R);
- the step is the trainer's own (``Trainer._step``: the flat buffers and FlatStep's one fused pass); the host
  scalars it takes travel in one device vector ``scalars`` (0-d views of it are what the step reads): the learning
  rate and the optimizer's scalars, Adam's bias corrections among them (:func:`scalars_for`);
- layer state (batch-norm running mean and variance) lives in fixed buffers: the step copies the new statistics
  into them (an in-place update), and backs them up at its start for the trainer's rollback;
- everything the trainer reads back (loss, ‖g‖, hits, all-finite flag; per-example losses) is packed into one
  preallocated buffer ``out`` (and ``examples``): one host read per iteration.

Replay equals eager by construction: eager mode runs the same :meth:`GraphStep.body` on the same buffers
("replay = run the step function again"); tests/training/test_cuda_graph.py checks it against the trainer's
ordinary step in float64 on the CPU stand-in.  On CuPy the body is captured on a non-blocking stream
(``stream.begin_capture()`` … ``stream.end_capture()`` → ``cupy.cuda.Graph``, ``graph.launch(stream)``) after
warm-up iterations, every allocation of warm-up and capture coming from a private memory pool kept with the graph
(so the memory the graph writes is never handed to anything else).  Where capture is not possible the step runs
eagerly with a one-line :class:`CudaGraphNotice` (docs/gpu.md#cuda-graphs).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from minidl.backend import get_array_module, to_device
from minidl.optim.adam import Adam
from minidl.optim.flat import fusable
from minidl.optim.sgdm import SGDM

__all__ = ["CudaGraphNotice", "GraphStep", "MODES", "WARMUP_ITERATIONS", "graph_step_for", "ineligible", "scalars_for"]

MODES = ("off", "on", "auto")
WARMUP_ITERATIONS = 3
"""Eager iterations (on the capture stream and the private pool) before the capture: kernels compiled, cuBLAS
handles and workspaces created, the optimizer state allocated, the pool holding every block the step needs."""


class CudaGraphNotice(UserWarning):
    """The training step was not captured as a CUDA graph (or replay stopped); it runs eagerly. One line, once per
    reason and run."""


# ------------------------------------------------------------------------------------------------ eligibility
def ineligible(trainer) -> str | None:
    """Why ``trainer``'s step cannot use the graph-ready form (None: it can)."""
    cfg, net = trainer.config, trainer.net
    if trainer.seq is not None:
        return "sequence networks (their chunk count and state vary)"
    if trainer.graph is not None:
        return "layer graphs (only chains are built)"
    if cfg.update_groups is not None:
        return "update groups (the frozen arrays change between iterations)"
    if cfg.dtype == "mixed":
        return "mixed precision (its loss-scale decision reads the host every step)"
    if any(getattr(layer, "rng", None) is not None or hasattr(layer, "probability") for layer in net.layers):
        return "dropout (its masks come from the host generator)"
    opt = cfg.optimizer
    if type(opt) not in _BUILT or not fusable(opt):
        return f"the optimizer {type(opt).__name__} (built: SGDM, SGD, Adam)"
    return None


def graph_step_for(trainer) -> GraphStep | None:
    """The trainer's :class:`GraphStep` for ``config.cuda_graphs`` (None: the ordinary step).

    'off': None.  'on': a GraphStep where the step can take the graph-ready form (captured on CuPy, run eagerly on
    NumPy and the stand-in, with a notice), else None with a notice naming why.  'auto': a GraphStep on a GPU when
    the step can take the form, silently None otherwise; on a GPU it captures after the warm-up iterations when the
    shapes stayed static (a partial last batch runs eagerly).
    """
    mode = trainer.config.cuda_graphs
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{trainer.config.name('cuda_graphs')}: got {mode!r}; allowed: {', '.join(map(repr, MODES))}")
    if mode == "off" or (mode == "auto" and trainer.device.name != "gpu"):
        return None
    why = ineligible(trainer)
    if why is not None:
        if mode == "on":
            warnings.warn(f"cuda_graphs 'on': not for {why}; the step runs eagerly", CudaGraphNotice, stacklevel=3)
        return None
    return GraphStep(trainer, mode)


# ------------------------------------------------------------------------------------------------ device scalars
def scalars_for(optimizer, lr: float) -> np.ndarray:
    """The per-iteration host values of the step, at ``optimizer``'s current step count ``t`` (already counted):
    ``[lr, *optimizer.scalars()]``, what :class:`~minidl.optim.flat.FlatStep` gives its fused pass as numbers in the
    ordinary step; the graph step uploads them into one device vector and passes 0-d views of it instead.

    SGDM, SGD: [lr, γ];  Adam: [lr, β1, β2, ε, s_div, c2, c1] with c1 = 1−β1ᵗ and 'matlab' s_div = 1, c2 = √(1−β2ᵗ),
    'paper' s_div = 1−β2ᵗ, c2 = 1 (:meth:`minidl.optim.Adam.scalars`).
    """
    return np.array([lr, *optimizer.scalars()], dtype=np.float64)


def _sgd_class():
    from minidl.optim.sgd import SGD
    return SGD


_BUILT = (SGDM, _sgd_class(), Adam)
"""The optimizers whose graph step is tested (all run FlatStep's fused equations)."""


# ------------------------------------------------------------------------------------------------ the step
def _upload(dst, host: np.ndarray, stream) -> None:
    """Host values into the device array ``dst`` on ``stream`` (one host-to-device copy; CuPy's ``ndarray.set``)."""
    dst.set(host, stream=stream)


def _view(a, i: int):
    """Element ``i`` of the vector ``a`` as a 0-d view (``a[i]`` is a copied scalar in NumPy)."""
    return a[i:i + 1].reshape(())


class GraphStep:
    """The trainer's step on static buffers; captured as a CUDA graph on CuPy, run eagerly elsewhere.

    ``step(x, t, lr)`` has the contract of ``Trainer._step``: it returns ([loss, ‖g‖, (hits), ok] as 0-d device
    views of ``out``, the per-example losses or None, xp).  ``takes(x, t)`` says whether a batch fits the buffers
    (a partial last batch does not: the trainer runs its ordinary step for it).
    """

    def __init__(self, trainer, mode: str):
        self.trainer, self.mode = trainer, mode
        self.iterations = 0            # steps run through this object
        self.graph = None              # cupy.cuda.Graph once captured
        self.stream: Any | None = None  # cupy.cuda.Stream (non-blocking) and cupy.cuda.MemoryPool, on CuPy only
        self.pool: Any | None = None
        self.x = self.t = None         # static buffers (allocated by the first step)
        self.failed: str | None = None  # why capture was given up (eager from then on)
        self._noticed: set[str] = set()

    # -- notices --
    def notice(self, why: str, what: str = "the step runs eagerly") -> None:
        """One line, once per reason: ``why``; ``what`` happens instead ('auto' stays quiet)."""
        if self.mode == "on" and why not in self._noticed:
            self._noticed.add(why)
            warnings.warn(f"cuda_graphs 'on': {why}; {what}", CudaGraphNotice, stacklevel=4)

    # -- buffers --
    def takes(self, x, t) -> bool:
        """True when (x, t) has the shapes of the static buffers (allocated from the first batch)."""
        if self.x is None:
            self._allocate(x, t)
            return True
        if tuple(x.shape) == tuple(self.x.shape) and tuple(t.shape) == tuple(self.t.shape):
            return True
        self.notice(f"a mini-batch of shape {tuple(x.shape)} differs from the captured {tuple(self.x.shape)} "
                    "(a partial batch)")
        return False

    def _allocate(self, x, t) -> None:
        tr = self.trainer
        xp = self.xp = get_array_module(x)
        self.cupy = xp.__name__ == "cupy"
        self.x, self.t = xp.empty_like(x), xp.empty_like(t)
        dtype = tr.net.params[next(iter(tr.net.params))].dtype
        self.dtype = dtype
        n = len(scalars_for(tr.config.optimizer, 0.0))
        self.scalars = xp.zeros(n, dtype=dtype)
        self.c = [_view(self.scalars, i) for i in range(n)]   # 0-d views: what the captured kernels read
        k = 3 + (1 if tr.classifier else 0)
        self.out = xp.zeros(k, dtype=dtype)
        self.reported = [_view(self.out, i) for i in range(k)]
        B = x.shape[0]
        self.examples = xp.zeros(B, dtype=dtype) if tr.config.record_example_losses else None
        # layer state at fixed addresses, and its backup (for the trainer's rollback)
        self.state = [(layer, key, xp.array(a, copy=True), xp.empty_like(a))
                      for layer in tr.net.layers for key, a in layer.state.items() if get_array_module(a) is xp]
        for layer, key, static, _ in self.state:
            layer.state[key] = static
        if self.cupy:
            cp = xp
            self.stream = cp.cuda.Stream(non_blocking=True)
            self.pool = cp.cuda.MemoryPool()
        elif self.mode == "on":
            self.notice(f"no capture on {xp.__name__} arrays (CuPy on a GPU only)",
                        "the graph-ready step runs eagerly on its static buffers")

    def saved_state(self) -> dict[str, dict[str, Any]]:
        """The layer state of before the coming step (filled by the step's first kernels), for the rollback: fresh
        dicts of the backup buffers."""
        out: dict[str, dict[str, Any]] = {}
        for layer, key, _, backup in self.state:
            out.setdefault(layer.name, {})[key] = backup
        return out

    def _sync(self) -> None:
        """Arrays replaced outside the step (a rollback, a loaded network, an eager partial batch): their values are
        copied into the fixed buffers, which the layers then hold again."""
        xp = self.xp
        for layer, key, static, _ in self.state:
            current = layer.state.get(key)
            if current is not static:
                xp.copyto(static, current)
                layer.state[key] = static
        if self.graph is not None:
            for layer, key, param in self._params:
                current = layer.params[key]
                if current is not param:
                    xp.copyto(param, current)
                    layer.params[key] = param
            for layer, grads in self._grads:
                layer.grads.update(grads)     # net.grads: the arrays the graph writes

    # -- the step --
    def step(self, x, t, lr: float, mask=None):
        """Trainer._step on the static buffers (see the class docstring)."""
        tr, opt = self.trainer, self.trainer.config.optimizer
        if self.x is None:
            self._allocate(x, t)
        xp = self.xp
        self.iterations += 1
        opt.t += 1                                              # t ← t + 1 (Optimizer.step)
        host = scalars_for(opt, lr)
        self._sync()
        tr._backup_iteration = tr.iteration                     # what Trainer._save_params records
        if not self.cupy:                                       # NumPy, the stand-in: the same step, eagerly
            xp.copyto(self.x, x)
            xp.copyto(self.t, t)
            xp.copyto(self.scalars[:len(host)], to_device(host, tr.device, dtype=self.dtype))
            self.body()
        else:
            self._step_cupy(x, t, host)
        tr._outputs = self._y if tr.config.record_outputs else None
        return self.reported, self.examples, xp

    def _step_cupy(self, x, t, host: np.ndarray) -> None:
        cp, stream, pool = self.xp, self.stream, self.pool
        assert stream is not None and pool is not None          # made by _allocate on CuPy
        before = cp.cuda.get_current_stream()
        ready = cp.cuda.Event()
        ready.record(before)
        stream.wait_event(ready)                                # x, t were written on the caller's stream
        with stream:
            cp.copyto(self.x, x)
            cp.copyto(self.t, t)
            _upload(self.scalars[:len(host)], host.astype(self.dtype), stream)
            if self.graph is None and self.failed is None and self.iterations > WARMUP_ITERATIONS:
                self._capture()
            if self.graph is not None:
                self.graph.launch(stream)
            else:
                with cp.cuda.using_allocator(pool.malloc):
                    self.body()
        done = cp.cuda.Event()
        done.record(stream)
        before.wait_event(done)                                 # the trainer's read waits for the step

    def _capture(self) -> None:
        """Capture :meth:`body` on the non-blocking stream; on failure, eager from then on (a notice)."""
        cp, stream, pool = self.xp, self.stream, self.pool
        assert stream is not None and pool is not None          # made by _allocate on CuPy
        try:
            with cp.cuda.using_allocator(pool.malloc):
                stream.begin_capture()
                try:
                    self.body()
                finally:
                    graph = stream.end_capture()
            graph.upload(stream)
        except Exception as e:       # an API that reads the host, an allocation the capture refuses, ...
            self.failed = f"capture failed ({type(e).__name__}: {e})"
            self.notice(self.failed)
            return
        net = self.trainer.net
        self._params = [(layer, key, p) for layer in net.layers for key, p in layer.params.items()]
        self._grads = [(layer, dict(layer.grads)) for layer in net.layers if layer.grads]
        self.graph = graph

    def body(self) -> None:
        """The trainer's own step (:meth:`Trainer._step`: forward → loss → backward → ‖g‖ → the flat pass of L2,
        clipping, optimizer and weight clipping) on the static buffers, with the rate and the optimizer's scalars as
        0-d views of ``scalars``; then the layer state into its fixed buffers and the values into ``out``."""
        tr, xp = self.trainer, self.xp
        for _, _, static, backup in self.state:
            xp.copyto(backup, static)                           # the rollback's layer state
        reported, examples, _ = tr._step(self.x, self.t, self.c[0], scalars=self.c[1:])
        if self.examples is not None:
            xp.copyto(self.examples, examples.astype(self.dtype, copy=False))
        for layer, key, static, _ in self.state:                # new statistics into the fixed buffers
            if layer.state[key] is not static:
                xp.copyto(static, layer.state[key])
                layer.state[key] = static
        xp.copyto(self.out, xp.stack(reported))
        self._y = tr._outputs
