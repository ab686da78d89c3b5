"""The examples/wolfram_*.py scripts in their --quick form, and the claims they print."""

import importlib.util
import io
import os
from contextlib import redirect_stdout

import numpy as np
import pytest

#: The examples run end to end (seconds each): the slow set, which CI runs (`pytest -m slow`); the default local
#: run stays under 90 s.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(name, *argv):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with redirect_stdout(io.StringIO()) as out:
        result = module.main(["--quick", *argv])
    return result, out.getvalue()


def test_validation_set_example_best_net_not_overfitted(tmp_path):
    result, text = run("wolfram_validation_set", "--out", str(tmp_path))
    res, errors = result["results"], result["errors"]
    best = res["BestValidationRound"]
    assert best < res["TotalRounds"]
    assert res["ValidationLossList"][best - 1] == res["ValidationLossList"].min()
    assert errors["TrainedNet"] < 0.5 * errors["FinalNet"]               # nearer the true curve than the last net
    assert res["RoundLossList"][-1] < res["RoundLossList"][best - 1]      # the last net fits the training noise
    assert (tmp_path / "validation_set.png").stat().st_size > 0


def test_stopping_example_stops_early():
    runs, text = run("wolfram_stopping")
    patient = runs["Patience 20"]
    assert patient["ReasonTrainingStopped"] == "StoppingCriterion"
    assert patient["TotalRounds"] == patient["BestValidationRound"] + 20   # the 20th failed check stops
    assert runs["AbsoluteChange 0.001, Patience 5"]["TotalRounds"] < patient["TotalRounds"]


def test_regression_example_loss_is_the_mean_over_elements():
    result, text = run("wolfram_regression")
    assert result["same"] and "same net" in text
    assert result["by_hand"] == pytest.approx(result["validation_loss"], rel=1e-10)


def test_generator_example_learns_from_fresh_batches():
    result, text = run("wolfram_generator")
    assert result["calls"] == {1: 33, 2: 32, 3: 32, 4: 32}
    assert result["errors"][-1] < 0.1


def test_digits_example_classifies():
    result, text = run("wolfram_digits")
    assert result["accuracy"] > 0.9 and result["results"]["TotalRounds"] == 3


def test_hardest_examples_example(tmp_path):
    result, text = run("wolfram_hardest_examples", "--out", str(tmp_path))
    losses, hardest, mean_loss = result["losses"], result["hardest"], result["mean_loss"]
    assert losses.shape == (1000, 3) and not np.isnan(losses).any()
    assert mean_loss[hardest].min() >= np.delete(mean_loss, hardest).max()   # the 20 largest mean losses
    assert (tmp_path / "hardest_examples.png").stat().st_size > 0


def test_progress_function_appends_one_line_per_round_with_its_round_loss(tmp_path):
    result, _ = run("wolfram_progress_log", "--out", str(tmp_path))
    rounds = [int(r) for r, _ in result["lines"]]
    assert rounds == [1, 2, 3, 4, 5]                                     # once per round, by default
    losses = np.array([float(v) for _, v in result["lines"]])
    np.testing.assert_array_equal(losses, result["results"]["RoundLossList"])


def test_less_greater_classifier_returns_labels():
    result, text = run("wolfram_less_greater")
    assert result["answers"] == ["Less", "Greater"] and result["accuracy"] > 0.9
    p = result["probabilities"]
    assert p.shape == (2, 2) and np.allclose(p.sum(axis=1), 1.0)
