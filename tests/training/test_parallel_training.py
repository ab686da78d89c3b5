"""Data-parallel training in the engine (docs/parallel.md) on in-process thread workers: the same network, info and
validation values as one process, to ≤ 1e-12 relative in float64, and bit-identical parameters on every worker."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.errors import NotSupportedYetError
from minidl.network import Network
from minidl.testing import ThreadGroup, run_workers
from minidl.training import Checkpointer, Observer, Trainer, load_network, read_checkpoint
from minidl.training import events as ev
from minidl.training.data import SequenceSource
from minidl.training.parallel import WorkerFailed

sys.path.insert(0, str(Path(__file__).with_name("mpi")))
import parallel_case as case  # noqa: E402  (shared with the MPI script mpi/train.py)


def one_process(optimizer="adam", **kw):
    train, val = case.data()
    return Trainer(case.network(), train, case.config(optimizer, **kw), validation_data=val).run()


def workers(size, loads=None, optimizer="adam", **kw):
    def work(comm):
        train, val = case.data()
        cfg = case.config(optimizer, communicator=comm, worker_loads=loads, **kw)
        return Trainer(case.network(), train, cfg, validation_data=val).run()
    return run_workers(size, work)


def params(net):
    return {k: to_host(v) for k, v in {**net.params, **net.state}.items()}


def assert_same_run(one, many, rtol=1e-12):
    (net1, info1) = one
    ref = params(net1)
    first = params(many[0][0])
    for net, info in many:
        got = params(net)
        for k in ref:
            assert got[k].tobytes() == first[k].tobytes(), f"{k} differs between workers"
            np.testing.assert_allclose(got[k], ref[k], rtol=rtol, atol=1e-14, err_msg=k)
        for name in case.SERIES:
            np.testing.assert_allclose(info[name], info1[name], rtol=rtol, atol=1e-14, err_msg=name)
        assert info.final_validation_loss == pytest.approx(info1.final_validation_loss, rel=rtol)
        assert info.final_validation_accuracy == info1.final_validation_accuracy
        assert len(info) == len(info1) == 20


@pytest.mark.parametrize("size, loads, optimizer", [
    (2, None, "adam"), (2, [1, 3], "sgdm"), (3, None, "sgdm"), (3, [2, 1, 1], "adam"), (3, [1, 0, 2], "sgdm")])
def test_workers_equal_one_process(size, loads, optimizer):
    one = one_process(optimizer)
    assert np.isfinite(one[1]["validation_loss"]).sum() == 5   # iterations 1, 5, 10, 15, 20
    assert_same_run(one, workers(size, loads, optimizer))


def test_a_communicator_of_one_is_the_one_process_path_bit_for_bit():
    from minidl.training.parallel import SingleProcess

    net1, info1 = one_process("sgdm")
    train, val = case.data()
    net2, info2 = Trainer(case.network(), train, case.config("sgdm", communicator=SingleProcess()),
                          validation_data=val).run()
    for k, v in params(net1).items():
        assert params(net2)[k].tobytes() == v.tobytes()
    np.testing.assert_array_equal(info1["validation_loss"], info2["validation_loss"])


class Losses(Observer):
    """Keeps each iteration's per-example losses and its batch indices (what rank 0's observers see)."""

    def __init__(self):
        self.seen = []

    def on_iteration(self, state):
        self.seen.append((state.iteration, state.example_losses.copy(), state.batch_indices.copy()))


def test_rank_0_observes_the_whole_batch_and_the_others_observe_nothing():
    ref = Losses()
    train, val = case.data()
    Trainer(case.network(), train, case.config(), validation_data=val, observers=[ref]).run()
    seen = [Losses() for _ in range(3)]

    def work(comm):
        train, val = case.data()
        cfg = case.config(communicator=comm, worker_loads=[1, 2, 1])
        Trainer(case.network(), train, cfg, validation_data=val, observers=[seen[comm.rank]]).run()
    run_workers(3, work)
    assert not seen[1].seen and not seen[2].seen and len(seen[0].seen) == 20
    for (i, a, idx), (j, b, jdx) in zip(ref.seen, seen[0].seen):
        assert i == j and np.array_equal(idx, jdx) and a.shape == (8,)
        np.testing.assert_allclose(b, a, rtol=1e-12)


def test_validation_outputs_are_gathered_in_order():
    class Outputs(Observer):
        def on_validation(self, state):
            self.last = (state.validation_outputs.copy(), state.validation_targets.copy())
    ref, got = Outputs(), Outputs()
    train, val = case.data()
    Trainer(case.network(), train, case.config(record_outputs=True), validation_data=val, observers=[ref]).run()

    def work(comm):
        train, val = case.data()
        cfg = case.config(communicator=comm, record_outputs=True)
        Trainer(case.network(), train, cfg, validation_data=val, observers=[got] if comm.rank == 0 else []).run()
    run_workers(2, work)
    np.testing.assert_allclose(got.last[0], ref.last[0], rtol=1e-12)
    np.testing.assert_array_equal(got.last[1], ref.last[1])


class StopAt(Observer):
    def __init__(self, iteration):
        self.iteration = iteration

    def on_iteration(self, state):
        return ev.StopRequest(ev.USER_FUNCTION) if state.iteration == self.iteration else None


def test_a_stop_on_rank_0_or_a_stop_event_on_another_worker_stops_all_at_the_same_iteration():
    events = [threading.Event() for _ in range(3)]

    class SetAt(Observer):           # rank 2's own stop_event is set from rank 0's observer at iteration 7
        def on_iteration(self, state):
            if state.iteration == 7:
                events[2].set()

    for observers, stop_at, kind in (([StopAt(6)], 6, ev.USER_FUNCTION), ([SetAt()], None, ev.INTERRUPT)):
        for e in events:
            e.clear()

        def work(comm, observers=observers):
            train, val = case.data()
            cfg = case.config(communicator=comm, stop_event=events[comm.rank])
            return Trainer(case.network(), train, cfg, validation_data=val,
                           observers=observers if comm.rank == 0 else []).run()
        out = run_workers(3, work)
        lengths = {len(info) for _, info in out}
        assert len(lengths) == 1 and {info.stop_kind for _, info in out} == {kind}
        if stop_at is not None:
            assert lengths == {stop_at}
        else:                        # set during 7 (rank 0's observer); rank 2 sees it at step 8's allreduce
            assert lengths in ({7}, {8})
        first = params(out[0][0])
        for net, _ in out[1:]:
            assert all(params(net)[k].tobytes() == v.tobytes() for k, v in first.items())


def test_sequence_networks_refuse_several_workers():
    seq = Network([L.SequenceInput(2), L.LSTM(3, output_mode="last"), L.FullyConnected(2), L.Softmax(),
                   L.ClassificationOutput()])
    xs = [np.ones((2, 4)) + k for k in range(8)]
    comm = ThreadGroup(2).communicator(0)              # refused at set-up: no collective is reached
    with pytest.raises(NotSupportedYetError, match="single CPU and GPU training only"):
        Trainer(seq, SequenceSource(xs, np.array([0, 1] * 4)), case.config(communicator=comm)).run()
    # layer graphs train with several workers: tests/training/test_parallel_graph.py


class Faulty(L.ReLU):
    """A ReLU that raises on the worker ``rank`` at its ``at``-th training forward of a non-empty share."""

    def __init__(self, rank, at, name=None):
        super().__init__(name=name)
        self.rank, self.at, self.calls, self.me = rank, at, 0, None

    def forward(self, x, training=False):
        if training and len(x):
            self.calls += 1
            if self.me == self.rank and self.calls == self.at:
                raise FloatingPointError("a fault on this worker")
        return super().forward(x, training)


def faulty_network(rank, at):
    net = case.network()
    layers = list(net.layers)
    layers[3] = Faulty(rank, at, name="relu_1")
    return Network(layers)


@pytest.mark.parametrize("failing", [1, 0])
def test_a_worker_that_raises_stops_all_with_the_last_completed_network(failing):
    ref, _ = one_process(max_epochs=1, batch_size=8)           # 5 iterations; the fault is in the 4th
    train, val = case.data()
    three, _ = Trainer(case.network(), train, case.config(max_epochs=1), validation_data=val,
                       observers=[StopAt(3)]).run()

    def work(comm):
        net = faulty_network(failing, 4)
        net.layers[3].me = comm.rank
        train, val = case.data()
        cfg = case.config(communicator=comm, max_epochs=1)
        try:
            Trainer(net, train, cfg, validation_data=val).run()
        except Exception as e:  # noqa: BLE001 - the test looks at it
            return e
        return None
    out = run_workers(2, work)
    assert isinstance(out[failing], FloatingPointError)           # the worker itself: its own error
    other = out[1 - failing]
    assert isinstance(other, WorkerFailed) and other.rank == failing
    assert str(other) == f"worker {failing} raised FloatingPointError: a fault on this worker"
    for e in out:                                                 # the network of iteration 3, on every worker
        assert e.minidl_info.stop_kind == ev.FAILED and len(e.minidl_info) == 3
        for k, v in params(three).items():
            np.testing.assert_allclose(params(e.minidl_net)[k], v, rtol=1e-12, atol=1e-14, err_msg=k)
    del ref


def test_an_observer_failing_on_rank_0_stops_the_others():
    class Boom(Observer):
        def on_iteration(self, state):
            if state.iteration == 4:
                raise KeyError("observer")

    def work(comm):
        train, val = case.data()
        try:
            Trainer(case.network(), train, case.config(communicator=comm), validation_data=val,
                    observers=[Boom()] if comm.rank == 0 else []).run()
        except Exception as e:  # noqa: BLE001 - the test looks at it
            return e
    out = run_workers(3, work)
    assert isinstance(out[0], KeyError)
    assert all(isinstance(e, WorkerFailed) and e.rank == 0 and "KeyError" in str(e) for e in out[1:])
    assert {len(e.minidl_info) for e in out} == {4}


def test_a_parallel_checkpoint_resumes_in_parallel_and_on_one_process(tmp_path):
    def saver():
        return Checkpointer(str(tmp_path), lambda s: s.event == ev.ITERATION and s.iteration == 10,
                            lambda s: "it10")

    def work(comm, resume=None):
        train, val = case.data()
        net = case.network() if resume is None else load_network(str(tmp_path / "it10"))
        cfg = case.config(communicator=comm, worker_loads=[2, 1])
        return Trainer(net, train, cfg, validation_data=val,
                       observers=[saver()] if comm.rank == 0 and resume is None else []).run(resume=resume)
    whole = run_workers(2, work)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["it10"]   # rank 0, once
    state = read_checkpoint(str(tmp_path / "it10"))
    resumed = run_workers(2, lambda comm: work(comm, state))
    for (net, info), (net2, info2) in zip(whole, resumed):
        for k, v in params(net).items():
            assert params(net2)[k].tobytes() == v.tobytes(), k
        np.testing.assert_array_equal(info2["training_loss"], info["training_loss"])
    train, val = case.data()
    alone = Trainer(load_network(str(tmp_path / "it10")), train, case.config(), validation_data=val).run(
        resume=read_checkpoint(str(tmp_path / "it10")))
    for k, v in params(whole[0][0]).items():
        np.testing.assert_allclose(params(alone[0])[k], v, rtol=1e-12, atol=1e-14, err_msg=k)


ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("mpi") / "train.py"


def _mpi_train(n, loads, *more, env=None, timeout=120):
    import os
    import subprocess

    from test_parallel import needs_mpi  # noqa: F401  (the marker's rule, shared)
    return subprocess.run(["mpiexec", *(["-disable-auto-cleanup"] if more else []), "-n", str(n), sys.executable,
                           str(SCRIPT), loads, *more], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


@pytest.mark.mpi
@pytest.mark.parametrize("n, loads", [(2, "equal"), (2, "1,3"), (3, "equal"), (3, "2,1,1")])
def test_mpi_workers_equal_one_process(n, loads, request):
    from test_parallel import needs_mpi
    needs_mpi(request.config)
    run = _mpi_train(n, loads)
    assert run.returncode == 0 and f"train-ok {n} 20" in run.stdout, run.stdout + run.stderr


@pytest.mark.mpi
def test_mpi_a_killed_worker_ends_the_run_within_the_timeout_with_the_network(request):
    import time

    from test_parallel import needs_mpi
    needs_mpi(request.config)
    t0 = time.monotonic()
    run = _mpi_train(3, "equal", "kill", env={"MINIDL_WORKER_TIMEOUT": "3"})
    assert "lost-ok 2 worker 2 (pid" in run.stdout, run.stdout + run.stderr
    assert time.monotonic() - t0 < 40


def test_time_decisions_are_rank_0s():
    def work(comm, **kw):
        train, val = case.data()
        return Trainer(case.network(), train, case.config(communicator=comm, **kw), validation_data=val).run()[1]
    limited = run_workers(3, lambda comm: work(comm, time_limit=0.0))       # rank 0 stops after its first step
    assert [len(info) for info in limited] == [1, 1, 1] and {i.stop_kind for i in limited} == {ev.TIME_LIMIT}
    every = run_workers(2, lambda comm: work(comm, validation_seconds=0.0, validation_frequency=None))
    for info in every:                                                       # due at each step by rank 0's clock
        assert np.isfinite(info["validation_loss"]).all()
        np.testing.assert_array_equal(info["validation_loss"], every[0]["validation_loss"])
