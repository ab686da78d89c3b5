"""TrainingProgressReporting (Print, a file, a function, Panel), TrainingProgressCheckpointing, custom properties."""

import json
import os

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.training import load_network
from minidl.wolfram import NetTrain, ProgressInfo, Quantity

RNG = np.random.default_rng(4)
X = RNG.standard_normal((12, 2))
LABELS = (X[:, 0] > 0).astype(int)


def classifier():
    return [L.FeatureInput(2, normalization="none"), L.FullyConnected(2, weights=np.array([[1.0, 0.0], [0.0, 1.0]]),
                                                                       bias=np.zeros(2)), L.Softmax()]


def run(prop="All", **kw):
    opts = {"MaxTrainingRounds": 3, "BatchSize": 4, "TrainingProgressReporting": None, **kw}
    return NetTrain(classifier(), (X, LABELS), prop, **opts)


def test_print_table(capsys):
    res = run(TrainingProgressReporting=("Print", {"Interval": Quantity(1, "Rounds")}),
              ValidationSet=(X[:4], LABELS[:4]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[:7] == ["Starting training.", "    Optimization Method: ADAM", "    Device: CPU",
                         "    Batch Size: 4", "    Batches Per Round: 3", "    Training Examples: 12",
                         "    Validation Examples: 4"]
    titles = [c.strip() for c in lines[7].split("|")]
    assert titles == ["%", "round", "batch", "inputs/second", "learning rate", "batch loss", "round loss",
                      "validation loss", "round ErrorRate", "validation ErrorRate", "time elapsed", "time remaining"]
    rows = [[c.strip() for c in line.split("|")] for line in lines[8:-1]]
    assert [r[:3] for r in rows] == [["33", "1/3", "3/3"], ["67", "2/3", "3/3"], ["100", "3/3", "3/3"]]
    assert [r[6] for r in rows] == [f"{v:.3g}" for v in res["RoundLossList"]]     # NumberForm[x, 3]
    assert [r[7] for r in rows] == [f"{v:.3g}" for v in res["ValidationLossList"]]
    assert lines[-1] == "Training complete."


def test_print_default_interval_and_stop_line(capsys):
    run(TrainingProgressReporting="Print",
        TrainingProgressFunction=(lambda p: p["AbsoluteBatch"] == 2, {"Interval": "Batch"}))
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines[7:] if "|" in line]
    assert [r.split("|")[2].strip() for r in rows] == ["1/3", "2/3"]   # the first batch, then the last
    assert lines[-1] == "Training stopped: ManualStop."


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_file_report(tmp_path, suffix):
    path = tmp_path / f"log{suffix}"
    res = run(TrainingProgressReporting=str(path), ValidationSet=(X[:4], LABELS[:4]))
    if suffix == ".json":
        rows = json.loads(path.read_text())
        loss = [r["RoundLoss"] for r in rows]
        assert list(rows[0]) == ["Round", "AbsoluteBatch", "TimeElapsed", "LearningRate", "BatchLoss", "RoundLoss",
                                 "RoundErrorRate", "ValidationLoss", "ValidationErrorRate"]
    else:
        lines = path.read_text().splitlines()
        assert lines[0] == ("Round,AbsoluteBatch,TimeElapsed,LearningRate,BatchLoss,RoundLoss,RoundErrorRate,"
                            "ValidationLoss,ValidationErrorRate")
        loss = [float(line.split(",")[5]) for line in lines[1:]]
    assert loss == res["RoundLossList"].tolist()                   # one row per round, values exact


def test_reporting_function_and_progress_info():
    seen = []
    run(TrainingProgressReporting=lambda info: seen.append(info))
    assert [s["Round"] for s in seen] == [1, 2, 3] and isinstance(seen[0], ProgressInfo)   # default: each round
    info = seen[-1]
    assert (info["AbsoluteBatch"], info["Batch"], info["BatchesPerRound"], info["Progress"]) == (9, 3, 3, 1.0)
    assert info["ExamplesProcessed"] == 36 and set(info["RoundMeasurements"]) == {"Loss", "ErrorRate"}
    net = info["Net"]                                               # made on request: the net at that moment
    assert [type(x).__name__ for x in net.layers] == ["FeatureInput", "FullyConnected", "Softmax"]
    with pytest.raises(KeyError, match="progress info has no key 'Nope'"):
        info["Nope"]
    batches = []
    run(TrainingProgressReporting=(batches.append, {"Interval": "Batch"}))
    assert [b["AbsoluteBatch"] for b in batches] == list(range(1, 10))


def test_progress_function_bad_return():
    with pytest.raises(TypeError, match="TrainingProgressFunction: .* returned 'stop'; allowed: 'StopTraining'"):
        run(TrainingProgressFunction=lambda p: "stop")


def test_panel_writes_the_training_progress_figure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                                     # headless: the figure goes to a file here
    res = run(TrainingProgressReporting="Panel")
    assert res["ReasonTrainingStopped"] == "MaxTrainingRounds"
    assert os.path.getsize(tmp_path / "training-progress.png") > 0


def test_progress_indicator(capsys, monkeypatch):
    from minidl.reporting import progress_bar

    monkeypatch.setattr(progress_bar, "_is_terminal", lambda stream: True)   # pretend stderr is a terminal
    run(TrainingProgressReporting="ProgressIndicator")
    err = capsys.readouterr().err
    assert "NetTrain" in err and "9/9" in err and "epoch=3/3" in err


def test_checkpoints_directory_every_second_round(tmp_path):
    res = run(MaxTrainingRounds=4, TrainingProgressCheckpointing=("Directory", str(tmp_path), {"Interval": 2}))
    files = res["CheckpointingFiles"]
    assert len(files) == 2 and sorted(os.listdir(tmp_path)) == sorted(os.path.basename(f) for f in files)
    assert "_round00002_batch0000006_" in files[0] and "_round00004_batch0000012_" in files[1]
    last = load_network(files[1])                                  # the engine's safe format
    np.testing.assert_array_equal(to_host(last.params["fc_1.weight"]), to_host(res["FinalNet"].params["fc_1.weight"]))
    assert [type(x).__name__ for x in last.layers] == ["FeatureInput", "FullyConnected", "Softmax"]


def test_checkpoint_file_overwritten(tmp_path):
    path = str(tmp_path / "net")
    res = run(TrainingProgressCheckpointing=("File", path))
    assert res["CheckpointingFiles"] == [path] and os.listdir(tmp_path) == ["net"]
    np.testing.assert_array_equal(to_host(load_network(path).params["fc_1.bias"]),
                                  to_host(res["FinalNet"].params["fc_1.bias"]))


def test_custom_properties():
    rounds, batches, trans, plot, fn = run([
        {"Property": "RoundLoss"},
        {"Property": "BatchLoss", "Interval": "Batch"},
        {"Property": "RoundMeasurements", "Form": "TransposedList"},
        {"Property": "LearningRate", "Form": "Plot", "Interval": "Batch"},
        {"Property": lambda p: p["Round"] * 10, "Interval": 2}])
    res = run()
    assert rounds == res["RoundLossList"].tolist() and batches == res["BatchLossList"].tolist()
    assert trans == {"Loss": res["RoundLossList"].tolist(),
                     "ErrorRate": [m["ErrorRate"] for m in res["RoundMeasurementsLists"]]}
    assert plot.axes[0].get_lines()[0].get_xdata().tolist() == list(range(1, 10))
    assert fn == [20]                                               # every second round
