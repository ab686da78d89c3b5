"""Run under ``mpiexec -n N``: checks MPICommunicator's collectives and prints one line "ok <rank>" per rank."""

import os
import sys
import time

import numpy as np

from minidl.training.parallel import MPICommunicator, WorkerLost, world


def main() -> None:
    comm = world()
    assert comm is not None and isinstance(comm, MPICommunicator), comm
    r, n = comm.rank, comm.size
    total = comm.allreduce(np.arange(5, dtype=np.float64) * (r + 1))
    assert np.array_equal(total, np.arange(5) * sum(range(1, n + 1))), total
    assert comm.allreduce(np.ones(3, np.float32)).dtype == np.float32
    assert comm.bcast({"a": r} if r == 1 else None, root=1) == {"a": 1}
    assert comm.allgather(("x", r)) == [("x", k) for k in range(n)]
    for size in (0, 400, 495, 504, 505, 5000):      # around the broadcast's inline size: one message or two
        text = "y" * size if r == 0 else None
        assert comm.bcast(text) == "y" * size
    assert [pid for _, pid in comm.peers][r] == os.getpid()
    if sys.argv[1:] == ["lost"]:                 # the last rank leaves: the others get WorkerLost naming it
        comm.timeout = 1.0
        if r == n - 1:
            os._exit(0)                          # gone without a word (as a killed worker)
        time.sleep(0.5)
        try:
            comm.allreduce(np.zeros(2))
        except WorkerLost as e:
            print(f"lost {r} {e.rank} {e}", flush=True)
            time.sleep(1.5)                      # the other survivors find only the worker that left
            os._exit(0)                          # the job cannot finish MPI normally with a peer gone
        raise AssertionError("no WorkerLost")
    print(f"ok {r}", flush=True)


if __name__ == "__main__":
    main()
