"""Stops that must lose nothing (issue 11 items 2, 3, 8): a second Ctrl-C never half-applies an update, a run in a
worker thread stops through an event, and the returned network's batch-norm statistics are finite."""

import threading

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.network import Network
from minidl.optim import SGDM, ConstantSchedule
from minidl.training import ArraySource, EngineConfig, Observer, Trainer
from minidl.training import events as ev
from minidl.training.trainer import _SigintGuard

RNG = np.random.default_rng(3)
X = RNG.standard_normal((40, 3))
T = X @ np.array([[1.0], [-2.0], [0.5]])


def net(bn=False):
    body = [L.FullyConnected(4), L.BatchNormalization(), L.ReLU()] if bn else []
    return Network([L.FeatureInput(3, normalization="none"), *body, L.FullyConnected(1), L.RegressionOutput()])


def config(**kw):
    base = dict(optimizer=SGDM(0.9), schedule=ConstantSchedule(0.01), max_epochs=4, batch_size=8, shuffle="never",
                dtype="float64", validation_frequency=None, validate_first_iteration=False, seed=1)
    return EngineConfig(**{**base, **kw})


def test_a_second_ctrl_c_inside_the_update_waits_for_its_end():
    guard = _SigintGuard()
    guard._handle(None, None)                       # the first: a clean stop is requested
    assert guard.requested
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with guard.update():
            steps.append("half")
            guard._handle(None, None)               # the second arrives mid-update: deferred ...
            steps.append("all")                     # ... the update completes
    assert steps == ["half", "all"]
    with pytest.raises(KeyboardInterrupt):          # outside the update it interrupts at once
        guard._handle(None, None)


def test_a_second_ctrl_c_inside_an_update_completes_the_iteration_then_stops():
    """The second Ctrl-C arrives after the first array of iteration 6 is stepped: every array, the optimizer and the
    record still take iteration 6 whole (the run equals one stopped cleanly after iteration 6)."""
    class SecondCtrlCAt6(Observer):
        def __init__(self, trainer):
            self.trainer = trainer

        def on_iteration(self, state):
            if state.iteration == 5:
                opt, guard = self.trainer.config.optimizer, self.trainer._guard
                real = opt.step

                def step(params, grads, lr, factors):
                    names = list(params)
                    real({names[0]: params[names[0]]}, {names[0]: grads[names[0]]}, lr, factors)
                    guard.requested = True
                    guard._handle(None, None)  # a second Ctrl-C, between the arrays
                    real({k: params[k] for k in names[1:]}, {k: grads[k] for k in names[1:]}, lr, factors)
                opt.step = step

    class CleanStopAt6(Observer):
        def on_iteration(self, state):
            return ev.INTERRUPT if state.iteration == 6 else None

    trainer = Trainer(net(), ArraySource(X, T), config(optimizer=SGDM(0.0)))
    trainer.observers.append(SecondCtrlCAt6(trainer))
    stopped, info = trainer.run()
    clean, clean_info = Trainer(net(), ArraySource(X, T), config(optimizer=SGDM(0.0)),
                                observers=[CleanStopAt6()]).run()
    assert info.stop_kind == ev.INTERRUPT and len(info) == 6 and info.output_network_iteration == 6
    for k in clean.params:
        np.testing.assert_array_equal(to_host(stopped.params[k]), to_host(clean.params[k]), err_msg=k)
    np.testing.assert_array_equal(info.training_loss, clean_info.training_loss)


def test_a_run_in_a_worker_thread_stops_through_its_event():
    stop = threading.Event()

    class SetAt(Observer):
        def on_iteration(self, state):
            if state.iteration == 3:
                stop.set()  # what the caller's thread does

    out = {}

    def work():
        out["net"], out["info"] = Trainer(net(), ArraySource(X, T), config(stop_event=stop),
                                          observers=[SetAt()]).run()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert len(out["info"]) == 3 and out["info"].stop_kind == ev.INTERRUPT and out["net"].initialized


def test_population_statistics_that_are_not_finite_keep_the_moving_averages(monkeypatch):
    from minidl.layers.normalization import BatchNormalization

    real = BatchNormalization.finish_population_pass

    def poisoned(self):
        real(self)
        self.state["variance"] = self.state["variance"] * np.nan  # what an overflow in the pass would give

    monkeypatch.setattr(BatchNormalization, "finish_population_pass", poisoned)
    trained, info = Trainer(net(bn=True), ArraySource(X, T), config()).run()
    bn = trained["batchnorm_1"]
    assert np.isfinite(to_host(bn.state["variance"])).all() and np.isfinite(trained.predict(X)).all()
    assert "moving averages" in info.non_finite["statistics"]


def test_a_second_ctrl_c_during_the_population_pass_still_returns_the_network(monkeypatch):
    from minidl.layers.normalization import BatchNormalization

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(BatchNormalization, "finish_population_pass", interrupted)
    trained, info = Trainer(net(bn=True), ArraySource(X, T), config()).run()
    assert info.stop_kind == ev.INTERRUPT and "interrupted" in info.non_finite["statistics"]
    assert np.isfinite(trained.predict(X)).all()


SCRIPT = r"""
import os, signal, sys, numpy as np, minidl
from minidl import layers as L
rng = np.random.default_rng(0)
X = rng.standard_normal((4000, 20)); Y = (X[:, 0] > 0).astype(int)
def ready(info):
    if info["State"] == "iteration" and info["Iteration"] == 3:   # Ctrl-C twice, as a person would, mid-iteration
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        print("interrupted twice", flush=True)
    return False
opts = minidl.training_options("sgdm", max_epochs=1000, mini_batch_size=64, verbose=False, output_fcn=ready,
                               precision="float64")
net, info = minidl.train_network(X, Y, [L.FeatureInput(20), L.FullyConnected(64), L.BatchNormalization(), L.ReLU(),
                                        L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()], opts)
finite = bool(np.isfinite(net.predict(X)).all())
print("done", info.stop_reason, len(info), info.output_network_iteration, finite, flush=True)
"""


def test_double_ctrl_c_on_a_process_still_returns_a_usable_network(tmp_path):
    """Two SIGINTs in a row to a training process: it ends cleanly, the network it returns predicts finite values."""
    import os
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "interrupted twice"
    reason, rows, updated, finite = lines[1].rsplit(" ", 3)
    # the second Ctrl-C came inside iteration 3: it completed whole, then training stopped and was finalized
    assert reason == "done Stopped by user" and rows == updated == "3" and finite == "True"
