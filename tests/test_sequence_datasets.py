"""The embedded sequence data sets: the stored bytes, the loaders' shapes and labels, and the recipes they follow."""

import hashlib
import importlib.util
import pathlib
import shutil

import numpy as np
import pytest

from minidl import datasets as D

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("make_sequence_data", ROOT / "tools" / "make_sequence_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stored_file_is_a_fresh_build_and_its_checksum_is_recorded():
    """tools/make_sequence_data.py rebuilds the same bytes (NumPy only, about half a second), and the SHA-256 the
    loaders check is that file's."""
    tool = _tool()
    stored = pathlib.Path(D.SEQUENCE_FILE).read_bytes()
    assert tool.encode(tool.build()) == stored
    assert hashlib.sha256(stored).hexdigest() == D._SEQUENCE_SHA256
    assert len(stored) <= 300_000
    assert tool.WAVEFORM_CLASSES == D.WAVEFORM_CLASSES and tool.ACTIVITY_CLASSES == D.ACTIVITY_CLASSES


def test_tool_check_passes_on_the_stored_file_and_fails_on_another(tmp_path, capsys):
    tool = _tool()
    assert tool.main(["--check"]) == 0
    other = tmp_path / "sequences.npz"
    data = bytearray(pathlib.Path(D.SEQUENCE_FILE).read_bytes())
    data[-1] ^= 1
    other.write_bytes(bytes(data))
    assert tool.main(["--check", "--output", str(other)]) == 1
    assert "differs from a fresh build" in capsys.readouterr().err


def test_a_damaged_file_is_an_error_that_names_it(tmp_path, monkeypatch):
    bad = tmp_path / "sequences.npz"
    shutil.copyfile(D.SEQUENCE_FILE, bad)
    data = bytearray(bad.read_bytes())
    data[100] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(D, "SEQUENCE_FILE", str(bad))
    D._sequence_arrays.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"sequences\.npz' has SHA-256 .* expected "):
            D._sequence_arrays()
    finally:
        D._sequence_arrays.cache_clear()


def _codes_exact(x: np.ndarray, scale: int) -> bool:
    return bool(np.array_equal(np.round(x.astype(np.float64) * scale), x.astype(np.float64) * scale))


def test_waveform_sets_have_the_documented_shapes_labels_and_lengths():
    for (X, labels), n in ((D.waveform_train_data(), 240), (D.waveform_test_data(), 160)):
        assert isinstance(X, list) and len(X) == n and labels.shape == (n,) and labels.dtype.kind == "U"
        assert all(x.dtype == np.float32 and x.ndim == 2 and x.shape[0] == 12 for x in X)
        lengths = np.array([x.shape[1] for x in X])
        assert lengths.min() >= 20 and lengths.max() <= 60 and len(set(lengths.tolist())) > 20  # varying
        assert tuple(sorted(set(labels.tolist()))) == D.WAVEFORM_CLASSES
        np.testing.assert_array_equal(np.unique(labels, return_counts=True)[1], np.full(4, n // 4))  # balanced
        assert not all(a <= b for a, b in zip(labels[:-1], labels[1:]))  # shuffled
        assert all(_codes_exact(x, 32) for x in X)  # the stored 1/32 grid, exact in float32
        assert all(np.abs(x).max() < 4 for x in X)  # no clipped code


def test_activity_sets_have_a_label_per_step_and_regimes_of_15_to_40_steps():
    for (X, Y), n in ((D.activity_train_data(), 60), (D.activity_test_data(), 30)):
        assert len(X) == len(Y) == n
        assert all(x.dtype == np.float32 and x.shape[0] == 3 and 80 <= x.shape[1] <= 160 for x in X)
        assert all(y.shape == x.shape[1:] and y.dtype.kind == "U" for x, y in zip(X, Y))
        assert tuple(sorted(set(np.concatenate(Y).tolist()))) == D.ACTIVITY_CLASSES
        for y in Y:
            change = np.flatnonzero(y[1:] != y[:-1]) + 1
            runs = np.diff(np.concatenate([[0], change, [len(y)]]))
            assert runs[:-1].min() >= 15 and runs.max() <= 40  # the last segment may be cut by the end
        assert all(_codes_exact(x, 32) for x in X)
        steps = np.unique(np.concatenate(Y), return_counts=True)[1]
        assert steps.min() > 0.2 * steps.sum()  # each activity has a fair share of the steps


def test_activity_regimes_differ_by_their_period():
    """Walking oscillates with a period of 9–13 steps, running 4–6, sitting not at all: the dominant period of the
    longest segment of each (the signal's power spectrum) says which activity it is."""
    X, Y = D.activity_train_data()
    found: dict[str, list[float]] = {c: [] for c in D.ACTIVITY_CLASSES}
    for x, y in zip(X, Y):
        change = np.flatnonzero(y[1:] != y[:-1]) + 1
        for a, b in zip(np.concatenate([[0], change]), np.concatenate([change, [len(y)]])):
            if b - a >= 30:
                seg = x[:, a:b].astype(np.float64)
                seg = seg - seg.mean(axis=1, keepdims=True)
                power = (np.abs(np.fft.rfft(seg, n=256, axis=1)) ** 2).sum(axis=0)
                k = 1 + int(np.argmax(power[1:]))
                found[str(y[a])].append(256 / k if power[k] > 2.0 * np.median(power) * 8 else np.inf)
    assert 8 <= np.median(found["walking"]) <= 14
    assert 3.5 <= np.median(found["running"]) <= 6.5
    assert np.median(found["sitting"]) > 20  # no oscillation (drift only, or no clear peak at all)


def test_seasonal_series_is_train_then_test_with_a_yearly_cycle():
    train, test = D.seasonal_train_data(), D.seasonal_test_data()
    assert train.shape == (1, 540) and test.shape == (1, 60)
    assert train.dtype == test.dtype == np.float32
    assert _codes_exact(train, 256) and _codes_exact(test, 256)
    series = np.concatenate([train, test], axis=1)[0].astype(np.float64)
    t = np.arange(600)
    trend = np.polyfit(t, series, 1)[0]
    assert 0.008 < trend < 0.012  # 0.01 per step
    r = series - np.polyval(np.polyfit(t, series, 1), t)
    lag = [np.corrcoef(r[:-k], r[k:])[0, 1] for k in (6, 12)]
    assert lag[1] > 0.5 and lag[0] < lag[1]  # the yearly cycle of 12 steps
    assert np.abs(test[0, 0] - train[0, -1]) < 3  # the test split continues the training split


def test_loaders_are_cached_read_only_and_give_a_new_list_each_call():
    (X1, l1), (X2, l2) = D.waveform_train_data(), D.waveform_train_data()
    assert X1 is not X2 and all(a is b for a, b in zip(X1, X2)) and l1 is l2
    X1.pop()  # the caller's list is its own
    assert len(D.waveform_train_data()[0]) == 240
    X, Y = D.activity_test_data()
    for a in (X[0], Y[0], l1, D.seasonal_train_data()):
        with pytest.raises(ValueError, match="read-only"):
            a[..., 0] = a[..., 1]
    assert not np.array_equal(D.waveform_train_data()[0][0][:, :20], D.waveform_test_data()[0][0][:, :20])


def test_matlab_names_return_writable_copies_of_the_same_sets():
    from minidl import matlab

    for name, loader in (("waveformTrainData", D.waveform_train_data), ("waveformTestData", D.waveform_test_data),
                         ("activityTrainData", D.activity_train_data), ("activityTestData", D.activity_test_data)):
        (X, Y), (X0, Y0) = getattr(matlab, name)(), loader()
        assert len(X) == len(X0) and all(np.array_equal(a, b) and a.flags.writeable for a, b in zip(X, X0))
        np.testing.assert_array_equal(np.hstack(list(Y)), np.hstack(list(Y0)))  # labels (N,) or (Tᵢ,) per sequence
    for name, loader in (("seasonalTrainData", D.seasonal_train_data), ("seasonalTestData", D.seasonal_test_data)):
        x = getattr(matlab, name)()
        assert x.flags.writeable and np.array_equal(x, loader()) and x.shape[0] == 1  # a 1×T row


# ---------------------------------------------------------------- each embedded task trains (docs/sequences.md)
# The examples' full runs, with the thresholds docs/sequences.md states next to what was measured.


def _example(name: str, tmp_path) -> dict:
    import io
    from contextlib import redirect_stdout

    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = [] if name.startswith("wolfram") else ["--out", str(tmp_path)]
    with redirect_stdout(io.StringIO()):
        return module.main(argv)


@pytest.mark.slow
def test_waveforms_lstm_classifier_reaches_85_percent(tmp_path):
    assert _example("sequence_classification", tmp_path)["accuracy"] >= 0.85


@pytest.mark.slow
def test_waveforms_matlab_lstm_classifier_reaches_75_percent_left_padded(tmp_path):
    # 90-92.5 % here, 79.4 % under NumPy 1.23's OpenBLAS (CI's oldest environment): float32 training on 240
    # sequences follows the BLAS's rounding, so the threshold leaves room and right vs left padding (73-88 % across
    # the two environments and epoch counts) is reported by the example, not asserted (docs/sequences.md)
    result = _example("matlab_sequence_classification", tmp_path)
    assert result["accuracy"] >= 0.75 and 0 <= result["accuracy_right_padding"] <= 1



@pytest.mark.slow
def test_waveforms_wolfram_lstm_classifier_reaches_80_percent(tmp_path):
    assert _example("wolfram_sequence_classification", tmp_path)["accuracy"] >= 0.80


@pytest.mark.slow
def test_activity_bilstm_labeller_reaches_80_percent_of_the_steps(tmp_path):
    assert _example("sequence_labelling", tmp_path)["accuracy"] >= 0.80


@pytest.mark.slow
def test_seasonal_lstm_forecasts_beat_the_thresholds(tmp_path):
    result = _example("matlab_sequence_forecast", tmp_path)
    assert result["rmse_open"] < 0.35  # one step ahead: near the noise (0.2)
    assert result["rmse_closed"] < 0.9  # 60 steps ahead from the forecasts alone
    assert result["rmse_open"] < result["rmse_persistence"]


def test_wolfram_named_sequence_sets_train_with_their_test_data_as_validation_set():
    from minidl.wolfram import NetTrain
    from minidl.wolfram.data import named_dataset
    from minidl.wolfram.layers import LinearLayer, LongShortTermMemoryLayer, NetChain, SequenceLastLayer, SoftmaxLayer

    X, labels = named_dataset("SyntheticWaveforms", "test")
    X0, labels0 = D.waveform_test_data()
    assert all(np.array_equal(x, x0.T) for x, x0 in zip(X, X0)) and labels is labels0  # lists of vectors (T, C)
    net = NetChain([LongShortTermMemoryLayer(4), SequenceLastLayer(), LinearLayer(4), SoftmaxLayer()],
                   input=("Varying", 12))
    res = NetTrain(net, "SyntheticWaveforms", "All", ValidationSet="Automatic", MaxTrainingRounds=1, BatchSize=80,
                   TrainingProgressReporting=None)
    assert (res["TrainingExamples"], res["ValidationExamples"], res["TotalBatches"]) == (240, 160, 3)
    assert res["TrainedNet"].classes.tolist() == list(D.WAVEFORM_CLASSES)
    net = NetChain([LongShortTermMemoryLayer(4), LinearLayer(3), SoftmaxLayer()], input=("Varying", 3))
    res = NetTrain(net, "SyntheticActivity", "All", ValidationSet="Automatic", MaxTrainingRounds=1, BatchSize=30,
                   TrainingProgressReporting=None)
    assert (res["TrainingExamples"], res["ValidationExamples"], res["TotalBatches"]) == (60, 30, 2)
    assert res["TrainedNet"].classes.tolist() == list(D.ACTIVITY_CLASSES)
