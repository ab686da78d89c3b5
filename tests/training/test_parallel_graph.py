"""Data-parallel training of layer graphs (docs/parallel.md): every port's inputs and targets sliced by the same
rows, the weighted losses scaled by rows/B, validation and the population pass split the same way.  Thread
workers (minidl.testing.run_workers); float64, 20 iterations; ≤ 1e-12 relative to one process, the parameters
bit-identical on every worker, the info record equal."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from minidl.testing import run_workers
from minidl.training import Observer, Trainer
from minidl.training import events as ev
from minidl.training.parallel import WorkerFailed, join_rows, take_rows

sys.path.insert(0, str(Path(__file__).with_name("mpi")))
from graph_case import CASES, assert_same_run, config, params, run  # noqa: E402  (shared with the MPI script mpi/train_graph.py)


@pytest.mark.parametrize("case, size, loads, optimizer", [
    ("residual", 2, None, "adam"), ("residual", 3, [2, 1, 1], "sgdm"), ("residual", 3, [1, 0, 2], "adam"),
    ("two_heads", 2, [1, 3], "sgdm"), ("two_heads", 3, None, "adam"), ("two_heads", 3, [3, 1, 0], "sgdm"),
    ("regressions", 2, [2, 1], "adam"), ("regressions", 3, [1, 1, 3], "sgdm")])
def test_graph_workers_equal_one_process(case, size, loads, optimizer):
    one = run(case, optimizer)
    assert len(one[1]) == 20 and np.isfinite(one[1]["validation_loss"]).sum() == 5   # iterations 1, 5, ..., 20
    assert ("bn.variance" in one[0].state) == (case != "regressions")   # batch norm: moments and population pass
    many = run_workers(size, lambda comm: run(case, optimizer, comm, loads))
    first = params(many[0][0])
    for net, info in many:
        assert all(v.tobytes() == first[k].tobytes() for k, v in params(net).items()), "the workers differ"
        assert_same_run(case, one, (net, info))


class Watch(Observer):
    """Each iteration's ℓₙ, outputs and targets by port, and each validation's outputs (rank 0's view)."""

    def __init__(self):
        self.seen, self.validations = [], []

    def on_iteration(self, state):
        self.seen.append((state.example_losses.copy(), {k: v.copy() for k, v in state.batch_outputs.items()},
                          state.batch_targets))

    def on_validation(self, state):
        self.validations.append(tuple(np.copy(a) for a in (state.validation_outputs, state.validation_targets)))


def test_example_losses_and_outputs_of_a_graph_are_gathered_by_port_in_row_order():
    ref = Watch()
    run("two_heads", "adam", observers=[ref], record_outputs=True)
    seen = [Watch() for _ in range(3)]
    run_workers(3, lambda comm: run("two_heads", "adam", comm, [1, 2, 1], observers=[seen[comm.rank]],
                                    record_outputs=True))
    assert not seen[1].seen and not seen[2].seen and len(seen[0].seen) == len(ref.seen) == 20
    for (e1, y1, t1), (e, y, t) in zip(ref.seen, seen[0].seen):
        assert e.shape == (8,) and set(y) == {"cls", "reg"} and y["reg"].shape == (8, 1)
        np.testing.assert_allclose(e, e1, rtol=1e-12)
        for k in y1:
            np.testing.assert_allclose(y[k], y1[k], rtol=1e-12, atol=1e-15, err_msg=k)
            np.testing.assert_array_equal(t[k], t1[k])
    assert len(seen[0].validations) == len(ref.validations) == 5
    for (o1, v1), (o, v) in zip(ref.validations, seen[0].validations):
        assert o.shape == (13, 2)                                 # the first loss's outputs, every row
        np.testing.assert_allclose(o, o1, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(v, v1)


def test_take_rows_and_join_rows_slice_and_join_every_port():
    batch = {"x1": np.arange(10).reshape(5, 2), "x2": np.arange(5)}
    parts = [take_rows(batch, lo, hi) for lo, hi in ((0, 2), (2, 2), (2, 5))]
    assert parts[1]["x1"].shape == (0, 2) and take_rows(None, 0, 1) is None
    assert take_rows((batch["x2"], batch["x1"]), 1, 3)[1].tolist() == [[2, 3], [4, 5]]
    whole = join_rows(parts)
    assert all(np.array_equal(whole[k], v) for k, v in batch.items())
    assert np.array_equal(join_rows([batch["x2"][:1], batch["x2"][1:]]), batch["x2"])


@pytest.mark.mpi
@pytest.mark.parametrize("case, n, loads, optimizer", [("residual", 2, "1,3", "adam"),
                                                       ("two_heads", 3, "2,1,0", "sgdm")])
def test_mpi_graph_workers_equal_one_process(case, n, loads, optimizer, request):
    import os
    import subprocess

    from test_parallel import needs_mpi
    needs_mpi(request.config)
    script = Path(__file__).with_name("mpi") / "train_graph.py"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(["mpiexec", "-n", str(n), sys.executable, str(script), case, loads, optimizer],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0 and f"graph-ok {case} {n} 20" in out.stdout, out.stdout + out.stderr


class StopAt(Observer):
    def __init__(self, iteration):
        self.iteration = iteration

    def on_iteration(self, state):
        return ev.StopRequest(ev.USER_FUNCTION) if state.iteration == self.iteration else None


def test_a_graph_worker_that_raises_stops_all_with_the_last_completed_network():
    three, _ = run("two_heads", "adam", observers=[StopAt(3)])
    make, data = CASES["two_heads"]

    def work(comm):
        net = make()
        layer, calls = net["r"], [0]
        forward = layer.forward

        def failing(x, training=False):                   # worker 1's 4th training forward of a non-empty share
            if training and len(x) > 0:                   # (not the replay of an empty share, nor prediction)
                calls[0] += 1
                if comm.rank == 1 and calls[0] == 4:
                    raise FloatingPointError("a fault on this worker")
            return forward(x, training)
        layer.forward = failing
        train, val = data()
        try:
            Trainer(net, train, config("adam", communicator=comm, worker_loads=[1, 2]), validation_data=val).run()
        except Exception as e:  # noqa: BLE001 - the test looks at it
            return e
    out = run_workers(2, work)
    assert isinstance(out[1], FloatingPointError)
    assert isinstance(out[0], WorkerFailed) and out[0].rank == 1 and "FloatingPointError" in str(out[0])
    for e in out:                                         # the network of iteration 3, on every worker
        assert e.minidl_info.stop_kind == ev.FAILED and len(e.minidl_info) == 3
        for k, v in params(three).items():
            np.testing.assert_allclose(params(e.minidl_net)[k], v, rtol=1e-12, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("case", ["residual", "two_heads"])
def test_a_parallel_graph_checkpoint_resumes_in_parallel_and_on_one_process(case, tmp_path):
    from minidl.training import Checkpointer, load_network, read_checkpoint

    make, data = CASES[case]
    saver = Checkpointer(str(tmp_path), lambda s: s.event == ev.ITERATION and s.iteration == 10, lambda s: "it10")

    def work(comm, loads, resume=None):
        train, val = data()
        net = make() if resume is None else load_network(str(tmp_path / "it10"))
        observers = [saver] if comm.rank == 0 and resume is None else []
        return Trainer(net, train, config("adam", communicator=comm, worker_loads=loads), validation_data=val,
                       observers=observers).run(resume=resume)

    whole = run_workers(2, lambda comm: work(comm, [2, 1]))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["it10"]   # rank 0, once
    state = read_checkpoint(str(tmp_path / "it10"))
    again = run_workers(2, lambda comm: work(comm, [2, 1], state))          # the same pool: bit for bit
    for (net, info), (net2, info2) in zip(whole, again):
        assert all(v.tobytes() == params(net2)[k].tobytes() for k, v in params(net).items())
        np.testing.assert_array_equal(info2["training_loss"], info["training_loss"])
    other = run_workers(3, lambda comm: work(comm, None, read_checkpoint(str(tmp_path / "it10"))))   # 3 workers
    train, val = data()
    alone = Trainer(load_network(str(tmp_path / "it10")), train, config("adam"), validation_data=val).run(
        resume=read_checkpoint(str(tmp_path / "it10")))                    # one process
    for got in (other[0], alone):
        assert_same_run(case, whole[0], got)
