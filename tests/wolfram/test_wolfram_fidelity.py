"""Issue 10's rules of NetTrain that the reference page leaves implicit (docs/semantics-wolfram.md), each against a
direct transcription of the rule or a hand count."""

import math
import types

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.network import Network
from minidl.optim.schedules import ScheduleValueWarning
from minidl.training import events as ev
from minidl.training.events import TrainingState
from minidl.wolfram import NetTrain, Quantity, Span
from minidl.wolfram.observers import stopping_criterion


# ------------------------------------------------------------------------------------------------ stopping criterion
def reference_stop_round(values, patience=0, initial=0, absolute=0.0, relative=0.0, mode="min"):
    """The rule of docs/semantics-wolfram.md §8, transcribed: the round where training stops (None: never)."""
    sign = 1.0 if mode == "min" else -1.0
    best, count = None, 0
    for r, v in enumerate(values, 1):
        if r < initial:                                   # below InitialPatience: not evaluated, best unchanged
            continue
        if best is None:
            best = v
            continue
        gain = sign * (best - v)
        threshold = absolute or relative * abs(best)
        count = 0 if (gain > 0 and gain >= threshold) else count + 1
        best = min(best, v) if mode == "min" else max(best, v)   # the running optimum of every check
        if count >= max(patience, 1):
            return r
    return None


def criterion_stop_round(values, criterion="Loss", **spec):
    book = types.SimpleNamespace(validation_measures=[])
    full = {"Criterion": criterion, "Patience": 0, "InitialPatience": 0, "AbsoluteChange": 0.0,
            "RelativeChange": 0.0, **spec}
    crit = stopping_criterion(full, book, on_validation=True)
    for r, v in enumerate(values, 1):
        book.validation_measures.append({criterion: v})
        if crit.on_event(TrainingState(event=ev.VALIDATION, epoch=r)) == ev.EARLY_STOP:
            return r
    return None


SEQUENCES = {
    "slow steady": [1.0 - 0.0004 * r for r in range(40)],
    "plateau then drop": [1.0, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5],
    "noisy": [1.0, 0.8, 0.85, 0.79, 0.795, 0.7, 0.72, 0.71, 0.73, 0.74, 0.75],
    "rising": [0.5, 0.6, 0.7, 0.8, 0.9],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
@pytest.mark.parametrize("spec", [{}, {"Patience": 2}, {"Patience": 3, "AbsoluteChange": 0.001},
                                  {"Patience": 2, "RelativeChange": 0.05}, {"Patience": 1, "InitialPatience": 4},
                                  {"Patience": 3, "InitialPatience": 3, "AbsoluteChange": 0.02}])
def test_stopping_criterion_matches_the_transcribed_rule(name, spec):
    values = SEQUENCES[name]
    expected = reference_stop_round(values, spec.get("Patience", 0), spec.get("InitialPatience", 0),
                                    spec.get("AbsoluteChange", 0.0), spec.get("RelativeChange", 0.0))
    assert criterion_stop_round(values, **spec) == expected


def test_slow_steady_improvement_stops():
    """Gains of 0.0004 a round never reach AbsoluteChange 0.001: every check after the first fails (the best still
    moves), so Patience 3 stops at round 4."""
    assert criterion_stop_round(SEQUENCES["slow steady"], Patience=3, AbsoluteChange=0.001) == 4


def test_initial_patience_neither_checks_nor_moves_the_best():
    """Rounds 1-4 are below InitialPatience 5: the low 0.1 of round 2 is never the best; round 5 sets it."""
    values = [1.0, 0.1, 0.9, 0.9, 0.5, 0.4, 0.45, 0.46]
    assert criterion_stop_round(values, Patience=2, InitialPatience=5) == 8
    assert reference_stop_round(values, 2, 5) == 8


def test_accuracy_criterion_maximizes():
    values = [0.5, 0.6, 0.6, 0.65, 0.64, 0.62]
    assert criterion_stop_round(values, "Accuracy", Patience=2) == 6
    assert reference_stop_round(values, 2, mode="max") == 6


# ------------------------------------------------------------------------------------------------ schedules, properties

RNG = np.random.default_rng(10)
X = RNG.standard_normal((12, 2))
Y = X @ np.array([1.0, -2.0]) + 0.5


def linear():
    return [L.FeatureInput(2, normalization="none"), L.FullyConnected(1, weights=np.zeros((1, 2)), bias=np.zeros(1))]


def run(prop, **options):
    opts = {"MaxTrainingRounds": 3, "BatchSize": 4, "WorkingPrecision": "Real64", "TrainingProgressReporting": None,
            **options}
    return NetTrain(linear(), (X, Y), prop, **opts)


def rates(res):
    """The learning rate of every batch (a custom property collected each batch)."""
    return np.array(res)


def test_schedule_is_called_with_batch_from_zero_and_trains_to_the_end():
    """Wolfram's own example f = 1 − #1/#2 is valid: batch 0 … T − 1, so the last factor is 1/T, never 0."""
    seen = []

    def f(batch, total):
        seen.append((batch, total))
        return 1 - batch / total
    res = run(["All", {"Property": "LearningRate", "Form": "List", "Interval": "Batch"}],
              Method=("SGD", {"LearningRateSchedule": f}), LearningRate=0.1)
    T = 9
    assert seen == [(b, T) for b in range(T)]
    np.testing.assert_allclose(rates(res[1]), [0.1 * (1 - b / T) for b in range(T)], rtol=1e-15)
    all_ = res[0]
    assert all_["ReasonTrainingStopped"] == "MaxTrainingRounds" and all_["TotalBatches"] == T
    assert all_["FinalLearningRate"] == pytest.approx(0.1 / T, rel=1e-15)
    assert all_["InitialLearningRate"] == 0.1


def test_schedule_value_outside_0_1_is_clipped_with_a_warning():
    with pytest.warns(ScheduleValueWarning, match=r"returned 1.5, outside \[0, 1\]; clipped to 1.0"):
        res = run({"Property": "LearningRate", "Form": "List", "Interval": "Batch"},
                  Method=("ADAM", {"LearningRateSchedule": lambda b, t: 1.5 - b}), LearningRate=0.01)
    np.testing.assert_allclose(rates(res), [0.01, 0.005] + [0.0] * 7, rtol=0, atol=0)   # 1.5 → 1, 0.5, −0.5 → 0
    with pytest.raises(ValueError, match=r"returned nan; allowed: a real number in \[0, 1\]"):
        run("FinalNet", Method=("ADAM", {"LearningRateSchedule": lambda b, t: math.nan}))


def test_initial_learning_rate_is_the_setting_and_batch_size_the_effective_one():
    """SGD's Automatic schedule makes the first batch's rate 0.01·√(1 − 1/(T + 1)); InitialLearningRate is still
    0.01.  BatchSize 64 on 12 examples trains in batches of 12: the BatchSize property is 12."""
    res = run("All", Method="SGD")
    assert res["InitialLearningRate"] == 0.01
    assert res["FinalLearningRate"] < 0.01
    big = run("All", BatchSize=64)
    assert (big["BatchSize"], big["BatchesPerRound"], big["ExamplesProcessed"]) == (12, 1, 36)


# ------------------------------------------------------------------------------------------------ intervals
def batches_seen(interval=None, **options):
    """AbsoluteBatch at each call of a TrainingProgressFunction (3 rounds of 3 batches)."""
    seen = []

    def f(p):
        seen.append(p["AbsoluteBatch"])
    run("FinalNet", TrainingProgressFunction=f if interval is None else (f, {"Interval": interval}), **options)
    return seen


def test_progress_function_runs_once_per_round_by_default():
    assert batches_seen() == [3, 6, 9]


@pytest.mark.parametrize("interval, expected", [
    ("Batch", list(range(1, 10))), ("Round", [3, 6, 9]), (Quantity(2, "Batches"), [2, 4, 6, 8]),
    (Quantity(2, "Rounds"), [6]), (Quantity(50, "Percent"), [5, 9]), (Quantity(1e-9, "Seconds"), list(range(1, 10))),
    (Quantity(1, "Hours"), []), (1e-9, list(range(1, 10))), (3600, [])])   # a bare number: seconds
def test_progress_function_intervals(interval, expected):
    assert batches_seen(interval) == expected


def test_quantity_spelling_and_errors():
    assert Quantity(2, "round") == Quantity(2, "Rounds") and Quantity(2, "min").seconds == 120.0
    with pytest.raises(ValueError, match="Quantity unit: got 'Epochs'; allowed: 'Batches', 'Rounds'"):
        Quantity(1, "Epochs")
    with pytest.raises(ValueError, match=r"Quantity\(1.5, 'Rounds'\): a count of rounds must be a whole number"):
        Quantity(1.5, "Rounds")
    with pytest.raises(ValueError, match="TrainingProgressFunction 'Interval': got -1; allowed: 'Batch', 'Round', a "
                                         r"number \(seconds\)"):
        batches_seen(-1)


@pytest.mark.parametrize("interval, positions", [
    (Quantity(2, "Batches"), [2, 4, 6, 8, 9]), (5, [9]), (Quantity(5, "Rounds"), [9]), ("Round", [3, 6, 9]),
    (Quantity(1e-9, "Seconds"), list(range(1, 10))), (Quantity(40, "Percent"), [4, 8, 9])])
def test_validation_intervals_and_the_final_validation(interval, positions):
    """Every interval kind; the last batch is validated even when the interval is longer than the run."""
    res = run("All", ValidationSet=((X[:4], Y[:4]), {"Interval": interval}))
    assert res["ValidationPositions"].tolist() == positions
    assert len(res["ValidationLossList"]) == len(positions) and res["BestValidationRound"] is not None


def test_final_validation_after_a_stop_mid_round():
    res = run("All", ValidationSet=(X[:4], Y[:4]),
              TrainingProgressFunction=(lambda p: p["AbsoluteBatch"] == 5, {"Interval": "Batch"}))
    assert res["ReasonTrainingStopped"] == "ManualStop"
    assert res["ValidationPositions"].tolist() == [3, 5]


def test_checkpoint_and_custom_property_intervals(tmp_path):
    res, losses = run(["All", {"Property": "BatchLoss", "Interval": Quantity(3, "Batches")}],
                      TrainingProgressCheckpointing=("Directory", str(tmp_path), {"Interval": Quantity(4, "Batches")}))
    assert len(res["CheckpointingFiles"]) == 2                     # batches 4 and 8
    np.testing.assert_array_equal(losses, res["BatchLossList"][[2, 5, 8]])


def test_reporting_function_bare_number_means_seconds():
    rows = []
    run("FinalNet", TrainingProgressReporting=(lambda p: rows.append(p["AbsoluteBatch"]), {"Interval": 3600}))
    assert rows == []
    run("FinalNet", TrainingProgressReporting=(lambda p: rows.append(p["AbsoluteBatch"]), {"Interval": 1e-9}))
    assert rows == list(range(1, 10))


# ------------------------------------------------------------------------------------------------ TimeGoal progress
def test_time_goal_progress_and_time_remaining():
    """MaxTrainingRounds Automatic with a TimeGoal of 0.5 s: rounds are only a cap (10000), so the progress is the
    time fraction and the time remaining what is left of the goal."""
    seen = []

    def f(p):
        seen.append((p["AbsoluteBatch"], p["TotalBatches"], p["TimeElapsed"], p["Progress"], p["TimeRemaining"]))
        return "StopTraining" if p["AbsoluteBatch"] == 20 else None
    run("FinalNet", MaxTrainingRounds="Automatic", TimeGoal=0.5, TrainingProgressFunction=(f, {"Interval": "Batch"}))
    assert len(seen) == 20
    for it, total, elapsed, progress, remaining in seen:
        assert progress == min(1.0, max(it / total, elapsed / 0.5))
        if elapsed / 0.5 > it / total:
            assert remaining == pytest.approx(0.5 - elapsed, rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------------------------------------ initialization
def test_layers_netrain_initializes_start_from_kaiming_normal():
    """NetInitialize's default: weights N(0, 2/fan_in) drawn from the run's generator (RandomSeeding), zero biases;
    the net given keeps its own settings."""
    x = RNG.standard_normal((16, 50))
    given = [L.FeatureInput(50, normalization="none"), L.FullyConnected(200), L.FullyConnected(1)]
    net = NetTrain(given, (x, x[:, 0]), "FinalNet", MaxTrainingRounds=1, BatchSize=16, LearningRateMultipliers=0,
                   WorkingPrecision="Real64", TrainingProgressReporting=None)
    ref = Network([L.FeatureInput(50, normalization="none"), L.FullyConnected(200, weights_initializer="he"),
                   L.FullyConnected(1, weights_initializer="he")])
    ref.initialize((50,), rng=np.random.default_rng(1234), dtype="float64")
    for name in ("fc_1.weight", "fc_2.weight"):
        np.testing.assert_array_equal(to_host(net.params[name]), to_host(ref.params[name]))
    w = to_host(net.params["fc_1.weight"])
    assert w.std() == pytest.approx(math.sqrt(2 / 50), rel=0.05)
    assert not to_host(net.params["fc_1.bias"]).any()
    assert given[1].weights_initializer == "normal" and not given[1].initialized
    kept = [L.FeatureInput(50, normalization="none"), L.FullyConnected(1, weights_initializer="glorot")]
    net = NetTrain(kept, (x, x[:, 0]), "FinalNet", MaxTrainingRounds=1, BatchSize=16, LearningRateMultipliers=0,
                   TrainingProgressReporting=None)
    assert np.abs(to_host(net.params["fc_1.weight"])).max() <= math.sqrt(6 / 51)   # glorot's bound, as asked


# ------------------------------------------------------------------------------------------------ batch norm freezing
def test_learning_rate_multiplier_0_on_batch_norm_freezes_its_moving_statistics():
    x = RNG.standard_normal((8, 1)) + 3.0
    net = [L.FeatureInput(1, normalization="none"), L.BatchNormalization(name="bn"), L.FullyConnected(1)]
    kw = {"MaxTrainingRounds": 2, "BatchSize": 4, "WorkingPrecision": "Real64", "TrainingProgressReporting": None}
    frozen = NetTrain(net, (x, x[:, 0]), "FinalNet", LearningRateMultipliers={"bn": 0}, **kw)
    assert to_host(frozen.layers[1].state["mean"]).tolist() == [0.0]
    assert to_host(frozen.layers[1].state["variance"]).tolist() == [1.0]
    assert frozen.layers[1].update_statistics                      # the returned net's layer trains normally again
    moving = NetTrain(net, (x, x[:, 0]), "FinalNet", **kw)
    assert float(to_host(moving.layers[1].state["mean"])[0]) > 0.5


# ------------------------------------------------------------------------------------------------ batch composition
def test_more_than_4_batches_shuffle_the_order_of_fixed_batches():
    """26 examples in batches of 4: 7 batches a round, the last holding 2 examples and 2 fillers drawn from the
    other batches; every round the same 7 batches, in a new order; ExamplesProcessed = 3 · 7 · 4."""
    x = RNG.standard_normal((26, 2))
    res, perm, losses = NetTrain(linear(), (x, x.sum(1)), ["All", "BatchPermutation", "ExampleLosses"],
                                 MaxTrainingRounds=3, BatchSize=4, TrainingProgressReporting=None)
    assert perm.shape == (21, 4) and res["ExamplesProcessed"] == 84 and res["BatchesPerRound"] == 7
    rounds = [perm[7 * r:7 * r + 7] for r in range(3)]
    batches = [sorted(tuple(sorted(b)) for b in r.tolist()) for r in rounds]
    assert batches[0] == batches[1] == batches[2]                       # compositions fixed for the run
    assert len({tuple(r.reshape(-1)) for r in rounds}) == 3             # the order shuffled every round
    assert sorted(set(perm.reshape(-1).tolist())) == list(range(26))
    counts = np.bincount(rounds[0].reshape(-1), minlength=26)
    assert sorted(counts.tolist()) == [1] * 24 + [2] * 2                 # two examples drawn twice: the fill
    assert losses.shape == (26,) and np.isfinite(losses).all()
    np.testing.assert_allclose(res["RoundLossList"], res["BatchLossList"].reshape(3, 7).mean(1), rtol=1e-12)


# ------------------------------------------------------------------------------------------------ per-part specs
def one_step(sub=None, **options):
    """One full-batch SGD step (μ 0, no schedule, lr 0.1) from w = 0, b = 0: (w, b) after it."""
    method = ("SGD", {"Momentum": 0.0, "LearningRateSchedule": None, **(sub or {})})
    net = run("FinalNet", Method=method, LearningRate=0.1, MaxTrainingRounds=1, BatchSize=12, **options)
    return to_host(net.params["fc_1.weight"])[0], to_host(net.params["fc_1.bias"])[0]


G_W = (2 * (0 - Y) / 12) @ X              # the gradients of the mean squared loss at w = 0, b = 0
G_B = np.sum(2 * (0 - Y) / 12)


def test_per_part_gradient_and_weight_clipping():
    w, b = one_step({"GradientClipping": {"fc_1.bias": 0.01}})
    np.testing.assert_allclose(w, -0.1 * G_W, rtol=1e-12)                    # weights: not clipped
    assert b == pytest.approx(-0.1 * np.clip(G_B, -0.01, 0.01), rel=1e-12)  # bias: clipped to ±0.01
    w, b = one_step({"WeightClipping": [(("fc_1", "weight"), 0.05)]})
    np.testing.assert_allclose(w, np.clip(-0.1 * G_W, -0.05, 0.05), rtol=1e-12)
    assert b == pytest.approx(-0.1 * G_B, rel=1e-12)
    assert np.abs(-0.1 * G_W).max() > 0.05 and abs(0.1 * G_B) > 0.01           # both limits were active


@pytest.mark.parametrize("spec, frozen", [
    ({Span(1, 1): None}, {"w", "b"}), ({("fc_1", "bias"): 0}, {"b"}), ([(slice(1, 2), 0)], {"w", "b"}),
    ({"fc_1": None, "All": 1}, {"w", "b"}), ({"All": 0.5}, set())])
def test_learning_rate_multipliers_none_spans_and_nested_parts(spec, frozen):
    w, b = one_step(LearningRateMultipliers=spec)
    assert (not w.any()) == ("w" in frozen) and (b == 0) == ("b" in frozen)
    if not frozen and spec == {"All": 0.5}:
        np.testing.assert_allclose(w, -0.05 * G_W, rtol=1e-12)


# ------------------------------------------------------------------------------------------------ progress info
def test_progress_info_carries_wolframs_keys():
    seen = []

    def f(p):
        seen.append({k: p[k] for k in ("AbsoluteBatch", "Event", "BatchIndices", "BatchData", "Gradients",
                                       "GradientsRMS", "Weights", "WeightsRMS", "BatchesPerSecond",
                                       "ExamplesPerSecond", "ExampleLosses")})
        seen[-1]["net"] = {k: to_host(v) for k, v in p["Net"].params.items()}
    res, perm = run(["All", "BatchPermutation"], TrainingProgressFunction=(f, {"Interval": "Batch"}))
    assert [s["AbsoluteBatch"] for s in seen] == list(range(1, 10))
    assert {s["Event"] for s in seen} == {"BatchComplete"}
    for s, rows in zip(seen, perm):
        np.testing.assert_array_equal(s["BatchIndices"], rows)
        np.testing.assert_array_equal(s["BatchData"]["Input"], X[rows])
        np.testing.assert_array_equal(s["BatchData"]["Output"], Y[rows])
        assert list(s["Gradients"]) == list(s["Weights"]) == ["fc_1.weight", "fc_1.bias"]
        for k, g in s["Gradients"].items():
            assert s["GradientsRMS"][k] == pytest.approx(np.sqrt(np.mean(g ** 2)), rel=1e-12)
            np.testing.assert_array_equal(s["Weights"][k], s["net"][k])
            assert s["WeightsRMS"][k] == pytest.approx(np.sqrt(np.mean(s["Weights"][k] ** 2)), rel=1e-12)
        assert s["BatchesPerSecond"] > 0 and s["ExamplesPerSecond"] == pytest.approx(4 * s["BatchesPerSecond"])
        assert s["ExampleLosses"] is None                        # not asked for: not recorded
    np.testing.assert_array_equal(seen[-1]["Weights"]["fc_1.weight"], to_host(res["FinalNet"].params["fc_1.weight"]))
    events = []
    run("FinalNet", TrainingProgressFunction=lambda p: events.append(p["Event"]))
    assert events == ["RoundComplete"] * 3
    with pytest.raises(KeyError, match="progress info has no key 'Gradient'; keys: AbsoluteBatch"):
        run("FinalNet", TrainingProgressFunction=lambda p: p["Gradient"])


def test_example_losses_history_as_a_custom_property():
    latest, history = run(["ExampleLosses", {"Property": "ExampleLosses", "Interval": "Round"}],
                          LearningRateMultipliers=0)
    assert latest.shape == (12,) and len(history) == 3
    for h in history:                                      # a frozen net: every round gives each example its loss
        np.testing.assert_allclose(h, latest, rtol=1e-12)
    only = run({"Property": "ExampleLosses", "Interval": "Round"})
    assert len(only) == 3 and np.isfinite(only[-1]).all()
