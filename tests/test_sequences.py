"""The one padding / truncation / chunking rule (minidl.sequences) and the SequenceInput layer."""

import numpy as np
import pytest

import minidl as dl
from minidl import layers as L
from minidl.sequences import chunks, pad_batch, pad_targets, padded_length, time_mask, trim_outputs


def _seqs():
    a = np.arange(10.0).reshape(2, 5)          # (C=2, T=5)
    b = 100 + np.arange(4.0).reshape(2, 2)     # (C=2, T=2)
    return [a, b]


def test_longest_right_pads_at_the_end():
    x, mask, lengths = pad_batch(_seqs(), "longest", -1.0, "right")
    assert x.shape == (2, 2, 5) and lengths.tolist() == [5, 2]
    np.testing.assert_array_equal(x[1], [[100, 101, -1, -1, -1], [102, 103, -1, -1, -1]])
    np.testing.assert_array_equal(mask, [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    assert mask.dtype == x.dtype == np.float64


def test_longest_left_pads_at_the_start():
    x, mask, _ = pad_batch(_seqs(), "longest", 0.0, "left")
    np.testing.assert_array_equal(x[1], [[0, 0, 0, 100, 101], [0, 0, 0, 102, 103]])
    np.testing.assert_array_equal(mask[1], [0, 0, 0, 1, 1])


def test_shortest_truncates_on_the_padding_side():
    right, mr, _ = pad_batch(_seqs(), "shortest", 0.0, "right")
    left, ml, _ = pad_batch(_seqs(), "shortest", 0.0, "left")
    np.testing.assert_array_equal(right[0], [[0, 1], [5, 6]])      # the first steps kept
    np.testing.assert_array_equal(left[0], [[3, 4], [8, 9]])       # the last steps kept (MATLAB: truncate on the left)
    assert mr.all() and ml.all()


def test_integer_length_pads_to_a_multiple_and_chunks():
    x, mask, _ = pad_batch(_seqs(), 3, 0.0, "right")
    assert x.shape == (2, 2, 6) and padded_length([5, 2], 3) == 6 and padded_length([6], 3) == 6
    assert chunks(6, 3) == [slice(0, 3), slice(3, 6)]
    assert chunks(6, "longest") == [slice(0, 6)]
    np.testing.assert_array_equal(mask, [[1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0]])


def test_an_array_batch_is_all_real_and_dtype_kept():
    arr = np.ones((3, 2, 4), dtype=np.float32)
    x, mask, lengths = pad_batch(arr, "longest")
    assert x is arr and mask.dtype == np.float32 and mask.all() and lengths.tolist() == [4, 4, 4]


def test_targets_line_up_with_the_inputs():
    labels = [np.array([1, 2, 3, 1, 2]), np.array([3, 3])]
    np.testing.assert_array_equal(pad_targets(labels, "longest", "left"), [[1, 2, 3, 1, 2], [0, 0, 0, 3, 3]])
    np.testing.assert_array_equal(pad_targets(labels, "shortest", "left"), [[1, 2], [3, 3]])
    resp = [np.ones((2, 3)), 2 * np.ones((2, 1))]
    t = pad_targets(resp, 2, "right")
    assert t.shape == (2, 2, 4) and t.dtype == np.float64
    np.testing.assert_array_equal(t[1], [[2, 0, 0, 0], [2, 0, 0, 0]])
    assert pad_targets(np.zeros((2, 3), dtype=np.int64)).dtype == np.int64
    with pytest.raises(TypeError, match="integers"):
        pad_targets([np.array([0.5, 1.0])])


def test_trim_outputs_undoes_the_padding():
    for direction in ("right", "left"):
        x, mask, lengths = pad_batch(_seqs(), "longest", 7.0, direction)
        back = trim_outputs(x, lengths, direction)
        for a, b in zip(back, _seqs()):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(time_mask([1, 3], 2, "left"), [[0, 1], [1, 1]])


@pytest.mark.parametrize("kwargs, match", [
    ({"length": 0}, "length: got 0"), ({"length": "long"}, "'longest', 'shortest'"),
    ({"direction": "up"}, "direction: got 'up'"), ({"value": float("nan")}, "not NaN")])
def test_bad_options_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_batch(_seqs(), **kwargs)


def test_bad_sequences_are_refused():
    with pytest.raises(ValueError, match=r"seqs\[1\]: got 3 channels; expected 2"):
        pad_batch([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match=r"seqs\[0\]"):
        pad_batch([np.ones(3)])
    with pytest.raises(ValueError, match="empty list"):
        pad_batch([])


# ------------------------------------------------------------------------------------------------ SequenceInput
def test_sequence_input_shapes_and_time_axis():
    layer = L.SequenceInput(3)
    assert layer.normalization == "none" and layer.is_sequence and not L.FeatureInput(3).is_sequence
    assert layer.initialize((3, None)) == (3, None)
    x = np.ones((2, 3, 7))
    assert layer.forward(x) is x                       # 'none': the input itself, any length T
    with pytest.raises(ValueError, match=r"expected \(N, 3, T\)"):
        layer.forward(np.ones((2, 4, 7)))


def test_sequence_statistics_use_real_steps_only():
    seqs = [np.array([[0.0, 2.0, 4.0], [1.0, 1.0, 1.0]]), np.array([[10.0], [3.0]])]
    x, mask, _ = pad_batch(seqs, "longest", 1000.0)
    real = np.concatenate(seqs, axis=1)                # (C, every real step)
    for items in ([(x, mask)], [seqs], [(x[:1], mask[:1]), (x[1:], mask[1:])]):
        layer = L.SequenceInput(2, normalization="zscore")
        layer.set_statistics(items)
        np.testing.assert_allclose(layer.state["mean"][:, 0], real.mean(axis=1))
        np.testing.assert_allclose(layer.state["std"][:, 0], real.std(axis=1))
    layer.initialize((2, None), dtype="float64")
    y = layer.forward(x)
    np.testing.assert_allclose(y[0, :, :3], (seqs[0] - real.mean(1, keepdims=True)) / real.std(1, keepdims=True))
    rescale = L.SequenceInput(2, normalization="rescale-zero-one")
    rescale.set_statistics([(x, mask)])
    np.testing.assert_array_equal(rescale.state["max"][:, 0], [10.0, 3.0])   # the padding 1000 never counted


def test_sequence_input_given_statistics_and_min_length():
    layer = L.SequenceInput(2, normalization="zerocenter", mean=[1.0, 2.0], min_length=3)
    layer.initialize((2, None), dtype="float64")
    np.testing.assert_array_equal(layer.forward(np.zeros((1, 2, 3)))[0, :, 0], [-1.0, -2.0])
    with pytest.raises(ValueError, match="MinLength is 3"):
        layer.forward(np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="sequence 1 has 2 time steps; MinLength is 3"):
        layer.check_lengths([4, 2])
    with pytest.raises(ValueError, match="min_length: got 0"):
        L.SequenceInput(2, min_length=0)
    with pytest.raises(ValueError, match="'element'"):
        L.SequenceInput(2, normalization_dimension="element")


def test_sequence_input_saves_and_loads():
    from minidl.training.serialization import layer_from_json, layer_to_json

    layer = L.SequenceInput(4, normalization="zscore", min_length=2, name="seq")
    back = layer_from_json(layer_to_json(layer))
    assert (back.size, back.normalization, back.min_length, back.name) == ((4, None), "zscore", 2, "seq")


def test_network_with_a_time_axis_initializes():
    net = dl.Network([L.SequenceInput(3)])
    net.initialize(dtype="float64")
    assert net.input_shape == (3, None) and net.output_shape == (3, None)
