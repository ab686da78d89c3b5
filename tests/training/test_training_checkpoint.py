"""Checkpoints: names and content after every epoch, exact float64 resume, a write killed midway, save/load."""

import json
import os
import re
import shutil

import numpy as np
import pytest

from minidl import _files as files
from minidl import layers as L
from minidl import train_network, training_options
from minidl.backend import to_host
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import AveragePooling2D, MaxPooling2D
from minidl.matlab import records as reasons  # the stop reasons in MATLAB's wording
from minidl.matlab.records import checkpoint_name
from minidl.network import Network
from minidl.training import Checkpointer, Observer, load_network, read_checkpoint, save_network
from minidl.training import checkpoint as ckpt
from minidl.training import events as ev
from minidl.training.observers import CheckpointWarning
from minidl.training.serialization import layer_classes, layer_from_json, layer_to_json

NAME = re.compile(r"^net_checkpoint__(\d+)__\d{4}_\d{2}_\d{2}__\d{2}_\d{2}_\d{2}$")


def opts(folder, **kw):
    base = dict(shuffle="every-epoch", mini_batch_size=10, max_epochs=4, precision="float64", verbose=False,
                initial_learn_rate=0.05, checkpoint_path=folder, validation_frequency=5, validation_patience=50,
                learn_rate_schedule="piecewise", learn_rate_drop_period=2, learn_rate_drop_factor=0.5, seed=3)
    return training_options("sgdm", **{**base, **kw})


def checkpoints(folder):
    names = sorted((n for n in os.listdir(folder) if not n.startswith(".")), key=lambda n: int(NAME.match(n)[1]))
    return [os.path.join(folder, n) for n in names]


class AtEpochEnd(Observer):
    """Copies of every parameter and state array at each EPOCH_END."""

    def __init__(self):
        self.snapshots = []

    def on_event(self, state):
        if state.event == ev.EPOCH_END:
            self.snapshots.append(state.weights())


def test_one_checkpoint_per_epoch_with_matlab_names_and_the_network_inside(problem, tmp_path):
    snap = AtEpochEnd()
    net, info = train_network(problem.X, problem.Y, problem.mlp(dropout=0.2),
                              opts(tmp_path, validation_data=(problem.Xv, problem.Yv)), observers=[snap])
    paths = checkpoints(tmp_path)
    assert [int(NAME.match(os.path.basename(p))[1]) for p in paths] == [6, 12, 18, 24]
    assert sorted(os.listdir(paths[0])) == ["arrays.npz", "manifest.json"]
    for path, arrays in zip(paths, snap.snapshots):
        loaded = load_network(path)
        got = loaded.state_arrays()
        assert got.keys() == arrays.keys()
        for k in arrays:
            np.testing.assert_array_equal(got[k], arrays[k])
        np.testing.assert_array_equal(loaded.classes, ["ant", "bee", "cat"])
        assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in net.layers]
    with open(os.path.join(paths[1], "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    assert manifest["format"] == "minidl-checkpoint" and manifest["version"] == 1
    tr = manifest["training"]
    assert (tr["epoch"], tr["next_batch"], tr["iteration"], tr["optimizer"]["class"]) == (2, 6, 12, "SGDM")
    assert tr["optimizer"]["t"] == 12 and tr["rng"]["bit_generator"] == "PCG64"
    assert tr["observers"]["validation_patience"]["count"] >= 0
    with np.load(os.path.join(paths[1], "arrays.npz"), allow_pickle=False) as z:
        names = set(z.files)
    assert {"data/order", "data/validation_order", "info/epoch_training_loss", "optimizer/v/fc_1.weight",
            "net/params/fc_1.weight", "net/state/batchnorm_1.mean", "classes"} <= names
    assert "info/training_loss" not in names  # per-iteration series: appended to the run's side file (issue 11.9)
    np.testing.assert_array_equal(read_checkpoint(paths[1])[1]["info/training_loss"], info.training_loss[:12])


@pytest.mark.parametrize("solver", ["sgdm", "adam"])
def test_resumed_float64_run_is_bit_identical_to_an_uninterrupted_one(problem, tmp_path, solver):
    kw = dict(validation_data=(problem.Xv, problem.Yv))
    if solver == "adam":
        o = lambda folder, **k: opts(folder, **kw, **k).replace(solver="adam", momentum=None)  # noqa: E731
    else:
        o = lambda folder, **k: opts(folder, **kw, **k)  # noqa: E731
    for d in "abc":
        (tmp_path / d).mkdir()
    layers = problem.mlp(dropout=0.25)
    full, info_full = train_network(problem.X, problem.Y, layers, o(tmp_path / "a"))

    def interrupt(info):  # Ctrl-C in the middle of epoch 3
        if info["Iteration"] == 15 and info["State"] == "iteration":
            raise KeyboardInterrupt

    _, info_b = train_network(problem.X, problem.Y, layers, o(tmp_path / "b", output_fcn=interrupt))
    assert info_b.stop_reason == reasons.STOPPED_BY_USER and len(info_b) == 15
    saved = checkpoints(tmp_path / "b")  # every epoch's end, and the iteration of the stop mid-epoch (§11)
    assert [os.path.basename(p).split("__")[1] for p in saved] == ["6", "12", "15"]
    tr = read_checkpoint(saved[2])[0]["training"]
    assert (tr["epoch"], tr["next_batch"], tr["iteration"], tr["optimizer"]["t"]) == (3, 3, 15, 15)
    resumed, info_c = train_network(problem.X, problem.Y, None, o(tmp_path / "c"), resume_from=saved[1])
    for k, v in full.state_arrays().items():
        np.testing.assert_array_equal(resumed.state_arrays()[k], v, err_msg=k)
    for name in info_full.series_names():
        if name != "time_since_start":
            np.testing.assert_array_equal(getattr(info_c, name), getattr(info_full, name), err_msg=name)
    assert info_c.final_validation_loss == info_full.final_validation_loss
    assert info_c.stop_reason == info_full.stop_reason and info_c.output_network_iteration == 24
    assert [os.path.basename(p).split("__")[1] for p in checkpoints(tmp_path / "c")] == ["18", "24"]


def test_a_checkpoint_write_killed_midway_leaves_the_previous_ones_intact(problem, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_savez = np.savez

    def dying_savez(f, **arrays):
        calls["n"] += 1
        if calls["n"] == 2:
            f.write(b"PK\x03\x04 half a zip file")
            raise OSError("killed while writing")
        real_savez(f, **arrays)

    monkeypatch.setattr(ckpt.np, "savez", dying_savez)
    # the failed save is a warning naming the folder, and training goes on (docs/semantics-matlab.md#11)
    with pytest.warns(CheckpointWarning, match=re.escape(f"folder {str(tmp_path)!r} at iteration 12")):
        net, info = train_network(problem.X, problem.Y, problem.mlp(), opts(tmp_path))
    assert len(info) == 24 and net.initialized
    saved = checkpoints(tmp_path)
    entries = [n for n in os.listdir(tmp_path) if not ckpt.HISTORY.match(n)]  # the run's info side file stays
    assert sorted(entries) == sorted(map(os.path.basename, saved))  # no partial folder, no temp
    assert [int(NAME.match(os.path.basename(p))[1]) for p in saved] == [6, 18, 24]
    assert all(load_network(p).initialized for p in saved)
    # a kill that also prevents the clean-up: the temporary folder stays hidden, never under a checkpoint name
    calls["n"] = 0
    for p in saved:
        shutil.rmtree(p)
    monkeypatch.setattr(files.shutil, "rmtree", lambda *a, **k: None)
    with pytest.warns(CheckpointWarning, match="killed while writing; training goes on"):
        train_network(problem.X, problem.Y, problem.mlp(), opts(tmp_path))
    visible = [n for n in os.listdir(tmp_path) if not n.startswith(".")]
    hidden = [n for n in os.listdir(tmp_path) if n.startswith(".") and not ckpt.HISTORY.match(n)]
    assert len(visible) == 3 and all(NAME.match(n) for n in visible)
    assert len(hidden) == 1 and hidden[0].endswith(".tmp")
    assert all(load_network(os.path.join(tmp_path, n)).initialized for n in visible)


def test_resume_checks_what_an_exact_resume_needs(problem, tmp_path):
    train_network(problem.X, problem.Y, problem.mlp(), opts(tmp_path, max_epochs=1))
    path = checkpoints(tmp_path)[0]
    with pytest.raises(ValueError, match="mini_batch_size: the checkpoint was made with batch_size = 10"):
        train_network(problem.X, problem.Y, None, opts(tmp_path, mini_batch_size=5), resume_from=path)
    with pytest.raises(ValueError, match="layers: the architecture differs"):
        train_network(problem.X, problem.Y, problem.mlp(bn=False), opts(tmp_path), resume_from=path)
    with pytest.raises(ValueError, match="X: the checkpoint was made with n_train = 60"):
        train_network(problem.X[:50], problem.Y[:50], None, opts(tmp_path), resume_from=path)
    net = load_network(path)
    save_network(net, tmp_path / "only_net")
    with pytest.raises(ValueError, match="resume_from: the checkpoint holds a network only"):
        train_network(problem.X, problem.Y, None, opts(tmp_path), resume_from=tmp_path / "only_net")


def test_save_and_load_network_round_trip(problem, tmp_path):
    net, _ = train_network(problem.X, problem.Y, problem.mlp(norm="zscore", dropout=0.1),
                           opts(None, precision="float32"))
    path = save_network(net, tmp_path / "model")
    back = load_network(path)
    assert back.dtype.name == "float32" and back.device.name == "cpu"
    np.testing.assert_array_equal(back.predict(problem.Xv), net.predict(problem.Xv))
    np.testing.assert_array_equal(back.classify(problem.Xv), net.classify(problem.Xv))
    manifest, arrays = read_checkpoint(path)
    assert manifest["training"] is None and "net/state/featureinput_1.std" in arrays
    with pytest.raises(ValueError, match="path: .* exists"):
        save_network(net, tmp_path / "model")


EXAMPLES = {
    "ImageInput": lambda: L.ImageInput((1, 8, 8), normalization="zscore", name="in"),
    "FeatureInput": lambda: L.FeatureInput(5, normalization="none"),
    "Convolution2D": lambda: Convolution2D((3, 2), 4, stride=(2, 1), padding=(1, 0, 1, 0), dilation=2,
                                           weights_initializer="he", bias_l2_factor=0.5),
    "BatchNormalization": lambda: L.BatchNormalization(epsilon=1e-3, mean_decay=0.2, scale_learn_rate_factor=0),
    "ReLU": L.ReLU,
    "MaxPooling2D": lambda: MaxPooling2D(3, stride=2, padding="same"),
    "AveragePooling2D": lambda: AveragePooling2D((2, 3), stride=1, padding=1),
    "FullyConnected": lambda: L.FullyConnected(7, bias_initializer="ones", weight_learn_rate_factor=3),
    "Dropout": lambda: L.Dropout(0.3),
    "Softmax": L.Softmax,
    "ClassificationOutput": L.ClassificationOutput,
    "RegressionOutput": L.RegressionOutput,
    "MeanSquaredLoss": L.MeanSquaredLoss,
    "MeanAbsoluteLoss": L.MeanAbsoluteLoss,
    "BinaryCrossEntropyLoss": L.BinaryCrossEntropyLoss,
    "ProbabilitiesCrossEntropyLoss": L.ProbabilitiesCrossEntropyLoss,
    "Elementwise": lambda: L.Elementwise("SoftPlus", name="sp"),
    "Flatten": lambda: L.Flatten(1),
    "Reshape": lambda: L.Reshape((2, -1)),
    "LSTM": lambda: L.LSTM(4, output_mode="last", state_activation="softsign", bias_l2_factor=1),
    "SequenceInput": lambda: L.SequenceInput(12, min_length=3),  # SEQNET's layer (one key)
    "BiLSTM": lambda: L.BiLSTM(3, gate_activation="hard-sigmoid", mask_recurrence=True),
    "GRU": lambda: L.GRU(2, reset_gate_mode="recurrent-bias-after-multiplication", recurrent_bias_learn_rate_factor=2),
    "BasicRecurrent": lambda: L.BasicRecurrent(3, activation="Ramp"),
    "SequenceLast": L.SequenceLast,
    # issue 14: the era's layers and the merge layers (graph networks save them too)
    "Addition": lambda: L.Addition(3, name="add"),
    "Concatenation": lambda: L.Concatenation(2, 3),
    "DepthConcatenation": lambda: L.DepthConcatenation(2),
    "Threading": lambda: L.Threading("Times", 2),
    "LeakyReLU": lambda: L.LeakyReLU(0.2),
    "ClippedReLU": lambda: L.ClippedReLU(6.0),
    "ELU": lambda: L.ELU(0.5),
    "Tanh": L.Tanh,
    "Sigmoid": L.Sigmoid,
    "GlobalAveragePooling2D": L.GlobalAveragePooling2D,
    "GlobalMaxPooling2D": L.GlobalMaxPooling2D,
    "CrossChannelNormalization": lambda: L.CrossChannelNormalization(3, alpha=2e-4, beta=0.5, k=1.0),
    "GroupedConvolution2D": lambda: L.GroupedConvolution2D(3, 2, 4, stride=2, padding=1),
    "TransposedConvolution2D": lambda: L.TransposedConvolution2D((3, 2), 4, stride=2, cropping=1),
    "MaxUnpooling2D": L.MaxUnpooling2D,
}


def test_every_layer_class_round_trips_through_the_architecture_json():
    assert set(layer_classes()) == set(EXAMPLES)
    for name, make in EXAMPLES.items():
        layer = make()
        spec = json.loads(json.dumps(layer_to_json(layer)))
        back = layer_from_json(spec)
        assert type(back) is type(layer) and back.describe() == layer.describe(), name
        assert layer_to_json(back) == spec
        assert back.learn_rate_factors == layer.learn_rate_factors and back.l2_factors == layer.l2_factors


def test_conv_network_checkpoint_predicts_the_same(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((24, 1, 8, 8))
    Y = rng.integers(0, 2, 24)
    layers = [L.ImageInput((1, 8, 8)), Convolution2D(3, 4, padding="same"), L.BatchNormalization(), L.ReLU(),
              MaxPooling2D(2, stride=2), L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()]
    net, _ = train_network(X, Y, layers, opts(tmp_path, max_epochs=2, mini_batch_size=8))
    back = load_network(checkpoints(tmp_path)[-1])
    assert back.classes.tolist() == [0, 1]
    layer_net = Network(back.layers)
    assert len(layer_net.params) == len(net.params)
    x = to_host(X[:5])
    assert back.predict(x).shape == (5, 2)


def test_resume_may_change_epochs_and_rate_and_a_name_is_never_reused(problem, tmp_path):
    train_network(problem.X, problem.Y, problem.mlp(), opts(tmp_path, max_epochs=1))
    first = checkpoints(tmp_path)[0]
    _, info = train_network(problem.X, problem.Y, None, opts(tmp_path, max_epochs=2, initial_learn_rate=0.01),
                            resume_from=first)
    assert len(info) == 12 and info.base_learn_rate[0] == 0.05 and info.base_learn_rate[-1] == 0.01
    manifest, arrays = read_checkpoint(first)
    a = ckpt.write_checkpoint(tmp_path, "same", manifest, arrays)
    b = ckpt.write_checkpoint(tmp_path, "same", manifest, arrays)
    assert (os.path.basename(a), os.path.basename(b)) == ("same", "same__2")


def test_the_first_layer_skips_its_input_gradient_only_while_training():
    rng = np.random.default_rng(1)
    layers = [L.ImageInput((1, 6, 6)), Convolution2D(3, 2), L.FullyConnected(2), L.Softmax(),
              L.ClassificationOutput()]
    net, _ = train_network(rng.random((8, 1, 6, 6)), np.arange(8) % 2, layers,
                           opts(None, max_epochs=1, mini_batch_size=4))
    assert net.layers[1].compute_input_gradient is True


class SaveAt(Observer):
    """Saves a checkpoint in the middle of an epoch (what a dialect's interval checkpoints do)."""

    def __init__(self, folder, iteration):
        self.folder, self.iteration, self.path = folder, iteration, None

    def on_event(self, state):
        if state.event == ev.ITERATION and state.iteration == self.iteration:
            self.path = Checkpointer(self.folder, lambda s: True, lambda s: checkpoint_name(s.iteration)).write(state)


def test_resume_from_the_middle_of_an_epoch_is_bit_identical(problem, tmp_path):
    o = opts(None, validation_data=(problem.Xv, problem.Yv), max_epochs=3)
    full, _ = train_network(problem.X, problem.Y, problem.mlp(dropout=0.3), o)
    saver = SaveAt(str(tmp_path), 9)
    train_network(problem.X, problem.Y, problem.mlp(dropout=0.3), o.replace(max_epochs=2), observers=[saver])
    assert read_checkpoint(saver.path)[0]["training"]["next_batch"] == 3
    resumed, info = train_network(problem.X, problem.Y, None, o, resume_from=saver.path)
    for k, v in full.state_arrays().items():
        np.testing.assert_array_equal(resumed.state_arrays()[k], v, err_msg=k)
    assert len(info) == 18
