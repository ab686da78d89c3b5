"""DAG networks in the MATLAB dialect: a layerGraph builds the same Network as Network(layers, connections), trains
with trainNetwork, and predict / classify / activations read it."""

import numpy as np
import pytest

import minidl as dl
from minidl import layers as L
from minidl.matlab import (
    activations,
    additionLayer,
    addLayers,
    batchNormalizationLayer,
    classificationLayer,
    classify,
    connectLayers,
    convolution2dLayer,
    depthConcatenationLayer,
    digitTest4DArrayData,
    digitTrain4DArrayData,
    disconnectLayers,
    featureInputLayer,
    fullyConnectedLayer,
    imageInputLayer,
    layerGraph,
    predict,
    reluLayer,
    replaceLayer,
    softmaxLayer,
    trainingOptions,
    trainNetwork,
)
from minidl.matlab.graph import LayerGraph, plot
from minidl.network import chain_connections


def _residual_graph():
    layers = [imageInputLayer([8, 8, 1], 'Name', 'input', 'Normalization', 'none'),
              convolution2dLayer(3, 4, 'Padding', 'same', 'Name', 'conv_1'),
              batchNormalizationLayer('Name', 'bn_1'),
              reluLayer('Name', 'relu_1'),
              convolution2dLayer(3, 4, 'Padding', 'same', 'Name', 'conv_2'),
              reluLayer('Name', 'relu_2'),
              additionLayer(2, 'Name', 'add'),
              fullyConnectedLayer(3, 'Name', 'fc'),
              softmaxLayer('Name', 'softmax'),
              classificationLayer('Name', 'out')]
    lgraph = layerGraph(layers)
    lgraph = addLayers(lgraph, convolution2dLayer(1, 4, 'Name', 'skip'))
    lgraph = connectLayers(lgraph, 'relu_1', 'skip')
    return connectLayers(lgraph, 'skip', 'add/in2')


def _residual_network():
    main = [L.ImageInput((1, 8, 8), normalization="none", name="input"),
            L.Convolution2D(3, 4, padding="same", name="conv_1"), L.BatchNormalization(name="bn_1"),
            L.ReLU(name="relu_1"), L.Convolution2D(3, 4, padding="same", name="conv_2"), L.ReLU(name="relu_2"),
            L.Addition(2, name="add"), L.FullyConnected(3, name="fc"), L.Softmax(name="softmax"),
            L.ClassificationOutput(name="out")]
    skip = L.Convolution2D(1, 4, name="skip")
    pairs = chain_connections(main[:6]) + [("relu_2", "add/in1"), ("relu_1", "skip"), ("skip", "add/in2")]
    return dl.Network(main + [skip], pairs + chain_connections(main[6:]))


def test_a_layer_graph_builds_the_same_network_as_network_with_connections_bit_for_bit():
    a = _residual_graph().to_network()
    b = _residual_network()
    assert not a.is_chain and [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
    assert sorted(a.connections) == sorted(b.connections)
    a.initialize(rng=np.random.default_rng(1), dtype="float64")
    b.initialize(rng=np.random.default_rng(1), dtype="float64")
    assert list(a.params) == list(b.params)
    for k in a.params:                                        # the same draws in the same order
        assert np.array_equal(a.params[k], b.params[k]), k
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((5, 1, 8, 8)), rng.integers(0, 3, 5)
    ya, yb = a.forward(x, training=True), b.forward(x, training=True)
    assert np.array_equal(ya, yb)
    a.backward(ya, t)
    b.backward(yb, t)
    for k in a.grads:
        assert np.array_equal(a.grads[k], b.grads[k]), k


def test_a_chain_layer_graph_is_the_chain_network():
    layers = [featureInputLayer(3), fullyConnectedLayer(2), softmaxLayer(), classificationLayer()]
    net = layerGraph(layers).to_network()
    assert net.is_chain and [layer.name for layer in net.layers] == [layer.name for layer in dl.Network(
        [L.FeatureInput(3, normalization="none"), L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()]).layers]


def _digits(n: int):
    X, Y, _ = digitTrain4DArrayData()
    return X[:, :, :, :n], Y[:n]


def _example(name: str):
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained():
    """The MATLAB residual example's graph (4/8 filters) trained 2 epochs on 800 digits (about 1 s)."""
    lgraph = _example("matlab_residual_digits").residual_graph(4)
    X, Y = _digits(800)
    options = trainingOptions('sgdm', 'MaxEpochs', 2, 'MiniBatchSize', 32, 'Shuffle', 'every-epoch', 'Verbose', False,
                              'InitialLearnRate', 0.05)
    before = list(lgraph.Connections), lgraph.names
    net, info = trainNetwork(X, Y, lgraph, options)
    assert (list(lgraph.Connections), lgraph.names) == before and not lgraph.Layers[1].initialized  # unchanged
    return net, info


def test_a_trained_dag_network_classifies_the_test_digits_above_a_stated_accuracy(trained):
    net, info = trained
    assert not net.is_chain
    XT, YT, _ = digitTest4DArrayData()
    XT, YT = XT[:, :, :, :500], YT[:500]
    accuracy = float(np.mean(classify(net, XT) == YT))
    assert accuracy >= 0.7, accuracy          # measured 0.794 (2 epochs, about 1 s); chance is 0.1
    labels, scores = classify(net, XT[:, :, :, :20], return_scores=True)
    assert np.array_equal(scores, predict(net, XT[:, :, :, :20]))
    assert np.array_equal(labels, net.classes[np.argmax(scores, axis=1)])


def test_activations_by_name_reach_every_layer_of_the_graph(trained):
    net, _ = trained
    X = _digits(3)[0]
    assert activations(net, X, 'skipConv').shape == (14, 14, 8, 3)       # the branch: h×w×c×N
    assert activations(net, X, 'add').shape == (14, 14, 8, 3)
    soft = activations(net, X, 'softmax')
    assert soft.shape == (1, 1, 10, 3)
    np.testing.assert_allclose(soft[0, 0].T, predict(net, X), rtol=1e-6)
    add = activations(net, X, 'add')
    relu3, skip = activations(net, X, 'relu_3'), activations(net, X, 'skipConv')
    np.testing.assert_allclose(add, relu3 + skip, rtol=1e-5, atol=1e-6)   # the residual sum
    with pytest.raises(ValueError, match="activations: layer: got 'nope'"):
        activations(net, X, 'nope')


def test_layer_graph_of_a_trained_dag_network_has_its_connections(trained):
    net, _ = trained
    g = layerGraph(net)
    assert set(g.Connections) == set(_example("matlab_residual_digits").residual_graph(4).Connections)
    assert g.unconnected_inputs() == []


def test_train_network_names_an_unconnected_input():
    lgraph = disconnectLayers(_residual_graph(), 'skip', 'add/in2')
    X = np.zeros((8, 8, 1, 4))
    options = trainingOptions('sgdm', 'MaxEpochs', 1, 'Verbose', False)
    with pytest.raises(ValueError, match="trainNetwork: unconnected input: layer 'add' input 'in2'"):
        trainNetwork(X, np.array(['a', 'b', 'c', 'a']), lgraph, options)


def test_a_size_mismatch_at_the_merge_names_the_layer_and_the_input():
    lgraph = _residual_graph()
    lgraph = addLayers(disconnectLayers(lgraph, 'skip', 'add/in2'), convolution2dLayer(1, 2, 'Name', 'skip2'))
    lgraph = connectLayers(connectLayers(lgraph, 'relu_1', 'skip2'), 'skip2', 'add/in2')
    lgraph = LayerGraph([layer for layer in lgraph.Layers if layer.name != 'skip'],
                        [e for e in lgraph._edges if 'skip' not in (e[0], e[2])])
    with pytest.raises(ValueError, match="layer 'add' input 'in2': got 2x8x8, expected 4x8x8 like 'in1'"):
        lgraph.to_network().initialize()


def test_depth_concatenation_in_a_graph_joins_the_channels():
    lgraph = layerGraph([imageInputLayer([6, 6, 1], 'Name', 'in', 'Normalization', 'none'),
                         convolution2dLayer(1, 2, 'Name', 'a'), depthConcatenationLayer(2, 'Name', 'cat'),
                         fullyConnectedLayer(2, 'Name', 'fc'), softmaxLayer('Name', 'sm'),
                         classificationLayer('Name', 'out')])
    lgraph = connectLayers(addLayers(lgraph, convolution2dLayer(3, 3, 'Padding', 'same', 'Name', 'b')), 'in', 'b')
    net = connectLayers(lgraph, 'b', 'cat/in2').to_network().initialize(dtype="float64")
    assert net['cat'].output_shape == (5, 6, 6)


def test_plot_draws_a_layer_graph(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    plot(_residual_graph(), ax=ax)
    texts = {t.get_text().split("\n")[0] for t in ax.texts}
    assert {'input', 'skip', 'add', 'out'} <= texts
    plt.close(fig)


def test_a_dag_network_displays_as_matlab_and_shows_its_connections(trained):
    from minidl.matlab.graph import network_connections, network_display

    net, _ = trained
    text = network_display(net)
    assert text.startswith("  DAGNetwork with properties:")
    assert "Layers: [16x1 nnet.cnn.layer.Layer]" in text and "Connections: [16x2 table]" in text
    assert "InputNames: {'input'}" in text and "OutputNames: {'classOutput'}" in text
    table = network_connections(net)
    assert ('skipConv', 'add/in2') in set(table) and ('relu_1', 'skipConv') in set(table)
    chain = dl.Network([L.FeatureInput(2, normalization="none"), L.FullyConnected(2)])
    assert network_display(chain).startswith("  SeriesNetwork with properties:")


def test_net_layers_of_a_dag_network_name_the_merge_layers_as_matlab():
    from minidl.matlab import layer_array

    net = _residual_graph().to_network().initialize()
    assert layer_array(net)['add'].Class == "nnet.cnn.layer.AdditionLayer"
    assert [v.Name for v in layer_array(net)] == [layer.name for layer in net.layers]


def test_train_network_takes_a_layer_graph_with_a_datastore():
    from minidl.training.data import ArraySource

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 1, 8, 8)), np.array(list("abc") * 13 + ["a"])
    lgraph = _residual_graph()
    options = trainingOptions('sgdm', 'MaxEpochs', 1, 'MiniBatchSize', 10, 'Verbose', False)
    net, info = trainNetwork(ArraySource(X, Y), lgraph, options)   # trainNetwork(ds, lgraph, options)
    assert not net.is_chain and len(info.TrainingLoss) == 4 and np.all(np.isfinite(info.TrainingLoss))
    assert list(net.classes) == ["a", "b", "c"]


def test_a_sequence_layer_graph_is_not_built_yet_and_train_network_says_so():
    from minidl.errors import NotSupportedYetError
    from minidl.matlab import lstmLayer, sequenceInputLayer

    g = layerGraph([sequenceInputLayer(3, 'Name', 'in'), lstmLayer(4, 'OutputMode', 'last', 'Name', 'l1'),
                    additionLayer(2, 'Name', 'add'), fullyConnectedLayer(2, 'Name', 'fc'), softmaxLayer('Name', 'sm'),
                    classificationLayer('Name', 'out')])
    g = addLayers(g, lstmLayer(4, 'OutputMode', 'last', 'Name', 'l2'))
    g = connectLayers(connectLayers(g, 'in', 'l2'), 'l2', 'add/in2')
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((3, int(t))) for t in rng.integers(3, 8, 20)]
    options = trainingOptions('adam', 'MaxEpochs', 2, 'MiniBatchSize', 5, 'Verbose', False)
    with pytest.raises(NotSupportedYetError, match="layers: a graph network with a sequence input"):
        trainNetwork(X, np.array(['a', 'b'] * 10), g, options)


def test_transfer_learning_layer_graph_of_a_trained_net_replace_layer_and_train_keeps_the_trained_weights():
    """MATLAB's workflow: lgraph = layerGraph(net); replaceLayer the head; trainNetwork starts from net's weights."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 8, 1, 30)), np.array(list("abc") * 10)
    options = trainingOptions('sgdm', 'MaxEpochs', 1, 'MiniBatchSize', 10, 'Verbose', False)
    net, _ = trainNetwork(X, Y, _residual_graph(), options)
    g = replaceLayer(layerGraph(net), 'fc', fullyConnectedLayer(2, 'Name', 'fc_new'))
    g = replaceLayer(g, 'out', classificationLayer('Name', 'out_new'))
    assert ('softmax', 'out_new') in set(g.Connections) and ('add', 'fc_new') in set(g.Connections)
    tiny = trainingOptions('sgdm', 'MaxEpochs', 1, 'MiniBatchSize', 10, 'Verbose', False, 'InitialLearnRate', 1e-12)
    net2, _ = trainNetwork(X, np.array(list("xy") * 15), g, tiny)
    np.testing.assert_allclose(net2.params['conv_1.weight'], net.params['conv_1.weight'], atol=1e-9)
    assert list(net2.classes) == ['x', 'y'] and net2['fc_new'].output_shape == (2,)
    assert net.params['fc.weight'].shape == (3, 256)                      # the trained net is left as it was


def test_training_a_layer_graph_equals_training_the_network_built_directly_bit_for_bit():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((8, 8, 1, 30)), np.array(list("abc") * 10)
    options = trainingOptions('sgdm', 'MaxEpochs', 2, 'MiniBatchSize', 10, 'Verbose', False, 'Precision', 'double')
    a, info_a = trainNetwork(X, Y, _residual_graph(), options)
    b, info_b = trainNetwork(X, Y, _residual_network(), options)
    assert list(a.params) == list(b.params)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    assert np.array_equal(info_a.TrainingLoss, info_b.TrainingLoss)
