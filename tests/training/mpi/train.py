"""Run under ``mpiexec -n N``: the data-parallel proof on real MPI.  Every rank trains the case of
parallel_case.py; rank 0 also trains it alone and compares (≤ 1e-12 relative, bit-identical across ranks).
Arguments: the worker loads (comma-separated, or "equal"), then optionally "kill" (the last rank dies at its 4th
step: rank 0 must end within the timeout with the network of the last completed iteration)."""

import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import parallel_case as case  # noqa: E402

from minidl.backend import to_host  # noqa: E402
from minidl.training import Trainer  # noqa: E402
from minidl.training.parallel import WorkerLost, world  # noqa: E402


def params(net):
    return {k: to_host(v) for k, v in {**net.params, **net.state}.items()}


def main() -> None:
    comm = world()
    assert comm is not None, "not started by mpiexec with more than one rank"
    loads = None if sys.argv[1] == "equal" else [float(v) for v in sys.argv[1].split(",")]
    kill = sys.argv[2:] == ["kill"]
    net = case.network()
    if kill and comm.rank == comm.size - 1:
        layer, calls = net.layers[3], [0]
        forward = layer.forward

        def dying(x, training=False):
            calls[0] += training and len(x) > 0
            if calls[0] == 4:
                os._exit(3)                     # as a killed process: no word to anyone
            return forward(x, training)
        layer.forward = dying
    train, val = case.data()
    cfg = case.config("adam", communicator=comm, worker_loads=loads)
    try:
        got, info = Trainer(net, train, cfg, validation_data=val).run()
    except WorkerLost as e:
        assert kill, e
        if comm.rank != 0:
            time.sleep(2)                       # rank 0 finds only the worker that died
            os._exit(0)                         # MPI cannot finish normally with a rank gone
        assert len(e.minidl_info) == 3, len(e.minidl_info)
        train, val = case.data()
        ref, _ = Trainer(case.network(), train, case.config("adam", max_epochs=1, batch_size=8),
                         validation_data=val, observers=[StopAt3()]).run()
        for k, v in params(ref).items():
            np.testing.assert_allclose(params(e.minidl_net)[k], v, rtol=1e-12, atol=1e-14, err_msg=k)
        print(f"lost-ok {e.rank} {e}", flush=True)
        os._exit(0)
    digest = hashlib.sha256(b"".join(v.tobytes() for v in params(got).values())).hexdigest()
    digests = comm.allgather(digest)
    if comm.rank == 0:
        assert len(set(digests)) == 1, digests           # bit-identical on every rank
        train, val = case.data()
        ref, ref_info = Trainer(case.network(), train, case.config("adam"), validation_data=val).run()
        for k, v in params(ref).items():
            np.testing.assert_allclose(params(got)[k], v, rtol=1e-12, atol=1e-14, err_msg=k)
        for name in case.SERIES:
            np.testing.assert_allclose(info[name], ref_info[name], rtol=1e-12, atol=1e-14, err_msg=name)
        assert info.final_validation_loss == ref_info.final_validation_loss or abs(
            info.final_validation_loss / ref_info.final_validation_loss - 1) < 1e-12
        print(f"train-ok {comm.size} {len(info)}", flush=True)


class StopAt3:
    """Stops one process after iteration 3 (the reference for a worker lost in iteration 4)."""

    state_key = None

    def on_event(self, state):
        from minidl.training import events as ev
        return ev.StopRequest(ev.USER_FUNCTION) if state.event == ev.ITERATION and state.iteration == 3 else None

    def close(self):
        pass


if __name__ == "__main__":
    main()
