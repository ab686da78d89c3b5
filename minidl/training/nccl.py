"""Sums of device arrays on the GPUs themselves (NCCL through CuPy) for ``multi-gpu`` training (docs/parallel.md).

:class:`NCCLCommunicator` wraps the MPI communicator of the workers: objects, host arrays and the timeouts stay on
MPI; an ``allreduce`` of a device array runs ``ncclAllReduce`` on the current stream, with no copy to the host and
back.  The engine sees ``device_sums = True`` and hands it the packed gradients and batch normalization's sums where
they are (training/parallel.py).  :func:`gpu_communicator` makes one when every worker has NCCL, else it keeps the
MPI communicator (the sums then travel through the host, as on the CPU); every worker makes the same choice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.backend import nccl_binding as nccl_module  # CuPy's NCCL binding, or None
from minidl.training.parallel import WorkerLost, poll

__all__ = ["NCCLCommunicator", "gpu_communicator", "nccl_module"]


class NCCLCommunicator:
    """The workers' MPI communicator ``host`` with NCCL sums of device arrays.

    ``nccl``: the binding (``cupy.cuda.nccl`` by default); ``pointer(a)``: a device array's address
    (``a.data.ptr``); ``stream()``: the current stream, with ``.ptr`` and ``.record()`` → an event with ``.query()``
    (CuPy's by default).  The NCCL communicator is opened collectively: rank 0 draws the unique id, MPI broadcasts it.
    A sum is waited for by polling the stream's event up to the host's timeout; then the NCCL communicator is
    aborted and :class:`~minidl.training.parallel.WorkerLost` is raised as MPI's wait would.
    """

    device_sums = True

    def __init__(self, host: Any, nccl: Any = None, *, pointer: Any = None, stream: Any = None):
        if nccl is None:
            nccl = nccl_module()
            if nccl is None:
                raise RuntimeError("NCCLCommunicator: CuPy's NCCL binding is not available (cupy.cuda.nccl)")
        self.host, self.nccl = host, nccl
        self.rank, self.size = host.rank, host.size
        self.peers = getattr(host, "peers", [])
        self._pointer = pointer if pointer is not None else (lambda a: a.data.ptr)
        self._stream = stream if stream is not None else _current_stream
        uid = host.bcast(nccl.get_unique_id() if host.rank == 0 else None)
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)

    @property
    def timeout(self) -> float:
        return self.host.timeout

    def allreduce(self, buf: Any) -> Any:
        """Σ over the workers of ``buf``: on the device with NCCL for a device array (the result a new device
        array), through the host communicator for a numpy array."""
        if isinstance(buf, np.ndarray):
            return self.host.allreduce(buf)
        if buf.dtype not in (np.float32, np.float64):
            raise TypeError(f"buf: got a device array of dtype {buf.dtype}; allowed: float32 or float64")
        from minidl.backend import get_array_module

        xp = get_array_module(buf)
        send = xp.ascontiguousarray(buf)
        out = xp.empty_like(send)
        kind = self.nccl.NCCL_FLOAT32 if send.dtype == np.float32 else self.nccl.NCCL_FLOAT64
        stream = self._stream()
        self.comm.allReduce(self._pointer(send), self._pointer(out), send.size, kind, self.nccl.NCCL_SUM, stream.ptr)
        self._wait(stream.record(), f"an allreduce of {send.size} numbers on the GPUs")
        return out

    def _wait(self, event: Any, what: str) -> None:
        if not poll(event.query, self.timeout):
            self.comm.abort()            # NCCL's kernels would wait for the lost peer forever
            lost = getattr(self.host, "_lost", None)
            raise lost(what) if lost is not None else WorkerLost(
                f"a worker stopped answering: no reply to {what} within {self.timeout:g} s")

    def bcast(self, obj: Any, root: int = 0) -> Any:
        return self.host.bcast(obj, root)

    def allgather(self, obj: Any) -> list[Any]:
        return self.host.allgather(obj)

    def __repr__(self) -> str:
        return f"NCCLCommunicator(rank={self.rank}, size={self.size}, host={self.host!r})"


def _current_stream() -> Any:
    from minidl import backend

    return backend._import_cupy().cuda.get_current_stream()


def gpu_communicator(host: Any, nccl: Any = None, **kw: Any) -> Any:
    """The communicator of a ``multi-gpu`` run: an :class:`NCCLCommunicator` over ``host`` when every worker has
    NCCL (agreed through ``host``: all choose alike), else ``host`` itself.  Made once per host communicator (a kept
    pool reuses it).  ``nccl`` and ``kw``: as :class:`NCCLCommunicator` takes them (tests)."""
    made = getattr(host, "_nccl_communicator", None)
    if made is not None:
        return made
    binding = nccl if nccl is not None else nccl_module()
    if not all(host.allgather(binding is not None)):
        return host
    made = NCCLCommunicator(host, binding, **kw)
    host._nccl_communicator = made
    return made
