"""The audit log streamed while training (log_file=, AuditLog): appended and flushed each epoch (issue 12 item 8)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import minidl
from minidl.training.info import TrainingInfo
from minidl.training.observers import AuditLog


def _opts(**kw):
    base = dict(max_epochs=3, mini_batch_size=20, verbose=False, shuffle="never", validation_frequency=2)
    return minidl.training_options("sgdm", **{**base, **kw})


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_log_file_holds_every_iteration_as_the_info(problem, tmp_path, ext):
    path = tmp_path / f"log.{ext}"
    _, info = minidl.train_network(problem.X, problem.Y, problem.mlp(),
                                   _opts(log_file=str(path), validation_data=(problem.Xv, problem.Yv)))
    if ext == "csv":
        info.to_csv(tmp_path / "full.csv")
        assert path.read_text() == (tmp_path / "full.csv").read_text()   # the same bytes as the final export
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert [r["iteration"] for r in rows] == info.iterations.tolist()
        np.testing.assert_array_equal([r["training_loss"] for r in rows], info.training_loss)
        got = np.array([np.nan if r["validation_loss"] is None else r["validation_loss"] for r in rows])
        np.testing.assert_array_equal(got, info.validation_loss)
        assert "training_rmse" not in rows[0] and rows[0]["epoch"] == 1


def test_rows_are_on_disk_at_each_epoch_end_and_after_a_crash(problem, tmp_path):
    path = tmp_path / "log.csv"
    seen = []

    def read_back(info):
        if info["State"] == "iteration" and info["Iteration"] in (3, 4, 7):
            seen.append(len(TrainingInfo.read_csv(path)["iteration"]))
        if info["Iteration"] == 8:   # the output function runs before the log: the log has seen iteration 7
            raise RuntimeError("crash")
        return False

    with pytest.raises(RuntimeError, match="crash"):
        minidl.train_network(problem.X, problem.Y, problem.mlp(), _opts(log_file=str(path), output_fcn=read_back))
    # 3 iterations per epoch: at iteration 3 its epoch has not ended yet (EPOCH_END follows ITERATION): no rows;
    # after the first epoch end 3 rows, after the second 6
    assert seen == [0, 3, 6]
    assert TrainingInfo.read_csv(path)["iteration"].tolist() == list(range(1, 8))   # row 7 flushed on the way out


def test_resume_keeps_rows_up_to_the_checkpoint_and_appends(problem, tmp_path):
    path, ck = tmp_path / "log.jsonl", tmp_path / "ck"
    ck.mkdir()
    _, full = minidl.train_network(problem.X, problem.Y, problem.mlp(),
                                   _opts(log_file=str(path), checkpoint_path=str(ck)))
    names = [n for n in os.listdir(ck) if not n.startswith(".")]                 # (the run's hidden side file)
    first = sorted(names, key=lambda n: int(n.split("__")[1]))[0]                 # after epoch 1 (iteration 3)
    with path.open("a") as f:
        f.write('{"iteration": 99, "partial')                                   # a row cut by a kill
    minidl.train_network(problem.X, problem.Y, None, _opts(log_file=str(path)), resume_from=str(ck / first))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["iteration"] for r in rows] == full.iterations.tolist()
    np.testing.assert_array_equal([r["training_loss"] for r in rows], full.training_loss)


def test_log_file_errors(tmp_path):
    with pytest.raises(ValueError, match=r"log_file: got .*log.txt'; allowed: a file name ending in .csv or .jsonl"):
        minidl.training_options("sgdm", log_file=str(tmp_path / "log.txt"))
    with pytest.raises(ValueError, match="does not exist"):
        minidl.training_options("sgdm", log_file=str(tmp_path / "no" / "log.csv"))
    with pytest.raises(TypeError, match="log_file"):
        minidl.training_options("sgdm", log_file=3)
    with pytest.raises(ValueError, match="allowed"):
        AuditLog(tmp_path / "log.json")


def test_epochs_view_is_the_mean_of_each_epoch(problem):
    _, info = minidl.train_network(problem.X, problem.Y, problem.mlp(), _opts())
    view = info.epochs()
    np.testing.assert_allclose(view["loss"], info.training_loss.reshape(3, 3).mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(view["accuracy"], info.training_accuracy.reshape(3, 3).mean(axis=1), rtol=1e-12)
    assert view["end_iteration"].tolist() == [3, 6, 9]
