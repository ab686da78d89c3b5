"""End to end on the embedded digits: the documented example (python -m minidl) reaches ≥ 95 % validation accuracy
in 8 epochs, and the rotation-angle regression example a validation RMSE under 10 degrees."""

import importlib.util
import io
import os
import re
from contextlib import redirect_stdout

import numpy as np
import pytest

from minidl.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_python_m_minidl_reaches_95_percent_in_8_epochs(tmp_path):
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--max-epochs", "8", "--info-json", str(tmp_path / "info.json")]) == 0
    text = out.getvalue()
    final = float(re.search(r"Final validation accuracy: ([\d.]+)%", text)[1])
    assert final >= 95.0
    rows = [line for line in text.splitlines() if re.match(r"^\|\s+\d+ \|", line)]
    assert rows[0].split("|")[2].strip() == "1" and rows[-1].split("|")[2].strip() == "312"  # 8 · floor(5000/128)
    from minidl import TrainingInfo
    info = TrainingInfo.from_json(tmp_path / "info.json")
    assert info.final_validation_accuracy == pytest.approx(final, abs=0.005)
    # validated at iteration 1, every 30th and the last (docs/semantics-matlab.md#7-validation)
    assert np.flatnonzero(~np.isnan(info.validation_accuracy)).tolist() == [0] + list(range(29, 312, 30)) + [311]


@pytest.mark.slow
def test_rotation_angle_regression_example_reaches_rmse_under_10_degrees():
    with redirect_stdout(io.StringIO()):
        net, info, rmse = _example("regression_angles").main(max_epochs=6, verbose=False)
    assert rmse < 10.0
    assert info.final_validation_rmse == pytest.approx(rmse, rel=1e-4)


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_options_piecewise_example_drops_the_rate_every_5_epochs(tmp_path):
    with redirect_stdout(io.StringIO()) as out:
        options, net, info = _example("options_piecewise").main(max_epochs=6, plots_file=str(tmp_path / "p.png"))
    assert options.mini_batch_size == 64 and len(info) == 6 * 78
    assert "learning rate per epoch: 1: 0.01, 2: 0.01, 3: 0.01, 4: 0.01, 5: 0.01, 6: 0.002" in out.getvalue()
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.slow
def test_train_digits_example_holds_out_1000_for_validation(tmp_path):
    with redirect_stdout(io.StringIO()):
        net, info = _example("train_digits").main(max_epochs=1, plots_file=None)
    assert info.iterations_per_epoch == 4000 // 128 and info.final_validation_accuracy > 80
