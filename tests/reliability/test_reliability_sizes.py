"""Checkpoint size does not grow with the run: the per-iteration info series are appended to a side file."""

from __future__ import annotations

import os

import numpy as np
import pytest

import minidl as dl
from minidl.training import read_checkpoint
from minidl.training.info import SERIES
from tests.reliability.conftest import tiny_data, tiny_layers, tiny_options, visible


def test_each_checkpoint_writes_the_same_bytes_and_the_side_file_only_the_new_rows(tmp_path):
    X, Y = tiny_data(120)
    net, info = dl.train_network(X, Y, tiny_layers(), tiny_options(tmp_path, max_epochs=6, mini_batch_size=4))
    paths = visible(tmp_path)
    sizes = [os.path.getsize(os.path.join(p, "arrays.npz")) for p in paths]
    # 30 iterations per epoch: the old format grew by 30 · 10 · 8 = 2400 bytes per epoch; now only the 4 epoch
    # aggregates (32 bytes) do
    assert len(sizes) == 6 and max(np.diff(sizes)) <= 64
    side = [n for n in os.listdir(tmp_path) if n.startswith(".minidl_history__")]
    assert len(side) == 1 and os.path.getsize(tmp_path / side[0]) == len(info) * len(SERIES) * 8
    for k, p in enumerate(paths, 1):
        arrays = read_checkpoint(p)[1]
        np.testing.assert_array_equal(arrays["info/training_loss"], info.training_loss[:30 * k])


def test_the_first_checkpoint_of_a_resumed_run_copies_the_earlier_rows_into_its_own_side_file(tmp_path):
    X, Y = tiny_data(24)
    first = tmp_path / "first"
    first.mkdir()
    dl.train_network(X, Y, tiny_layers(), tiny_options(first, max_epochs=2))
    second = tmp_path / "second"
    second.mkdir()
    _, info = dl.train_network(X, Y, None, tiny_options(second, max_epochs=3), resume_from=visible(first)[-1])
    np.testing.assert_array_equal(read_checkpoint(visible(second)[-1])[1]["info/training_loss"], info.training_loss)
    assert len([n for n in os.listdir(first) if n.startswith(".minidl_history__")]) == 1


@pytest.mark.reliability
def test_total_checkpoint_bytes_grow_linearly_with_the_epochs(tmp_path):
    X, Y = tiny_data(400)
    totals = {}
    for epochs in (10, 40):
        folder = tmp_path / f"e{epochs}"
        folder.mkdir()
        dl.train_network(X, Y, tiny_layers(), tiny_options(folder, max_epochs=epochs, mini_batch_size=4))
        totals[epochs] = sum(os.path.getsize(os.path.join(p, "arrays.npz")) for p in visible(folder))
    print(f"[campaign] checkpoint bytes: {totals} (100 iterations per epoch)")
    assert totals[40] / totals[10] < 4.5  # linear (4×) up to the small per-epoch aggregates; quadratic would be ~16×
