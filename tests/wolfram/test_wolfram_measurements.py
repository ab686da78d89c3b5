"""Output measurements (Precision, Recall, F1Score, ConfusionMatrix, AUC, CohenKappa, R2, MeanDeviation, custom):
the vectorized values against loops written from the definitions, and through NetTrain against the final net."""

import itertools

import numpy as np
import pytest

from minidl.errors import NotSupportedYetError
from minidl.wolfram import NetTrain
from minidl.wolfram import layers as W
from minidl.wolfram import measurements as M

QUIET = dict(TrainingProgressReporting=None, RandomSeeding=3, WorkingPrecision="Real64")


def naive(y, t, k):
    """Definitions, one example and one pair at a time."""
    pred = [int(np.argmax(row)) for row in y]
    c = np.zeros((k, k), dtype=int)
    for ti, pi in zip(t, pred):
        c[ti, pi] += 1
    prec, rec, f1, auc = [], [], [], []
    for cl in range(k):
        tp = sum(1 for ti, pi in zip(t, pred) if ti == cl and pi == cl)
        npred, ntrue = sum(1 for pi in pred if pi == cl), sum(1 for ti in t if ti == cl)
        p = tp / npred if npred else np.nan
        r = tp / ntrue if ntrue else np.nan
        prec.append(p)
        rec.append(r)
        f1.append(2 * tp / (npred + ntrue) if npred + ntrue else np.nan)
        pos = [y[i, cl] for i in range(len(t)) if t[i] == cl]
        neg = [y[i, cl] for i in range(len(t)) if t[i] != cl]
        pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a, b in itertools.product(pos, neg)]
        auc.append(sum(pairs) / len(pairs) if pairs else np.nan)
    n = len(t)
    po = sum(1 for ti, pi in zip(t, pred) if ti == pi) / n
    pe = sum((sum(1 for ti in t if ti == cl) / n) * (sum(1 for pi in pred if pi == cl) / n) for cl in range(k))
    return c, prec, rec, f1, auc, (po - pe) / (1 - pe)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_values_match_the_definitions(seed):
    rng = np.random.default_rng(seed)
    k, n = 3, 40
    y = np.round(rng.dirichlet(np.ones(k), n), 1)          # rounded: ties in the AUC ranks
    t = rng.integers(0, k, n)
    c, prec, rec, f1, auc, kappa = naive(y, t, k)
    np.testing.assert_array_equal(M.confusion_matrix(y, t, k), c)
    v = M.from_confusion(c)
    np.testing.assert_allclose(v["Precision"], prec)
    np.testing.assert_allclose(v["Recall"], rec)
    np.testing.assert_allclose(v["F1Score"], f1)
    assert v["CohenKappa"] == pytest.approx(kappa, rel=1e-12)
    np.testing.assert_allclose(M.area_under_roc(y, t, k), auc, rtol=1e-12)


def test_undefined_ratios_are_nan():
    y = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0]])
    t = np.array([0, 1])
    v = M.from_confusion(M.confusion_matrix(y, t, 3))
    assert v["Precision"][0] == 0.5 and np.isnan(v["Precision"][1]) and np.isnan(v["Recall"][2])
    assert np.isnan(M.area_under_roc(y, t, 3)[2])            # no example of class 2


def test_regression_values_match_the_definitions(rng):
    y, t = rng.standard_normal((10, 2)), rng.standard_normal((10, 2))
    ss_res = sum((y[i, j] - t[i, j]) ** 2 for i in range(10) for j in range(2))
    ss_tot = sum((t[i, j] - t[:, j].mean()) ** 2 for i in range(10) for j in range(2))
    v = M.regression_values(y, t)
    assert v["R2"] == pytest.approx(1 - ss_res / ss_tot, rel=1e-12)
    assert v["MeanDeviation"] == pytest.approx(np.mean(np.abs(y - t)), rel=1e-12)


def blobs(rng, n):
    centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    t = rng.integers(0, 3, n)
    return centers[t] + rng.standard_normal((n, 2)), np.array(["a", "b", "c"])[t]


def test_nettrain_measurements_per_batch_round_and_validation(rng):
    X, labels = blobs(rng, 90)
    Xv, lv = blobs(rng, 30)

    def agreement(batch):
        return float(np.mean(np.array(["a", "b", "c"])[np.argmax(batch["Output"], axis=1)] == batch["Target"]))

    spec = ["Precision", "Recall", "F1Score", "ConfusionMatrix", "AUC", "CohenKappa",
            {"Measurement": agreement, "Key": "Agreement"}]
    final, batches, rounds, vals = NetTrain(
        [W.LinearLayer(3), W.SoftmaxLayer()], (X, labels),
        ["FinalNet", "BatchMeasurementsLists", "RoundMeasurementsLists", "ValidationMeasurementsLists"],
        ValidationSet=(Xv, lv), TrainingProgressMeasurements=spec, MaxTrainingRounds=4, BatchSize=30, **QUIET)
    assert list(vals[-1]) == ["Loss", "Precision", "Recall", "F1Score", "ConfusionMatrix", "AreaUnderROCCurve",
                              "CohenKappa", "Agreement"]
    # validation: exact over the validation set with the final net
    yv = final.predict(Xv)
    tv = np.searchsorted(["a", "b", "c"], lv)
    c, prec, _, _, auc, kappa = naive(yv, tv, 3)
    np.testing.assert_array_equal(vals[-1]["ConfusionMatrix"], c)
    assert list(vals[-1]["Precision"]) == ["a", "b", "c"]
    np.testing.assert_allclose(list(vals[-1]["Precision"].values()), prec, rtol=1e-10)
    np.testing.assert_allclose(list(vals[-1]["AreaUnderROCCurve"].values()), auc, rtol=1e-10)
    assert vals[-1]["CohenKappa"] == pytest.approx(kappa, rel=1e-10)
    assert vals[-1]["Agreement"] == pytest.approx(1 - np.mean(final(Xv) != lv))
    # rounds pool their batches: the confusion matrix counts every training example once per round
    assert all(r["ConfusionMatrix"].sum() == 90 for r in rounds)
    assert len(batches) == 12 and all(b["ConfusionMatrix"].sum() == 30 for b in batches)
    for r, k in zip(rounds, range(4)):       # the custom value: the mean of the round's batch values
        assert r["Agreement"] == pytest.approx(np.mean([b["Agreement"] for b in batches[3 * k:3 * k + 3]]))


def test_regression_measurements_and_the_confusion_plot(rng):
    X = rng.standard_normal((40, 2))
    Y = X @ np.array([1.0, -2.0]) + 0.5
    final, vals = NetTrain([W.LinearLayer(1)], (X, Y), ["FinalNet", "ValidationMeasurements"],
                           ValidationSet=(X, Y), TrainingProgressMeasurements=["R2", "MeanDeviation"],
                           MaxTrainingRounds=30, BatchSize=10, Method="ADAM", LearningRate=0.05, **QUIET)
    expected = M.regression_values(final.predict(X), Y)
    assert vals["R2"] == pytest.approx(expected["R2"], rel=1e-10) and vals["R2"] > 0.9
    assert vals["MeanDeviation"] == pytest.approx(expected["MeanDeviation"], rel=1e-10)
    plot = M.ConfusionMatrixPlot(np.array([[3, 1], [0, 4]]), ["x", "y"])
    fig = plot.figure()
    assert [t.get_text() for t in fig.axes[0].texts] == ["3", "1", "0", "4"]


def test_measurement_errors():
    X, Y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    net = [W.LinearLayer(2), W.SoftmaxLayer()]
    with pytest.raises(ValueError, match="'R2' applies to regression networks"):
        NetTrain(net, (X, Y), TrainingProgressMeasurements="R2", **QUIET)
    with pytest.raises(NotSupportedYetError, match="'Precision'; not supported yet as a stopping criterion"):
        NetTrain(net, (X, Y), TrainingStoppingCriterion="Precision", **QUIET)
    with pytest.raises(ValueError, match="needs 'Key'"):
        NetTrain(net, (X, Y), TrainingProgressMeasurements=[{"Measurement": lambda b: 1.0}], **QUIET)
    with pytest.raises(TypeError, match="'Odd': f returned 'x'; allowed: a number"):
        NetTrain(net, (X, Y), TrainingProgressMeasurements=[{"Measurement": lambda b: "x", "Key": "Odd"}],
                 MaxTrainingRounds=1, **QUIET)


def test_final_plots_cover_the_scalar_measurements(rng):
    X, labels = blobs(rng, 30)
    plots = NetTrain([W.LinearLayer(3), W.SoftmaxLayer()], (X, labels), "FinalPlots",
                     TrainingProgressMeasurements=["Precision", "CohenKappa", "ConfusionMatrixPlot"],
                     MaxTrainingRounds=2, BatchSize=10, **QUIET)
    assert list(plots) == ["Loss", "CohenKappa"]


def test_a_net_without_classes_returns_outputs_and_refuses_a_property(rng):
    net = W.NetChain([W.LinearLayer(2)]).initialize((3,), rng=rng, dtype="float64")
    x = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(net(x), net.predict(x))
    with pytest.raises(ValueError, match="prop: got 'Probabilities'; allowed: None"):
        net(x, "Probabilities")


def test_the_print_report_leaves_per_class_cells_blank(rng, capsys):
    X, labels = blobs(rng, 30)
    kw = {**QUIET, "TrainingProgressReporting": "Print"}
    NetTrain([W.LinearLayer(3), W.SoftmaxLayer()], (X, labels), TrainingProgressMeasurements=["Precision"],
             MaxTrainingRounds=2, BatchSize=10, **kw)
    out = capsys.readouterr().out
    assert "round Precision" in out and "{" not in out
