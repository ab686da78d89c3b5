"""Wolfram's rules that pick the best round and stop training, checked on hand-made sequences (the mean squared
loss itself is tested with the other losses: tests/functional/test_losses.py, tests/layers/test_core_layers.py)."""

import types

import numpy as np

from minidl.training import events as ev
from minidl.training.events import TrainingState
from minidl.wolfram.observers import BestRound, reason
from minidl.wolfram.observers import stopping_criterion as StoppingCriterion
from minidl.wolfram.train import _best_key


# ------------------------------------------------------------------------------------------------ best round
class FakeNet:
    def __init__(self):
        self.round = 0

    def state_arrays(self):
        return {"round": np.array(self.round)}


def feed(book, trainer, values, is_classifier=True):
    for r, (err, loss) in enumerate(values, 1):
        trainer.net.round = r
        acc = None if err is None else 100 * (1 - err)
        s = TrainingState(event=ev.VALIDATION, epoch=r, iteration=r, validation_loss=loss, validation_accuracy=acc,
                          validation_rmse=None if is_classifier else loss ** 0.5, is_classifier=is_classifier,
                          weights=trainer.net.state_arrays)
        book.on_event(s)


def test_best_round_lowest_error_rate_then_lowest_loss_first_of_ties():
    trainer = types.SimpleNamespace(net=FakeNet())
    book = BestRound(_best_key(None, True), is_classifier=True)
    feed(book, trainer, [(0.25, 0.5), (0.125, 0.6), (0.125, 0.4), (0.125, 0.4), (0.375, 0.1)])
    assert book.best_round == 3 and int(book.best_arrays["round"]) == 3


def test_best_round_regression_lowest_loss_and_criterion_measurement():
    trainer = types.SimpleNamespace(net=FakeNet())
    book = BestRound(_best_key(None, False), is_classifier=False)
    feed(book, trainer, [(None, 0.5), (None, 0.2), (None, 0.3)], is_classifier=False)
    assert book.best_round == 2
    by_accuracy = _best_key({"Criterion": "Accuracy"}, True)
    assert by_accuracy({"Accuracy": 0.9, "Loss": 0.5}) < by_accuracy({"Accuracy": 0.8, "Loss": 0.1})


def stops_at(values, **spec):
    book = types.SimpleNamespace(validation_measures=[])
    crit = StoppingCriterion({"Criterion": "Loss", "Patience": 0, "InitialPatience": 0, "AbsoluteChange": 0.0,
                              "RelativeChange": 0.0, **spec}, book, on_validation=True)
    for r, v in enumerate(values, 1):
        book.validation_measures.append({"Loss": v})
        if crit.on_event(TrainingState(event=ev.VALIDATION, epoch=r)):
            return r
    return None


def test_stopping_criterion_rules():
    values = [1.0, 0.5, 0.45, 0.44, 0.6, 0.42, 0.7, 0.8]
    assert stops_at(values) == 5                                  # Patience 0: the first failure
    assert stops_at(values, Patience=1) == 5                      # Patience 1: the first failure too
    assert stops_at(values, Patience=2) == 8                      # 5 fails, 6 improves, 7 fails, 8 fails
    assert stops_at(values, AbsoluteChange=0.02) == 4             # 0.45 → 0.44 is not an improvement by > 0.02
    assert stops_at(values, RelativeChange=0.2) == 3              # 0.5 → 0.45 is only 10 %
    assert stops_at(values, AbsoluteChange=0.02, InitialPatience=5) == 7   # rounds < 5 are not checked
    assert stops_at([3.0, 2.0, 1.0]) is None


def test_stopping_criterion_without_validation_checks_round_measurements():
    book = types.SimpleNamespace(round_measures=[])
    crit = StoppingCriterion({"Criterion": "ErrorRate", "Patience": 0, "InitialPatience": 0, "AbsoluteChange": 0.0,
                              "RelativeChange": 0.0}, book, on_validation=False)
    results = []
    for r, e in enumerate([0.5, 0.25, 0.25], 1):
        book.round_measures.append({"ErrorRate": e, "Loss": 1.0})
        assert crit.on_event(TrainingState(event=ev.VALIDATION, epoch=r)) is None   # not its event
        results.append(crit.on_event(TrainingState(event=ev.EPOCH_END, epoch=r)))
    assert results == [None, None, ev.EARLY_STOP]


def test_reasons():
    assert [reason(r) for r in (ev.MAX_EPOCHS, ev.TIME_LIMIT, ev.INTERRUPT, ev.NON_FINITE, ev.USER_FUNCTION,
                                ev.EARLY_STOP)] == ["MaxTrainingRounds", "TimeGoal", "Aborted",
                                                          "WeightsDiverged", "ManualStop", "StoppingCriterion"]
