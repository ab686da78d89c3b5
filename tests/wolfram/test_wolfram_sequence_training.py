"""NetTrain on varying-length sequences: Wolfram's (T, C) inputs converted at the door, outputs per sequence or per
step, in the data forms {seq -> label}, (inputs, outputs), <|"Input" -> ..., "Output" -> ...|>."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import layers as L
from minidl.sequences import pad_batch
from minidl.wolfram import NetTrain
from minidl.wolfram.data import as_sequences


def _waves(n: int, seed: int):
    """Wolfram sequences: lists of T vectors (T, 2), 6-16 steps; 'sine' or 'square'."""
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for _ in range(n):
        t = np.arange(int(rng.integers(6, 17)))
        s = np.sin(0.9 * t + rng.uniform(0, 2 * np.pi))
        kind = "square" if rng.random() < 0.5 else "sine"
        w = np.sign(s) if kind == "square" else s
        X.append(np.stack([w, -w], axis=1) + 0.05 * rng.standard_normal((len(t), 2)))
        Y.append(kind)
    return X, Y


def _train(net, data, prop="TrainedNet", **kw):
    base = dict(MaxTrainingRounds=40, BatchSize=16, TrainingProgressReporting=None, WorkingPrecision="Real64",
                RandomSeeding=1)
    base.update(kw)
    return NetTrain(net, data, prop, **base)


def test_sequences_of_t_vectors_become_c_by_t():
    X, Y = as_sequences({"Input": [[[1, 2, 3], [4, 5, 6]], [7, 8]], "Output": ["a", "b"]}, "data", False, True)
    np.testing.assert_array_equal(X[0], [[1, 4], [2, 5], [3, 6]])       # (T=2, C=3) → (C=3, T=2)
    np.testing.assert_array_equal(X[1], [[7, 8]])                        # T numbers: one channel
    _, Yt = as_sequences([([[0.0], [1.0], [2.0]], [[1, 2], [3, 4], [5, 6]])], "data", True, False)
    np.testing.assert_array_equal(Yt[0], [[1, 3, 5], [2, 4, 6]])         # T vectors (T, R) → (R, T)


def test_sequence_to_label_trains_end_to_end_on_rules():
    X, Y = _waves(64, 0)
    # Wolfram's recurrent layers mask the recurrence: each sequence's own last state (right padding)
    net = [L.SequenceInput(2), L.LSTM(10, output_mode="last", mask_recurrence=True), L.FullyConnected(2),
           L.Softmax()]
    trained = _train(net, [(x, y) for x, y in zip(X, Y)], LearningRate=0.02)
    Xt, Yt = _waves(32, 1)
    x, mask, _ = pad_batch([x.T for x in Xt], "longest", 0.0, "right")
    pred = np.asarray(trained.classes)[np.argmax(trained.forward(x, mask=mask), axis=1)]
    assert np.mean(pred == np.asarray(Yt)) >= 0.9


def test_sequence_to_sequence_trains_end_to_end_with_the_ports_form():
    X, _ = _waves(48, 2)
    Y = [(x[:, 0] > 0).astype(int).tolist() for x in X]                 # a label at every step
    net = [L.SequenceInput(2), L.LSTM(8), L.FullyConnected(2), L.Softmax()]
    result = _train(net, {"Input": X, "Output": Y}, "All", MaxTrainingRounds=30, LearningRate=0.02)
    assert result["RoundMeasurements"]["ErrorRate"] <= 0.05          # over the real steps
    losses = np.asarray(result["RoundLossList"])
    assert losses[-1] < 0.2 * losses[0]


def test_scaled_validation_splits_sequences():
    X, Y = _waves(40, 3)
    net = [L.SequenceInput(2), L.LSTM(6, output_mode="last"), L.FullyConnected(2), L.Softmax()]
    from minidl.wolfram import Scaled

    result = _train(net, (X, Y), "All", MaxTrainingRounds=3, ValidationSet=Scaled(0.25))
    assert result["ValidationExamples"] == 10 and result["TrainingExamples"] == 30
    assert np.isfinite(result["ValidationLoss"])


def test_wrong_channel_count_names_the_data():
    X, Y = _waves(8, 4)
    net = [L.SequenceInput(3), L.LSTM(4, output_mode="last"), L.FullyConnected(2), L.Softmax()]
    with pytest.raises(ValueError, match=r"data inputs\[0\]: got 2 channels"):
        _train(net, (X, Y), MaxTrainingRounds=1)


def test_wolfram_spelling_netchain_varying_input_trains_and_decodes():
    from minidl.wolfram import (
        LinearLayer,
        LongShortTermMemoryLayer,
        NetChain,
        NetDecoder,
        SequenceLastLayer,
        SoftmaxLayer,
    )

    X, Y = _waves(64, 5)
    net = NetChain([LongShortTermMemoryLayer(10), SequenceLastLayer(), LinearLayer(2), SoftmaxLayer()],
                   output=NetDecoder("Class", ["sine", "square"]), input=("Varying", 2))
    trained = _train(net, [(x, y) for x, y in zip(X, Y)], LearningRate=0.02)
    Xt, Yt = _waves(32, 6)
    x, mask, _ = pad_batch([x.T for x in Xt], "longest", 0.0, "right")
    pred = np.asarray(trained.classes)[np.argmax(trained.forward(x, mask=mask), axis=1)]
    assert np.mean(pred == np.asarray(Yt)) >= 0.9


@pytest.mark.parametrize("responses", ["numbers", "vectors"])
def test_per_step_regression_of_t_numbers_or_t_vectors(responses):
    rng = np.random.default_rng(7)
    X = [rng.standard_normal((int(t), 2)) for t in rng.integers(4, 10, 40)]
    Y = [2 * x[:, 0] for x in X] if responses == "numbers" else [x[:, ::-1] for x in X]   # (T,) or (T, 2)
    net = [L.SequenceInput(2), L.LSTM(6, mask_recurrence=True), L.FullyConnected(1 if responses == "numbers" else 2)]
    losses = _train(net, (X, Y), "RoundLossList", MaxTrainingRounds=30, BatchSize=8, LearningRate=0.02)
    assert losses[-1] < 0.05 * losses[0]


@pytest.mark.parametrize("spec", ["Automatic", "CrossEntropyLoss"])
def test_nettrain_index_cross_entropy_is_the_mean_over_each_sequence(spec):
    # docs/semantics-wolfram.md §7: CrossEntropyLossLayer["Index"] (attached automatically or by name) averages over
    # each varying sequence's real steps, not MATLAB's sum over steps
    from minidl.wolfram.layers import CrossEntropyLossLayer
    from minidl.wolfram.losses import choose_loss
    net = [L.SequenceInput(2), L.LSTM(3), L.FullyConnected(2), L.Softmax()]
    for layer in (choose_loss(net, spec), CrossEntropyLossLayer("Index")):
        assert isinstance(layer, L.ClassificationOutput) and layer.sequence_reduction == "mean"
        y = np.full((2, 2, 4), 0.5)
        mask = np.array([[1.0, 1, 1, 1], [1, 1, 0, 0]])
        assert float(layer.loss_array(y, np.zeros((2, 4), dtype=np.int64), mask)) == pytest.approx(np.log(2))


def test_trained_net_applies_to_wolfram_t_by_c_sequences():
    # trained[x] takes the same (T, C) lists of vectors NetTrain trained on; predict stays channels-first
    from minidl.wolfram.layers import (
        LinearLayer,
        LongShortTermMemoryLayer,
        NetChain,
        NetDecoder,
        SequenceLastLayer,
        SoftmaxLayer,
    )
    X, Y = _waves(24, 5)                                                  # Wolfram's (T, 2) examples
    net = NetChain([LongShortTermMemoryLayer(4), SequenceLastLayer(), LinearLayer(2), SoftmaxLayer()],
                   input=("Varying", 2), output=NetDecoder("Class", sorted(set(Y))))
    assert net.sequence_layout == "TC"
    trained = NetTrain(net, list(zip(X, Y)), MaxTrainingRounds=2, TrainingProgressReporting=None)
    assert trained.sequence_layout == "TC"
    np.testing.assert_array_equal(trained(X, "Probabilities"), trained.predict([x.T for x in X]))
    seq = NetTrain([L.SequenceInput(2), L.LSTM(3), L.FullyConnected(2)], [(x, x) for x in X],
                   MaxTrainingRounds=1, TrainingProgressReporting=None)
    out = seq(X[:3])
    assert [o.shape for o in out] == [x.shape for x in X[:3]]             # per-step outputs as (T, K)
