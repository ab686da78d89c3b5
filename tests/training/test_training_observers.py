"""The engine's state record and its generic observers, on a tiny float64 regression (no dialect involved): what each
iteration reports, named hooks, stop requests and who made them, sources told their epoch, early stopping,
keep-best, user functions, checkpoints (training state, network alone, replaced in place) and the file log."""

import json
import math
import os

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.network import Network
from minidl.optim import SGDM, ConstantSchedule
from minidl.training import (
    ArraySource,
    Checkpointer,
    EarlyStopping,
    EngineConfig,
    FileLog,
    KeepBest,
    MiniBatchSource,
    Observer,
    StopRequest,
    Trainer,
    UserFunction,
    load_network,
    read_checkpoint,
)
from minidl.training import events as ev
from minidl.training.observers import every_epoch

RNG = np.random.default_rng(11)
X = RNG.standard_normal((20, 3))
T = X @ np.array([[1.5], [-2.0], [0.5]])


def net():
    return Network([L.FeatureInput(3, normalization="none"), L.FullyConnected(1, weights=np.array([[0.1, 0.2, 0.3]])),
                    L.RegressionOutput()])


def config(**kw):
    base = dict(optimizer=SGDM(0.0), schedule=ConstantSchedule(0.05), max_epochs=3, batch_size=6, shuffle="once",
                dtype="float64", validation_frequency=None, validate_first_iteration=False, seed=3)
    return EngineConfig(**{**base, **kw})


class Record(Observer):
    """Copies of the state at every event, through the named hooks."""

    def __init__(self):
        self.events, self.states = [], []

    def _keep(self, state):
        self.events.append(state.event)
        self.states.append(state.copy())

    on_start = on_iteration = on_validation = on_epoch_end = on_done = _keep


def test_each_iteration_reports_its_batch_indices_size_and_position():
    rec = Record()
    trainer = Trainer(net(), ArraySource(X, T), config(record_example_losses=True), observers=[rec])
    trainer.run()
    its = [s for s in rec.states if s.event == ev.ITERATION]
    assert len(its) == 9 and [s.batch_in_epoch for s in its] == [1, 2, 3] * 3
    assert all(s.batch_size == 6 and len(s.batch_indices) == 6 for s in its)
    # the batches of an epoch are consecutive slices of the one shuffled order (shuffle 'once')
    epoch1 = np.concatenate([s.batch_indices for s in its[:3]])
    np.testing.assert_array_equal(epoch1, trainer.order[:18])
    assert len(set(epoch1.tolist())) == 18
    # typed per-example losses: their mean is the batch loss
    assert all(isinstance(s.example_losses, np.ndarray) for s in its)
    assert its[0].example_losses.mean() == pytest.approx(its[0].training_loss, rel=1e-12)
    assert rec.events[0] == ev.START and rec.events[-1] == ev.DONE and rec.events.count(ev.EPOCH_END) == 3
    assert rec.states[0].mini_batch_size == 6


def test_weights_on_request_are_host_copies_of_the_current_network():
    seen = {}

    class Grab(Observer):
        def on_iteration(self, state):
            if state.iteration == 2:
                seen["w"] = state.weights()

    trained, _ = Trainer(net(), ArraySource(X, T), config(max_epochs=2, batch_size=20), observers=[Grab()]).run()
    assert set(seen["w"]) == {"params/fc_1.weight", "params/fc_1.bias"}
    assert isinstance(seen["w"]["params/fc_1.weight"], np.ndarray)
    # iteration 2 is the last of this run: the copy equals the returned network's weight, and is a copy
    np.testing.assert_array_equal(seen["w"]["params/fc_1.weight"], to_host(trained.params["fc_1.weight"]))
    seen["w"]["params/fc_1.weight"][:] = 0
    assert np.any(to_host(trained.params["fc_1.weight"]) != 0)


@pytest.mark.parametrize("answer, kind", [(True, ev.USER_FUNCTION), ("early_stop", ev.EARLY_STOP),
                                          (StopRequest(ev.TIME_LIMIT, "enough"), ev.TIME_LIMIT)])
def test_a_stop_request_is_recorded_with_its_kind_and_the_observer_that_made_it(answer, kind):
    class Asker(Observer):
        def on_iteration(self, state):
            return answer if state.iteration == 4 else None

    _, info = Trainer(net(), ArraySource(X, T), config(stop_reasons={kind: f"worded {kind}"}),
                      observers=[Asker()]).run()
    assert len(info) == 4 and info.stop_kind == kind and info.stopped_by == "Asker"
    assert info.stop_reason == f"worded {kind}"            # the dialect's wording of the neutral kind


def test_an_observer_returning_something_else_is_a_clear_error():
    class Bad(Observer):
        def on_iteration(self, state):
            return 3

    with pytest.raises(TypeError, match="observer returned 3"):
        Trainer(net(), ArraySource(X, T), config(), observers=[Bad()]).run()
    with pytest.raises(ValueError, match="kind: got 'later'"):
        StopRequest("later")


def test_the_end_without_a_request_is_max_epochs_and_nobody_asked():
    _, info = Trainer(net(), ArraySource(X, T), config()).run()
    assert (info.stop_kind, info.stop_reason, info.stopped_by) == (ev.MAX_EPOCHS, ev.MAX_EPOCHS, None)


class EpochAware(MiniBatchSource):
    """A source that records which epoch the engine says it serves when each batch is read."""

    def __init__(self):
        self.epoch, self.reads = 0, []

    def __len__(self):
        return len(X)

    def start_epoch(self, epoch):
        self.epoch = epoch

    def read(self, indices):
        self.reads.append(self.epoch)
        return X[indices], T[indices]


def test_a_source_is_told_the_epoch_it_serves():
    src, val = EpochAware(), EpochAware()
    Trainer(net(), src, config(validate_each_epoch=True, validate_at_end=False), validation_data=val).run()
    assert src.reads[0] == 0                          # the shape probe, before training
    assert src.reads[-9:] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert set(val.reads[1:]) == {1, 2, 3} and val.epoch == 3


def test_epoch_aggregates_are_the_means_of_the_epochs_batches():
    _, info = Trainer(net(), ArraySource(X, T), config()).run()
    loss = info.training_loss.reshape(3, 3).mean(axis=1)
    np.testing.assert_allclose(info.epoch_training_loss, loss, rtol=1e-14)
    np.testing.assert_allclose(info.epochs()["rmse"], info.training_rmse.reshape(3, 3).mean(axis=1), rtol=1e-14)
    assert info.epoch_end_iteration.tolist() == [3, 6, 9] and info.epoch_training_accuracy is None


# ------------------------------------------------------------------------------------------------ generic observers
def replay(observer, values, event=ev.VALIDATION):
    """Feed ``observer`` checks with these values; the 1-based check where it asked to stop, or None."""
    for k, v in enumerate(values, 1):
        if observer.on_event(ev.TrainingState(event=event, epoch=k, iteration=k, validation_loss=v)):
            return k
    return None


def test_early_stopping_as_matlab_patience_and_with_thresholds():
    values = [1.0, 0.5, 0.5, 0.6, 0.4, 0.45, 0.44, 0.43]
    measure = lambda s: s.validation_loss  # noqa: E731
    assert replay(EarlyStopping(measure, 2), values) == 4            # 0.5 (equal) and 0.6 fail
    assert replay(EarlyStopping(measure, 3), values) == 8            # after 0.4, three checks fail to beat it
    assert replay(EarlyStopping(measure, 2, absolute_change=0.02), values) == 4
    assert replay(EarlyStopping(measure, 1, initial_patience=4), values) == 6   # failures before epoch 5 ignored
    assert replay(EarlyStopping(measure, 1, mode="max"), [0.1, 0.2, 0.15]) == 3
    stop = EarlyStopping(measure, 2)
    replay(stop, [1.0, 1.2])
    again = EarlyStopping(measure, 2)
    again.load_state_dict(json.loads(json.dumps(stop.state_dict())))
    assert (again.best, again.count) == (1.0, 1) and replay(again, [1.1]) == 1
    assert replay(EarlyStopping(measure, 1), [2.0, 1.0], event=ev.EPOCH_END) is None  # not its event


def test_keep_best_keeps_the_first_of_equal_checks():
    arrays = {"w": np.zeros(1)}
    keep = KeepBest(lambda s: s.validation_loss)
    for k, v in enumerate([0.5, 0.3, 0.3, 0.4], 1):
        arrays["w"] = np.array([float(k)])
        keep.on_event(ev.TrainingState(event=ev.VALIDATION, epoch=k, iteration=10 * k, validation_loss=v,
                                       weights=lambda: {"w": arrays["w"].copy()}))
    assert (keep.best_epoch, keep.best_iteration, keep.best_arrays["w"].tolist()) == (2, 20, [2.0])


def test_user_function_gets_its_dialects_record_and_may_stop():
    calls = []
    uf = UserFunction([lambda r: calls.append(r) or r == 3], lambda s: s.iteration,
                      lambda s: s.event == ev.ITERATION, lambda fn, result: bool(result))
    results = [uf.on_event(ev.TrainingState(event=e, iteration=i)) for e, i in
               [(ev.START, 0), (ev.ITERATION, 1), (ev.ITERATION, 3), (ev.DONE, 3)]]
    assert calls == [1, 3] and results == [None, None, ev.USER_FUNCTION, None]
    ignored = UserFunction([lambda r: True], lambda s: s, lambda s: True, None)     # results ignored
    assert ignored.on_event(ev.TrainingState(event=ev.ITERATION)) is None


def manifest_run(folder):
    """The run id of the checkpoints in ``folder`` (their per-iteration info side file carries it)."""
    return read_checkpoint(folder / "ck_3")[0]["training"]["run"]


def test_checkpointer_training_state_network_alone_and_replaced_in_place(tmp_path):
    full = tmp_path / "full"
    alone = tmp_path / "alone"
    full.mkdir()
    alone.mkdir()
    model = net()
    cks = [Checkpointer(str(full), every_epoch(), lambda s: f"ck_{s.iteration}"),
           Checkpointer(str(alone), every_epoch(2), lambda s: "net", network=lambda: model.copy()),
           Checkpointer(str(tmp_path / "latest"), every_epoch(), network=lambda: model.copy(), replace=True)]
    trained, _ = Trainer(model, ArraySource(X, T), config(), observers=cks).run()
    assert sorted(os.listdir(full)) == [f".minidl_history__{manifest_run(full)}.f8", "ck_3", "ck_6", "ck_9"]
    manifest, _ = read_checkpoint(full / "ck_6")
    assert manifest["training"]["iteration"] == 6                     # the whole training state
    assert os.listdir(alone) == ["net"] and read_checkpoint(alone / "net")[0]["training"] is None
    assert cks[2].paths == [str(tmp_path / "latest")]
    np.testing.assert_array_equal(to_host(load_network(tmp_path / "latest").params["fc_1.weight"]),
                                  to_host(trained.params["fc_1.weight"]))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporary entries left


def test_file_log_rows_at_its_interval_readable_while_training(tmp_path):
    path = str(tmp_path / "log.json")
    seen = []

    class Peek(Observer):
        def on_epoch_end(self, state):
            if os.path.exists(path):
                with open(path) as f:
                    seen.append(len(json.load(f)))

    log = FileLog(path, lambda s: {"epoch": s.epoch, "loss": s.training_loss}, every_epoch(),
                  lambda s: ["epoch", "loss"], every=0.0)
    _, info = Trainer(net(), ArraySource(X, T), config(), observers=[log, Peek()]).run()
    with open(path) as f:
        rows = json.load(f)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and seen == [1, 2, 3]
    assert rows[-1]["loss"] == pytest.approx(info.training_loss[-1]) and not math.isnan(rows[0]["loss"])
