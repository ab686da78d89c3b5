"""NetGraph with ports, NetTrain on port data and port losses, NetExtract / NetTake / NetDrop."""

import numpy as np
import pytest

from minidl.errors import NotSupportedYetError
from minidl.layers import MeanSquaredLoss
from minidl.wolfram import NetTrain
from minidl.wolfram.data import Scaled
from minidl.wolfram.graph import NetDrop, NetExtract, NetGraph, NetPort, NetTake, port_outputs
from minidl.wolfram.layers import ElementwiseLayer, LinearLayer, NetChain, SoftmaxLayer
from minidl.wolfram.losses import PortLoss, graph_losses


def loss_net(hidden=False):
    evaluation = NetChain([LinearLayer(4), ElementwiseLayer("Tanh"), LinearLayer(1)] if hidden else [LinearLayer(1)])
    return NetGraph({"evaluation": evaluation, "loss": MeanSquaredLoss()},
                    [(NetPort("Input"), "evaluation", "loss"), ("evaluation", NetPort("Output")),
                     ("loss", NetPort("Loss"))], Input=2)


def linear_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, 2 * X[:, :1] - X[:, 1:] + 0.5


def test_netgraph_flattens_parts_and_names_inputs_by_port():
    g = loss_net(hidden=True)
    assert [layer.name for layer in g.layers] == ["Input", "evaluation:fc_1", "evaluation:elementwise_1",
                                                  "evaluation:fc_2", "loss"]
    assert g.ports.inputs == {"Input": "Input"}
    assert g.ports.outputs == {"Output": "evaluation:fc_2", "Loss": "loss"}
    assert g.ports.targets == {"loss": "Target"}            # the unconnected Target: the data port "Target"
    assert g.ports.parts["evaluation"] == ["evaluation:fc_1", "evaluation:elementwise_1", "evaluation:fc_2"]


def test_list_layers_positions_and_explicit_ports():
    g = NetGraph([LinearLayer(3, name="a"), LinearLayer(3, name="b"), MeanSquaredLoss(name="l")],
                 [(NetPort("x"), 0), (0, NetPort("b", "Input")), (NetPort("b", "Output"), 2),
                  (NetPort("y"), NetPort("l", "Target")), ("l", NetPort("Loss"))], x=(5,))
    assert g.ports.targets == {"l": "y"} and g.input_layers[0].size == (5,)


@pytest.mark.parametrize("build, message", [
    (lambda: NetGraph({"a": LinearLayer(1)}, [(NetPort("Input"), "a")]).sized({}),
     r"the size of input ports \['Input'\] is not known"),
    (lambda: NetGraph({"a": LinearLayer(1)}, [(NetPort("Input"), "b")], Input=2), "unknown part 'b'; parts: a"),
    (lambda: NetGraph({"a": LinearLayer(1)}, [(NetPort("Input"), 3)], Input=2), "part 3 is out of range"),
    (lambda: NetGraph({"a": LinearLayer(1)}, ["a"], Input=2), r"connections\[0\]: got 'a'"),
    (lambda: NetGraph({"a": LinearLayer(1)}, [(NetPort("Input"), "a"), ("a", NetPort("Out")),
                                              ("a", NetPort("Out"))], Input=2), "'Out' is connected twice"),
])
def test_graph_errors_name_the_part_or_port(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_nested_graph_parts_are_flattened_and_extracted_as_graphs(rng):
    from minidl.wolfram.layers import TotalLayer

    inner = NetGraph({"a": LinearLayer(3), "b": LinearLayer(3), "sum": TotalLayer()},
                     [(NetPort("Input"), "a"), (NetPort("Input"), "b"), (["a", "b"], "sum", NetPort("Output"))],
                     Input=2)
    g = NetGraph({"block": inner, "head": LinearLayer(1)},
                 [(NetPort("Input"), "block", "head", NetPort("Output"))])      # the size from the block's input
    assert [x.name for x in g.layers] == ["Input", "block:a", "block:b", "block:sum", "head"]
    assert ("Input/out", "block:b/in") in g.connections and ("block:sum/out", "head/in") in g.connections
    X = rng.normal(size=(48, 2))
    Y = X @ np.array([[1.0], [-1.0]])
    trained = NetTrain(g, {"Input": X, "Output": Y}, MaxTrainingRounds=5, TrainingProgressReporting=None,
                       WorkingPrecision="Real64")
    block = NetExtract(trained, "block")
    assert not block.is_chain and block.ports.outputs == {"Output": "sum"}
    np.testing.assert_array_equal(block.params["a.weight"], trained.params["block:a.weight"])
    np.testing.assert_allclose(NetTake(trained, "Output").forward(X[:3]), trained.forward(X[:3]))
    head = NetExtract(trained, "head")
    np.testing.assert_allclose(head.forward(block.forward(X[:3])), trained.forward(X[:3]), rtol=1e-12)
    with pytest.raises(NotSupportedYetError, match="nested NetGraph part with a loss layer"):
        NetGraph({"inner": loss_net()}, [(NetPort("Input"), "inner")], Input=2)


def test_loss_port_is_the_loss_and_netextract_gives_the_trained_evaluation_net():
    X, Y = linear_data()
    g = loss_net()
    trained = NetTrain(g, {"Input": X, "Target": Y}, LossFunction="Loss", MaxTrainingRounds=100, LearningRate=0.05,
                       TrainingProgressReporting=None, WorkingPrecision="Real64")
    assert trained.ports.outputs == g.ports.outputs and g.initialized is False   # the graph as given, trained
    evaluation = NetExtract(trained, "evaluation")
    assert trained.dtype == evaluation.dtype == evaluation.params["fc_1.weight"].dtype == np.float64
    np.testing.assert_allclose(evaluation.params["fc_1.weight"], [[2.0, -1.0]], atol=1e-4)
    np.testing.assert_allclose(evaluation.params["fc_1.bias"], [0.5], atol=1e-4)
    np.testing.assert_allclose(NetExtract(trained, ("evaluation", "fc_1", "weight")), [[2.0, -1.0]], atol=1e-4)
    assert NetExtract(trained, ("evaluation", 0)).name == "fc_1"                    # Part-style path
    out = port_outputs(trained, {"Input": X[:3], "Target": Y[:3]})
    np.testing.assert_allclose(out["Output"], Y[:3], atol=1e-3)
    assert out["Loss"].shape == (3,) and np.all(out["Loss"] < 1e-6)
    kept = NetTake(trained, "Output")                                              # wanted outputs and inputs
    assert [layer.name for layer in kept.layers] == ["Input", "evaluation:fc_1"] and "Loss" not in kept.ports.outputs
    np.testing.assert_allclose(kept.forward(X[:3]), out["Output"])
    both = NetTake(trained, (NetPort("Input"), NetPort("Output")))                  # {start, end}
    assert [layer.name for layer in both.layers] == ["Input", "evaluation:fc_1"]
    with pytest.raises(ValueError, match="start 'Target'"):
        NetTake(trained, (NetPort("Target"), NetPort("Output")))
    dropped = NetDrop(trained, "Loss")
    assert [layer.name for layer in dropped.layers] == ["Input", "evaluation:fc_1"]


def test_port_data_forms_train_the_same():
    X, Y = linear_data(40)
    opts = dict(LossFunction="Loss", MaxTrainingRounds=3, TrainingProgressReporting=None, BatchSize=8)
    a = NetTrain(loss_net(), {"Input": X, "Target": Y}, **opts)
    b = NetTrain(loss_net(), [{"Input": x, "Target": y} for x, y in zip(X, Y)], **opts)
    for k, v in a.params.items():
        np.testing.assert_array_equal(v, b.params[k])
    with pytest.raises(ValueError, match=r"data: got ports \['Input'\]; the net takes 'Input', 'Target' "
                                         r"\(missing \['Target'\]\)"):
        NetTrain(loss_net(), {"Input": X}, **opts)


def test_automatic_loss_attaches_per_output_port_with_target_of_the_same_name():
    X, Y = linear_data(100)
    g = NetGraph({"lin": LinearLayer(1)}, [(NetPort("Input"), "lin", NetPort("Output"))], Input=2)
    pl = graph_losses(g, "Automatic")
    assert [(type(layer).__name__, layer.name, src) for layer, src in pl.attach] == [
        ("MeanSquaredLoss", "Output", "lin")]
    assert pl.targets == {"Output": "Output"}
    trained = NetTrain(g, {"Input": X, "Output": Y}, MaxTrainingRounds=150, LearningRate=0.05,
                       TrainingProgressReporting=None, WorkingPrecision="Real64", ValidationSet=Scaled(0.1))
    np.testing.assert_allclose(NetExtract(trained, "lin").params["weight"], [[2.0, -1.0]], atol=1e-3)


def test_loss_function_rules_on_ports():
    g = NetGraph({"lin": LinearLayer(3), "sm": SoftmaxLayer(), "score": LinearLayer(1)},
                 [(NetPort("Input"), "lin", "sm", NetPort("Class")), ("lin", "score", NetPort("Score"))], Input=2)
    auto = graph_losses(g, "Automatic")
    assert [(type(x).__name__, x.name) for x, _ in auto.attach] == [("ClassificationOutput", "Class"),
                                                                     ("MeanSquaredLoss", "Score")]
    both = graph_losses(g, ["Score"])
    assert isinstance(both.attach[0][0], PortLoss) and both.targets == {"Score": None}
    weighted = graph_losses(g, {"Class": Scaled(0.5), "Score": "MeanAbsoluteLoss"})
    assert weighted.weights == {"Class": 0.5, "Score": 1.0}
    assert type(weighted.attach[1][0]).__name__ == "MeanAbsoluteLoss"
    assert graph_losses(g, {"Score": 3.0}).weights == {"Score": 3.0}
    with pytest.raises(ValueError, match="LossFunction: got port 'Loss'; the net's output ports are 'Class', 'Score'"):
        graph_losses(g, "Loss")


def test_port_loss_is_the_mean_of_each_examples_summed_values(rng):
    y = rng.normal(size=(4, 3))
    layer = PortLoss()
    np.testing.assert_allclose(layer.loss_array(y), y.sum() / 4)
    np.testing.assert_allclose(layer.loss_gradient(y), np.full((4, 3), 0.25))


def test_nettake_and_netdrop_on_chains():
    net = NetChain([LinearLayer(3), ElementwiseLayer("Tanh"), LinearLayer(1)])
    assert [layer.name for layer in NetTake(net, 2).layers] == ["fc_1", "elementwise_1"]
    assert [layer.name for layer in NetTake(net, (1, 2)).layers] == ["elementwise_1", "fc_2"]
    assert [layer.name for layer in NetTake(net, "elementwise_1").layers] == ["fc_1", "elementwise_1"]
    assert [layer.name for layer in NetDrop(net, 1).layers] == ["elementwise_1", "fc_2"]
    assert [layer.name for layer in NetDrop(net, -1).layers] == ["fc_1", "elementwise_1"]
    with pytest.raises(ValueError, match="NetDrop spec: got 'x'"):
        NetDrop(net, "x")


def test_merge_layers_take_their_inputs_from_a_list_of_sources_and_train(rng):
    from minidl.wolfram.layers import CatenateLayer, TotalLayer

    g = NetGraph({"a": LinearLayer(2), "b": LinearLayer(2), "c": LinearLayer(2), "total": TotalLayer(),
                  "cat": CatenateLayer(), "out": LinearLayer(1)},
                 [(NetPort("Input"), "a"), (NetPort("Input"), "b"), (NetPort("Input"), "c"),
                  (["a", "b", "c"], "total"), (["total", "a"], "cat"), ("cat", "out", NetPort("Output"))], Input=3)
    assert g["total"].input_names == ("in1", "in2", "in3")           # the count set from the connections
    assert ("a/out", "cat/in2") in g.connections and not g.is_chain
    X = rng.normal(size=(64, 3))
    Y = X @ np.array([[1.0], [-2.0], [0.5]])
    res = NetTrain(g, {"Input": X, "Output": Y}, "All", MaxTrainingRounds=60, LearningRate=0.02,
                   TrainingProgressReporting=None, WorkingPrecision="Real64")
    assert res["RoundLoss"] < 0.05 * np.mean(Y ** 2)
    out = port_outputs(res["TrainedNet"], X[:4])
    np.testing.assert_allclose(out["Output"], res["TrainedNet"].forward(X[:4]))


def test_two_output_ports_train_on_their_data_ports_with_weights(rng):
    g = NetGraph({"lin": LinearLayer(8), "cls": LinearLayer(3), "sm": SoftmaxLayer(), "score": LinearLayer(1)},
                 [(NetPort("Input"), "lin", "cls", "sm", NetPort("Class")), ("lin", "score", NetPort("Score"))],
                 Input=2)
    X = rng.normal(size=(90, 2))
    data = {"Input": X, "Class": np.argmax(X @ rng.normal(size=(2, 3)), 1), "Score": X.sum(1, keepdims=True)}
    opts = dict(MaxTrainingRounds=40, LearningRate=0.05, TrainingProgressReporting=None, WorkingPrecision="Real64")
    res = NetTrain(g, data, "All", **opts)
    assert res["RoundLossList"][-1] < 0.5 * res["RoundLossList"][0]
    assert res["RoundMeasurements"]["ErrorRate"] < 0.4                       # chance: 2/3
    weighted = NetTrain(g, data, "All", LossFunction={"Class": 1.0, "Score": Scaled(0.5)}, **opts)
    assert weighted["TrainingNet"].loss_weights == {"Class": 1.0, "Score": 0.5}
    assert set(port_outputs(weighted["TrainedNet"], X[:2])) == {"Class", "Score"}


def test_an_explicit_loss_computed_by_layers_trains_as_the_mean_squared_loss():
    """The page's loss net computes the loss explicitly ("here equivalent to MeanSquaredLossLayer"): (y − t)² from
    ThreadingLayer Subtract and Times; LossFunction "Loss" takes that port's values as each example's loss."""
    from minidl.wolfram.layers import ThreadingLayer

    explicit = NetGraph({"evaluation": NetChain([LinearLayer(1)]), "diff": ThreadingLayer("Subtract"),
                         "square": ThreadingLayer("Times")},
                        [(NetPort("Input"), "evaluation", NetPort("Output")),
                         (["evaluation", NetPort("Target")], "diff"), (["diff", "diff"], "square"),
                         ("square", NetPort("Loss"))], Input=2, Target=1)
    assert [x.name for x in explicit.input_layers] == ["Input", "Target"]
    X, Y = linear_data(64)
    opts = dict(LossFunction="Loss", MaxTrainingRounds=5, BatchSize=16, TrainingProgressReporting=None,
                WorkingPrecision="Real64")
    a = NetTrain(explicit, {"Input": X, "Target": Y}, "All", **opts)
    b = NetTrain(loss_net(), {"Input": X, "Target": Y}, "All", **opts)
    np.testing.assert_allclose(a["RoundLossList"], b["RoundLossList"], rtol=1e-12)
    np.testing.assert_allclose(NetExtract(a["TrainedNet"], "evaluation").params["fc_1.weight"],
                               NetExtract(b["TrainedNet"], "evaluation").params["fc_1.weight"], rtol=1e-12)
    taken = NetTake(a["TrainedNet"], "Output")
    assert [x.name for x in taken.layers] == ["Input", "evaluation:fc_1"]


def test_input_port_sizes_come_from_the_data_when_not_given():
    from minidl.wolfram.graph import PendingGraph

    pending = NetGraph({"evaluation": NetChain([LinearLayer(1)]), "loss": MeanSquaredLoss()},
                       [(NetPort("Input"), "evaluation", "loss"), ("loss", NetPort("Loss"))])
    assert isinstance(pending, PendingGraph) and pending.unsized == ["Input"]
    assert pending.sized({"Input": 2}).input_layers[0].size == (2,)
    X, Y = linear_data(40)
    opts = dict(LossFunction="Loss", MaxTrainingRounds=3, BatchSize=8, TrainingProgressReporting=None)
    a = NetTrain(pending, {"Input": X, "Target": Y}, **opts)
    b = NetTrain(loss_net(), {"Input": X, "Target": Y}, **opts)
    assert a.input_layers[0].size == (2,)
    for k, v in b.params.items():
        np.testing.assert_array_equal(a.params[k], v)
    with pytest.raises(ValueError, match="the graph's input port 'Input' has no size and the data has no port"):
        NetTrain(pending, {"Inputs": X, "Target": Y}, **opts)


def test_a_loss_layers_port_takes_automatic_and_refuses_another_loss():
    # LossFunction {"Loss": Automatic} on a port a loss layer gives: that layer is the port's loss (it crashed);
    # any other loss there is a ValueError naming the port and the layer
    from minidl.wolfram.layers import MeanSquaredLossLayer
    g = NetGraph({"lin": LinearLayer(1), "mse": MeanSquaredLossLayer()},
                 [(NetPort("Input"), "lin", "mse"), (NetPort("Target"), NetPort("mse", "Target")),
                  ("mse", NetPort("Loss"))], Input=2, Target=1)
    pl = graph_losses(g, {"Loss": "Automatic"})
    assert pl.attach == [] and pl.weights == {"mse": 1.0} and pl.targets == {"mse": "Target"}
    with pytest.raises(ValueError, match=r"LossFunction\['Loss'\].*already ends in the loss layer MeanSquaredLoss"):
        graph_losses(g, {"Loss": "MeanAbsoluteLoss"})
