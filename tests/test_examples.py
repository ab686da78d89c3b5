"""The MATLAB-dialect examples run end to end in their quick mode (the full runs are measured in the closing notes)."""

import importlib.util
import io
import math
import pathlib
from contextlib import redirect_stdout

import numpy as np
import pytest

#: The examples run end to end (seconds each): the slow set, which CI runs (`pytest -m slow`); the default local
#: run stays under 90 s.
pytestmark = pytest.mark.slow

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _run(name: str, tmp_path) -> dict:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with redirect_stdout(io.StringIO()):
        return module.main(["--quick", "--out", str(tmp_path)])


def test_matlab_digits_example_learns_above_chance(tmp_path):
    result = _run("matlab_digits", tmp_path)
    assert 0.2 < result["test_accuracy"] <= 1  # a fraction; the info record's accuracy is in percent
    assert 20 < result["final_validation_accuracy"] <= 100


def test_matlab_options_piecewise_example_drops_the_rate_by_0_2_every_5_epochs(tmp_path):
    result = _run("matlab_options_piecewise", tmp_path)
    for epoch, rate in enumerate(result["rates"], start=1):
        assert rate == pytest.approx(0.01 * 0.2 ** ((epoch - 1) // 5), rel=1e-12)
    assert result["accuracy"] > 0.2


def test_matlab_regression_example_reports_a_finite_rmse(tmp_path):
    result = _run("matlab_regression_angles", tmp_path)
    assert math.isfinite(result["rmse"]) and 0 < result["rmse"] < 60


def _snapshot(folder: pathlib.Path) -> dict:
    skip = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if not skip & set(p.parts)}


def test_examples_write_into_a_temporary_folder_not_the_repository(tmp_path, monkeypatch):
    """Without --out the figures go to a fresh temporary folder; the repository and the current folder stay as they
    were (docs/training-progress.png is rewritten only by progress_figure.py --docs)."""
    import tempfile

    repo, cwd, temp = EXAMPLES.parent, tmp_path / "cwd", tmp_path / "temp"
    cwd.mkdir()
    temp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    before = _snapshot(repo)
    spec = importlib.util.spec_from_file_location("progress_figure", EXAMPLES / "progress_figure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with redirect_stdout(io.StringIO()):
        assert module.main(["progress_figure.py", "--synthetic"]) == 0
        spec = importlib.util.spec_from_file_location("piecewise", EXAMPLES / "matlab_options_piecewise.py")
        piecewise = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(piecewise)
        piecewise.main(["--quick"])
    assert sorted(p.name for p in temp.rglob("*.png")) == ["piecewise-training-progress.png", "training-progress.png"]
    assert list(cwd.iterdir()) == []
    assert _snapshot(repo) == before


# ---------------------------------------------------------------- the sequence examples (docs/sequences.md)


def test_sequence_classification_example_trains_left_padded_and_classifies_every_test_sequence(tmp_path):
    from minidl import datasets

    result = _run("sequence_classification", tmp_path)
    assert len(result["info"].training_loss) == 3 * 96 // 24  # --quick: 96 sequences, mini-batches of 24, 3 epochs
    assert 0 <= result["accuracy"] <= 1 and set(result["net"].classes) == set(datasets.WAVEFORM_CLASSES)
    assert (tmp_path / "sequence-classification.png").stat().st_size > 0


def test_sequence_labelling_example_labels_every_real_step(tmp_path):
    from minidl import datasets

    result = _run("sequence_labelling", tmp_path)
    XTest, YTest = datasets.activity_test_data()
    predicted = result["net"].classify(XTest)
    assert [len(p) for p in predicted] == [len(y) for y in YTest]  # trimmed to each sequence's own length
    assert len(result["info"].training_loss) == 3 * 2  # 20 sequences in mini-batches of 10, 3 epochs
    assert (tmp_path / "sequence-labelling.png").stat().st_size > 0


def test_matlab_forecast_example_closed_and_open_loop_start_from_the_same_state(tmp_path):
    result = _run("matlab_sequence_forecast", tmp_path)
    closed, opened = result["closed"], result["open"]
    assert closed.shape == opened.shape == (1, 60) and np.isfinite(closed).all() and np.isfinite(opened).all()
    # both loops warm the state on the training series and then see the last training value: the same first step
    assert closed[0, 0] == pytest.approx(opened[0, 0], rel=1e-6)
    assert not np.allclose(closed[0, 1:], opened[0, 1:])  # then closed feeds its forecasts, open the observations
    assert (tmp_path / "forecast.png").stat().st_size > 0


def test_matlab_sequence_classification_example_sorts_and_pads_on_the_left(tmp_path):
    result = _run("matlab_sequence_classification", tmp_path)
    assert len(result["info"].TrainingLoss) == 3 * 96 // 24
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["accuracy_right_padding"] <= 1
    assert (tmp_path / "matlab-sequence-classification.png").stat().st_size > 0


def test_wolfram_sequence_example_trains_on_lists_of_vectors():
    spec = importlib.util.spec_from_file_location("wolfram_sequence_classification",
                                                  EXAMPLES / "wolfram_sequence_classification.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with redirect_stdout(io.StringIO()):
        result = module.main(["--quick"])
    res = result["results"]
    assert (res["TotalRounds"], res["TotalBatches"], res["TrainingExamples"]) == (3, 12, 96)
    assert 0 <= result["accuracy"] <= 1
    assert result["accuracy"] == pytest.approx(1 - res["ValidationMeasurements"]["ErrorRate"], abs=0.1)



def test_matlab_residual_digits_example_trains_a_dag_network(tmp_path):
    result = _run("matlab_residual_digits", tmp_path)
    assert result["test_accuracy"] >= 0.65           # measured 0.778 (3 epochs on 800 digits); chance 0.1
    assert result["skip_shape"] == (14, 14, 8, 2)
    assert not result["net"].is_chain


def test_residual_digits_example_trains_network_with_connections(tmp_path):
    result = _run("residual_digits", tmp_path)
    assert result["test_accuracy"] >= 0.65           # measured 0.778, as the MATLAB example's (the same network)
    assert not result["net"].is_chain


def test_inception_block_example_joins_four_branches(tmp_path):
    result = _run("inception_block", tmp_path)
    assert result["inception_shape"] == (14, 14, 20, 2)   # 4 + 8 + 4 + 4 channels
    assert result["test_accuracy"] >= 0.65           # measured 0.792 (3 epochs on 1000 digits)


def test_wolfram_residual_digits_example_trains_a_netgraph_with_a_total_layer(tmp_path):
    result = _run("wolfram_residual_digits", tmp_path)
    assert result["test_accuracy"] >= 0.65           # measured 0.820 (3 rounds on 1000 digits)
    assert not result["net"].is_chain and type(result["net"]["add"]).__name__ == "Addition"

def test_wolfram_loss_net_example_recovers_the_line_and_nettake_keeps_the_output(tmp_path):
    result = _run("wolfram_loss_net", tmp_path)
    assert abs(result["weight"] - [[2.0, -1.0]]).max() < 0.01 and abs(result["bias"][0] - 0.5) < 0.01
    assert result["same"] and result["ports"] == ["Loss", "Output"]


def test_wolfram_gan_example_matches_the_mixtures_moments(tmp_path):   # --quick: about 5 s on 2 cores
    result = _run("wolfram_gan", tmp_path)
    # the moments averaged over the last 50 rounds: one round's swing by up to ±0.7 at the equilibrium (the example's
    # docstring); measured within 0.09 (mean) and 0.05 (std) under the Haswell and Sandybridge OpenBLAS kernels
    assert abs(result["mean_averaged"] - result["data_mean"]) < 0.25
    assert abs(result["std_averaged"] - result["data_std"]) < 0.25
    assert 0.35 < result["fraction_positive"] < 0.65                # both modes, not one
