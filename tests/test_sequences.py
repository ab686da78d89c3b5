"""The one padding / truncation / chunking rule (minidl.sequences) and the SequenceInput layer."""

import numpy as np
import pytest

import minidl as dl
from minidl import backend as B
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


# ------------------------------------------------------------------------------------------------ Network
def _lstm_net(output_mode="sequence", classes=2, rng=None, mask_recurrence=False):
    net = dl.Network([L.SequenceInput(3), L.LSTM(4, output_mode=output_mode, mask_recurrence=mask_recurrence),
                      L.FullyConnected(classes), L.Softmax(), L.ClassificationOutput()])
    return net.initialize(rng=rng if rng is not None else np.random.default_rng(5), dtype="float64")


def _varying(rng, lengths=(7, 4, 9)):
    return [rng.standard_normal((3, t)) for t in lengths]


def test_summary_prints_the_time_axis_as_t():
    text = str(_lstm_net().summary())
    assert "3xT" in text and "4xT" in text and "2xT" in text and _lstm_net().is_sequence
    assert [r[3] for r in _lstm_net("last").summary().rows[1:]] == ["3xT", "4", "2", "2", "2"]


def test_forward_passes_the_mask_only_to_layers_that_use_it():
    seen = []

    class Spy(L.ReLU):
        uses_mask = True

        def forward(self, x, training=False, mask=None):
            seen.append(mask)
            return x

    net = dl.Network([L.SequenceInput(2), Spy(), L.ReLU()]).initialize(dtype="float64")
    mask = np.ones((1, 3))
    net.forward(np.ones((1, 2, 3)), mask=mask)           # the plain ReLU gets forward(x, training): no error
    assert seen == [mask]


@pytest.mark.parametrize("output_mode", ["sequence", "last"])
@pytest.mark.parametrize("direction", ["right", "left"])
def test_an_integer_sequence_length_predicts_as_the_whole_sequence(output_mode, direction):
    rng = np.random.default_rng(0)
    net, xs = _lstm_net(output_mode), _varying(rng)
    whole = net.predict(xs, sequence_padding_direction=direction)
    split = net.predict(xs, sequence_length=3, sequence_padding_direction=direction)
    if output_mode == "sequence":
        assert [y.shape for y in whole] == [(2, 7), (2, 4), (2, 9)]
        for a, b in zip(whole, split):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
    else:
        assert whole.shape == (3, 2)
        np.testing.assert_allclose(split, whole, rtol=1e-12, atol=1e-14)
    # the proof that the state is carried: the chunks run from the initial state each give another answer
    x, mask, _ = pad_batch(xs, 3, 0.0, direction)
    fresh = [net.forward(x[:, :, part], mask=mask[:, part]) for part in chunks(x.shape[2], 3)]
    last = fresh[-1] if output_mode == "last" else fresh[-1][:, :, -1]
    ref = whole if output_mode == "last" else np.stack([w[:, -1] for w in whole])
    assert not np.allclose(last[0 if direction == "left" else 2], ref[0 if direction == "left" else 2])


def test_predict_leaves_the_carried_state_alone_and_starts_fresh():
    rng = np.random.default_rng(1)
    net, xs = _lstm_net(), _varying(rng, (5, 5))
    first = net.predict(xs)
    net.predict_and_update_state(xs)
    state = net.recurrent_state()
    assert sorted(state) == ["lstm_1.cell", "lstm_1.hidden"] and state["lstm_1.hidden"].shape == (2, 4)
    again = net.predict(xs)                              # from the initial state, not the carried one
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    after = net.recurrent_state()
    for k in state:
        np.testing.assert_array_equal(after[k], state[k])


def test_predict_and_update_state_steps_through_a_sequence():
    rng = np.random.default_rng(2)
    net = _lstm_net()
    xs = _varying(rng, (6, 6))
    whole = net.predict(xs)
    steps = [net.predict_and_update_state([x[:, t:t + 1] for x in xs]) for t in range(6)]
    for i in range(2):
        np.testing.assert_allclose(np.concatenate([s[i] for s in steps], axis=1), whole[i], rtol=1e-12)
    net.reset_state()
    assert net.recurrent_state() == {}
    np.testing.assert_allclose(net.predict_and_update_state([xs[0][:, :1]])[0], whole[0][:, :1], rtol=1e-12)
    # another number of sequences than the carried state's starts from the initial state
    net.predict_and_update_state([x[:, :3] for x in xs])
    np.testing.assert_allclose(net.predict_and_update_state([xs[0][:, :1]])[0], whole[0][:, :1], rtol=1e-12)
    with pytest.raises(dl.errors.NotSupportedYetError, match="batch_size 1"):
        net.predict_and_update_state(xs, batch_size=1)


def test_recurrent_state_round_trips_and_carrying_state_restores():
    rng = np.random.default_rng(3)
    net = _lstm_net()
    xs = _varying(rng, (4, 4))
    net.predict_and_update_state(xs)
    saved = net.recurrent_state()
    nxt = net.predict_and_update_state(xs)
    net.set_recurrent_state(saved)
    for a, b in zip(net.predict_and_update_state(xs), nxt):
        np.testing.assert_array_equal(a, b)
    net.set_recurrent_state({})
    assert net["lstm_1"].carried is None
    with pytest.raises(ValueError, match="name no recurrent layer"):
        net.set_recurrent_state({"fc_1.hidden": np.zeros((1, 4))})
    assert net["lstm_1"].carry_state is False
    with net.carrying_state():
        assert net["lstm_1"].carry_state is True
        with net.carrying_state(False):
            assert net["lstm_1"].carry_state is False
        assert net["lstm_1"].carry_state is True
    assert net["lstm_1"].carry_state is False


def test_classify_a_sequence_to_sequence_network_gives_labels_per_step():
    rng = np.random.default_rng(4)
    net, xs = _lstm_net(classes=3), _varying(rng)
    net.classes = np.array(["a", "b", "c"])
    labels = net.classify(xs)
    scores = net.predict(xs)
    assert [lab.shape for lab in labels] == [(7,), (4,), (9,)]
    np.testing.assert_array_equal(labels[1], net.classes[scores[1].argmax(axis=0)])
    assert [lab.shape for lab in net(xs)] == [(7,), (4,), (9,)]          # Wolfram's net[x] decodes per step too
    seq2label = _lstm_net("last", classes=3)
    seq2label.classes = net.classes
    assert seq2label.classify(xs).shape == (3,)


def test_the_masked_loss_ignores_padded_steps_in_the_gradient():
    rng = np.random.default_rng(6)
    net = _lstm_net()
    short, long_ = rng.standard_normal((3, 5)), rng.standard_normal((3, 8))
    t_short, t_long = rng.integers(0, 2, 5), rng.integers(0, 2, 8)
    x, mask, _ = pad_batch([short, long_], "longest", 0.0, "right")
    t = pad_targets([t_short, t_long], "longest", "right")
    y = net.forward(x, training=True, mask=mask)
    loss = net.loss(y, t, mask=mask)
    net.backward(y, t, mask=mask)
    grads = {k: v.copy() for k, v in net.grads.items()}
    expected = 0.0                                       # Σ over the two sequences alone, / N = 2
    total = {k: 0.0 for k in grads}
    for xi, ti in ((short, t_short), (long_, t_long)):
        yi = net.forward(xi[None], training=True)
        expected += net.loss(yi, ti[None]) / 2
        net.backward(yi, ti[None])
        for k in total:
            total[k] = total[k] + net.grads[k] / 2
    assert np.isclose(loss, expected, rtol=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k], total[k], rtol=1e-10, atol=1e-14)


def test_predict_checks_the_minimum_length_and_the_channels():
    net = dl.Network([L.SequenceInput(3, min_length=4), L.LSTM(2), L.FullyConnected(2), L.Softmax(),
                      L.ClassificationOutput()]).initialize(dtype="float64")
    with pytest.raises(ValueError, match="sequence 1 has 3 time steps; MinLength is 4"):
        net.predict([np.ones((3, 5)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="got 2 channels"):
        net.predict([np.ones((2, 5))])
    with pytest.raises(ValueError, match="sequence_length: got 0"):
        net.predict([np.ones((3, 5))], sequence_length=0)


def test_sequence_prediction_and_state_on_every_backend(backend):
    rng = np.random.default_rng(7)
    net, xs = _lstm_net(), _varying(rng)
    ref = net.predict(xs, sequence_length=2)
    moved = net.copy().to(backend)
    for a, b in zip(moved.predict(xs, sequence_length=2), ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    moved.predict_and_update_state(xs)
    state = moved.recurrent_state()
    moved.set_recurrent_state(state)
    assert all(type(v) is np.ndarray for v in moved.recurrent_state().values())
    x, mask, _ = pad_batch(xs, "longest")
    t = pad_targets([rng.integers(0, 2, s.shape[1]) for s in xs])
    xd, md, td = (B.to_device(a, backend) for a in (x, mask, t))
    y = moved.forward(xd, training=True, mask=md)
    moved.backward(y, td, mask=md)
    assert float(moved.loss(y, td, mask=md)) > 0 and set(moved.grads) == set(moved.params)
