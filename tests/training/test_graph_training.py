"""Training graph networks (docs/graphs.md#training): the Pythonic API, several inputs and losses, validation,
checkpoints with exact resume, save/load, partial updates (update_groups)."""

import numpy as np
import pytest

import minidl as dl
from minidl import layers as L
from minidl import train_network, training_options
from minidl.network import Network, chain_connections
from minidl.training import EngineConfig, Trainer, load_network, read_checkpoint, save_network
from minidl.training.graph import MultiArraySource


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    Y = np.array(["a", "b", "c"])[(X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)]
    return X, Y


def _residual():
    layers = [L.FeatureInput(4, normalization="zscore", name="in"), L.FullyConnected(4, name="fc1"),
              L.BatchNormalization(name="bn"), L.ReLU(name="r"), L.FullyConnected(4, name="fc2"),
              L.Addition(2, name="add"), L.Dropout(0.2, name="drop"), L.FullyConnected(3, name="head"),
              L.Softmax(name="sm"), L.ClassificationOutput(name="loss")]
    conns = [("in", "fc1"), ("fc1", "bn"), ("bn", "r"), ("r", "fc2"), ("fc2", "add/in1"), ("in", "add/in2"),
             ("add", "drop"), ("drop", "head"), ("head", "sm"), ("sm", "loss")]
    return Network(layers, conns)


def _opts(**kw):
    base = dict(mini_batch_size=10, max_epochs=3, precision="float64", verbose=False, initial_learn_rate=0.05,
                shuffle="every-epoch", seed=4)
    return training_options("sgdm", **{**base, **kw})


def _chain():
    return [L.FeatureInput(4, normalization="zerocenter"), L.FullyConnected(6), L.BatchNormalization(), L.ReLU(),
            L.Dropout(0.1), L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()]


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_a_chain_given_as_a_graph_trains_bit_identically(precision):
    X, Y = _data()
    a, info_a = train_network(X, Y, _chain(), _opts(precision=precision))
    layers = _chain()
    graph = Network(layers, chain_connections(layers))
    b, info_b = train_network(X, Y, graph, _opts(precision=precision))
    for k, v in a.state_arrays().items():
        np.testing.assert_array_equal(b.state_arrays()[k], v, err_msg=k)
    np.testing.assert_array_equal(info_a.training_loss, info_b.training_loss)


def test_a_residual_network_trains_with_validation_and_resumes_exactly(tmp_path):
    X, Y = _data()
    Xv, Yv = _data(25, 1)
    o = dict(validation_data=(Xv, Yv), validation_frequency=3, checkpoint_path=str(tmp_path / "a"))
    (tmp_path / "a").mkdir()
    full, info = train_network(X, Y, _residual(), _opts(**o))
    assert not full.is_chain and full.connections == _residual().connections
    assert info.training_loss[-1] < info.training_loss[0]
    assert np.isfinite(info.final_validation_accuracy)
    np.testing.assert_array_equal(full.classes, ["a", "b", "c"])
    assert set(full.classify(Xv)) <= {"a", "b", "c"}
    saved = [p for p in (tmp_path / "a").iterdir() if p.name.startswith("net_checkpoint__")]
    first = min(saved, key=lambda p: int(p.name.split("__")[1]))
    manifest, _ = read_checkpoint(first)
    assert manifest["network"]["architecture"]["connections"][4] == ["fc2/out", "add/in1"]
    (tmp_path / "b").mkdir()
    resumed, info_r = train_network(X, Y, None, _opts(**{**o, "checkpoint_path": str(tmp_path / "b")}),
                                    resume_from=first)
    assert not resumed.is_chain
    for k, v in full.state_arrays().items():
        np.testing.assert_array_equal(resumed.state_arrays()[k], v, err_msg=k)
    np.testing.assert_array_equal(info_r.training_loss, info.training_loss)
    assert info_r.final_validation_loss == info.final_validation_loss


def test_save_and_load_rebuild_the_same_graph(tmp_path):
    X, Y = _data()
    net, _ = train_network(X, Y, _residual(), _opts(max_epochs=1))
    save_network(net, tmp_path / "net")
    back = load_network(tmp_path / "net")
    assert back.connections == net.connections and [la.name for la in back.layers] == [la.name for la in net.layers]
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_the_loss_weights_travel_with_a_saved_graph(tmp_path):
    from minidl.training.serialization import network_from_json, network_to_json

    net = _two_heads()
    assert network_to_json(net)["loss_weights"] == {"cls": 1.0, "reg": 0.5}
    assert "loss_weights" not in network_to_json(_residual())                 # weights of 1: nothing written
    assert network_from_json(network_to_json(net)).loss_weights == {"cls": 1.0, "reg": 0.5}
    spec = network_to_json(net)
    for bad in ({"nope": 1.0}, {"reg": float("nan")}, {"reg": True}, [0.5]):
        with pytest.raises(ValueError, match=r"architecture: 'loss_weights' is .*allowed: finite numbers by loss "
                                             r"layer name \(cls, reg\)"):
            network_from_json({**spec, "loss_weights": bad})


def _two_heads():
    layers = [L.FeatureInput(3, normalization="none", name="x1"), L.FeatureInput(2, normalization="zscore",
                                                                                 name="x2"),
              L.FullyConnected(5, name="a"), L.FullyConnected(5, name="b"), L.Addition(2, name="add"), L.ReLU(name="r"),
              L.FullyConnected(2, name="h1"), L.Softmax(name="sm"), L.ClassificationOutput(name="cls"),
              L.FullyConnected(1, name="h2"), L.RegressionOutput(name="reg")]
    conns = [("x1", "a"), ("x2", "b"), ("a", "add/in1"), ("b", "add/in2"), ("add", "r"), ("r", "h1"),
             ("h1", "sm"), ("sm", "cls"), ("r", "h2"), ("h2", "reg")]
    net = Network(layers, conns)
    net.loss_weights["reg"] = 0.5
    return net


def _two_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal((n, 3)), rng.standard_normal((n, 2)) * 3 + 1
    return (x1, x2), {"cls": (x1[:, 0] > 0).astype(int), "reg": x1[:, 1:2] - x2[:, :1] / 3}


def test_two_inputs_and_two_weighted_losses_report_the_total_and_the_first_accuracy():
    X, Y = _two_data()
    Xv, Yv = _two_data(20, 1)
    net, info = train_network(X, Y, _two_heads(), _opts(max_epochs=4, validation_data=(Xv, Yv),
                                                        validation_frequency=4))
    assert net.is_classifier and list(net.classes) == [0, 1]
    # the first iteration's reported loss is the weighted total, its accuracy that of 'cls'
    again = _two_heads()
    _, info1 = train_network({"x1": X[0], "x2": X[1]}, (Y["cls"], Y["reg"]), again, _opts(max_epochs=1))
    np.testing.assert_array_equal(info1.training_loss, info.training_loss[:len(info1.training_loss)])
    assert np.all((info.training_accuracy >= 0) & (info.training_accuracy <= 100))
    assert np.isfinite(info.final_validation_loss) and 0 <= info.final_validation_accuracy <= 100
    out = net.predict({"x1": Xv[0], "x2": Xv[1]})
    assert set(out) == {"cls", "reg"} and out["reg"].shape == (20, 1)
    tot = net.loss(net.forward({"x1": Xv[0], "x2": Xv[1]}), {"cls": Yv["cls"], "reg": Yv["reg"]})
    assert info.final_validation_loss == pytest.approx(tot, rel=1e-12)


def test_port_data_errors_name_the_argument_and_the_port():
    X, Y = _two_data()
    with pytest.raises(ValueError, match=r"X: got 3 arrays; allowed: 2, one per input layer \['x1', 'x2'\]"):
        train_network(X + (X[0],), Y, _two_heads(), _opts())
    with pytest.raises(ValueError, match=r"X input 'x2': got observations of shape \(3,\)"):
        train_network((X[0], X[0]), Y, _two_heads(), _opts())
    with pytest.raises(ValueError, match=r"Y: got keys \['cls'\]; allowed: the loss layers \['cls', 'reg'\]"):
        train_network(X, {"cls": Y["cls"]}, _two_heads(), _opts())
    with pytest.raises(ValueError, match="different numbers of observations"):
        MultiArraySource((X[0], X[1][:5]), Y)


def test_update_groups_freeze_the_other_arrays_in_turn():
    X, Y = _two_data()
    net = _two_heads().initialize(rng=np.random.default_rng(0), dtype="float64")
    first = {k for k in net.params if k.startswith(("a.", "h1."))}
    rest = set(net.params) - first
    seen = []

    class Watch(dl.training.Observer):
        def on_event(self, state):
            if state.event == "iteration":
                seen.append(state.weights())

    before = net.state_arrays()
    cfg = EngineConfig(optimizer=dl.optim.SGDM(momentum=0.9), schedule=dl.optim.ConstantSchedule(0.05),
                       batch_size=10, max_epochs=1, dtype="float64", shuffle="never",
                       update_groups=[(frozenset(first), 1), (frozenset(rest), 2)])
    _, info = Trainer(net, MultiArraySource(X, Y), cfg, observers=[Watch()]).run()
    assert len(seen) == 4 and info.training_loss.shape == (4,)
    states = [before] + seen
    for it in range(1, len(states)):
        moved = {k.split("/", 1)[1] for k, v in states[it].items()
                 if k.startswith("params/") and not np.array_equal(v, states[it - 1][k])}
        assert moved == (first if it % 3 == 1 else rest), it


def _first_iteration(net, X, Y, **kw):
    """(the network before training, info) of a one-epoch run with shuffle 'never' (the first batch: rows 0-9)."""
    for layer in net.input_layers:     # the statistics the engine computes from all of X (zscore inputs)
        if getattr(layer, "needs_statistics", False):
            layer.set_statistics([X[1] if layer.name == "x2" else X])
    net.initialize(rng=np.random.default_rng(0), dtype="float64")
    before = net.copy()
    _, info = train_network(X, Y, net, _opts(max_epochs=1, shuffle="never", **kw))
    return before, info


def test_the_reported_loss_is_the_weighted_total_and_the_accuracy_the_first_classification_loss():
    X, Y = _two_data()
    before, info = _first_iteration(_two_heads(), X, Y)
    xb = {"x1": X[0][:10], "x2": X[1][:10]}
    tb = {"cls": Y["cls"][:10], "reg": Y["reg"][:10]}
    y = before.forward(xb)
    total = before["cls"].loss(y["cls"], tb["cls"]) + 0.5 * before["reg"].loss(y["reg"], tb["reg"])
    assert info.training_loss[0] == pytest.approx(total, rel=1e-13)
    assert info.training_accuracy[0] == pytest.approx(100.0 * np.mean(np.argmax(y["cls"], 1) == tb["cls"]))


def test_several_regression_losses_report_the_first_losss_own_rmse():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 3))
    Y = (X[:, :2], X[:, 2:] * 2)
    layers = [L.FeatureInput(3, normalization="none", name="x"), L.FullyConnected(2, name="h1"),
              L.RegressionOutput(name="r1"), L.FullyConnected(1, name="h2"), L.RegressionOutput(name="r2")]
    net = Network(layers, [("x", "h1"), ("h1", "r1"), ("x", "h2"), ("h2", "r2")])
    net.loss_weights["r2"] = 3.0
    before, info = _first_iteration(net, X, Y)
    y = before.forward(X[:10])
    own = before["r1"].loss(y["r1"], Y[0][:10])
    assert info.training_loss[0] == pytest.approx(own + 3.0 * before["r2"].loss(y["r2"], Y[1][:10]), rel=1e-13)
    # r1's RMSE as RegressionOutput defines it (MATLAB: squared errors summed over the responses), not the total's
    assert info.training_rmse[0] == pytest.approx(np.sqrt(np.mean(np.sum((y["r1"] - Y[0][:10]) ** 2, 1))), rel=1e-12)


def test_example_losses_and_outputs_of_a_graph_batch_are_recorded():
    X, Y = _two_data()
    net = _two_heads()
    got = []

    class Watch(dl.training.Observer):
        def on_event(self, state):
            if state.event == "iteration":
                got.append((state.training_loss, state.example_losses, state.batch_outputs, state.batch_targets))

    cfg = EngineConfig(optimizer=dl.optim.SGDM(momentum=0.9), schedule=dl.optim.ConstantSchedule(0.05),
                       batch_size=10, max_epochs=1, dtype="float64", record_example_losses=True, record_outputs=True)
    Trainer(net, MultiArraySource(X, Y), cfg, observers=[Watch()]).run()
    loss, examples, outputs, targets = got[0]
    assert examples.shape == (10,) and np.mean(examples) == pytest.approx(loss, rel=1e-12)   # Σ weight·ℓₙ
    assert set(outputs) == {"cls", "reg"} and outputs["reg"].shape == (10, 1) and set(targets) == {"cls", "reg"}


def test_a_graph_of_sequences_is_refused_as_not_supported_yet():
    layers = [L.SequenceInput(2, name="s"), L.LSTM(3, output_mode="last", name="l"), L.FullyConnected(2, name="a"),
              L.FullyConnected(2, name="b"), L.Addition(2, name="add"), L.Softmax(name="sm"),
              L.ClassificationOutput(name="c")]
    net = Network(layers, [("s", "l"), ("l", "a"), ("l", "b"), ("a", "add/in1"), ("b", "add/in2"), ("add", "sm"),
                           ("sm", "c")])
    X = [np.ones((2, 5)), np.zeros((2, 4))]
    with pytest.raises(dl.NotSupportedYetError, match="a graph network with a sequence input"):
        train_network(X, np.array([0, 1]), net, _opts(mini_batch_size=2))
