"""multi-gpu sums on the devices (minidl/training/nccl.py, docs/parallel.md): the engine hands a communicator with
``device_sums`` its packed gradients and batch normalization's sums as device arrays, never host copies; the run
equals one process.  No GPU here: the device is the strict CPU stand-in and NCCL a fake of CuPy's binding
(``get_unique_id``, ``NcclCommunicator(size, uid, rank).allReduce(send_ptr, recv_ptr, count, dtype, op, stream)``)
whose ranks are threads summing in rank order."""

from __future__ import annotations

import itertools
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from minidl.backend import StandInArray, to_host
from minidl.testing import run_workers
from minidl.training import Trainer
from minidl.training import nccl as N
from minidl.training.parallel import WorkerLost

sys.path.insert(0, str(Path(__file__).with_name("mpi")))
import parallel_case as case  # noqa: E402


class FakeNccl:
    """CuPy's ``cupy.cuda.nccl`` for thread ranks: buffers are found by the 'address' ``pointer`` gave them."""

    NCCL_FLOAT32, NCCL_FLOAT64, NCCL_SUM = 7, 8, 0

    def __init__(self):
        self.buffers: dict[int, StandInArray] = {}
        self.ids = itertools.count(1)
        self.groups: dict[object, dict] = {}
        self.lock = threading.Lock()
        self.sums: list[tuple[str, int]] = []          # (dtype, count) of each allReduce, rank 0's
        self.aborted = 0

    def pointer(self, a) -> int:
        assert isinstance(a, StandInArray), f"a host array reached NCCL: {type(a).__name__}"
        key = next(self.ids)
        self.buffers[key] = a
        return key

    def get_unique_id(self):
        return ("uid", next(self.ids))

    def NcclCommunicator(self, size: int, uid, rank: int):   # noqa: N802 - CuPy's name
        with self.lock:
            group = self.groups.setdefault(uid, {"barrier": threading.Barrier(size, timeout=10), "send": {}})
        return _FakeComm(self, group, rank)


class _FakeComm:
    def __init__(self, nccl: FakeNccl, group: dict, rank: int):
        self.nccl, self.group, self.rank = nccl, group, rank

    def allReduce(self, send: int, recv: int, count: int, dtype: int, op: int, stream: int):   # noqa: N802
        assert op == FakeNccl.NCCL_SUM and stream == 0
        a, out = self.nccl.buffers.pop(send), self.nccl.buffers.pop(recv)
        assert a.size == out.size == count and {np.float32: 7, np.float64: 8}[a.dtype.type] == dtype
        if self.rank == 0:
            self.nccl.sums.append((a.dtype.name, count))
        self.group["send"][self.rank] = a._a.copy()                # the device memory of each rank
        self.group["barrier"].wait()
        total = self.group["send"][0].copy()
        for r in range(1, len(self.group["send"])):              # rank order: the same bits everywhere
            total += self.group["send"][r]
        out._a[...] = total
        self.group["barrier"].wait()

    def abort(self):
        self.nccl.aborted += 1


class _Stream:
    ptr = 0

    def __init__(self, done=True):
        self.done = done

    def record(self):
        return self

    def query(self):
        return self.done


class CountingHost:
    """A ThreadCommunicator that counts the host allreduces it is given (sizes)."""

    def __init__(self, inner):
        self.inner, self.rank, self.size, self.timeout = inner, inner.rank, inner.size, inner.timeout
        self.host_sums: list[int] = []

    def allreduce(self, buf):
        assert isinstance(buf, np.ndarray)
        self.host_sums.append(buf.size)
        return self.inner.allreduce(buf)

    def bcast(self, obj, root=0):
        return self.inner.bcast(obj, root)

    def allgather(self, obj):
        return self.inner.allgather(obj)


def _params(net):
    return {k: to_host(v) for k, v in {**net.params, **net.state}.items()}


@pytest.mark.parametrize("size, loads", [(2, None), (3, [2, 1, 1])])
def test_device_sums_train_like_one_process_without_host_copies(size, loads):
    train, val = case.data()
    one = Trainer(case.network(), train, case.config("adam", device="standin"), validation_data=val).run()
    fake = FakeNccl()
    hosts: list[CountingHost] = []

    def work(comm):
        host = CountingHost(comm)
        hosts.append(host)
        c = N.gpu_communicator(host, fake, pointer=fake.pointer, stream=lambda: _Stream())
        assert isinstance(c, N.NCCLCommunicator) and c.device_sums and N.gpu_communicator(host, fake) is c
        train, val = case.data()
        cfg = case.config("adam", device="standin", communicator=c, worker_loads=loads)
        return Trainer(case.network(), train, cfg, validation_data=val).run()

    many = run_workers(size, work)
    ref, first = _params(one[0]), _params(many[0][0])
    for net, info in many:
        for k in ref:
            assert _params(net)[k].tobytes() == first[k].tobytes(), k
            np.testing.assert_allclose(_params(net)[k], ref[k], rtol=1e-12, atol=1e-14, err_msg=k)
        np.testing.assert_allclose(info["training_loss"], one[1]["training_loss"], rtol=1e-12)
    n_params = sum(int(v.size) for v in many[0][0].params.values())
    steps = [count for dtype, count in fake.sums if count > n_params]      # the step's one packed sum
    assert len(steps) == 20 and all(dtype == "float64" for dtype, _ in fake.sums)
    assert len(fake.sums) > 20                                             # and batch norm's sums, on the device
    assert all(size < n_params for host in hosts for size in host.host_sums)   # no gradient through the host


def test_every_worker_keeps_mpi_when_one_has_no_nccl(monkeypatch):
    monkeypatch.setattr(N, "nccl_module", lambda: None)
    fake = FakeNccl()

    def work(comm):
        return N.gpu_communicator(comm, fake if comm.rank == 0 else None, pointer=fake.pointer)
    got = run_workers(2, lambda comm: (work(comm), comm))
    assert all(c is host for c, host in got) and not fake.groups            # the MPI communicator, everywhere


def test_a_device_sum_that_never_ends_aborts_nccl_and_raises_worker_lost():
    fake = FakeNccl()

    class Host:
        rank, size, timeout = 0, 1, 0.05

        def bcast(self, obj, root=0):
            return obj

        def allreduce(self, buf):
            return buf * 2                                  # marks the host route

    c = N.NCCLCommunicator(Host(), fake, pointer=fake.pointer, stream=lambda: _Stream(done=False))
    fake.groups.clear()
    c.comm = type("Stuck", (), {"allReduce": lambda self, *a: None, "abort": lambda self: fake.__setattr__(
        "aborted", fake.aborted + 1)})()
    from minidl import backend
    with pytest.raises(WorkerLost, match="no reply to an allreduce of 3 numbers on the GPUs within 0.05 s"):
        c.allreduce(backend.to_device(np.ones(3), "standin"))
    assert fake.aborted == 1
    with pytest.raises(TypeError, match="buf: got a device array of dtype int64; allowed: float32 or float64"):
        c.allreduce(backend.to_device(np.ones(3, dtype=np.int64), "standin"))
    np.testing.assert_array_equal(c.allreduce(np.ones(2)), [2.0, 2.0])      # a host array: the MPI route


def test_without_cupy_there_is_no_nccl_binding():
    assert N.nccl_module() is None          # the suite runs without a usable CuPy (conftest)
    with pytest.raises(RuntimeError, match="CuPy's NCCL binding is not available"):
        N.NCCLCommunicator(object())
