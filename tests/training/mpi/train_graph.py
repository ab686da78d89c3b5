"""Run under ``mpiexec -n N``: the data-parallel proof for layer graphs on real MPI.  Every rank trains the graph
case named by the first argument (graph_case.py: residual, two_heads, regressions) with the worker loads of the
second (comma-separated, or "equal") and the optimizer of the third; rank 0 also trains it alone and compares
(≤ 1e-12 relative, the parameters bit-identical across ranks)."""

import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import graph_case as case  # noqa: E402

from minidl.training.parallel import world  # noqa: E402


def main() -> None:
    comm = world()
    assert comm is not None, "not started by mpiexec with more than one rank"
    name, loads, optimizer = sys.argv[1], sys.argv[2], sys.argv[3]
    loads = None if loads == "equal" else [float(v) for v in loads.split(",")]
    got = case.run(name, optimizer, comm, loads)
    digest = hashlib.sha256(b"".join(v.tobytes() for v in case.params(got[0]).values())).hexdigest()
    digests = comm.allgather(digest)
    if comm.rank == 0:
        assert len(set(digests)) == 1, digests           # bit-identical on every rank
        case.assert_same_run(name, case.run(name, optimizer), got)
        print(f"graph-ok {name} {comm.size} {len(got[1])}", flush=True)


if __name__ == "__main__":
    main()
