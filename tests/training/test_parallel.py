"""minidl.training.parallel: shares, WorkerLoad, the communicators (threads here; MPI under the `mpi` marker)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minidl.testing import run_workers
from minidl.training import parallel as P

ROOT = Path(__file__).resolve().parents[2]
HAVE_MPI = shutil.which("mpiexec") is not None and __import__("importlib").util.find_spec("mpi4py") is not None


def test_shares_largest_remainder_contiguous():
    assert P.shares(10, [1, 1, 1]) == [(0, 4), (4, 7), (7, 10)]     # 3.33 each: the remainder to rank 0
    assert P.shares(128, [1, 1]) == [(0, 64), (64, 128)]
    assert P.shares(7, [1, 2]) == [(0, 2), (2, 7)]                   # 2.33, 4.67: the larger remainder first
    assert P.shares(5, [2, 0, 1]) == [(0, 3), (3, 3), (3, 5)]        # a load of 0 reads, computes no rows
    assert P.shares(1, [1, 1, 1]) == [(0, 1), (1, 1), (1, 1)]
    assert P.shares(0, [1, 1]) == [(0, 0), (0, 0)]
    for b in range(0, 40):
        for loads in ([1, 1, 1], [0.3, 0.7], [3, 1, 0, 2]):
            s = P.shares(b, loads)
            assert s[0][0] == 0 and s[-1][1] == b and all(s[i][1] == s[i + 1][0] for i in range(len(s) - 1))
            exact = [b * w / sum(loads) for w in loads]
            assert all(abs((hi - lo) - q) < 1 for (lo, hi), q in zip(s, exact))


@pytest.mark.parametrize("loads", [[], [0, 0], [1, -1], [1, float("nan")]])
def test_shares_refuses_bad_loads(loads):
    with pytest.raises(ValueError, match="loads: got"):
        P.shares(4, loads)


def test_worker_loads_rule():
    assert P.worker_loads(None, 3, False) == [1.0, 1.0, 1.0]
    assert P.worker_loads([], 2, False) == [1.0, 1.0]
    assert P.worker_loads(None, 3, True) == [1.0, 1.0, 0.0]         # one worker per machine dispatches
    assert P.worker_loads(None, 1, True) == [1.0]
    assert P.worker_loads(1, 3, False) == [1.0, 1.0, 1.0]            # 1 is the fraction 1: all workers
    assert P.worker_loads(0.5, 3, False) == [1.0, 1.0, 0.0]          # 1.5 rounded half up
    assert P.worker_loads(0, 3, False) == [1.0, 0.0, 0.0]            # at least one worker computes
    assert P.worker_loads(2, 3, False) == [1.0, 1.0, 0.0]
    assert P.worker_loads([2, 1, 0], 3, False) == [2.0, 1.0, 0.0]
    assert P.worker_loads(np.array([1, 3]), 2, True) == [1.0, 3.0]


def test_worker_loads_count_each_machine_apart():
    two_machines = ["a", "a", "a", "b", "b"]                              # 3 workers on a, 2 on b
    loads = lambda value, background=False: P.worker_loads(value, 5, background, hosts=two_machines)  # noqa: E731
    assert loads(None) == [1.0] * 5
    assert loads(None, True) == [1.0, 1.0, 0.0, 1.0, 0.0]                # one reader per machine
    assert P.worker_loads(None, 3, True, hosts=["a", "b", "b"]) == [1.0, 1.0, 0.0]   # a machine of one computes
    assert loads(0.5) == [1.0, 1.0, 0.0, 1.0, 0.0]                       # 1.5 → 2 of 3; 1 of 2
    assert loads(0) == [1.0, 0.0, 0.0, 1.0, 0.0]                         # at least one per machine
    assert loads(2) == [1.0, 1.0, 0.0, 1.0, 1.0]
    assert loads(3) == [1.0, 1.0, 1.0, 1.0, 1.0]                         # b has only 2: all of them
    assert loads([1, 0, 2, 1, 1]) == [1.0, 0.0, 2.0, 1.0, 1.0]           # a vector is per worker, machines aside
    assert P.worker_loads(0.5, 4, False, hosts=["x", "y", "x", "y"]) == [1.0, 1.0, 0.0, 0.0]   # ranks interleaved
    with pytest.raises(ValueError, match=r"WorkerLoad: got 4; allowed: at most the 3 workers of the largest machine"):
        P.worker_loads(4, 5, False, hosts=two_machines, arg="WorkerLoad")
    with pytest.raises(ValueError, match=r"hosts: got 2 names; allowed: one per worker \(5\)"):
        P.worker_loads(None, 5, False, hosts=["a", "b"])


@pytest.mark.parametrize("value, error, text", [
    (4, ValueError, "at most the 3 workers"), (1.5, ValueError, "a positive integer"), (-0.1, ValueError, "got -0.1"),
    ([1, 1], ValueError, "one value per worker"), ([1, -1, 1], ValueError, "loads ≥ 0"),
    ([0, 0, 0], ValueError, "positive sum"), (True, TypeError, "got True"), ("all", TypeError, "got 'all'")])
def test_worker_loads_refuses(value, error, text):
    with pytest.raises(error, match=text) as e:
        P.worker_loads(value, 3, False, arg="WorkerLoad")
    assert str(e.value).startswith("WorkerLoad: got")


def test_single_process_returns_its_inputs():
    c = P.SingleProcess()
    buf = np.arange(3.0)
    assert c.allreduce(buf) is buf and c.bcast({"x": 1}) == {"x": 1} and c.allgather(5) == [5]
    assert (c.rank, c.size, c.timeout) == (0, 1, 60.0)
    assert isinstance(c, P.Communicator)
    with pytest.raises(ValueError, match="root: got 1"):
        c.bcast(1, root=1)


def test_errors_carry_the_rank():
    e = P.WorkerFailed("worker 2 raised ValueError: bad", rank=2, error_type="ValueError")
    assert (e.rank, e.error_type) == (2, "ValueError") and isinstance(e, RuntimeError)
    assert P.WorkerLost("worker 1 (pid 9) stopped answering", rank=1).rank == 1


def test_default_timeout_from_environment(monkeypatch):
    monkeypatch.delenv("MINIDL_WORKER_TIMEOUT", raising=False)
    assert P.default_timeout() == 60.0
    monkeypatch.setenv("MINIDL_WORKER_TIMEOUT", "2.5")
    assert P.default_timeout() == 2.5
    monkeypatch.setenv("MINIDL_WORKER_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="MINIDL_WORKER_TIMEOUT: got 'soon'"):
        P.default_timeout()


def test_world_is_none_without_a_launcher_and_imports_no_mpi():
    env = {k: v for k, v in os.environ.items() if k not in P.LAUNCHER_VARIABLES and not k.startswith("HYDRA_")}
    code = "import sys; from minidl.training.parallel import world; print(world(), 'mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    assert out == ["None", "False"]


def test_thread_group_collectives_and_rank_order_sums():
    def work(comm):
        x = comm.allreduce(np.array([0.1 * (comm.rank + 1), 1e16, -1e16]))
        return x, comm.bcast(comm.rank * 10, root=2), comm.allgather(comm.rank)
    out = run_workers(3, work)
    for x, b, g in out:
        assert x.tobytes() == out[0][0].tobytes() and b == 20 and g == [0, 1, 2]


def test_thread_group_a_worker_that_leaves_is_lost_by_the_others():
    seen = {}

    def work(comm):
        if comm.rank == 1:
            raise KeyError("gone")
        try:
            comm.allreduce(np.zeros(1))
        except P.WorkerLost as e:
            seen[comm.rank] = e
            raise
    t0 = time.monotonic()
    with pytest.raises(KeyError, match="gone"):
        run_workers(2, work, timeout=10)
    assert time.monotonic() - t0 < 5 and "no reply to an allreduce" in str(seen[0])


class _Request:
    """A non-blocking request that completes at its ``after``-th Test() (never with after=None)."""

    def __init__(self, after: int | None):
        self.after, self.tests = after, 0

    def Test(self) -> bool:
        self.tests += 1
        return self.after is not None and self.tests >= self.after


class _OneRankComm:
    """The part of an mpi4py communicator that bcast uses, for one rank: each Ibcast is done at once."""

    def __init__(self):
        self.messages: list[int] = []

    def Ibcast(self, buf, root=0):
        self.messages.append(buf.size)
        return _Request(1)


def _communicator(spin: float, timeout: float = 60.0, comm=None) -> P.MPICommunicator:
    """An MPICommunicator of one rank made without MPI (its constructor's allgather needs mpi4py)."""
    c = object.__new__(P.MPICommunicator)
    c.comm, c.rank, c.size, c.timeout, c.spin, c.peers = comm, 0, 1, timeout, spin, [("h", os.getpid())]
    return c


def test_wait_spins_before_sleeping(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(P.time, "sleep", slept.append)
    request = _Request(after=200)
    _communicator(spin=30.0)._wait(request, "an allreduce")       # done within the spin: no sleep at all
    assert request.tests == 200 and slept == []
    _communicator(spin=0.0)._wait(_Request(after=6), "an allreduce")   # no spin: the backoff as before
    assert slept == [2e-5, 4e-5, 8e-5, 1.6e-4]                    # (the first Test() is tried before)


def test_wait_keeps_the_timeout_after_the_spin():
    c = _communicator(spin=0.02, timeout=0.1)
    t0 = time.monotonic()
    with pytest.raises(P.WorkerLost, match="no reply to an allreduce within 0.1 s"):
        c._wait(_Request(after=None), "an allreduce")
    assert 0.1 <= time.monotonic() - t0 < 2
    with pytest.raises(P.WorkerLost):                  # a spin longer than the timeout ends at the deadline
        _communicator(spin=30.0, timeout=0.05)._wait(_Request(after=None), "a broadcast")


def test_spin_is_checked():
    with pytest.raises(ValueError, match=r"spin: got -1.*allowed: None \(chosen by the machine\) or a finite "
                                         r"number of seconds ≥ 0"):
        P.MPICommunicator(None, timeout=1.0, spin=-1)
    with pytest.raises(ValueError, match=r"spin: got 'long'"):
        P.MPICommunicator(None, timeout=1.0, spin="long")


def test_the_automatic_spin_counts_this_machines_ranks_against_its_cores(monkeypatch):
    monkeypatch.setattr(P, "usable_cores", lambda: 2)
    two_here = [("a", 1), ("a", 2), ("b", 3), ("b", 4), ("b", 5)]
    spin = P.MPICommunicator.machine_spin
    assert spin(two_here, 0) == spin(two_here, 1) == P.MPICommunicator.SPIN_OWN_CORE     # 2 ranks on 2 cores
    assert spin(two_here, 4) == P.MPICommunicator.SPIN_SHARED                            # 3 ranks on 2 cores
    assert P.MPICommunicator.SPIN_OWN_CORE >= 0.01 > P.MPICommunicator.SPIN_SHARED > 0


def test_usable_cores_is_the_affinity_set():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert P.usable_cores() == expected >= 1


def test_a_small_broadcast_is_one_message():
    comm = _OneRankComm()
    c = _communicator(spin=0.0, comm=comm)
    stop = ("max_epochs", "engine", None)                  # the step's stop decision
    assert c.bcast(stop) == stop and comm.messages == [P.MPICommunicator.BCAST_INLINE]
    big = list(range(400))                                 # a pickle longer than the first message
    assert c.bcast(big) == big and len(comm.messages) == 3 and comm.messages[2] > P.MPICommunicator.BCAST_INLINE


def needs_mpi(config) -> None:
    """Skip unless mpi4py and mpiexec are installed and the run selected the marker (``-m mpi``): the default
    suite never starts MPI."""
    if not HAVE_MPI:
        pytest.skip("mpi4py or mpiexec is not installed")
    if "mpi" not in (config.option.markexpr or "") or "not mpi" in config.option.markexpr:
        pytest.skip("MPI tests run with -m mpi")


@pytest.fixture
def mpi(request) -> None:
    needs_mpi(request.config)


def _mpiexec(n: int, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    script = Path(__file__).with_name("mpi") / "collectives.py"
    keep = ["-disable-auto-cleanup"] if args else []     # Hydra: a rank that ends does not end the others
    return subprocess.run(["mpiexec", *keep, "-n", str(n), sys.executable, str(script), *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 3])
def test_mpi_collectives(n, mpi):
    run = _mpiexec(n)
    assert run.returncode == 0, run.stderr
    assert sorted(re.findall(r"ok \d", run.stdout)) == [f"ok {r}" for r in range(n)]   # lines may interleave


@pytest.mark.mpi
def test_mpi_lost_worker_is_named_within_the_timeout(mpi):
    t0 = time.monotonic()
    run = _mpiexec(3, "lost")
    lines = sorted(re.findall(r"lost \d [^\n]*?\(the process has ended\)|lost \d None", run.stdout))
    assert [line.split()[:3] for line in lines] == [["lost", "0", "2"], ["lost", "1", "2"]], (run.stdout, run.stderr)
    assert "worker 2 (pid" in lines[0] and "within 1 s" in lines[0]
    assert time.monotonic() - t0 < 30
