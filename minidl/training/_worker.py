"""A worker of the local pool (started by :mod:`minidl.training.launch`, never by hand).

``python -m minidl.training._worker PORT CALLER_PID``, under mpiexec: connect to the caller's port (the caller is
rank 0 of the merged communicator), send this process's pid, then loop: receive a job (one broadcast), report
whether it unpickled, run it (train this rank's share), report its status, wait for the next job or the close.
A worker whose caller has gone, or whose peers stop answering within the timeout, exits.
"""

from __future__ import annotations

import pickle
import sys
import time

import numpy as np

from minidl.training.parallel import pid_alive


def _wait_for_caller(request, caller: int) -> bool:
    """Wait (as long as it takes) for a request from the caller; False when the caller's process has gone."""
    pause = 0.0005
    while not request.Test():
        if not pid_alive(caller):
            return False
        time.sleep(pause)
        pause = min(2 * pause, 0.02)
    return True


def main(argv: list[str]) -> int:
    """The worker loop; returns the process's exit status."""
    port, caller = argv[0], int(argv[1])
    from mpi4py import MPI
    inter = MPI.COMM_WORLD.Connect(port)
    comm = inter.Merge(high=True)
    inter.Free()
    comm.Set_errhandler(MPI.ERRORS_RETURN)
    from minidl.training.parallel import MPICommunicator, WorkerLost
    try:
        communicator = MPICommunicator(comm)   # its first allgather sends this process's pid to the caller
    except WorkerLost:
        return 1
    while True:
        size = np.zeros(1, dtype=np.int64)
        if not _wait_for_caller(comm.Ibcast(size, root=0), caller):
            return 1
        if size[0] < 0:      # the pool closes
            return 0
        payload = np.empty(int(size[0]), dtype=np.uint8)
        if not _wait_for_caller(comm.Ibcast(payload, root=0), caller):
            return 1
        job, status = None, None
        try:
            timeout, job = pickle.loads(payload.tobytes())
            communicator.timeout = timeout
        except Exception as e:  # reported to the caller, who raises WorkerFailed naming this worker
            status = f"{type(e).__name__} while unpickling the job: {e}"
        try:
            communicator.allgather(status)
            if job is None:
                continue
            error = None
            try:
                job(communicator)
            except WorkerLost:
                raise
            except Exception as e:   # the caller raises WorkerFailed naming this worker and the exception
                error = f"{type(e).__name__}: {e}"
            communicator.allgather(error)
        except WorkerLost:           # the caller or a peer stopped answering: this pool is over
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
