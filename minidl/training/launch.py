"""Where data-parallel workers come from: a local pool opened from an ordinary Python session, or the MPI world of
``mpiexec -n N python script.py`` (docs/parallel-launch.md).

The local pool keeps the caller outside the workers' MPI job: the caller opens an MPI port, starts
``mpiexec -n W-1 python -m minidl.training._worker PORT`` as a child process (its own session) and accepts the
connection; the merged communicator makes the caller rank 0 (it keeps the observers and gets the result) and the
workers ranks 1…W-1.  A worker's death then ends the workers' job (MPICH's launcher cleans it up) but never the
caller, which sees :class:`~minidl.training.parallel.WorkerLost` within the timeout.  (``MPI.COMM_SELF.Spawn`` would
make the caller part of the launcher's job: measured with MPICH 5.0.2, a SIGKILLed worker took the caller down.)

One call ships ``(net, data, validation, config, ...)`` to the workers with one broadcast; what cannot travel
(observers, the stop event, the keep-best observer) stays on rank 0.  The pool stays open for the next call with
the same size (as MATLAB keeps its parallel pool); :func:`close_pool` closes it, and it is closed at exit.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

from minidl.training.parallel import (
    MPICommunicator,
    WorkerFailed,
    WorkerLost,
    default_timeout,
    pid_alive,
    worker_loads,
    world,
)

__all__ = ["train", "run_parallel", "close_pool", "pool_size", "workers_count", "require_mpi", "gpu_count", "MPI_EXTRA",
           "ENV_WORKERS", "ENV_TIMEOUT"]

MPI_EXTRA = "pip install 'minidl[mpi]'"
ENV_WORKERS = "MINIDL_WORKERS"           # the pool size when the call names none
ENV_TIMEOUT = "MINIDL_WORKER_TIMEOUT"    # seconds a collective waits for a peer before WorkerLost
ENV_MPIEXEC = "MINIDL_MPIEXEC"           # the MPI launcher to start the workers with (default: beside python)
_LAUNCHER_VARS = ("PMI_", "PMIX_", "HYDRA_", "OMPI_", "MPI_LOCALRANKID", "MPI_LOCALNRANKS")  # a caller's own
                                                                                      # launcher: not the workers'


def require_mpi(what: str):
    """``mpi4py.MPI``, or an ImportError naming ``what`` asked for it and the extra that installs it."""
    if "mpi4py.MPI" not in sys.modules:   # a dead worker's pending buffers are not worth a warning at exit
        os.environ.setdefault("UCX_LOG_LEVEL", "error")
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"{what} needs mpi4py and an MPI library ({e}); install them with {MPI_EXTRA}") from e
    return MPI


def workers_count(workers: Any = None, arg: str = "workers") -> int:
    """The pool size (the caller included): ``workers`` when given, else env MINIDL_WORKERS, else os.cpu_count()."""
    source, value = arg, workers
    if value is None and os.environ.get(ENV_WORKERS, "").strip():
        source, value = ENV_WORKERS, os.environ[ENV_WORKERS].strip()
        try:
            value = int(value)
        except ValueError:
            raise ValueError(f"{ENV_WORKERS}: got {os.environ[ENV_WORKERS]!r}; allowed: a positive integer "
                             "(the number of worker processes)") from None
    if value is None:
        return max(1, os.cpu_count() or 1)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{source}: got {value!r}; allowed: a positive integer (the number of worker processes)")
    return int(value)


def _mpiexec() -> str:
    """The MPI launcher: env MINIDL_MPIEXEC, else the ``mpiexec`` beside this Python (the mpich wheel's), else PATH."""
    named = os.environ.get(ENV_MPIEXEC, "").strip()
    if named:
        return named
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside if os.access(beside, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError(f"the parallel pool needs an MPI launcher (mpiexec); none beside {sys.executable} "
                                f"nor on PATH; install one with {MPI_EXTRA}, or name it in {ENV_MPIEXEC}")
    return found


def _wait(request, timeout: float, what: str, pool: _Pool | None = None) -> None:
    """Poll a non-blocking request until done; WorkerLost after ``timeout`` seconds or when the workers' job ended."""
    deadline = time.monotonic() + timeout
    while not request.Test():
        if pool is not None and pool.process.poll() is not None:
            raise WorkerLost(f"the worker pool ended during {what} ({pool.describe_exit()})")
        if time.monotonic() > deadline:
            raise WorkerLost(f"{what}: no answer within {timeout:g} s (env {ENV_TIMEOUT})")
        time.sleep(0.001)


class _PoolCommunicator(MPICommunicator):
    """The pool's communicator: a collective also ends as soon as the workers' job has ended (MPICH's launcher ends
    the job when a worker dies, so the caller need not wait out the timeout), and once a worker is lost every later
    collective fails at once (the engine's finalization after the loss does not wait again)."""

    def __init__(self, comm: Any, timeout: float, process: subprocess.Popen):
        self.process = process
        self.lost: WorkerLost | None = None
        super().__init__(comm, timeout=timeout)

    def _wait(self, request: Any, what: str) -> None:
        if self.lost is not None:
            raise WorkerLost(str(self.lost), rank=self.lost.rank)
        super()._wait(request, what)          # the spin, then the backoff (which also watches the workers' job)

    def _peers_gone(self) -> bool:
        return self.process.poll() is not None

    def _give_up(self, what: str) -> WorkerLost:
        self.lost = self._lost(what)
        return self.lost


class _Pool:
    """``size - 1`` worker processes in their own mpiexec job, joined with the caller into one communicator."""

    def __init__(self, size: int, timeout: float):
        MPI = require_mpi("a parallel pool")
        self.MPI, self.size, self.timeout = MPI, size, timeout
        self.log = tempfile.NamedTemporaryFile(prefix="minidl-workers-", suffix=".log", delete=False)
        port = MPI.Open_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCHER_VARS)}
        env.setdefault("UCX_LOG_LEVEL", "error")   # a dead peer's pending buffers are not worth a warning
        command = [_mpiexec(), "-n", str(size - 1), sys.executable, "-m", "minidl.training._worker", port,
                   str(os.getpid())]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                        env=env, start_new_session=True)
        self.comm: Any = None
        self.pids: list[int] = [os.getpid()]
        try:
            inter = self._accept(port, time.monotonic() + max(timeout, 30.0))
            self.comm = inter.Merge(high=False)
            inter.Free()
            self.comm.Set_errhandler(MPI.ERRORS_RETURN)
            self.communicator = _PoolCommunicator(self.comm, timeout, self.process)   # 1st allgather: the pids
            self.pids = [pid for _, pid in self.communicator.peers]
        except BaseException:
            self.kill()
            raise
        finally:
            MPI.Close_port(port)

    def _accept(self, port: str, deadline: float):
        """Accept the workers' connection; if their job ends or the deadline passes first, unblock the Accept."""
        MPI, result = self.MPI, {}

        def accept():
            try:
                result["inter"] = MPI.COMM_SELF.Accept(port)
            except MPI.Exception as e:
                result["error"] = e

        thread = threading.Thread(target=accept, name="minidl-pool-accept", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.02)
            if thread.is_alive() and (self.process.poll() is not None or time.monotonic() > deadline):
                why = self.describe_exit() if self.process.poll() is not None else "no connection in time"
                self._kill_job()
                # a throw-away connection from a helper process unblocks the Accept (it fails: nothing is kept)
                subprocess.run([sys.executable, "-c", "import sys; from mpi4py import MPI; "
                                "MPI.COMM_WORLD.Connect(sys.argv[1]).Disconnect()", port],
                               capture_output=True, timeout=30, check=False)
                thread.join(5)
                raise RuntimeError(f"the parallel pool of {self.size} workers did not start: {why}")
        if "inter" not in result:
            raise RuntimeError(f"the parallel pool of {self.size} workers did not start: {result.get('error')}")
        return result["inter"]

    def describe_exit(self) -> str:
        code = self.process.poll()
        tail = ""
        try:
            with open(self.log.name, encoding="utf-8", errors="replace") as f:
                lines = [ln for ln in f.read().splitlines() if ln.strip() and not ln.startswith("=")]
            tail = "; " + " | ".join(lines[-6:]) if lines else ""
        except OSError:
            pass
        return f"mpiexec exited with status {code}{tail}"

    # ------------------------------------------------------------------------------------------------ one call
    def bcast_bytes(self, payload: bytes | None, what: str) -> None:
        """Rank 0 sends ``payload`` (None: close) to every worker."""
        n = np.array([-1 if payload is None else len(payload)], dtype=np.int64)
        _wait(self.comm.Ibcast(n, root=0), self.timeout, what, self)
        if payload is not None:
            _wait(self.comm.Ibcast(np.frombuffer(payload, dtype=np.uint8).copy(), root=0), self.timeout, what, self)

    def statuses(self, mine: Any) -> list[Any]:
        """Every rank's status (None: fine; else the text of a worker's exception), in rank order."""
        return self.communicator.allgather(mine)

    def alive(self) -> bool:
        return self.process.poll() is None and all(pid_alive(p) for p in self.pids[1:])

    # ------------------------------------------------------------------------------------------------ ending
    def close(self) -> None:
        """Tell the workers to exit and wait for them (killed if they do not go within the timeout)."""
        try:
            if self.alive():
                self.bcast_bytes(None, "closing the pool")
                self.process.wait(timeout=min(self.timeout, 10.0))
        except (WorkerLost, subprocess.TimeoutExpired, OSError):
            pass
        self.kill()

    def _kill_job(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)   # mpiexec, its proxy and the workers: one session
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        """End every process of the pool now (the caller's communicator is dropped, never used again)."""
        self._kill_job()
        for pid in self.pids[1:]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


_POOL: _Pool | None = None
_LOCK = threading.Lock()


def close_pool() -> None:
    """Close the local pool of workers (the next parallel call opens a new one); nothing when none is open."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
        if pool is not None:
            pool.close()


def pool_size() -> int:
    """The number of workers of the open local pool, the caller included (0 when none is open)."""
    return _POOL.size if _POOL is not None else 0


def _discard_pool() -> None:
    global _POOL
    pool, _POOL = _POOL, None
    if pool is not None:
        pool.kill()


def _get_pool(size: int, timeout: float) -> _Pool:
    """The open pool when it has this size and is alive; else a new one (the old one closed)."""
    global _POOL
    if _POOL is not None and (_POOL.size != size or not _POOL.alive()):
        alive = _POOL.alive()
        pool, _POOL = _POOL, None
        pool.close() if alive else pool.kill()
    if _POOL is None:
        _POOL = _Pool(size, timeout)
    _POOL.timeout = _POOL.communicator.timeout = timeout
    return _POOL


atexit.register(close_pool)


# ================================================================================================ the job
def gpu_count() -> int:
    """The number of CUDA devices CuPy sees (0 without CuPy or without a GPU)."""
    from minidl import backend
    cp = backend._import_cupy()   # backend.py is the one door to CuPy
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:   # CuPy installed, no driver or no device
        return 0


def use_gpu(index: int) -> None:
    """Make GPU ``index`` the current CUDA device of this process (where Device('gpu') arrays are made)."""
    from minidl import backend
    backend._import_cupy().cuda.Device(index).use()


def _set_communicator(config, communicator, loads: list[float] | None, gpus: int = 0) -> None:
    """Point ``config`` (in place) at ``communicator`` and the workers' loads; with ``gpus``, at its NCCL form when
    every worker has NCCL (:func:`minidl.training.nccl.gpu_communicator`)."""
    if gpus and communicator is not None:
        from minidl.training.nccl import gpu_communicator

        communicator = gpu_communicator(communicator)
    config.communicator = communicator
    config.worker_loads = loads


@dataclasses.dataclass
class TrainJob:
    """What a worker trains: the engine's arguments without what cannot leave rank 0 (observers, stop event)."""

    net: Any
    data: Any
    config: Any
    validation_data: Any = None
    recorder: Any = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)   # TrainingState.extra at the start
    resume: Any = None
    loads: list[float] | None = None
    gpus: int = 0            # > 0: one GPU per worker, worker r on GPU r mod gpus

    def __call__(self, communicator) -> None:
        """Train this rank's share (a worker: no observers besides the info recorder)."""
        from minidl.training.trainer import Trainer
        if self.gpus:
            use_gpu(communicator.rank % self.gpus)
        _set_communicator(self.config, communicator, self.loads, self.gpus)
        trainer = Trainer(self.net, self.data, self.config, self.validation_data, (), recorder=self.recorder)
        trainer.state.extra.update(self.extra)
        trainer.run(self.resume)


def _job_bytes(job: Any) -> bytes:
    try:
        return pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TypeError(f"parallel training ships the network, the data and the options to each worker process, "
                        f"and one of them cannot be pickled ({type(e).__name__}: {e}); define functions (a "
                        "learn-rate schedule, a generator, a data source) at a module's top level, not as a "
                        "lambda or a local function") from e


def _worker_failure(statuses: list[Any]) -> tuple[int, str] | None:
    for rank, status in enumerate(statuses):
        if rank and status is not None:
            return rank, status
    return None


def train(trainer, resume=None, *, parallel: bool = False, workers: Any = None, gpus: int = 0,
          worker_load: Any = None, workers_arg: str = "workers", worker_load_arg: str = "worker_load"):
    """Run ``trainer`` (rank 0's: it keeps the observers) where the call asks; returns ``(net, info)``.

    - Under an MPI launcher with more than one rank (``mpiexec -n N python script.py``, :func:`world`): every rank
      runs this same call and trains its share of each mini-batch; each returns ``(net, info)``.
    - ``parallel``: on the local pool of ``workers`` processes, caller included (None: env MINIDL_WORKERS, else
      os.cpu_count()); with ``gpus`` > 0, one worker per GPU (``workers`` is then ``gpus``).
    - else: in this process, as ``trainer.run(resume)``.

    ``worker_load``: MATLAB's WorkerLoad (:func:`~minidl.training.parallel.worker_loads`; None: equal loads).
    Raises WorkerFailed / WorkerLost as :func:`run_parallel` does.
    """
    config = trainer.config
    background = bool(getattr(config, "dispatch_in_background", False))
    comm = world()
    if comm is not None:
        if gpus:
            use_gpu(comm.rank % gpus)
        peers = getattr(comm, "peers", None)                  # an MPI world's (host, pid) per rank
        hosts = [host for host, _ in peers] if peers else None
        _set_communicator(config, comm, worker_loads(worker_load, comm.size, background, hosts=hosts,
                                                     arg=worker_load_arg), gpus)
        if comm.rank != 0:    # the engine's rule (made before the communicator was known): rank 0 alone reports
            trainer.observers = [trainer.recorder]
        return trainer.run(resume)
    if not parallel:
        return trainer.run(resume)
    size = gpus if gpus else workers_count(workers, workers_arg)
    loads = worker_loads(worker_load, size, background, arg=worker_load_arg)
    if size == 1:   # nothing to share: the one-process path, bit for bit
        if gpus:
            use_gpu(0)
        return trainer.run(resume)
    timeout = default_timeout()
    shipped = dataclasses.replace(config, stop_event=None, output_best=None)   # they stay on rank 0
    _set_communicator(shipped, None, None)
    payload = _job_bytes((timeout, TrainJob(trainer.net, trainer.raw_data, shipped, trainer.raw_validation,
                                            trainer.recorder, dict(trainer.state.extra), resume, loads, gpus)))
    require_mpi(f"{workers_arg}={size} (data-parallel training)")
    result: Any = None
    with _LOCK:
        pool = _get_pool(size, timeout)
        try:
            pool.bcast_bytes(payload, "shipping the job")
            failed = _worker_failure(pool.statuses(None))
            if failed is not None:
                raise WorkerFailed(f"worker {failed[0]} (pid {pool.pids[failed[0]]}) failed before training: "
                                   f"{failed[1]}", rank=failed[0])
            if gpus:
                use_gpu(0)
            _set_communicator(config, pool.communicator, loads, gpus)
            error: Exception | None = None
            try:
                result = trainer.run(resume)
            except (WorkerLost, WorkerFailed):
                raise
            except Exception as e:   # every rank still reports its end, so the pool serves the next call
                error = e
            statuses = pool.statuses(None if error is None else f"{type(error).__name__}: {error}")
        except BaseException as e:
            _discard_pool()   # the workers' state is unknown: their processes are ended, the next call starts anew
            rank = getattr(e, "rank", None)
            if isinstance(e, WorkerFailed) and rank is not None and 0 < rank < len(pool.pids) and "(pid" not in str(e):
                e.args = (str(e).replace(f"worker {rank} ", f"worker {rank} (pid {pool.pids[rank]}) ", 1),)
            if isinstance(e, Exception) and not hasattr(e, "minidl_net"):   # rank 0's network rides on it
                e.minidl_net, e.minidl_info = result or (trainer.net, trainer.recorder.info)  # type: ignore[attr-defined]
            raise
        finally:
            _set_communicator(config, None, None)
    if error is not None:
        raise error
    failed = _worker_failure(statuses)
    if failed is not None:
        failure = WorkerFailed(f"worker {failed[0]} (pid {pool.pids[failed[0]]}) failed: {failed[1]}",
                               rank=failed[0])
        failure.minidl_net, failure.minidl_info = result  # type: ignore[attr-defined]
        raise failure
    return result


def run_parallel(net, data, config, validation_data=None, observers=(), settings=None, workers: Any = None, *,
                 recorder=None, resume=None, worker_load=None, gpus: int = 0):
    """Train on a local pool of ``workers`` processes (the caller is rank 0 and runs ``observers``); returns
    ``(net, info)``: :class:`~minidl.training.trainer.Trainer` ``(net, data, config, validation_data, observers,
    settings, recorder=recorder).run(resume)`` across the pool.  ``workers``: the pool size, caller included
    (None: env MINIDL_WORKERS, else os.cpu_count()).

    Raises:
        WorkerFailed: a worker raised (its rank, pid and exception in the message); ``.minidl_net`` is the network
            of the last completed iteration.
        WorkerLost: a worker died or stopped answering within env MINIDL_WORKER_TIMEOUT seconds (default 60);
            the pool is then killed, every process of it ended.
    """
    from minidl.training.trainer import Trainer
    trainer = Trainer(net, data, config, validation_data, observers, settings, recorder=recorder)
    return train(trainer, resume, parallel=True, workers=workers, gpus=gpus, worker_load=worker_load)
