"""A tiny deterministic run computed by hand: the info arrays and the verbose table checked value by value; the info
record's exports (dict, CSV, JSON) and MATLAB field names."""

import io
import json
import math
import os

import numpy as np
import pytest

from minidl import layers as L
from minidl import train_network, training_options
from minidl.matlab.verbose import VerboseTable, format_rate, format_time
from minidl.training import TrainingInfo

RNG = np.random.default_rng(3)
X = RNG.standard_normal((22, 4))
Y = np.array(["b", "a", "c"])[RNG.integers(0, 3, 22)]
XV = RNG.standard_normal((7, 4))
YV = np.array(["a", "b", "c", "a", "c", "b", "a"])
W0 = 0.3 * RNG.standard_normal((3, 4))
B0 = np.array([0.1, 0.0, -0.1])


def layers():
    return [L.FeatureInput(4, normalization="none"), L.FullyConnected(3, weights=W0, bias=B0), L.Softmax(),
            L.ClassificationOutput()]


OPTIONS = dict(shuffle="never", mini_batch_size=5, max_epochs=3, precision="float64", initial_learn_rate=0.5,
               momentum=0.6, l2_regularization=0.01, validation_data=(XV, YV), validation_frequency=4,
               verbose_frequency=3, learn_rate_schedule="piecewise", learn_rate_drop_period=2,
               learn_rate_drop_factor=1e-5)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def by_hand():
    """MATLAB's loop for a softmax regression, every reported value per iteration (NaN where not validated)."""
    classes = np.array(["a", "b", "c"])
    t, tv = np.searchsorted(classes, Y), np.searchsorted(classes, YV)
    W, b = W0.copy(), B0.copy()
    vW, vb = np.zeros_like(W), np.zeros_like(b)
    rows = []
    it = 0
    for e in range(1, 4):
        lr = 0.5 * 1e-5 ** ((e - 1) // 2)
        for k in range(4):  # floor(22/5) = 4 iterations, 2 observations dropped
            it += 1
            x, tb = X[5 * k:5 * k + 5], t[5 * k:5 * k + 5]
            p = softmax(x @ W.T + b)
            loss = -np.mean(np.log(p[np.arange(5), tb]))
            acc = 100.0 * np.mean(p.argmax(1) == tb)
            d = p.copy()
            d[np.arange(5), tb] -= 1
            d /= 5
            gW, gb = d.T @ x, d.sum(0)
            gnorm = math.sqrt(np.sum(gW ** 2) + np.sum(gb ** 2))
            gW = gW + 0.01 * W  # L2 on weights only
            vW, vb = 0.6 * vW - lr * gW, 0.6 * vb - lr * gb
            W, b = W + vW, b + vb
            vl = va = np.nan
            if it == 1 or it % 4 == 0:
                pv = softmax(XV @ W.T + b)
                vl = -np.mean(np.log(pv[np.arange(7), tv]))
                va = 100.0 * np.mean(pv.argmax(1) == tv)
            rows.append((e, it, lr, loss, acc, vl, va, gnorm))
    pv = softmax(XV @ W.T + b)
    final = (-np.mean(np.log(pv[np.arange(7), tv])), 100.0 * np.mean(pv.argmax(1) == tv))
    return np.array(rows), final, (W, b)


@pytest.fixture(scope="module")
def run():
    out = io.StringIO()
    net, info = train_network(X, Y, layers(), training_options("sgdm", **OPTIONS), stream=out)
    return net, info, out.getvalue()


def test_info_arrays_value_by_value(run):
    net, info, _ = run
    rows, final, (W, b) = by_hand()
    assert len(info) == 12 and info.iterations_per_epoch == 4 and info.max_epochs == 3
    np.testing.assert_array_equal(info.epoch, rows[:, 0])
    np.testing.assert_array_equal(info.iterations, rows[:, 1])
    np.testing.assert_array_equal(info.base_learn_rate, rows[:, 2])
    for name, col in (("training_loss", 3), ("training_accuracy", 4), ("validation_loss", 5),
                      ("validation_accuracy", 6), ("gradient_norm", 7)):
        np.testing.assert_allclose(getattr(info, name), rows[:, col], rtol=1e-12, equal_nan=True, err_msg=name)
    assert info.final_validation_loss == pytest.approx(final[0], rel=1e-12)
    assert info.final_validation_accuracy == pytest.approx(final[1], rel=1e-12)
    np.testing.assert_allclose(net.params["fc_1.weight"], W, rtol=1e-12)
    assert (info.output_network_iteration, info.stop_reason) == (12, "Max epochs completed")
    assert info.training_rmse is None and info.validation_rmse is None and info.final_validation_rmse is None
    assert np.all(np.diff(info.time_since_start) >= 0) and info.elapsed_time >= info.time_since_start[-1]


def test_verbose_table_value_by_value(run):
    _, info, text = run
    rows, _, _ = by_hand()
    rule = "|" + "=" * 118 + "|"
    expected = [
        "Training on single CPU.",  # MATLAB's line before the table (§9)
        rule,
        "|  Epoch  |  Iteration  |  Time Elapsed  |  Mini-batch  |  Validation  |  Mini-batch  |  Validation  |"
        "  Base Learning  |",
        "|         |             |   (hh:mm:ss)   |   Accuracy   |   Accuracy   |     Loss     |     Loss     |"
        "      Rate       |",
        rule,
    ]
    printed = [1, 3, 4, 6, 8, 9, 12]  # 1, every 3rd, every validation (4, 8, 12), the last (12)
    for it in printed:
        e, _, lr, loss, acc, vl, va, _ = rows[it - 1]
        cells = [f"{int(e)}", f"{it}", format_time(info.time_since_start[it - 1]), f"{acc:.2f}%",
                 "" if np.isnan(va) else f"{va:.2f}%", f"{loss:.4f}", "" if np.isnan(vl) else f"{vl:.4f}",
                 f"{lr:.4e}" if lr < 1e-4 else f"{lr:.4f}"]
        widths = [9, 13, 16, 14, 14, 14, 14, 17]
        expected.append("|" + "|".join(c.rjust(w - 1) + " " for c, w in zip(cells, widths)) + "|")
    expected.append(rule)
    assert text.splitlines() == expected
    assert "5.0000e-06" in text and "0.5000" in text  # the rate after the drop is in e-format


def test_regression_table_has_rmse_columns_and_no_validation_columns():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 2))
    out = io.StringIO()
    _, info = train_network(x, x @ [1.0, 2.0], [L.FeatureInput(2), L.FullyConnected(1), L.RegressionOutput()],
                            training_options("adam", max_epochs=2, mini_batch_size=10, verbose_frequency=100),
                            stream=out)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["Training on single CPU.", "Initializing input data normalization."]  # zerocenter
    lines = lines[2:]
    assert lines[1] == "|  Epoch  |  Iteration  |  Time Elapsed  |  Mini-batch  |  Mini-batch  |  Base Learning  |"
    assert lines[2] == "|         |             |   (hh:mm:ss)   |     RMSE     |     Loss     |      Rate       |"
    assert len(lines) == 7  # header (4), iteration 1, the final iteration 6, closing rule
    assert lines[4].split("|")[4].strip() == f"{info.training_rmse[0]:.2f}"
    assert info.training_rmse[0] == pytest.approx(math.sqrt(2 * info.training_loss[0]), rel=1e-6)


def test_early_stop_prints_the_final_iteration_row():
    out = io.StringIO()
    table = VerboseTable(frequency=50, stream=out)
    train_network(X, Y, layers(), training_options("sgdm", max_epochs=3, mini_batch_size=5, verbose=False,
                                                   output_fcn=lambda info: info["Iteration"] == 7),
                  observers=[table])
    lines = out.getvalue().splitlines()
    assert [line.split("|")[2].strip() for line in lines[4:-1]] == ["1", "7"]
    assert lines[-1] == lines[0]


def test_format_helpers():
    assert format_time(0.99) == "00:00:00" and format_time(36000 + 61) == "10:01:01"
    assert format_rate(1e-4) == "0.0001" and format_rate(9.99e-5) == "9.9900e-05" and format_rate(0.0) == "0.0000"


def test_info_matlab_field_names_and_inapplicable_fields(run):
    _, info, _ = run
    assert info["TrainingLoss"] is info.training_loss and info["BaseLearnRate"] is info.base_learn_rate
    assert info["FinalValidationAccuracy"] == info.final_validation_accuracy
    assert info["OutputNetworkIteration"] == 12
    with pytest.raises(KeyError, match="TrainingRMSE"):
        info["TrainingRMSE"]
    assert "TrainingRMSE" not in info.keys() and "ValidationAccuracy" in info.keys()


def test_to_dict_csv_and_json_round_trip(run, tmp_path):
    _, info, _ = run
    d = info.to_dict()
    assert d["iteration"] == list(range(1, 13)) and "training_rmse" not in d
    assert d["settings"]["solver"] == "sgdm" and d["settings"]["mini_batch_size"] == 5
    info.to_csv(tmp_path / "log.csv")
    cols = TrainingInfo.read_csv(tmp_path / "log.csv")
    assert list(cols) == ["iteration", "epoch", "time_since_start", "base_learn_rate", "training_loss",
                          "training_accuracy", "validation_loss", "validation_accuracy", "gradient_norm"]
    for name in ("training_loss", "validation_loss", "gradient_norm", "base_learn_rate"):
        np.testing.assert_array_equal(cols[name], getattr(info, name))  # repr floats: exact
    info.to_json(tmp_path / "info.json")
    json.loads((tmp_path / "info.json").read_text())  # strict JSON: NaN written as null
    back = TrainingInfo.from_json(tmp_path / "info.json")
    for name in info.series_names():
        np.testing.assert_array_equal(getattr(back, name), getattr(info, name))
    for name in ("final_validation_loss", "final_validation_accuracy", "output_network_iteration", "stop_reason",
                 "elapsed_time", "iterations_per_epoch", "max_epochs", "is_classifier", "settings"):
        assert getattr(back, name) == getattr(info, name), name
    assert sorted(os.listdir(tmp_path)) == ["info.json", "log.csv"]  # no temporary files left


def test_json_and_csv_writes_are_atomic(run, tmp_path, monkeypatch):
    _, info, _ = run
    target = tmp_path / "info.json"
    target.write_text("previous")

    def broken(fd):  # the text is written to the temporary file, then the flush to disk fails
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        info.to_json(target)
    monkeypatch.undo()
    assert target.read_text() == "previous" and os.listdir(tmp_path) == ["info.json"]


def test_from_json_rejects_other_files(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a minidl training-info JSON"):
        TrainingInfo.from_json(p)


@pytest.mark.parametrize("plots", ["training-progress", "none"])
def test_plots_file_gets_the_training_progress_figure(tmp_path, plots, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = tmp_path / "progress.png"
    _, info = train_network(X, Y, layers(), training_options(
        "sgdm", **{**OPTIONS, "verbose": False, "plots": plots, "plots_file": path}))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["progress.png"]


def test_verbose_false_prints_nothing(capsys):
    train_network(X, Y, layers(), training_options("sgdm", **{**OPTIONS, "verbose": False}))
    assert capsys.readouterr().out == ""
    train_network(X, Y, layers(), training_options("sgdm", **OPTIONS))
    assert capsys.readouterr().out.count("\n") == 13  # "Training on single CPU.", header 4, rows 7, closing rule 1
