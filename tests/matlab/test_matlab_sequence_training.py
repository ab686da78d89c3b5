"""MATLAB trainNetwork on sequences: trainingOptions' SequenceLength / SequencePaddingValue / SequencePaddingDirection,
cell arrays of C×T sequences, categorical sequence responses, and small LSTM problems trained end to end."""

from __future__ import annotations

import io

import numpy as np
import pytest

from minidl import layers as L
from minidl.matlab import trainingOptions, trainNetwork


def _waves(n: int, seed: int):
    """Sine or square waves of 2 channels and 8-20 steps: class 'sine' | 'square' (a cell array as a list)."""
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for _ in range(n):
        t = np.arange(int(rng.integers(8, 21)))
        phase = rng.uniform(0, 2 * np.pi)
        s = np.sin(0.8 * t + phase)
        kind = "square" if rng.random() < 0.5 else "sine"
        wave = np.sign(s) if kind == "square" else s
        X.append(np.stack([wave, 0.5 * wave]) + 0.05 * rng.standard_normal((2, len(t))))
        Y.append(kind)
    return X, np.array(Y)


def _options(**kw):
    base = dict(MaxEpochs=40, MiniBatchSize=16, Verbose=False, InitialLearnRate=0.02, Precision="double",
                Shuffle="every-epoch")
    base.update(kw)
    args = [a for k, v in base.items() for a in (k, v)]
    return trainingOptions("adam", *args)


def test_sequence_to_label_lstm_trains_end_to_end():
    X, Y = _waves(64, 0)
    layers = [L.SequenceInput(2), L.LSTM(12, output_mode="last"), L.FullyConnected(2), L.Softmax(),
              L.ClassificationOutput()]
    net, info = trainNetwork(X, Y, layers, _options(SequencePaddingDirection="left"))
    assert np.mean(info.TrainingAccuracy[-4:]) >= 90.0
    assert net.classes.tolist() == ["sine", "square"]


def test_sequence_to_sequence_lstm_trains_end_to_end_with_chunks():
    X, _ = _waves(48, 1)
    Y = [np.where(x[0] > 0, "high", "low").reshape(1, -1) for x in X]      # categorical 1×T per sequence
    layers = [L.SequenceInput(2), L.LSTM(8), L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()]
    out = io.StringIO()
    net, info = trainNetwork(X, Y, layers, _options(SequenceLength=8, MaxEpochs=15, Verbose=True,
                                                    VerboseFrequency=1), stream=out)
    assert np.mean(info.TrainingAccuracy[-5:]) >= 95.0
    # iterations count the chunks of 8: the table has one row per chunk iteration
    rows = [line for line in out.getvalue().splitlines() if line.startswith("|") and line[1:].strip()[:1].isdigit()]
    assert len(rows) == len(info.TrainingLoss) > 15 * (48 // 16)


def test_validation_data_of_sequences_and_numeric_layouts():
    X, Y = _waves(40, 2)
    Xv, Yv = _waves(16, 3)
    layers = [L.SequenceInput(2), L.LSTM(8, output_mode="last"), L.FullyConnected(2), L.Softmax(),
              L.ClassificationOutput()]
    cells = np.empty((len(X), 1), dtype=object)                  # scipy.io.loadmat's N×1 cell array
    for i, x in enumerate(X):
        cells[i, 0] = x
    net, info = trainNetwork(cells, Y.reshape(-1, 1), layers,
                             _options(MaxEpochs=3, ValidationData=(Xv, Yv), ValidationFrequency=2))
    assert np.isfinite(info.FinalValidationAccuracy)
    # a numeric C×T×N array: every sequence the same length
    same = np.stack([x[:, :8] for x in X], axis=2)
    net2, info2 = trainNetwork(same, Y, layers, _options(MaxEpochs=2))
    net3, info3 = trainNetwork([x[:, :8] for x in X], Y, layers, _options(MaxEpochs=2))
    np.testing.assert_array_equal(info2.TrainingLoss, info3.TrainingLoss)


def test_sequence_options_are_checked_and_shown():
    o = trainingOptions("sgdm", "SequenceLength", 20.0, "SequencePaddingValue", -1, "SequencePaddingDirection",
                        "LEFT")
    assert o.engine.sequence_length == 20 and o.engine.sequence_padding_value == -1.0
    assert o.engine.sequence_padding_direction == "left"
    assert trainingOptions("sgdm", "SequenceLength", "shortest").engine.sequence_length == "shortest"
    assert trainingOptions("sgdm").engine.sequence_padding_direction == "right"     # the reference's behaviour
    with pytest.raises(ValueError, match="'SequenceLength'"):
        trainingOptions("sgdm", "SequenceLength", 2.5)
    with pytest.raises(ValueError, match="'SequenceLength'"):
        trainingOptions("sgdm", "SequenceLength", "middle")
    with pytest.raises(ValueError, match="'SequencePaddingValue'"):
        trainingOptions("sgdm", "SequencePaddingValue", float("nan"))
    with pytest.raises(ValueError, match="'SequencePaddingDirection'"):
        trainingOptions("sgdm", "SequencePaddingDirection", "up")


def test_padding_value_reaches_the_padded_steps():
    X = [np.ones((1, 2)), np.ones((1, 4))]
    Y = np.array([1.0, 2.0])
    layers = [L.SequenceInput(1), L.LSTM(2, output_mode="last"), L.FullyConnected(1), L.RegressionOutput()]
    _, a = trainNetwork(X, Y, layers, _options(MaxEpochs=1, SequencePaddingValue=0, Shuffle="never"))
    _, b = trainNetwork(X, Y, layers, _options(MaxEpochs=1, SequencePaddingValue=3, Shuffle="never"))
    # MATLAB's LSTM processes padded steps like real ones: the padding value changes the right-padded result
    assert a.TrainingLoss[0] != b.TrainingLoss[0]


def test_a_stop_mid_epoch_checkpoints_with_chunk_counts_that_vary_by_epoch(tmp_path):
    import os

    X, Y = _waves(32, 4)
    layers = [L.SequenceInput(2), L.LSTM(4, output_mode="last"), L.FullyConnected(2), L.Softmax(),
              L.ClassificationOutput()]

    def stop_at_3(info):
        return info["Iteration"] == 3 and info["State"] == "iteration"

    _, info = trainNetwork(X, Y, layers, _options(SequenceLength=4, MaxEpochs=2, OutputFcn=stop_at_3,
                                                  CheckpointPath=str(tmp_path)))
    assert len(info.TrainingLoss) == 3                      # inside epoch 1 (8 mini-batches of several chunks)
    names = [n for n in os.listdir(tmp_path) if n.startswith("net_checkpoint__")]
    assert [n.split("__")[1] for n in names] == ["3"]       # the mid-epoch stop's checkpoint


def test_sequence_loss_mask_option_reaches_the_engine():
    # minidl extension SequenceLossMask (docs/semantics-matlab.md §13): False counts padded steps as real ones
    import minidl
    from minidl.matlab.train import engine_config
    assert trainingOptions("adam").SequenceLossMask is True
    o = trainingOptions("adam", "SequenceLossMask", False)
    assert o.SequenceLossMask is False and engine_config(o.engine).sequence_loss_mask is False
    assert engine_config(minidl.training_options("adam")).sequence_loss_mask is True
    with pytest.raises(TypeError, match="SequenceLossMask"):
        trainingOptions("adam", "SequenceLossMask", "yes")


def test_one_c_by_t_matrix_with_r_by_t_responses_is_one_sequence_to_sequence_example():
    # MATLAB's forecasting form trainNetwork(X, Y): X one C×T matrix, Y its R×T per-step responses (not N×R)
    from minidl.matlab import fullyConnectedLayer, lstmLayer, regressionLayer, sequenceInputLayer
    from minidl.matlab.arrays import sequence_responses
    x = np.sin(np.linspace(0, 6, 31))[None, :]
    X, Y = x[:, :-1], x[:, 1:]
    assert [a.shape for a in sequence_responses(Y, False, "Y", steps=30)] == [(1, 30)]
    assert [a.shape for a in sequence_responses(np.array(list("ab" * 15))[None, :], False, "Y", steps=30)] == [(30,)]
    assert sequence_responses(np.ones((1, 3)), False, "Y", steps=None).shape == (1, 3)   # N×R as before
    layers = [sequenceInputLayer(1), lstmLayer(4), fullyConnectedLayer(1), regressionLayer()]
    net, info = trainNetwork(X, Y, layers, _options(MaxEpochs=2, MiniBatchSize=1))
    assert len(info["TrainingLoss"]) == 2 and net.sequence_output
