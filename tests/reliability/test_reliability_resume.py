"""resume_from checks every field of the saved training state before training, and resumes exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minidl import train_network
from minidl.training import checkpoint as ckpt
from minidl.training import read_checkpoint
from tests.reliability.conftest import Tally, tiny_data, tiny_layers, tiny_options, visible


def edited(src, parent, edit_training=None, edit_arrays=None):
    """The checkpoint at ``src`` written anew (a valid checksum and history) after editing its training state."""
    manifest, arrays = read_checkpoint(src)
    manifest = json.loads(json.dumps(dict(manifest)))
    arrays = dict(arrays)
    if edit_training:
        edit_training(manifest["training"])
    if edit_arrays:
        edit_arrays(arrays)
    parent.mkdir(exist_ok=True)
    return ckpt.write_checkpoint(parent, "net_checkpoint__6__edited", manifest, arrays)


def set_(key, value):
    def edit(tr):
        keys = key.split(".")
        for k in keys[:-1]:
            tr = tr[k]
        tr[keys[-1]] = value
    return edit


def swap_order(a):
    order = a["data/order"].copy()
    order[0] = order[1]
    a["data/order"] = order


TRAINING_EDITS = [
    ("epoch", set_("epoch", -1)), ("epoch", set_("epoch", "2")), ("epoch", set_("epoch", 2.5)),
    ("next_batch", set_("next_batch", 99)), ("iteration", set_("iteration", 9)),
    ("updated", set_("updated", 10 ** 6)), ("optimizer", set_("optimizer", [])),
    ("'t'", set_("optimizer.t", 1.5)), ("'t'", set_("optimizer.t", 10 ** 9)),
    ("rng.bit_generator", set_("rng.bit_generator", "RandomState")),
    ("rng.bit_generator", set_("rng.bit_generator", "__class__")),
    ("rng.state", set_("rng.state", {"bit_generator": "PCG64", "state": "x"})),
    ("rng.state", set_("rng.state", None)), ("elapsed", set_("elapsed", -3)),
    ("observers", set_("observers", 7)), ("iterations_per_epoch", set_("iterations_per_epoch", 2)),
]
ARRAY_EDITS = [
    ("data/order", swap_order), ("data/order", lambda a: a.__setitem__("data/order", a["data/order"][:-1])),
    ("data/order", lambda a: a.__setitem__("data/order", a["data/order"].astype(float))),
    ("data/validation_order", lambda a: a.pop("data/validation_order")),
    ("info/epoch", lambda a: a.update({k: v[:-2] for k, v in a.items() if k.startswith("info/") and len(v) == 8})),
    ("info/epoch_end_iteration", lambda a: a.__setitem__("info/epoch_end_iteration", np.array([5.0, 3.0]))),
    ("optimizer/v/fc_1.weight", lambda a: a.__setitem__("optimizer/v/fc_1.weight", np.zeros((2, 2)))),
    ("optimizer/w/fc_1.weight", lambda a: a.__setitem__("optimizer/w/fc_1.weight", a["optimizer/v/fc_1.weight"])),
    ("optimizer/v/nope.weight", lambda a: a.__setitem__("optimizer/v/nope.weight", np.zeros(2))),
]


def resume(path, **kw):
    X, Y = tiny_data()
    return train_network(X, Y, None, tiny_options(None, validation_data=tiny_data(9, 1), **kw), resume_from=path)


@pytest.mark.parametrize("field, edit", TRAINING_EDITS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(TRAINING_EDITS)])
def test_a_bad_training_field_names_the_file_and_the_field(run, tmp_path, field, edit):
    path = edited(run.paths[1], tmp_path / "edits", edit_training=edit)
    with pytest.raises(ValueError) as e:
        resume(path)
    assert field in str(e.value), str(e.value)
    assert path in str(e.value) or "mini_batch_size" in str(e.value), str(e.value)


@pytest.mark.parametrize("field, edit", ARRAY_EDITS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(ARRAY_EDITS)])
def test_a_bad_saved_array_names_the_file_and_the_field(run, tmp_path, field, edit):
    path = edited(run.paths[1], tmp_path / "edits", edit_arrays=edit)
    with pytest.raises(ValueError) as e:
        resume(path)
    assert field in str(e.value) and path in str(e.value), str(e.value)


def test_a_bit_generator_name_is_never_looked_up_on_numpy_random(run, tmp_path, monkeypatch):
    monkeypatch.setattr(np.random, "Evil", lambda: pytest.fail("looked up on numpy.random"), raising=False)
    path = edited(run.paths[1], tmp_path / "edits", edit_training=set_("rng.bit_generator", "Evil"))
    with pytest.raises(ValueError, match="rng.bit_generator' is 'Evil'; allowed: MT19937, PCG64"):
        resume(path)


def test_the_side_file_missing_or_changed_is_a_clear_error(run, tmp_path):
    import shutil

    lone = tmp_path / "lone"
    shutil.copytree(run.paths[1], lone)
    with pytest.raises(ValueError, match="info history file .* is missing"):
        resume(lone)
    side = next(run.folder.glob(".minidl_history__*"))
    raw = bytearray(side.read_bytes())
    raw[3] ^= 1
    side.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        resume(run.paths[1])


def _exact(tmp_path, solver, shuffle, at, **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    X, Y = tiny_data()
    val = tiny_data(9, 1)
    full_dir, part_dir = tmp_path / f"full_{solver}_{shuffle}", tmp_path / f"part_{solver}_{shuffle}"
    full_dir.mkdir()
    part_dir.mkdir()
    net_a, info_a = train_network(X, Y, tiny_layers(), tiny_options(full_dir, solver=solver, shuffle=shuffle,
                                                                     max_epochs=4, validation_data=val, **kw))
    net_b, info_b = train_network(X, Y, None, tiny_options(part_dir, solver=solver, shuffle=shuffle, max_epochs=4,
                                                           validation_data=val, **kw),
                                  resume_from=visible(full_dir)[at - 1])
    a, b = net_a.state_arrays(), net_b.state_arrays()
    same = all(np.array_equal(a[k], b[k]) for k in a) and np.array_equal(info_a.training_loss, info_b.training_loss)
    same = same and np.array_equal(info_a.validation_loss, info_b.validation_loss, equal_nan=True)
    # the resumed run's own checkpoints (a fresh side file, the earlier rows copied) resume exactly too
    manifest, arrays = read_checkpoint(visible(part_dir)[-1])
    same = same and np.array_equal(arrays["info/training_loss"], info_b.training_loss)
    return same


def test_float64_resume_is_bit_identical(tmp_path):
    assert _exact(tmp_path, "adam", "every-epoch", 2, validation_frequency=3)


@pytest.mark.reliability
def test_exact_resume_configurations(tmp_path):
    tally = Tally("exact resume configurations")
    for solver in ("sgdm", "adam", "rmsprop"):
        for shuffle in ("once", "every-epoch", "never"):
            for at in (1, 3):
                tally.add("exact" if _exact(tmp_path / f"{solver}{shuffle}{at}", solver, shuffle, at,
                                            l2_regularization=1e-3) else "differs", (solver, shuffle, at))
    tally.report()
    assert tally.counts == {"exact": 18}, tally.examples


def test_resuming_from_nan_weights_names_the_archive(run, tmp_path):
    def nan(a):
        a["net/params/fc_2.weight"] = np.full_like(a["net/params/fc_2.weight"], np.nan)

    path = edited(run.paths[1], tmp_path / "edits", edit_arrays=nan)
    with pytest.raises(ValueError, match=f"{path}/arrays.npz: array 'params/fc_2.weight' holds NaN or Inf"):
        resume(path)
