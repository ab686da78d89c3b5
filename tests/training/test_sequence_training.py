"""Sequence networks through the one engine: padding rules, integer SequenceLength chunks (truncated BPTT with
carried state), iteration counts, masks in the metrics, validation, checkpoints and exact resume."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import minidl
from minidl import layers as L
from minidl.layers.base import Layer
from minidl.network import Network, copy_network
from minidl.sequences import chunks, pad_batch, pad_targets
from minidl.training import events as ev
from minidl.training.observers import Checkpointer


def _sequences(lengths, c=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((c, int(t))) for t in lengths]


LENGTHS = [5, 9, 3, 7, 4, 8]          # B = 3: batches [5, 9, 3] and [7, 4, 8]


class Spy(Layer):
    """Identity layer that keeps every (x, mask) it is given (host copies): what the engine feeds the network."""

    kind = "spy"
    uses_mask = True

    def __init__(self, name: str | None = None):
        super().__init__(name)
        self.seen: list = []

    def build(self, input_shape, rng):
        return input_shape

    def forward(self, x, training: bool = False, mask=None):
        if training:
            self.seen.append((np.array(x), None if mask is None else np.array(mask)))
        return x

    def backward(self, dy):
        return dy


def _opts(**kw):
    base = dict(max_epochs=1, mini_batch_size=3, verbose=False, shuffle="never", precision="float64",
                l2_regularization=0.0, momentum=0.0, initial_learn_rate=0.1)
    base.update(kw)
    return minidl.training_options("sgdm", **base)


def _spy_net(per_step: bool):
    spy = Spy(name="spy")
    mode = "sequence" if per_step else "last"
    head = [L.FullyConnected(1), L.RegressionOutput()]
    return spy, [L.SequenceInput(2), spy, L.LSTM(3, output_mode=mode)] + head


# ------------------------------------------------------------------------------------------------ padding rules
@pytest.mark.parametrize("length, direction", [("longest", "right"), ("shortest", "right"), ("longest", "left"),
                                               ("shortest", "left")])
def test_the_engine_feeds_the_padded_or_truncated_batches_the_rule_says(length, direction):
    X = _sequences(LENGTHS)
    Y = np.arange(6.0)
    spy, layers = _spy_net(per_step=False)
    net, _ = minidl.train_network(X, Y, layers, _opts(sequence_length=length, sequence_padding_direction=direction,
                                                      sequence_padding_value=-2.5))
    seen = net["spy"].seen
    assert len(seen) == 2
    for (x, mask), batch in zip(seen, (X[0:3], X[3:6])):
        lens = [s.shape[1] for s in batch]
        T = max(lens) if length == "longest" else min(lens)
        want = np.full((3, 2, T), -2.5)
        want_mask = np.zeros((3, T))
        for i, s in enumerate(batch):          # by hand: copy each sequence's kept window into place
            k = min(s.shape[1], T)
            part = s[:, :k] if direction == "right" else s[:, s.shape[1] - k:]
            if direction == "right":
                want[i, :, :k], want_mask[i, :k] = part, 1.0
            else:
                want[i, :, T - k:], want_mask[i, T - k:] = part, 1.0
        np.testing.assert_array_equal(x, want)
        np.testing.assert_array_equal(mask, want_mask)
        if length == "shortest":
            assert mask.all()                   # truncation: no padding, every step real


def test_integer_sequence_length_splits_each_batch_into_chunks_of_s():
    X = _sequences(LENGTHS)
    spy, layers = _spy_net(per_step=False)
    net, info = minidl.train_network(X, np.arange(6.0), layers, _opts(sequence_length=4))
    seen = net["spy"].seen
    # batch 1: longest 9 -> padded to 12 -> 3 chunks; batch 2: longest 8 -> 2 chunks
    assert [x.shape[2] for x, _ in seen] == [4, 4, 4, 4, 4]
    assert len(info.training_loss) == 5
    padded, mask, _ = pad_batch(X[0:3], 12, 0.0, "right")
    for k, (x, m) in enumerate(seen[:3]):
        np.testing.assert_array_equal(x, padded[:, :, 4 * k:4 * k + 4])
        np.testing.assert_array_equal(m, mask[:, 4 * k:4 * k + 4])


# ------------------------------------------------------------------------------------------------ truncated BPTT
def _tbptt_by_hand(net: Network, X, T_targets, S: int, B: int, lr: float, epochs: int, carry: bool = True):
    """Plain SGD, chunk by chunk, the state carried between the chunks of a mini-batch and reset at the next."""
    with net.carrying_state(carry):
        for _ in range(epochs):
            for b in range(len(X) // B):
                seqs = X[b * B:(b + 1) * B]
                x, mask, _ = pad_batch(seqs, S, 0.0, "right")
                t = pad_targets(T_targets[b * B:(b + 1) * B], S, "right") if T_targets is not None else None
                net.reset_state()
                for sl in chunks(x.shape[2], S):
                    y = net.forward(x[:, :, sl], training=True, mask=mask[:, sl])
                    net.backward(y, t[..., sl], mask=mask[:, sl])
                    for k, p in net.params.items():
                        p -= lr * net.grads[k]                         # θ ← θ − η·g (no momentum, no L2)
    return net


def test_integer_sequence_length_is_truncated_bptt_with_carried_state():
    X = _sequences(LENGTHS, seed=3)
    rng = np.random.default_rng(4)
    Yt = [rng.standard_normal((1, s.shape[1])) for s in X]            # per-step regression targets
    layers = [L.SequenceInput(2), L.LSTM(3), L.FullyConnected(1), L.RegressionOutput()]
    net0 = Network(layers)
    net0.initialize((2, None), rng=np.random.default_rng(1), dtype="float64")
    trained, info = minidl.train_network(X, Yt, net0, _opts(sequence_length=4, max_epochs=2))
    assert len(info.training_loss) == 2 * 5                          # 3 + 2 chunk iterations per epoch
    assert info.iterations_per_epoch == 5
    hand = _tbptt_by_hand(copy_network(net0), X, Yt, 4, 3, 0.1, 2)
    fresh = _tbptt_by_hand(copy_network(net0), X, Yt, 4, 3, 0.1, 2, carry=False)
    for k, p in trained.params.items():
        np.testing.assert_allclose(p, hand.params[k], rtol=0, atol=1e-12)
    assert max(float(np.abs(p - fresh.params[k]).max()) for k, p in trained.params.items()) > 1e-6  # carry matters


def test_sequence_to_label_chunks_take_the_label_at_every_chunk():
    X = _sequences(LENGTHS, seed=5)
    Y = np.array(["a", "b", "a", "b", "b", "a"])
    layers = [L.SequenceInput(2), L.LSTM(3, output_mode="last"), L.FullyConnected(2), L.Softmax(),
              L.ClassificationOutput()]
    net0 = Network(layers)
    net0.initialize((2, None), rng=np.random.default_rng(1), dtype="float64")
    net0.classes = np.array(["a", "b"])
    trained, info = minidl.train_network(X, Y, net0, _opts(sequence_length=4))
    hand = copy_network(net0)
    idx = np.array([0, 1, 0, 1, 1, 0])
    with hand.carrying_state():
        for b in range(2):
            x, mask, _ = pad_batch(X[3 * b:3 * b + 3], 4, 0.0, "right")
            hand.reset_state()
            for sl in chunks(x.shape[2], 4):
                y = hand.forward(x[:, :, sl], training=True, mask=mask[:, sl])
                hand.backward(y, idx[3 * b:3 * b + 3])
                for k, p in hand.params.items():
                    p -= 0.1 * hand.grads[k]
    for k, p in trained.params.items():
        np.testing.assert_allclose(p, hand.params[k], rtol=0, atol=1e-12)
    assert len(info.training_accuracy) == 5


def test_every_epoch_shuffle_restates_the_iteration_count_per_epoch():
    X = _sequences([2, 2, 2, 2, 2, 2, 2, 2, 2, 11, 2, 2], seed=6)     # one long sequence: its batch has 3 chunks
    layers = [L.SequenceInput(2), L.LSTM(2, output_mode="last"), L.FullyConnected(1), L.RegressionOutput()]
    seen = []

    class Watch(minidl.training.events.Observer):
        def on_event(self, state):
            if state.event in (ev.START, ev.ITERATION):
                seen.append((state.epoch, state.iteration, state.iterations_per_epoch, state.max_iterations))

    net, info = minidl.train_network(X, np.arange(12.0), layers,
                                     _opts(sequence_length=4, shuffle="every-epoch", max_epochs=3, mini_batch_size=4),
                                     observers=[Watch()])
    per_epoch = 3 + 2                                  # three batches of 4: one holds the 11-step sequence
    assert len(info.training_loss) == 3 * per_epoch
    assert all(ipe == 0 for _, _, ipe, _ in seen)      # varies by epoch in general: stated as unknown
    assert seen[-1][3] == 3 * per_epoch                # the restated maximum is exact in the last epoch


# ------------------------------------------------------------------------------------------------ masks and metrics
def test_sequence_to_sequence_accuracy_counts_real_steps_only():
    X = _sequences([3, 6, 2, 5], seed=7)
    Yt = [np.zeros(s.shape[1], dtype=np.int64) for s in X]          # every real step is class 0
    Yt[0][0] = 1
    layers = [L.SequenceInput(2), L.LSTM(2), L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()]
    net0 = Network(layers)
    net0.initialize((2, None), rng=np.random.default_rng(0), dtype="float64")
    net0.classes = np.array([0, 1])
    _, info = minidl.train_network(X, Yt, net0, _opts(mini_batch_size=4, initial_learn_rate=1e-300))
    y = net0.forward(pad_batch(X, "longest", 0.0, "right")[0])
    _, mask, _ = pad_batch(X, "longest", 0.0, "right")
    t = pad_targets(Yt, "longest", "right")
    hits = ((y.argmax(axis=1) == t) * mask).sum()
    assert 0 < hits < mask.sum()
    assert info.training_accuracy[0] == pytest.approx(100.0 * hits / mask.sum(), abs=1e-12)


def test_sequence_to_sequence_rmse_is_over_real_steps():
    X = _sequences([3, 6], seed=8)
    Yr = [np.ones((1, s.shape[1])) for s in X]
    layers = [L.SequenceInput(2), L.LSTM(2), L.FullyConnected(1), L.RegressionOutput()]
    net0 = Network(layers)
    net0.initialize((2, None), rng=np.random.default_rng(0), dtype="float64")
    _, info = minidl.train_network(X, Yr, net0, _opts(mini_batch_size=2, initial_learn_rate=1e-300,
                                                      validation_data=(X, Yr)))
    x, mask, _ = pad_batch(X, "longest", 0.0, "right")
    y = net0.forward(x, mask=mask)
    rmse = math.sqrt((((y[:, 0] - 1.0) ** 2) * mask).sum() / mask.sum())
    assert info.training_rmse[0] == pytest.approx(rmse, rel=1e-12)
    assert info.final_validation_rmse == pytest.approx(rmse, rel=1e-12)


def test_validation_with_integer_length_equals_the_unchunked_pass():
    X = _sequences(LENGTHS, seed=9)
    Yt = [np.ones((1, s.shape[1])) for s in X]
    layers = [L.SequenceInput(2), L.LSTM(3), L.FullyConnected(1), L.RegressionOutput()]
    net0 = Network(layers)
    net0.initialize((2, None), rng=np.random.default_rng(2), dtype="float64")
    o = dict(initial_learn_rate=1e-300, validation_data=(X, Yt), mini_batch_size=6)
    _, chunked = minidl.train_network(X, Yt, net0, _opts(sequence_length=3, **o))
    # whole sequences padded to 9 (a multiple of 3) in one pass: the same numbers as the chunked validation
    x, mask, _ = pad_batch(X, 3, 0.0, "right")
    t = pad_targets(Yt, 3, "right")
    y = net0.forward(x, mask=mask)
    loss = float(net0.output_layer.example_losses(y, t, mask=mask).sum()) / 6
    assert chunked.final_validation_loss == pytest.approx(loss, rel=1e-12)


def test_sequence_loss_mask_off_counts_padded_steps_as_real():
    from minidl.optim import SGDM
    from minidl.optim.schedules import ConstantSchedule
    from minidl.training.data import as_sequence_source
    from minidl.training.trainer import EngineConfig, Trainer

    X = _sequences([2, 5], seed=10)
    Yt = [np.zeros(s.shape[1], dtype=np.int64) for s in X]
    net = Network([L.SequenceInput(2), L.LSTM(2), L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()])
    net.initialize((2, None), rng=np.random.default_rng(0), dtype="float64")
    net.classes = np.array([0, 1])
    losses = {}
    for flag in (True, False):
        cfg = EngineConfig(optimizer=SGDM(momentum=0.0), schedule=ConstantSchedule(1e-300), max_epochs=1, batch_size=2,
                           shuffle="never", dtype="float64", sequence_loss_mask=flag)
        _, info = Trainer(copy_network(net), as_sequence_source(X, Yt), cfg).run()
        losses[flag] = info.training_loss[0]
    x, mask, _ = pad_batch(X, "longest", 0.0, "right")
    y = net.forward(x, mask=mask)
    t = pad_targets(Yt, "longest", "right")
    assert losses[True] == pytest.approx(float(net.output_layer.loss_array(y, t, mask=mask)), rel=1e-12)
    assert losses[False] == pytest.approx(float(net.output_layer.loss_array(y, t, mask=np.ones_like(mask))),
                                          rel=1e-12)
    assert losses[False] > losses[True]


# ------------------------------------------------------------------------------------------------ resume
def _run(X, Y, tmp, resume_from=None, **kw):
    layers = None if resume_from else [L.SequenceInput(2), L.LSTM(3), L.FullyConnected(1), L.RegressionOutput()]
    obs = [] if resume_from else [Checkpointer(str(tmp), lambda s: s.event == ev.ITERATION,
                                               lambda s: f"it{s.iteration:03d}")]
    return minidl.train_network(X, Y, layers, _opts(sequence_length=4, max_epochs=2, shuffle="every-epoch",
                                                    momentum=0.9, **kw), observers=obs, resume_from=resume_from)


@pytest.mark.parametrize("at, chunk", [(2, 2), (3, 0), (5, 0), (6, 1)])  # between chunks, a mini-batch boundary,
def test_resume_between_chunks_and_between_batches_equals_the_uninterrupted_run(tmp_path, at, chunk):  # epochs
    import json

    X = _sequences(LENGTHS, seed=11)
    rng = np.random.default_rng(12)
    Y = [rng.standard_normal((1, s.shape[1])) for s in X]
    net, info = _run(X, Y, tmp_path)
    folder = os.path.join(tmp_path, f"it{at:03d}")
    with open(os.path.join(folder, "manifest.json")) as f:
        assert json.load(f)["training"]["sequence"]["chunk"] == chunk      # the case this parameter tests
    net2, info2 = _run(X, Y, tmp_path, resume_from=folder)
    for k, p in net.params.items():
        np.testing.assert_array_equal(p, net2.params[k])
    np.testing.assert_array_equal(info.training_loss, info2.training_loss)


# ------------------------------------------------------------------------------------------------ data errors
@pytest.mark.parametrize("make, message", [
    (lambda X, Y: ([np.ones((3, 4))] + X[1:], Y), r"X\[0\]: got 3 channels"),
    (lambda X, Y: ([np.ones((2, 1))] + X[1:], Y), r"X\[0\]: got 1 time steps; allowed: at least 2"),
    (lambda X, Y: ([np.full((2, 4), np.nan)] + X[1:], Y), r"X\[0\]: the sequence holds NaN"),
    (lambda X, Y: (X, [np.ones((1, 2))] + Y[1:]), r"Y\[0\]: got 2 time steps of responses for a sequence of 5"),
    (lambda X, Y: (X, Y[:-1]), r"Y: got 5 response sequences for 6 sequences"),
])
def test_sequence_data_errors_name_the_argument(make, message):
    X = _sequences(LENGTHS)
    Y = [np.ones((1, s.shape[1])) for s in X]
    X, Y = make(X, Y)
    layers = [L.SequenceInput(2, min_length=2), L.LSTM(2), L.FullyConnected(1), L.RegressionOutput()]
    with pytest.raises(ValueError, match=message):
        minidl.train_network(X, Y, layers, _opts())


def test_a_user_source_may_yield_lists_of_sequences():
    X = _sequences(LENGTHS, seed=13)
    Y = np.arange(6.0)

    class Source(minidl.training.data.MiniBatchSource):
        def __len__(self):
            return 6

        def read(self, indices):
            return [X[int(i)] for i in indices], Y[indices]

    layers = [L.SequenceInput(2), L.LSTM(2, output_mode="last"), L.FullyConnected(1), L.RegressionOutput()]
    net0 = Network(layers)
    net0.initialize((2, None), rng=np.random.default_rng(0), dtype="float64")
    a, info_a = minidl.train_network(X, Y, net0, _opts(sequence_length=4))
    b, info_b = minidl.train_network(Source(), net0, _opts(sequence_length=4))
    np.testing.assert_array_equal(info_a.training_loss, info_b.training_loss)
    for k, p in a.params.items():
        np.testing.assert_array_equal(p, b.params[k])


@pytest.mark.parametrize("per_step, length", [(False, 4), (True, 4), (True, "longest")])
def test_sequence_training_on_the_standin_device_equals_cpu(per_step, length):
    from minidl.backend import Device

    X = _sequences(LENGTHS, seed=14)
    Y = [np.ones((1, s.shape[1])) for s in X] if per_step else np.arange(6.0)
    layers = [L.SequenceInput(2), L.LSTM(3, output_mode="sequence" if per_step else "last"), L.FullyConnected(1),
              L.RegressionOutput()]
    o = _opts(sequence_length=length, validation_data=(X, Y), validation_frequency=2, max_epochs=2)
    cpu, ic = minidl.train_network(X, Y, layers, o)
    dev, idv = minidl.train_network(X, Y, layers, o, device=Device("standin"))
    assert type(dev.params["fc_1.weight"]).__name__ == "StandInArray"   # the run was on the stand-in device
    np.testing.assert_array_equal(ic.training_loss, idv.training_loss)
    np.testing.assert_array_equal(ic.validation_rmse, idv.validation_rmse)


def test_input_statistics_come_from_the_real_steps_of_every_training_sequence():
    X = _sequences(LENGTHS, seed=15)
    layers = [L.SequenceInput(2, normalization="zscore"), L.LSTM(2, output_mode="last"), L.FullyConnected(1),
              L.RegressionOutput()]
    net, _ = minidl.train_network(X, np.arange(6.0), layers, _opts(sequence_length=4))
    steps = np.concatenate(X, axis=1)                  # (C, ΣTᵢ): no padding
    np.testing.assert_allclose(net.input_layer.state["mean"].reshape(-1), steps.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(net.input_layer.state["std"].reshape(-1), steps.std(axis=1), rtol=1e-12)
