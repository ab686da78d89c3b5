"""Every property's value on tiny deterministic runs: batch and round bookkeeping, permutations, example losses,
validation, the best round, and the results object (docs/semantics-wolfram.md)."""

import math

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.layers.output import ClassificationOutput
from minidl.wolfram import PROPERTIES, NetTrain, NetTrainResultsObject, Scaled

RNG = np.random.default_rng(3)
X = RNG.standard_normal((10, 3))
LABELS = np.array(list("abcabcabca"))
XV = RNG.standard_normal((5, 3))
LV = np.array(list("cabba"))
W = RNG.standard_normal((3, 3))
B = RNG.standard_normal(3)


def classifier():
    return [L.FeatureInput(3, normalization="none"), L.FullyConnected(3, weights=W, bias=B), L.Softmax()]


def fixed_losses(x, labels):
    """ℓₙ = −log softmax(x Wᵀ + b)[class of n] and the predicted class, for the frozen net."""
    z = x @ W.T + B
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    k = np.searchsorted(np.array(["a", "b", "c"]), labels)
    return -np.log(p[np.arange(len(x)), k]), p.argmax(1) != k


@pytest.fixture(scope="module")
def frozen():
    """All learning rates 0: the net never changes, so every recorded value can be recomputed from it."""
    return NetTrain(classifier(), (X, LABELS), ["ResultsObject", "ExampleLosses", "BatchPermutation"],
                    MaxTrainingRounds=3, BatchSize=4, LearningRateMultipliers=0, WorkingPrecision="Real64",
                    ValidationSet=((XV, LV), {"Interval": 2}), TrainingProgressReporting=None)


def test_batch_permutation_fixed_compositions(frozen):
    _, _, perm = frozen
    assert perm.shape == (9, 4)                           # ceil(10/4) batches a round, the last filled up to 4
    first = perm[:3]
    assert sorted(set(first.reshape(-1).tolist())) == list(range(10))   # every example in every round
    assert set(first[2, 2:].tolist()) <= set(first[:2].reshape(-1).tolist())   # the fill: from the other batches
    np.testing.assert_array_equal(perm[3:6], first)       # 3 batches (≤ 4): the same batches in the same order
    np.testing.assert_array_equal(perm[6:9], first)


def test_batch_and_round_losses_by_hand(frozen):
    res, _, perm = frozen
    ell, wrong = fixed_losses(X, LABELS)
    batch = [ell[p].mean() for p in perm]                 # batch loss = mean over the batch
    np.testing.assert_allclose(res["BatchLossList"], batch, rtol=1e-12)
    np.testing.assert_allclose(res["RoundLossList"], [np.mean(batch[3 * r:3 * r + 3]) for r in range(3)],
                               rtol=1e-12)                # round loss = mean of its batch losses
    errors = [wrong[p].mean() for p in perm]
    np.testing.assert_allclose([m["ErrorRate"] for m in res["BatchMeasurementsLists"]], errors, atol=1e-15)
    assert list(res["BatchMeasurementsLists"][0]) == ["Loss", "ErrorRate"]   # Automatic: Loss, ErrorRate
    np.testing.assert_allclose([m["ErrorRate"] for m in res["RoundMeasurementsLists"]],
                               [np.mean(errors[3 * r:3 * r + 3]) for r in range(3)], atol=1e-15)
    assert res["RoundLoss"] == res["RoundLossList"][-1]
    assert res["RoundMeasurements"] == res["RoundMeasurementsLists"][-1]


def test_example_losses_by_hand(frozen):
    res, losses, _ = frozen
    ell, _ = fixed_losses(X, LABELS)
    assert losses.shape == (10,)                          # each example's latest loss
    np.testing.assert_allclose(losses, ell, rtol=1e-12)
    assert "ExampleLosses" in res                         # asked for by name: in the object too


def test_validation_every_second_round_by_hand(frozen):
    res, _, _ = frozen
    ell, wrong = fixed_losses(XV, LV)
    np.testing.assert_allclose(res["ValidationLossList"], [ell.mean()] * 2, rtol=1e-12)   # round 2, and the end
    assert res["ValidationMeasurementsLists"][-1] == res["ValidationMeasurements"]
    assert res["ValidationMeasurementsLists"][0] == pytest.approx(res["ValidationMeasurements"], rel=1e-12)
    assert res["ValidationMeasurements"]["ErrorRate"] == pytest.approx(wrong.mean(), abs=1e-15)
    assert res["ValidationPositions"].tolist() == [6, 9]
    v = res["ValidationLossList"]                          # the same net: equal up to summation order
    assert res["BestValidationRound"] == (3 if v[1] < v[0] else 2)   # the lowest; ties keep the earlier
    assert res["ValidationLoss"] == res["ValidationLossList"][-1]


def test_counts_positions_and_settings(frozen):
    res, _, _ = frozen
    assert (res["TotalBatches"], res["TotalRounds"], res["BatchesPerRound"], res["BatchSize"]) == (9, 3, 3, 4)
    assert res["RoundPositions"].tolist() == [3, 6, 9]
    assert (res["ExamplesProcessed"], res["TrainingExamples"], res["ValidationExamples"]) == (36, 10, 5)  # 9 × 4
    assert res["ReasonTrainingStopped"] == "MaxTrainingRounds"
    assert res["OptimizationMethod"] == "ADAM" and res["TargetDevice"] == "CPU"
    assert res["InitialLearningRate"] == res["FinalLearningRate"] == 0.001
    assert res["TrainingUpdateSchedule"] == "Automatic" and res["CheckpointingFiles"] == []
    assert res["WeightsLearningRateMultipliers"] == {"fc_1.weight": 0.0, "fc_1.bias": 0.0}
    t = res["TotalTrainingTime"]
    assert res["MeanBatchesPerSecond"] == pytest.approx(9 / t) and res["MeanExamplesPerSecond"] == pytest.approx(36 / t)
    assert res["NetTrainInputForm"].startswith("NetTrain([FeatureInput, FullyConnected, Softmax], <10 examples")


def test_nets_returned(frozen):
    res, _, _ = frozen
    for key in ("TrainedNet", "FinalNet"):
        net = res[key]
        assert [type(layer).__name__ for layer in net.layers] == ["FeatureInput", "FullyConnected", "Softmax"]
        np.testing.assert_array_equal(to_host(net.params["fc_1.weight"]), W)     # frozen: unchanged
        assert net.classes.tolist() == ["a", "b", "c"]
        assert net.layers[1].learn_rate_factors == {"weight": 1.0, "bias": 1.0}  # as given, not the multipliers
    assert isinstance(res["TrainingNet"].layers[-1], ClassificationOutput)      # the loss NetTrain attached


def test_results_object_is_a_mapping_of_every_cheap_property(frozen):
    res, _, _ = frozen
    assert isinstance(res, NetTrainResultsObject)
    assert res["Properties"] == res.properties == list(res)
    assert set(res.properties) == set(PROPERTIES) - {"ResultsObject", "Properties"}
    assert res.batch_loss_list is res["BatchLossList"] and res.trained_net is res["TrainedNet"]
    assert "rounds: 3" in repr(res)


def test_expensive_properties_only_when_asked():
    res = NetTrain(classifier(), (X, LABELS), "All", MaxTrainingRounds=1, BatchSize=5,
                   TrainingProgressReporting=None)
    with pytest.raises(KeyError, match="ExampleLosses"):
        res["ExampleLosses"]
    assert "BatchPermutation" not in res.properties


def test_loss_plot_and_final_plots(frozen):
    res, _, _ = frozen
    fig = res["LossPlot"]
    lines = fig.axes[0].get_lines()
    np.testing.assert_array_equal(lines[0].get_ydata(), res["BatchLossList"])      # batch losses
    np.testing.assert_array_equal(lines[1].get_xdata(), res["RoundPositions"])     # round means at round ends
    np.testing.assert_array_equal(lines[2].get_ydata(), res["ValidationLossList"])
    plots = res["FinalPlots"]
    assert list(plots) == ["Loss", "ErrorRate"]
    err = [m["ErrorRate"] for m in res["BatchMeasurementsLists"]]
    np.testing.assert_array_equal(plots["ErrorRate"].axes[0].get_lines()[0].get_ydata(), err)


def test_single_property_list_and_snake_names():
    lst, rounds = NetTrain(classifier(), (X, LABELS), ["RoundLossList", "total_rounds"], MaxTrainingRounds=2,
                           BatchSize=5, TrainingProgressReporting=None)
    assert lst.shape == (2,) and rounds == 2


def test_scaled_holds_out_a_fraction_never_trained_on():
    x = np.random.default_rng(0).standard_normal((20, 3))
    labels = np.array(list("abc" * 7)[:20])
    res, losses, perm = NetTrain(classifier(), (x, labels), ["All", "ExampleLosses", "BatchPermutation"],
                                 ValidationSet=Scaled(0.25), MaxTrainingRounds=2, BatchSize=4,
                                 TrainingProgressReporting=None)
    assert (res["TrainingExamples"], res["ValidationExamples"]) == (15, 5)
    held = np.flatnonzero(np.isnan(losses))               # held-out examples: never a loss
    assert len(held) == 5 and not np.isnan(np.delete(losses, held)).any()
    seen = perm[:4].reshape(-1)                           # the first round: positions in the data as given
    assert sorted(set(seen.tolist())) == sorted(set(range(20)) - set(held.tolist()))
    again = NetTrain(classifier(), (x, labels), "ExampleLosses", ValidationSet=Scaled(0.25), MaxTrainingRounds=1,
                     BatchSize=4, TrainingProgressReporting=None)
    assert np.flatnonzero(np.isnan(again)).tolist() == held.tolist()   # the same seed: the same split


# ------------------------------------------------------------------------------------------------ the best round
XR = np.linspace(-1.0, 1.0, 8)
M2 = np.mean(XR ** 2)


def slope_net():
    return [L.FeatureInput(1, normalization="none"), L.FullyConnected(1, weights=np.zeros((1, 1)),
                                                                       bias=np.zeros(1))]


def slope_run(**options):
    """w_k = 2(1 − 0.8ᵏ) on t = 2x (full batch, μ = 0, lr with lr·2·mean(x²) = 0.2, bias frozen); validation on
    t = x has its minimum loss where w is closest to 1: round 3 (w = 0.976)."""
    lr = 0.2 / (2 * M2)
    opts = {"Method": ("SGD", {"Momentum": 0.0, "LearningRateSchedule": None}), "LearningRate": lr,
            "BatchSize": 8, "MaxTrainingRounds": 8, "LearningRateMultipliers": {"fc_1.bias": 0},
            "WorkingPrecision": "Real64", "ValidationSet": (XR, XR), "TrainingProgressReporting": None, **options}
    return NetTrain(slope_net(), (XR, 2 * XR), "All", **opts)


def w_of(net):
    return float(to_host(net.params["fc_1.weight"])[0, 0])


def test_trained_net_is_the_best_validation_round_final_net_the_last():
    res = slope_run()
    w = [2 * (1 - 0.8 ** k) for k in range(1, 9)]
    np.testing.assert_allclose(res["ValidationLossList"], [(wk - 1) ** 2 * M2 for wk in w], rtol=1e-10)
    assert res["BestValidationRound"] == 3
    assert w_of(res["TrainedNet"]) == pytest.approx(w[2], rel=1e-12)
    assert w_of(res["FinalNet"]) == pytest.approx(w[7], rel=1e-12)


def test_no_validation_set_trained_net_is_final_net():
    res = slope_run(ValidationSet=None)
    assert res["BestValidationRound"] is None and res["ValidationExamples"] is None
    assert w_of(res["TrainedNet"]) == w_of(res["FinalNet"])
    assert res["ValidationLossList"].shape == (0,)


def test_stopping_criterion_patience_stops_early():
    """Checks at each validation: rounds 1-3 improve, 4 and 5 fail; Patience 2 stops at the second failure."""
    res = slope_run(TrainingStoppingCriterion={"Criterion": "Loss", "Patience": 2})
    assert res["ReasonTrainingStopped"] == "StoppingCriterion"
    assert res["TotalRounds"] == 5 and res["BestValidationRound"] == 3
    patient = slope_run(MaxTrainingRounds=10, TrainingStoppingCriterion={"Patience": 2, "InitialPatience": 6})
    assert patient["TotalRounds"] == 8                    # rounds 1-5 not checked, 6 sets the best, 7 and 8 fail
    stop_now = slope_run(TrainingStoppingCriterion="Loss")   # Patience 0: the first failure stops
    assert stop_now["TotalRounds"] == 4


def test_time_goal_progress_function_and_divergence_reasons():
    short = slope_run(TimeGoal=1e-9, BatchSize=4)
    assert (short["TotalBatches"], short["TotalRounds"], short["ReasonTrainingStopped"]) == (1, 1, "TimeGoal")
    assert short["RoundLossList"].shape == (0,) and short["RoundLoss"] is None   # the round did not complete
    seen = []

    def stop_at_five(p):
        seen.append((p["AbsoluteBatch"], p["Round"], p["Batch"]))
        return "StopTraining" if p["AbsoluteBatch"] == 5 else None

    res = slope_run(TrainingProgressFunction=stop_at_five)
    assert res["ReasonTrainingStopped"] == "ManualStop" and res["TotalBatches"] == 5
    assert seen == [(k, k, 1) for k in range(1, 6)]       # default interval: every batch
    diverged = slope_run(LearningRate=1e200, ValidationSet=None)
    assert diverged["ReasonTrainingStopped"] == "WeightsDiverged"
    assert math.isfinite(w_of(diverged["FinalNet"]))       # the last finite net is returned


def test_batch_norm_statistics_are_moving_averages():
    """Wolfram's BatchNormalizationLayer keeps moving averages (momentum 0.9); no population pass after training."""
    net = [L.FeatureInput(1, normalization="none"), L.BatchNormalization(), L.FullyConnected(1)]
    trained = NetTrain(net, (XR + 3.0, XR), MaxTrainingRounds=1, BatchSize=8, WorkingPrecision="Real64",
                       TrainingProgressReporting=None)
    assert float(to_host(trained.layers[1].state["mean"])[0]) == pytest.approx(0.1 * np.mean(XR + 3.0), rel=1e-12)
