"""Data-parallel workers: the communicator the engine talks to, each worker's rows, MATLAB's WorkerLoad rule
(docs/parallel.md).

The engine needs three collectives and nothing else: an elementwise sum of a host float array (``allreduce``), a
small object from one worker to all (``bcast``) and one small object from each (``allgather``).
:class:`SingleProcess` (size 1) returns its inputs; :class:`MPICommunicator` wraps an mpi4py communicator with
non-blocking collectives polled against a deadline, so a worker that dies or hangs raises :class:`WorkerLost`
instead of blocking the others forever.  Nothing here imports mpi4py unless an MPI launcher started this process.
"""

from __future__ import annotations

import math
import numbers
import os
import pickle
import socket
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Communicator", "SingleProcess", "MPICommunicator", "WorkerLost", "WorkerFailed", "shares",
           "worker_loads", "world", "default_timeout", "usable_cores", "poll", "LAUNCHER_VARIABLES", "take_rows",
           "batch_rows", "join_rows"]

#: environment variables an MPI launcher sets in the processes it starts (MPICH/Hydra, Open MPI, PMIx)
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
DEFAULT_TIMEOUT = 60.0


def default_timeout() -> float:
    """Seconds a collective waits for a peer: env ``MINIDL_WORKER_TIMEOUT`` when set, else 60."""
    text = os.environ.get("MINIDL_WORKER_TIMEOUT")
    if text is None or not text.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"MINIDL_WORKER_TIMEOUT: got {text!r}; allowed: a positive number of seconds")
    return value


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity set where the platform has one, else os.cpu_count()."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def poll(done: Any, timeout: float, spin: float = 0.0, gone: Any = None) -> bool:
    """Call ``done()`` until it is true: first without sleeping for ``spin`` seconds, then with sleeps from 20 µs
    doubling to 1 ms.  False when ``timeout`` seconds pass first, or ``gone()`` (checked between the sleeps) is true.
    The wait of every collective (MPI's requests, NCCL's stream events)."""
    if done():
        return True
    now = time.monotonic()
    deadline = now + timeout
    spin_until = min(now + spin, deadline)
    while time.monotonic() < spin_until:                     # the peer is usually a few µs away: no sleep
        if done():
            return True
    pause = 2e-5
    while not done():
        if time.monotonic() > deadline or (gone is not None and gone()):
            return False
        time.sleep(pause)
        pause = min(2 * pause, 1e-3)
    return True


@runtime_checkable
class Communicator(Protocol):
    """What the engine needs from a group of workers (rank 0 is the reporting worker)."""

    rank: int
    size: int
    timeout: float

    def allreduce(self, buf: np.ndarray) -> np.ndarray:
        """Elementwise sum over ranks of a host float64/float32 array (the result; may be ``buf``, in place)."""

    def bcast(self, obj: Any, root: int = 0) -> Any:
        """``obj`` of rank ``root`` on every rank (a small picklable object)."""

    def allgather(self, obj: Any) -> list[Any]:
        """One small picklable object per rank, in rank order, on every rank."""


class WorkerLost(RuntimeError):
    """A worker died or stopped answering: a collective waited ``timeout`` seconds for it.

    ``rank``: the worker, when known (else None); the message names it (rank and process id).
    """

    def __init__(self, message: str, rank: int | None = None):
        super().__init__(message)
        self.rank = rank


class WorkerFailed(RuntimeError):
    """A worker raised an exception; ``rank`` is that worker and the message carries its exception's type and text."""

    def __init__(self, message: str, rank: int | None = None, error_type: str | None = None):
        super().__init__(message)
        self.rank = rank
        self.error_type = error_type


class SingleProcess:
    """One worker (size 1, rank 0): every collective returns its input.  The default; imports no MPI."""

    rank = 0
    size = 1

    def __init__(self, timeout: float | None = None):
        self.timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)

    def allreduce(self, buf: np.ndarray) -> np.ndarray:
        return buf

    def bcast(self, obj: Any, root: int = 0) -> Any:
        if root != 0:
            raise ValueError(f"root: got {root!r}; allowed: 0 (one worker)")
        return obj

    def allgather(self, obj: Any) -> list[Any]:
        return [obj]

    def __repr__(self) -> str:
        return "SingleProcess()"


class MPICommunicator:
    """An mpi4py intracommunicator with non-blocking collectives (``Iallreduce``, ``Ibcast``, ``Iallgather(v)``)
    polled until done or until ``timeout`` seconds pass, then :class:`WorkerLost` naming the worker when it can be
    found (a peer process on this machine that no longer exists).

    The poll first spins (``Test()`` without sleeping) for ``spin`` seconds: MPICH progresses a non-blocking
    collective only inside ``Test()``, so a sleeping rank delays every round of the algorithm by its sleep (α 188 µs
    against MPI's 11.8 µs on 2 ranks, docs/parallel-performance.md); then it sleeps with a backoff from 20 µs to
    1 ms, so a worker waiting long (a slow or dead peer) leaves the cores to the ones computing.  ``spin=None`` (the
    default) chooses by the machine: :data:`SPIN_OWN_CORE` when this machine's ranks are no more than the cores this
    process may run on (a spinning rank then takes no peer's core, and a peer a few ms late is not met by a sleeping
    rank), else :data:`SPIN_SHARED` (an oversubscribed machine: the spinning rank's core is one a peer needs).
    Objects travel pickled: a broadcast sends one fixed message of :data:`BCAST_INLINE` bytes (the length, then the
    bytes when they fit) and a second one only for a larger object; an allgather sends the lengths, then the bytes.
    """

    #: bytes of a broadcast's first message: an 8-byte length and a pickle of up to BCAST_INLINE − 8 bytes
    BCAST_INLINE = 512
    #: the spin (seconds) when every rank of this machine has a core of its own: longer than the step's spread
    #: between ranks (a few ms), so a waiting rank meets its peer awake (docs/parallel-performance.md)
    SPIN_OWN_CORE = 0.05
    #: the spin (seconds) on an oversubscribed machine: MPI's latency, no more
    SPIN_SHARED = 2e-4

    def __init__(self, comm: Any, timeout: float | None = None, spin: float | None = None):
        self.comm = comm
        if spin is not None and not (isinstance(spin, (int, float)) and spin >= 0 and math.isfinite(spin)):
            raise ValueError(f"spin: got {spin!r}; allowed: None (chosen by the machine) or a finite number of "
                             "seconds ≥ 0")
        self.spin = self.SPIN_SHARED if spin is None else float(spin)    # the first allgather's wait
        self.rank = int(comm.Get_rank())
        self.size = int(comm.Get_size())
        self.timeout = default_timeout() if timeout is None else float(timeout)
        if not (self.timeout > 0):
            raise ValueError(f"timeout: got {timeout!r}; allowed: a positive number of seconds")
        self.peers: list[tuple[str, int]] = []
        self.peers = self.allgather((socket.gethostname(), os.getpid()))   # who is who, for WorkerLost's message
        if spin is None:
            self.spin = self.machine_spin(self.peers, self.rank)

    @classmethod
    def machine_spin(cls, peers: list[tuple[str, int]], rank: int) -> float:
        """The automatic spin: :data:`SPIN_OWN_CORE` when the ranks on ``peers[rank]``'s host (``peers``: every
        rank's (host, pid)) are no more than :func:`usable_cores`, else :data:`SPIN_SHARED`."""
        here = sum(host == peers[rank][0] for host, _ in peers)
        return cls.SPIN_OWN_CORE if here <= usable_cores() else cls.SPIN_SHARED

    # ------------------------------------------------------------------ waiting
    def _wait(self, request: Any, what: str) -> None:
        if not poll(request.Test, self.timeout, self.spin, self._peers_gone):
            raise self._give_up(what)

    def _peers_gone(self) -> bool:
        """Whether the peers are known to have ended (checked between the sleeps of a long wait); here: never."""
        return False

    def _give_up(self, what: str) -> WorkerLost:
        """The error a wait that will not end raises (its timeout passed, or :meth:`_peers_gone`)."""
        return self._lost(what)

    def _lost(self, what: str) -> WorkerLost:
        """The WorkerLost error after a collective timed out: a peer on this machine whose process is gone is named."""
        host = socket.gethostname()
        gone = []
        for rank, (h, pid) in enumerate(self.peers):
            if rank != self.rank and h == host and not pid_alive(pid):
                gone.append((rank, pid))
        if gone:
            rank, pid = gone[0]
            more = "".join(f", worker {r} (pid {p})" for r, p in gone[1:])
            return WorkerLost(f"worker {rank} (pid {pid}){more} stopped answering: no reply to {what} within "
                              f"{self.timeout:g} s (the process has ended)", rank=rank)
        who = ", ".join(f"{r} (pid {p}{'' if h == host else ' on ' + h})" for r, (h, p) in enumerate(self.peers)
                        if r != self.rank) or "unknown"
        return WorkerLost(f"a worker stopped answering: no reply to {what} within {self.timeout:g} s on worker "
                          f"{self.rank}; the workers: {who}")

    # ------------------------------------------------------------------ collectives
    def allreduce(self, buf: np.ndarray) -> np.ndarray:
        from mpi4py import MPI

        if not isinstance(buf, np.ndarray) or buf.dtype not in (np.float64, np.float32):
            raise TypeError(f"buf: got {type(buf).__name__} {getattr(buf, 'dtype', '')}; allowed: a host float64 "
                            "or float32 numpy array")
        send = np.ascontiguousarray(buf)
        out = np.empty_like(send)
        self._wait(self.comm.Iallreduce(send, out, op=MPI.SUM), f"an allreduce of {send.size} numbers")
        return out

    def bcast(self, obj: Any, root: int = 0) -> Any:
        head = np.zeros(self.BCAST_INLINE, dtype=np.uint8)
        data = b""
        if self.rank == root:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            head[:8] = np.frombuffer(np.int64(len(data)).tobytes(), dtype=np.uint8)
            if len(data) <= self.BCAST_INLINE - 8:
                head[8:8 + len(data)] = np.frombuffer(data, dtype=np.uint8)
        self._wait(self.comm.Ibcast(head, root=root), "a broadcast")
        n = int(head[:8].view(np.int64)[0])
        if n <= self.BCAST_INLINE - 8:                      # it fitted: one message (the step's stop decision)
            return obj if self.rank == root else pickle.loads(head[8:8 + n].tobytes())
        raw = np.frombuffer(data, dtype=np.uint8).copy() if self.rank == root else np.empty(n, np.uint8)
        self._wait(self.comm.Ibcast(raw, root=root), "a broadcast")
        return obj if self.rank == root else pickle.loads(raw.tobytes())

    def allgather(self, obj: Any) -> list[Any]:
        from mpi4py import MPI

        data = np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8).copy()
        counts = np.empty(self.size, dtype=np.int64)
        self._wait(self.comm.Iallgather(np.array([data.size], dtype=np.int64), counts), "an allgather")
        raw = np.empty(int(counts.sum()), dtype=np.uint8)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._wait(self.comm.Iallgatherv(data, [raw, counts.tolist(), offsets.tolist(), MPI.BYTE]), "an allgather")
        return [pickle.loads(raw[o:o + c].tobytes()) for o, c in zip(offsets.tolist(), counts.tolist())]

    def __repr__(self) -> str:
        return f"MPICommunicator(rank={self.rank}, size={self.size}, timeout={self.timeout:g})"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs (an ended one not yet reaped counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


_WORLD: list[Any] = []


def world() -> Communicator | None:
    """The MPI world when this process was started by an MPI launcher with more than one rank (mpi4py importable
    and ``COMM_WORLD.size > 1``), else None.  mpi4py is imported only when a launcher's variables are present
    (:data:`LAUNCHER_VARIABLES` or ``HYDRA_*``); the communicator is made once per process.
    """
    if _WORLD:
        return _WORLD[0]
    launched = any(v in os.environ for v in LAUNCHER_VARIABLES) or any(k.startswith("HYDRA_") for k in os.environ)
    if not launched:
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    comm = MPI.COMM_WORLD
    result = MPICommunicator(comm) if comm.Get_size() > 1 else None
    _WORLD.append(result)
    return result


def shares(batch: int, loads: Sequence[float]) -> list[tuple[int, int]]:
    """Row ranges (lo, hi) of each rank in a mini-batch of ``batch`` rows: rank i gets round(batch·W(i)/ΣW) rows by
    largest remainder (ties to the lower rank), contiguous, in rank order; a load of 0 gets (lo, lo).

    >>> shares(10, [1, 1, 1])
    [(0, 4), (4, 7), (7, 10)]
    >>> shares(5, [2, 0, 1])
    [(0, 3), (3, 3), (3, 5)]
    """
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 0:
        raise ValueError(f"batch: got {batch!r}; allowed: a non-negative integer")
    given = [float(x) for x in loads]
    if not given or not all(math.isfinite(x) and x >= 0 for x in given) or sum(given) <= 0:
        raise ValueError(f"loads: got {list(loads)!r}; allowed: non-negative loads with a positive sum")
    w = [Fraction(x) for x in given]               # exact arithmetic: the same rows on every machine
    total = sum(w, Fraction(0))
    exact = [batch * x / total for x in w]
    rows = [math.floor(q) for q in exact]
    left = batch - sum(rows)
    by_remainder = sorted(range(len(w)), key=lambda i: (-(exact[i] - rows[i]), i))
    for i in by_remainder[:left]:
        rows[i] += 1
    out, lo = [], 0
    for r in rows:
        out.append((lo, lo + r))
        lo += r
    return out


def worker_loads(worker_load: Any, size: int, dispatch_in_background: bool = False, *,
                 hosts: Sequence[str] | None = None, arg: str = "worker_load") -> list[float]:
    """One relative load per worker, by MATLAB's WorkerLoad rule (docs/parallel.md), machine by machine:

    - None: every worker computes; with background dispatch, the last worker of each machine that has more than
      one reads data instead (MATLAB: "the default is to use one worker per machine for background data dispatch");
    - a number in [0, 1]: that fraction of each machine's workers computes (at least one, rounded half up), the
      others get 0;
    - an integer > 1: that many workers of each machine compute (the first ones; a machine with fewer computes with
      all of them), the others get 0;
    - a vector: one load per worker (≥ 0, a positive sum); worker i gets W(i)/ΣW of each mini-batch.

    ``hosts``: the machine of each worker (``size`` names, e.g. an MPI world's host names); None: one machine.
    ``arg`` names the option in errors.

    >>> worker_loads(None, 3, False), worker_loads(0.5, 4, False), worker_loads([2, 1], 2, False)
    ([1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0], [2.0, 1.0])
    >>> worker_loads(0.5, 4, False, hosts=["a", "a", "b", "b"])
    [1.0, 0.0, 1.0, 0.0]
    """
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"size: got {size!r}; allowed: a positive integer")
    if hosts is not None and len(hosts) != size:
        raise ValueError(f"hosts: got {len(hosts)} names; allowed: one per worker ({size})")
    machines: dict[str, list[int]] = {}
    for rank, host in enumerate(hosts if hosts is not None else [""] * size):
        machines.setdefault(host, []).append(rank)
    if worker_load is None or (isinstance(worker_load, (list, tuple, np.ndarray)) and len(worker_load) == 0):
        loads = [1.0] * size
        if dispatch_in_background and size > 1:
            for ranks in machines.values():
                if len(ranks) > 1:
                    loads[ranks[-1]] = 0.0
        return loads
    if isinstance(worker_load, np.ndarray) and worker_load.ndim == 0:
        worker_load = worker_load.item()
    if isinstance(worker_load, bool):
        raise TypeError(f"{arg}: got {worker_load!r}; allowed: a number in [0, 1], a positive integer or a vector "
                        "of one load per worker")
    if isinstance(worker_load, numbers.Real):
        x = float(worker_load)
        if math.isfinite(x) and 0 <= x <= 1:
            def computing(m: int) -> int:
                return max(1, math.floor(x * m + 0.5))
        elif math.isfinite(x) and x > 1 and x == int(x):
            largest = max(len(ranks) for ranks in machines.values())
            if int(x) > largest:
                where = f"the {size} workers of the pool" if len(machines) == 1 else \
                    f"the {largest} workers of the largest machine"
                raise ValueError(f"{arg}: got {worker_load!r}; allowed: at most {where}")

            def computing(m: int) -> int:
                return min(int(x), m)
        else:
            raise ValueError(f"{arg}: got {worker_load!r}; allowed: a number in [0, 1], a positive integer or a "
                             "vector of one load per worker")
        loads = [0.0] * size
        for ranks in machines.values():
            for rank in ranks[:computing(len(ranks))]:
                loads[rank] = 1.0
        return loads
    try:
        w = np.asarray(worker_load, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"{arg}: got {worker_load!r}; allowed: a number in [0, 1], a positive integer or a vector "
                        "of one load per worker") from None
    if w.size != size:
        raise ValueError(f"{arg}: got {w.size} loads {w.tolist()}; allowed: one value per worker ({size})")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"{arg}: got {w.tolist()}; allowed: finite loads ≥ 0 with a positive sum")
    return [float(v) for v in w]


# ==================================================================================================== engine side
def pack_gradients(grads: dict[str, Any], extras: Sequence[Any], host: bool = True):
    """One flat buffer [every gradient, raveled in ``grads`` order, then ``extras``] in the gradients' dtype: the
    step's one allreduce (``grads``: the network's one flat gradient buffer, or its arrays by name).  ``host``: a
    numpy array (the MPI sum); False: on the gradients' device (a communicator with ``device_sums``, NCCL)."""
    from minidl.backend import get_array_module, to_host

    arrays = list(grads.values())
    xp = get_array_module(arrays[0])
    dtype = arrays[0].dtype
    parts = [g.ravel() for g in arrays] + [xp.asarray(e, dtype=dtype).reshape(-1) for e in extras]
    flat = xp.concatenate(parts)
    return np.ascontiguousarray(to_host(flat)) if host else flat


def unpack_gradients(flat, grads: dict[str, Any]) -> np.ndarray:
    """Copy the summed gradients of ``flat`` (host or device) back into ``grads`` (in place); returns the extras
    that follow them, on the host."""
    from minidl.backend import device_of, get_array_module, to_device, to_host

    arrays = list(grads.values())
    xp = get_array_module(arrays[0])
    flat_dev = to_device(flat, device_of(arrays[0]), dtype=arrays[0].dtype)
    at = 0
    for g in arrays:
        xp.copyto(g, flat_dev[at:at + g.size].reshape(g.shape))
        at += g.size
    return to_host(flat[at:])


def batch_rows(v) -> int:
    """The number of rows B of a batch: an array (B, ...), or a dict / tuple by port of such arrays (a graph)."""
    if isinstance(v, dict):
        return len(next(iter(v.values())))
    if isinstance(v, tuple):
        return len(v[0])
    return len(v)


def take_rows(v, lo: int, hi: int):
    """Rows lo:hi of a batch: an array (B, ...) → (hi − lo, ...); a dict (or tuple) by port → the same rows of every
    port's array (a graph's inputs and targets are sliced together).  None stays None.

    >>> import numpy as np
    >>> take_rows({"a": np.arange(4), "b": np.arange(8).reshape(4, 2)}, 1, 3)["b"].tolist()
    [[2, 3], [4, 5]]
    """
    if v is None:
        return None
    if isinstance(v, dict):
        return {k: a[lo:hi] for k, a in v.items()}
    if isinstance(v, tuple):
        return tuple(a[lo:hi] for a in v)
    return v[lo:hi]


def join_rows(parts: Sequence[Any]):
    """The workers' row blocks (in rank order) joined into the whole batch: host arrays concatenated along rows;
    dicts by port joined port by port (the same keys on every worker).

    >>> import numpy as np
    >>> join_rows([{"y": np.zeros((1, 2))}, {"y": np.ones((2, 2))}])["y"].shape
    (3, 2)
    """
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


class DataParallel:
    """The engine's part of synchronous data parallelism (docs/parallel.md), one per run of a Trainer whose
    ``EngineConfig.communicator`` has more than one worker.

    Every worker reads each whole mini-batch of B rows and computes its rows ``shares(B, loads)[rank]``; the loss
    gradient is scaled by rows/B, batch norm reduces its sums through :meth:`reduce`, and :meth:`gradients` sums the
    gradients, the loss, the hits, the per-example losses and the flags in ONE allreduce.  Rank 0 decides the stops
    (:meth:`agree`, one small broadcast per iteration) and its clock is everyone's (in the allreduce).
    """

    # the extras after the gradients: [loss, hits, failed, interrupt, rank-0 clock]
    def __init__(self, trainer: Any, comm: Communicator, loads: Sequence[float] | None):
        self.trainer, self.comm = trainer, comm
        #: the communicator sums device arrays where they are (NCCL): no host copy of the packed gradients or sums
        self.device_sums = bool(getattr(comm, "device_sums", False))
        self.rank, self.size = comm.rank, comm.size
        loads = [1.0] * self.size if loads is None else [float(v) for v in loads]
        if len(loads) != self.size:
            raise ValueError(f"worker_loads: got {len(loads)} loads {loads}; allowed: one per worker ({self.size})")
        shares(1, loads)                                     # checks the loads
        self.loads = loads
        self._shares: dict[int, list[tuple[int, int]]] = {}  # shares(b, loads) by b (exact arithmetic: computed once)
        self.clock = 0.0                                     # rank 0's elapsed seconds at the last step
        self.interrupt = False                               # a stop asked for on some worker (the last step)
        self.pending = False                                 # a step was summed; agree() not yet called
        self._calls = self._skip = 0                         # reduce() calls this step (a failed worker's replay)
        self._seen: list[Any] = []                           # their results (what a replay is given again)
        self.reduce = WorkerSum(self._reduce, self.rank, self.size)

    def rows(self, b: int) -> tuple[int, int]:
        """This worker's rows (lo, hi) of a mini-batch of ``b``."""
        got = self._shares.get(b)
        if got is None:
            got = self._shares[b] = shares(b, self.loads)
        return got[self.rank]

    def shard(self, b: int) -> tuple[int, int]:
        """Tell the network this worker's rows of the next mini-batch of ``b`` rows; returns (lo, hi)."""
        lo, hi = self.rows(b)
        self.trainer.net.set_shard((lo, hi, b), self.reduce)
        return lo, hi

    def _reduce(self, a):
        """Σ over the workers of a (K,) device array (batch normalization's sums), back on its device.  A failed
        worker's replay is given the results of the calls it already exchanged (the same decisions, the same calls
        after them)."""
        from minidl.backend import device_of, get_array_module, to_device, to_host

        self._calls += 1
        if self._calls <= self._skip:                        # a failed worker's replay: already exchanged
            seen = self._seen[self._calls - 1] if self._calls <= len(self._seen) else None
            if seen is None or seen.shape != a.shape:
                return get_array_module(a).zeros_like(a)
            return to_device(seen, device_of(a), dtype=a.dtype)
        if self._calls == 1:
            self._seen = []
        if self.device_sums:                                 # NCCL: summed where it is, no host copy
            summed = self.comm.allreduce(a)
        else:
            summed = to_device(self.comm.allreduce(np.ascontiguousarray(to_host(a))), device_of(a), dtype=a.dtype)
        del self._seen[self._calls - 1:]
        self._seen.append(summed)
        return summed

    # ------------------------------------------------------------------ the step
    def gradients(self, x_host, t_host, to_device_pair, record_examples: bool):
        """forward → loss → backward (× rows/B) of this worker's rows, then the one allreduce of [gradients, loss,
        hits, ℓₙ (B), flags, clock].  Returns (loss, hits or None, ℓₙ or None, y of the whole batch or None) as
        device scalars / host arrays, the gradients in ``net.grads`` summed.  A worker that raised contributes zeros
        and the flag; then every worker raises :class:`WorkerFailed` (the failed worker its own exception)."""
        tr = self.trainer
        net, cfg = tr.net, tr.config
        b = batch_rows(x_host)
        lo, hi = self.shard(b)
        self._calls = self._skip = 0
        error = None
        examples = None
        try:
            x, t = to_device_pair(take_rows(x_host, lo, hi), take_rows(t_host, lo, hi))
            loss, hits, examples, y = self._local(x, t, b, hi - lo, record_examples)
        except WorkerLost:
            raise
        except Exception as e:                               # keep the others in step: replay an empty share
            error = e
            self._skip, self._calls = self._calls, 0
            try:                                             # (the run ends: a draw more on this worker is harmless)
                net.set_shard((lo, lo, b), self.reduce)
                x, t = to_device_pair(take_rows(x_host, lo, lo), take_rows(t_host, lo, lo))
                loss, hits, examples, y = self._local(x, t, b, 0, record_examples)
            except Exception:
                raise e from None                            # the others will time out (WorkerLost)
        groups = net.gather_grads()                          # one flat buffer: the allreduce packs and unpacks it
        grads = {"flat": groups[0].grads} if len(groups) == 1 else net.grads   # whole (the trainer's later gather
        xp = _xp(next(iter(grads.values())))                 # then finds every gradient in place)
        dt = next(iter(grads.values())).dtype
        ex = xp.zeros(b if record_examples else 0, dtype=dt)
        if record_examples and examples is not None and hi > lo:
            ex[lo:hi] = examples.astype(dt, copy=False)
        stop = bool(tr._guard.requested) or (cfg.stop_event is not None and cfg.stop_event.is_set())
        clock = tr._elapsed() if self.rank == 0 else 0.0
        if error is not None:                                # nothing of this worker counts
            for g in grads.values():
                g[...] = 0
            loss, hits = xp.zeros((), dt), xp.zeros((), dt)
        flags = [loss, hits if hits is not None else xp.zeros((), dt), ex, xp.asarray(
            [1.0 if error is not None else 0.0, 1.0 if stop else 0.0, clock], dtype=dt)]
        summed = unpack_gradients(self.comm.allreduce(pack_gradients(grads, flags, host=not self.device_sums)), grads)
        self.pending = True
        failed, interrupt, self.clock = summed[-3], summed[-2], float(summed[-1])
        self.interrupt = interrupt > 0
        if failed > 0:
            self.pending = False
            self._raise_failure(error)
        total_loss = xp.asarray(summed[0], dtype=dt)
        total_hits = xp.asarray(summed[1], dtype=dt) if hits is not None else None
        out_examples = xp.asarray(summed[2:2 + b], dtype=dt) if record_examples else None
        whole_y = None
        if cfg.record_outputs:
            from minidl.backend import to_host

            mine = {k: to_host(v) for k, v in y.items()} if isinstance(y, dict) else to_host(y)
            whole_y = join_rows(self.comm.allgather(mine))          # a graph: by output, each in row order
        return total_loss, total_hits, out_examples, whole_y

    def _local(self, x, t, b: int, rows: int, record_examples: bool):
        """This worker's forward, loss (× rows/B), hits, ℓₙ and backward (loss gradient × rows/B).  A graph: x, t
        by port; the loss is Σ weight·loss (each × rows/B), the hits those of the first classification loss, or,
        with regression losses only, the first loss's own value (× rows/B) in their place; ℓₙ Σ weight·ℓₙ."""
        tr = self.trainer
        net = tr.net
        graph = tr.graph
        y = net.forward(x, training=True)
        out = net.output_layer
        dt = next(iter(y.values())).dtype if isinstance(y, dict) else y.dtype
        xp = _xp(next(iter(y.values())) if isinstance(y, dict) else y)
        part = dt.type(rows / b)
        if rows > 0:
            loss = net.loss_array(y, t) * part                        # this worker's part of the batch mean
            examples = None if not record_examples else graph.example_losses(y, t) if graph is not None else \
                out.example_losses(y, t)
        else:
            loss, examples = xp.zeros((), dtype=dt), None
        if graph is not None and graph.classification is None:     # [first loss's own batch mean] | []
            metric = graph.metrics(y, t, loss) if rows > 0 else [xp.zeros((), dtype=dt)] * (len(graph.losses) > 1)
            hits = metric[0] * part if metric else None
        elif graph is not None:
            hits = graph.metrics(y, t, loss)[0]              # hits of the first classification loss
        else:
            hits = (xp.argmax(y, axis=1) == t).sum().astype(dt) if tr.classifier else None
        net.backward(y, t, scale=rows / b)
        return loss, hits, examples, y

    def _raise_failure(self, error: BaseException | None) -> None:
        """After a step in which some worker raised: all learn who; the failed worker re-raises its own error."""
        mine = None if error is None else (self.rank, type(error).__name__, str(error))
        reports = [r for r in self.comm.allgather(mine) if r is not None]
        if error is not None and (self.rank == 0 or reports[0][0] == self.rank):
            raise error
        rank, kind, text = reports[0]
        more = "".join(f"; worker {r} raised {k}: {m}" for r, k, m in reports[1:])
        raise WorkerFailed(f"worker {rank} raised {kind}: {text}{more}", rank=rank, error_type=kind)

    # ------------------------------------------------------------------ decisions
    def agree(self, failure: BaseException | None = None) -> None:
        """End of an iteration (or START): rank 0's stop decision (kind, by) reaches every worker (one broadcast);
        ``failure`` (rank 0's observer raised) stops the others with WorkerFailed."""
        tr = self.trainer
        self.pending = False
        mine = None
        if self.rank == 0:
            mine = (tr.stop_kind, tr.stopped_by, None if failure is None else (type(failure).__name__,
                                                                                 str(failure)))
        kind, by, failed = self.comm.bcast(mine)
        if self.rank != 0:
            if failed is not None:
                raise WorkerFailed(f"worker 0 raised {failed[0]}: {failed[1]}", rank=0, error_type=failed[0])
            tr.stop_kind, tr.stopped_by = kind, by

    @staticmethod
    def lost(error: BaseException) -> bool:
        """Whether ``error`` means the workers can no longer talk (then no collective is tried again)."""
        return isinstance(error, WorkerLost)

    def evaluate_rows(self, b: int) -> tuple[int, int]:
        """This worker's rows of a validation (or population-pass) batch of ``b`` rows (the network is told)."""
        return self.shard(b)

    def sum(self, values: Sequence[float]) -> list[float]:
        """Σ over the workers of a few host numbers (validation sums), float64."""
        return [float(v) for v in self.comm.allreduce(np.asarray(values, dtype=np.float64))]


class WorkerSum:
    """Σ over the workers of a (K,) array (``sum(a)``), knowing this worker's ``rank`` and the group's ``size``: batch
    normalization then places its own values in its row of a zero buffer and reads every worker's from one sum
    (functional/batchnorm.py, one round trip instead of two)."""

    def __init__(self, sum_fn, rank: int, size: int):
        self.sum_fn, self.rank, self.size = sum_fn, rank, size

    def __call__(self, a):
        return self.sum_fn(a)

    def __repr__(self) -> str:
        return f"WorkerSum(rank={self.rank}, size={self.size})"


def _xp(a):
    from minidl.backend import get_array_module

    return get_array_module(a)
