"""MATLAB's layerGraph functions: value semantics, sequential connecting, ports, and every error naming the layer."""

import copy

import pytest

from minidl.matlab import (
    additionLayer,
    addLayers,
    classificationLayer,
    concatenationLayer,
    connectLayers,
    depthConcatenationLayer,
    disconnectLayers,
    featureInputLayer,
    fullyConnectedLayer,
    layerGraph,
    reluLayer,
    removeLayers,
    replaceLayer,
    softmaxLayer,
)
from minidl.matlab.graph import LayerGraph


def _chain():
    return [featureInputLayer(4, 'Name', 'in'), fullyConnectedLayer(4, 'Name', 'fc_a'), reluLayer('Name', 'relu_a'),
            additionLayer(2, 'Name', 'add'), fullyConnectedLayer(3, 'Name', 'fc_out'), softmaxLayer('Name', 'sm'),
            classificationLayer('Name', 'out')]


def _residual():
    return connectLayers(layerGraph(_chain()), 'in', 'add/in2')


def _snapshot(g: LayerGraph):
    return (list(g.names), list(g.connections), copy.deepcopy([vars(layer) for layer in g.Layers]))


def test_layer_graph_connects_an_array_sequentially_first_output_to_first_input():
    g = layerGraph(_chain())
    assert g.names == ['in', 'fc_a', 'relu_a', 'add', 'fc_out', 'sm', 'out']
    assert list(g.Connections) == [('in', 'fc_a'), ('fc_a', 'relu_a'), ('relu_a', 'add/in1'), ('add', 'fc_out'),
                                   ('fc_out', 'sm'), ('sm', 'out')]
    assert g.connections[2] == ('relu_a/out', 'add/in1')
    assert g.unconnected_inputs() == [('add', 'in2')]
    assert g.InputNames == ['in'] and g.OutputNames == ['out']


def test_empty_layer_graph_and_a_single_layer():
    g = layerGraph()
    assert len(g.Layers) == 0 and len(g.Connections) == 0 and g.InputNames == []
    g = layerGraph(reluLayer())
    assert g.names == ['relu_1'] and len(g.Connections) == 0


def test_unnamed_layers_get_minidl_names_when_the_graph_is_made_and_the_callers_layers_stay_unnamed():
    layers = [featureInputLayer(2), fullyConnectedLayer(3), reluLayer(), fullyConnectedLayer(2)]
    g = layerGraph(layers)
    assert g.names == ['featureinput_1', 'fc_1', 'relu_1', 'fc_2']
    assert all(layer.name is None for layer in layers)          # copies were named, not the caller's objects
    g2 = addLayers(g, [fullyConnectedLayer(2), reluLayer()])
    assert g2.names[4:] == ['fc_3', 'relu_2']


def test_add_layers_connects_the_array_sequentially_and_to_nothing_else():
    g = layerGraph(_chain())
    g2 = addLayers(g, [fullyConnectedLayer(4, 'Name', 'skip_fc'), reluLayer('Name', 'skip_relu')])
    assert list(g2.Connections)[-1] == ('skip_fc', 'skip_relu')
    assert len(g2.Connections) == len(g.Connections) + 1
    assert ('skip_fc', 'in') in g2.unconnected_inputs()


def test_every_function_returns_a_new_graph_and_leaves_its_argument_unchanged():
    g = _residual()
    before = _snapshot(g)
    results = [addLayers(g, reluLayer('Name', 'r')), removeLayers(g, 'fc_a'), disconnectLayers(g, 'in', 'add/in2'),
               connectLayers(addLayers(g, reluLayer('Name', 'r')), 'in', 'r'),
               replaceLayer(g, 'relu_a', [reluLayer('Name', 'r1'), reluLayer('Name', 'r2')])]
    assert all(r is not g for r in results)
    assert _snapshot(g) == before


def test_connect_layers_named_ports_and_the_first_port_by_default():
    g = layerGraph([featureInputLayer(4, 'Name', 'in'), fullyConnectedLayer(4, 'Name', 'fc')])
    g = addLayers(g, additionLayer(3, 'Name', 'add'))
    g = connectLayers(g, 'in', 'add')                    # 'add' alone: its first input
    g = connectLayers(g, 'fc', 'add/in3')
    assert list(g.Connections)[-2:] == [('in', 'add/in1'), ('fc', 'add/in3')]
    assert g.unconnected_inputs() == [('add', 'in2')]
    g = connectLayers(g, 'in/out', 'add/in2')            # 'layer/out' for a source is accepted too
    assert g.unconnected_inputs() == []


def test_connect_layers_errors_name_the_layer_and_the_input():
    g = _residual()
    with pytest.raises(ValueError, match="connectLayers: s: no layer named 'nope'"):
        connectLayers(g, 'nope', 'add/in2')
    with pytest.raises(ValueError, match="connectLayers: d: no layer named 'nope'"):
        connectLayers(g, 'in', 'nope')
    with pytest.raises(ValueError, match="layer 'add' has no input named 'in7'; its inputs: in1, in2"):
        connectLayers(g, 'in', 'add/in7')
    with pytest.raises(ValueError, match="input 'in2' of layer 'add' is already connected \\(to 'in/out'\\)"):
        connectLayers(g, 'fc_a', 'add/in2')
    with pytest.raises(ValueError, match="connectLayers: s: layer 'out' .* has no outputs"):
        connectLayers(g, 'out', 'fc_a')
    with pytest.raises(ValueError, match="connectLayers: d: layer 'in' .* has no inputs"):
        connectLayers(g, 'fc_a', 'in')


def test_connect_layers_refuses_a_cycle_and_names_the_path():
    g = removeLayers(_residual(), 'in')                          # fc_a's input is free now
    with pytest.raises(ValueError, match=r"connecting 'sm' to 'fc_a' would create a cycle "
                                         r"\(fc_a -> relu_a -> add -> fc_out -> sm -> fc_a\)"):
        connectLayers(g, 'sm', 'fc_a')
    g = addLayers(g, additionLayer(2, 'Name', 'a2'))
    with pytest.raises(ValueError, match="connecting 'a2' to 'a2' would create a cycle"):
        connectLayers(g, 'a2', 'a2/in2')


def test_disconnect_layers_and_its_error():
    g = disconnectLayers(_residual(), 'in', 'add/in2')
    assert g.unconnected_inputs() == [('add', 'in2')]
    with pytest.raises(ValueError, match="disconnectLayers: no connection from 'in' to 'add/in2'"):
        disconnectLayers(g, 'in', 'add/in2')
    with pytest.raises(ValueError, match="disconnectLayers: s: no layer named 'x'"):
        disconnectLayers(g, 'x', 'add/in2')


def test_remove_layers_drops_their_connections_and_leaves_inputs_unconnected():
    g = removeLayers(_residual(), ['relu_a', 'sm'])
    assert g.names == ['in', 'fc_a', 'add', 'fc_out', 'out']
    assert list(g.Connections) == [('in', 'fc_a'), ('add', 'fc_out'), ('in', 'add/in2')]
    assert g.unconnected_inputs() == [('add', 'in1'), ('out', 'in')]
    with pytest.raises(ValueError, match="removeLayers: layerNames: no layer named 'zz'"):
        removeLayers(g, ['fc_a', 'zz'])
    with pytest.raises(TypeError, match="removeLayers: layerNames: got 3"):
        removeLayers(g, 3)


def test_replace_layer_connects_the_new_layers_sequentially_in_place_of_the_old():
    g = replaceLayer(_residual(), 'relu_a', [reluLayer('Name', 'r1'), fullyConnectedLayer(4, 'Name', 'f2')])
    assert g.names == ['in', 'fc_a', 'r1', 'f2', 'add', 'fc_out', 'sm', 'out']
    assert set(g.Connections) == {('in', 'fc_a'), ('fc_a', 'r1'), ('r1', 'f2'), ('f2', 'add/in1'),
                                  ('add', 'fc_out'), ('fc_out', 'sm'), ('sm', 'out'), ('in', 'add/in2')}
    assert g.unconnected_inputs() == []


def test_replace_layer_reconnects_by_name_or_by_order():
    g = _residual()
    by_name = replaceLayer(g, 'add', additionLayer(2, 'Name', 'sum'))
    assert ('relu_a', 'sum/in1') in set(by_name.Connections) and ('in', 'sum/in2') in set(by_name.Connections)
    with pytest.raises(ValueError, match="replaceLayer: larray: layer 'cat' has no input to take the connection of "
                                         "'add/in1' \\(by name\\)"):
        replaceLayer(g, 'add', _renamed_inputs())
    by_order = replaceLayer(g, 'add', _renamed_inputs(), 'ReconnectBy', 'order')
    assert ('relu_a', 'cat/x1') in set(by_order.Connections) and ('in', 'cat/x2') in set(by_order.Connections)
    with pytest.raises(ValueError, match="replaceLayer: layerName: no layer named 'q'"):
        replaceLayer(g, 'q', reluLayer())
    with pytest.raises(ValueError, match="'ReconnectBy'"):
        replaceLayer(g, 'add', reluLayer(), 'ReconnectBy', 'position')


def _renamed_inputs():
    layer = additionLayer(2, 'Name', 'cat')
    layer.input_names = ('x1', 'x2')
    return layer


def test_duplicate_names_are_refused_naming_the_layer():
    g = layerGraph(_chain())
    with pytest.raises(ValueError, match="addLayers: larray: a layer named 'fc_a' is already in the graph"):
        addLayers(g, fullyConnectedLayer(2, 'Name', 'fc_a'))
    with pytest.raises(ValueError, match="layerGraph: layers: a layer named 'x' is already in the graph"):
        layerGraph([reluLayer('Name', 'x'), reluLayer('Name', 'x')])


def test_wrong_arguments_name_the_argument():
    with pytest.raises(TypeError, match="addLayers: lgraph: got list"):
        addLayers([reluLayer()], reluLayer())
    with pytest.raises(TypeError, match="layerGraph: layers\\[1\\]: got int"):
        layerGraph([reluLayer(), 3])
    with pytest.raises(ValueError, match="layer 'out' .* has no output to connect to the next layer 'relu_1'"):
        layerGraph([classificationLayer('Name', 'out'), reluLayer()])


def test_connections_table_displays_as_matlab():
    text = repr(_residual().Connections)
    assert text.splitlines()[0] == "  7x2 table"
    assert "{'relu_a'}" in text and "{'add/in1'}" in text and "{'add/in2'}" in text
    shown = repr(_residual())
    assert "Layers: [7x1 nnet.cnn.layer.Layer]" in shown and "Connections: [7x2 table]" in shown
    assert "InputNames: {'in'}" in shown and "OutputNames: {'out'}" in shown
    assert "7x1 Layer array with layers:" in repr(_residual().Layers)


def test_unconnected_inputs_are_an_error_when_the_network_is_made_naming_layer_and_input():
    g = layerGraph(_chain())
    with pytest.raises(ValueError, match="trainNetwork: unconnected input: layer 'add' input 'in2'"):
        g.to_network()


def test_merge_layer_constructors_take_matlab_arguments():
    a = additionLayer(3, 'Name', 'add_x')
    assert a.name == 'add_x' and tuple(a.input_names) == ('in1', 'in2', 'in3')
    c = depthConcatenationLayer(2)
    assert c.name is None and tuple(c.input_names) == ('in1', 'in2')
    k = concatenationLayer(3, 2, 'Name', 'cat')
    assert k.name == 'cat' and tuple(k.input_names) == ('in1', 'in2')
    with pytest.raises(ValueError, match="additionLayer: 'numInputs': got 1"):
        additionLayer(1)
    with pytest.raises(TypeError, match="depthConcatenationLayer: unknown name 'Nme'"):
        depthConcatenationLayer(2, 'Nme', 'x')
