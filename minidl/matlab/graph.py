"""MATLAB's layer graphs: ``layerGraph``, ``addLayers``, ``removeLayers``, ``connectLayers``, ``disconnectLayers``,
``replaceLayer``, ``plot``, and the merge layers ``additionLayer``, ``concatenationLayer``,
``depthConcatenationLayer``.

A :class:`LayerGraph` is a value, as MATLAB's: it holds layers and connections only, and every function returns a new
graph and leaves its argument as it was.  ``trainNetwork(X, Y, lgraph, options)`` builds the graph as a
``minidl.Network(layers, connections)`` (a DAG network) and trains it.  The rules, with their sources, are in
docs/semantics-matlab.md §13 ("Layer graphs").

>>> from minidl.matlab import *
>>> lgraph = layerGraph([featureInputLayer(4, 'Name', 'in'), fullyConnectedLayer(4, 'Name', 'fc_a'),
...                      reluLayer('Name', 'relu_a'), additionLayer(2, 'Name', 'add'), fullyConnectedLayer(3),
...                      softmaxLayer(), classificationLayer()])
>>> lgraph = connectLayers(lgraph, 'in', 'add/in2')        # the skip connection
>>> lgraph.Connections.Destination[:4]
['fc_a', 'relu_a', 'add/in1', 'fc_2']
>>> lgraph.InputNames, lgraph.OutputNames
(['in'], ['classoutput_1'])
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

from minidl.layers.base import InputLayer, Layer, OutputLayer
from minidl.matlab.display import _choice, _int_vector, _parse_pairs

__all__ = ["LayerGraph", "ConnectionTable", "network_connections", "network_display", "layerGraph", "addLayers",
           "removeLayers", "connectLayers", "disconnectLayers", "replaceLayer", "plot", "additionLayer",
           "concatenationLayer", "depthConcatenationLayer"]

Edge = tuple[str, str, str, str]  # (source layer, its output port, destination layer, its input port)


def _name(layer: Layer) -> str:
    """The name of a layer in a graph: set, since layerGraph, addLayers and replaceLayer name every layer they take
    (:func:`_named`) and a network names its layers when it is built."""
    assert layer.name is not None, "a graph layer is always named"
    return layer.name


def input_ports(layer: Layer) -> tuple[str, ...]:
    """The layer's input port names: ``("in",)`` for a one-input layer, ``()`` for an input layer."""
    names = getattr(layer, "input_names", None)
    if names is None:
        return () if isinstance(layer, InputLayer) else ("in",)
    return tuple(names)


def output_ports(layer: Layer) -> tuple[str, ...]:
    """The layer's output port names: ``("out",)`` for a one-output layer, ``()`` for an output (loss) layer."""
    names = getattr(layer, "output_names", None)
    if names is None:
        return () if isinstance(layer, OutputLayer) else ("out",)
    return tuple(names)


class ConnectionTable:
    """MATLAB's ``lgraph.Connections``: a two-column table (``Source``, ``Destination``), one row per connection.

    A source reads ``'layer'`` when the layer has one output, else ``'layer/out'``; a destination ``'layer'`` when
    the layer has one input, else ``'layer/in2'`` — as MATLAB displays them.  Rows iterate as (source, destination).
    """

    def __init__(self, rows: Sequence[tuple[str, str]]):
        self._rows: list[tuple[str, str]] = [(s, d) for s, d in rows]

    @property
    def Source(self) -> list[str]:  # noqa: N802  (MATLAB's name)
        """The Source column."""
        return [s for s, _ in self._rows]

    @property
    def Destination(self) -> list[str]:  # noqa: N802
        """The Destination column."""
        return [d for _, d in self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._rows)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self._rows[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConnectionTable):
            return self._rows == other._rows
        return NotImplemented

    def __repr__(self) -> str:
        src = [f"{{'{s}'}}" for s in self.Source]
        dst = [f"{{'{d}'}}" for d in self.Destination]
        ws = max([len("Source")] + [len(s) for s in src])
        wd = max([len("Destination")] + [len(d) for d in dst])
        lines = [f"  {len(self)}x2 table", "", f"    {'Source'.center(ws)}    {'Destination'.center(wd)}",
                 f"    {'_' * ws}    {'_' * wd}", ""]
        lines += [f"    {s.ljust(ws)}    {d.ljust(wd)}" for s, d in zip(src, dst)]
        return "\n".join(lines)


class GraphLayers(tuple):
    """MATLAB's ``lgraph.Layers``: the graph's layers in the order they were added (a tuple), displayed as MATLAB
    displays a layer array."""

    def __repr__(self) -> str:
        lines = [f"  {len(self)}x1 Layer array with layers:", ""]
        width = max((len(layer.name) for layer in self), default=0) + 2
        lines += [f"    {i:>3}   {repr(layer.name).ljust(width)}   {type(layer).__name__}"
                  for i, layer in enumerate(self, 1)]
        return "\n".join(lines)


class LayerGraph:
    """MATLAB's LayerGraph: named layers and the connections between their ports; a value (never modified).

    Build it with :func:`layerGraph`; change it with :func:`addLayers`, :func:`removeLayers`,
    :func:`connectLayers`, :func:`disconnectLayers`, :func:`replaceLayer` (each returns a new graph).  Properties as
    MATLAB's: ``Layers``, ``Connections``, ``InputNames``, ``OutputNames``.  ``to_network()`` gives the
    ``minidl.Network(layers, connections)`` that trainNetwork trains.
    """

    def __init__(self, layers: Sequence[Layer] = (), edges: Sequence[Edge] = ()):
        self._layers: tuple[Layer, ...] = tuple(layers)
        self._edges: tuple[Edge, ...] = tuple(edges)

    # ------------------------------------------------------------ MATLAB's properties
    @property
    def Layers(self) -> GraphLayers:  # noqa: N802
        """The layers, in the order they were added."""
        return GraphLayers(self._layers)

    @property
    def Connections(self) -> ConnectionTable:  # noqa: N802
        """The connections as MATLAB's two-column table (Source, Destination)."""
        by = self._by_name()
        return ConnectionTable([(_source_text(by[s], s, sp), _destination_text(by[d], d, dp))
                                for s, sp, d, dp in self._edges])

    @property
    def InputNames(self) -> list[str]:  # noqa: N802
        """The names of the input layers."""
        return [_name(layer) for layer in self._layers if isinstance(layer, InputLayer)]

    @property
    def OutputNames(self) -> list[str]:  # noqa: N802
        """The names of the output (loss) layers."""
        return [_name(layer) for layer in self._layers if isinstance(layer, OutputLayer)]

    # ------------------------------------------------------------ minidl's view
    @property
    def names(self) -> list[str]:
        """The layer names, in the order the layers were added."""
        return [_name(layer) for layer in self._layers]

    @property
    def connections(self) -> list[tuple[str, str]]:
        """The connections as ``minidl.Network`` takes them: ``("a/out", "b/in2")`` pairs."""
        return [(f"{s}/{sp}", f"{d}/{dp}") for s, sp, d, dp in self._edges]

    def _by_name(self) -> dict[str, Layer]:
        return {_name(layer): layer for layer in self._layers}

    def unconnected_inputs(self) -> list[tuple[str, str]]:
        """(layer, input port) pairs that no connection feeds, in layer order."""
        fed = {(d, dp) for _, _, d, dp in self._edges}
        return [(_name(layer), p) for layer in self._layers for p in input_ports(layer) if (layer.name, p) not in fed]

    def to_network(self, func: str = "trainNetwork"):
        """A ``minidl.Network`` of copies of the layers with the graph's connections (the argument is unchanged).

        Raises:
            ValueError: an empty graph, or an input port no connection feeds (naming the layer and the input), as
                MATLAB's trainNetwork refuses such a graph.
        """
        from minidl.network import Network

        if not self._layers:
            raise ValueError(f"{func}: the layer graph has no layers")
        loose = self.unconnected_inputs()
        if loose:
            text = ", ".join(f"layer '{n}' input '{p}'" for n, p in loose)
            raise ValueError(f"{func}: unconnected input: {text}; connect each with connectLayers(lgraph, "
                             f"'source', '{loose[0][0]}/{loose[0][1]}')")
        layers = copy.deepcopy(list(self._layers))
        by = {layer.name: layer for layer in layers}
        if _is_chain(self._layers, self._edges):
            return Network(layers)
        return Network(layers, [(_source_text(by[s], s, sp), _destination_text(by[d], d, dp))
                                for s, sp, d, dp in self._edges])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerGraph):
            return NotImplemented
        return self._layers == other._layers and self._edges == other._edges

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return ("  LayerGraph with properties:\n\n"
                f"         Layers: [{len(self._layers)}x1 nnet.cnn.layer.Layer]\n"
                f"    Connections: [{len(self._edges)}x2 table]\n"
                f"     InputNames: {_cellstr(self.InputNames)}\n"
                f"    OutputNames: {_cellstr(self.OutputNames)}")


def _cellstr(names: Sequence[str]) -> str:
    return "{1x0 cell}" if not names else "{" + "  ".join(f"'{n}'" for n in names) + "}"


def _source_text(layer: Layer, name: str, port: str) -> str:
    return name if len(output_ports(layer)) == 1 else f"{name}/{port}"


def _destination_text(layer: Layer, name: str, port: str) -> str:
    return name if len(input_ports(layer)) == 1 else f"{name}/{port}"


def _is_chain(layers: Sequence[Layer], edges: Sequence[Edge]) -> bool:
    """True when the edges are exactly the sequential connections of the layers in order."""
    if any(len(input_ports(a)) > 1 or len(output_ports(a)) > 1 for a in layers) or len(edges) != len(layers) - 1:
        return False
    return all((s, d) == (a.name, b.name) for (s, _, d, _), a, b in zip(edges, layers[:-1], layers[1:]))


def _sequential(layers: Sequence[Layer]) -> list[Edge]:
    """Each layer's first output to the next layer's first input (MATLAB's rule for a layer array)."""
    out: list[Edge] = []
    for a, b in zip(layers[:-1], layers[1:]):
        outs, ins = output_ports(a), input_ports(b)
        if not outs:
            raise ValueError(f"layers: layer '{a.name}' ({type(a).__name__}) has no output to connect to the next "
                             f"layer '{b.name}'; allowed: an output layer last in an array")
        if not ins:
            raise ValueError(f"layers: layer '{b.name}' ({type(b).__name__}) has no input to connect layer "
                             f"'{a.name}' to; allowed: an input layer first in an array")
        out.append((_name(a), outs[0], _name(b), ins[0]))
    return out


# ---------------------------------------------------------------------------------------- arguments
def _graph(func: str, lgraph: Any) -> LayerGraph:
    if not isinstance(lgraph, LayerGraph):
        raise TypeError(f"{func}: lgraph: got {type(lgraph).__name__}; allowed: a LayerGraph from layerGraph(...)")
    return lgraph


def _layer_list(func: str, layers: Any, arg: str = "layers") -> list[Layer]:
    """A layer or a layer array → copies of the layers (the caller's objects are never named or changed)."""
    if isinstance(layers, Layer):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"{func}: {arg}: got {type(layers).__name__}; allowed: a layer or a list of layers")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{func}: {arg}[{i}]: got {type(layer).__name__}; allowed: a minidl layer")
    if len({id(layer) for layer in layers}) != len(layers):
        raise ValueError(f"{func}: {arg}: the same layer object appears twice; give each position its own layer")
    return copy.deepcopy(list(layers))


def _named(func: str, existing: Sequence[Layer], new: list[Layer], arg: str = "layers") -> list[Layer]:
    """Name the unnamed new layers as minidl's Network does (``<kind>_<n>``, n counting the graph's layers of that
    kind, the first free one) and check that every name is unique in the graph."""
    taken = {layer.name for layer in existing} | {layer.name for layer in new if layer.name}
    counts: dict[str, int] = {}
    for layer in existing:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
    seen = {layer.name for layer in existing}
    for layer in new:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        if layer.name is None:
            n = counts[layer.kind]
            while f"{layer.kind}_{n}" in taken:
                n += 1
            layer.name = f"{layer.kind}_{n}"
            taken.add(layer.name)
        if layer.name in seen:
            raise ValueError(f"{func}: {arg}: a layer named '{layer.name}' is already in the graph; allowed: unique "
                             "layer names")
        seen.add(layer.name)
    return new


def _names_arg(func: str, names: Any, arg: str) -> list[str]:
    if isinstance(names, str):
        return [names]
    if isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names):
        return list(names)
    raise TypeError(f"{func}: {arg}: got {names!r}; allowed: a layer name or a list of layer names")


def _layer(func: str, g: LayerGraph, name: str, arg: str) -> Layer:
    by = g._by_name()
    if name not in by:
        raise ValueError(f"{func}: {arg}: no layer named '{name}' in the graph; layers: {', '.join(by) or 'none'}")
    return by[name]


def _endpoint(func: str, g: LayerGraph, text: Any, arg: str, outputs: bool) -> tuple[str, str]:
    """'layer' (its first output / input) or 'layer/port' → (layer name, port name), checked against the graph."""
    if not isinstance(text, str) or not text:
        raise TypeError(f"{func}: {arg}: got {text!r}; allowed: 'layerName' or 'layerName/portName'")
    name, sep, port = text.partition("/")
    by = g._by_name()
    if text in by:                          # a layer name may itself contain '/' (MATLAB forbids it; be lenient)
        name, sep, port = text, "", ""
    layer = _layer(func, g, name, arg)
    ports = output_ports(layer) if outputs else input_ports(layer)
    what = "output" if outputs else "input"
    if not ports:
        raise ValueError(f"{func}: {arg}: layer '{name}' ({type(layer).__name__}) has no {what}s; allowed: a layer "
                         f"with an {what}")
    if not sep:
        return name, ports[0]
    if port not in ports:
        raise ValueError(f"{func}: {arg}: layer '{name}' has no {what} named '{port}'; its {what}s: "
                         f"{', '.join(ports)}")
    return name, port


def _path(edges: Sequence[Edge], start: str, goal: str) -> list[str] | None:
    """A path of layer names from start to goal along the edges (depth first), or None."""
    nexts: dict[str, list[str]] = {}
    for s, _, d, _ in edges:
        nexts.setdefault(s, []).append(d)
    stack = [start]
    parent: dict[str, str | None] = {start: None}     # node -> the node it was reached from (None: the start)
    while stack:
        node = stack.pop()
        if node == goal:
            path = [node]
            prev = parent[node]
            while prev is not None:
                path.append(prev)
                prev = parent[prev]
            return path[::-1]
        for d in nexts.get(node, ()):
            if d not in parent:
                parent[d] = node
                stack.append(d)
    return None


# ---------------------------------------------------------------------------------------- MATLAB's functions
def layerGraph(layers: Any = None) -> LayerGraph:
    """MATLAB ``lgraph = layerGraph`` (empty), ``layerGraph(layers)`` (a layer array connected sequentially) or
    ``layerGraph(net)`` (a trained network's layers and connections).

    Unnamed layers are named now, as minidl's Network names them (``fc_1``, ``add_1``: the kind and a count;
    MATLAB's own are ``fc``, ``fc_1``, docs/semantics-matlab.md §13).  The layers are copies: the caller's layer
    objects are never named or changed.
    """
    from minidl.network import Network

    if layers is None:
        return LayerGraph()
    if isinstance(layers, LayerGraph):
        return layers
    if isinstance(layers, Network):
        net_layers = copy.deepcopy(list(layers.layers))
        pairs = getattr(layers, "connections", None)
        if pairs is None or getattr(layers, "is_chain", True):
            return LayerGraph(net_layers, _sequential(net_layers))
        g = LayerGraph(net_layers)
        edges = [_endpoint("layerGraph", g, s, "net", True) + _endpoint("layerGraph", g, d, "net", False)
                 for s, d in pairs]
        return LayerGraph(net_layers, edges)
    new = _named("layerGraph", (), _layer_list("layerGraph", layers))
    return LayerGraph(new, _sequential(new))


def addLayers(lgraph: LayerGraph, layers: Any) -> LayerGraph:
    """MATLAB ``newgraph = addLayers(lgraph, larray)``: the layers added, connected sequentially among themselves
    and to nothing else (connect them with :func:`connectLayers`)."""
    g = _graph("addLayers", lgraph)
    new = _named("addLayers", g._layers, _layer_list("addLayers", layers, "larray"), "larray")
    return LayerGraph(g._layers + tuple(new), g._edges + tuple(_sequential(new)))


def removeLayers(lgraph: LayerGraph, layerNames: Any) -> LayerGraph:
    """MATLAB ``newgraph = removeLayers(lgraph, layerNames)``: the layers and every connection to or from them
    removed; the rest stays as it was (inputs they fed are left unconnected)."""
    g = _graph("removeLayers", lgraph)
    names = _names_arg("removeLayers", layerNames, "layerNames")
    for n in names:
        _layer("removeLayers", g, n, "layerNames")
    gone = set(names)
    return LayerGraph([layer for layer in g._layers if layer.name not in gone],
                      [e for e in g._edges if e[0] not in gone and e[2] not in gone])


def connectLayers(lgraph: LayerGraph, s: str, d: str) -> LayerGraph:
    """MATLAB ``newgraph = connectLayers(lgraph, s, d)``: connect source ``s`` to destination ``d``.

    ``s``: ``'layer'`` (its first output) or ``'layer/out'``; ``d``: ``'layer'`` (its first input) or
    ``'add_1/in2'``.  An output may feed several inputs; an input takes one connection.

    Raises:
        ValueError: an unknown layer or port, a destination input already connected, or a connection that would
            create a cycle (the error names the layers and the path).
    """
    g = _graph("connectLayers", lgraph)
    src, sp = _endpoint("connectLayers", g, s, "s", outputs=True)
    dst, dp = _endpoint("connectLayers", g, d, "d", outputs=False)
    for a, ap, b, bp in g._edges:
        if (b, bp) == (dst, dp):
            raise ValueError(f"connectLayers: d: input '{dp}' of layer '{dst}' is already connected (to "
                             f"'{a}/{ap}'); disconnect it first (disconnectLayers)")
    back = _path(g._edges, dst, src) if src != dst else [src]
    if back is not None:
        loop = " -> ".join(back + [dst]) if src != dst else f"{src} -> {src}"
        raise ValueError(f"connectLayers: connecting '{src}' to '{dst}' would create a cycle ({loop}); allowed: "
                         "connections of a directed acyclic graph")
    return LayerGraph(g._layers, g._edges + ((src, sp, dst, dp),))


def disconnectLayers(lgraph: LayerGraph, s: str, d: str) -> LayerGraph:
    """MATLAB ``newgraph = disconnectLayers(lgraph, s, d)``: the connection from ``s`` to ``d`` removed (spelled
    as for :func:`connectLayers`); an error when there is none."""
    g = _graph("disconnectLayers", lgraph)
    edge = _endpoint("disconnectLayers", g, s, "s", True) + _endpoint("disconnectLayers", g, d, "d", False)
    if edge not in g._edges:
        raise ValueError(f"disconnectLayers: no connection from '{s}' to '{d}' in the graph; its connections: "
                         f"{', '.join(f'{a} -> {b}' for a, b in g.Connections) or 'none'}")
    return LayerGraph(g._layers, [e for e in g._edges if e != edge])


def replaceLayer(lgraph: LayerGraph, layerName: str, larray: Any, *args: Any, **kwargs: Any) -> LayerGraph:
    """MATLAB ``newgraph = replaceLayer(lgraph, layerName, larray, 'ReconnectBy', 'name')``.

    The layers of ``larray`` take the place of layer ``layerName``, connected sequentially; the old layer's inputs
    are connected to the first new layer's and its outputs' destinations to the last new layer's outputs, matched
    by port name ('ReconnectBy' 'name', the default) or by position ('order').  The new layers sit where the old
    one was in ``Layers``.

    Raises:
        ValueError: an unknown layer, or a connected port of the old layer with no match in the new layers.
    """
    func = "replaceLayer"
    g = _graph(func, lgraph)
    if not isinstance(layerName, str):
        raise TypeError(f"{func}: layerName: got {layerName!r}; allowed: a layer name")
    old = _layer(func, g, layerName, "layerName")
    opts = _parse_pairs(func, args, kwargs, ("ReconnectBy",))
    by = _choice(func, "ReconnectBy", opts.get("ReconnectBy", "name"), ("name", "order"))
    rest = [layer for layer in g._layers if layer is not old]
    new = _named(func, rest, _layer_list(func, larray, "larray"), "larray")
    first, last = new[0], new[-1]

    def match(port: str, ports_old: tuple[str, ...], ports_new: tuple[str, ...], layer: Layer, what: str) -> str:
        if by == "name":
            if port in ports_new:
                return port
        elif ports_old.index(port) < len(ports_new):
            return ports_new[ports_old.index(port)]
        raise ValueError(f"{func}: larray: layer '{layer.name}' has no {what} to take the connection of "
                         f"'{layerName}/{port}' (by {by}); its {what}s: {', '.join(ports_new) or 'none'}")

    edges: list[Edge] = []
    for e in g._edges:
        s, sp, d, dp = e
        if d == layerName and s == layerName:
            continue
        if d == layerName:
            edges.append((s, sp, _name(first), match(dp, input_ports(old), input_ports(first), first, "input")))
        elif s == layerName:
            edges.append((_name(last), match(sp, output_ports(old), output_ports(last), last, "output"), d, dp))
        else:
            edges.append(e)
    i = g._layers.index(old)
    return LayerGraph(g._layers[:i] + tuple(new) + g._layers[i + 1:], edges + _sequential(new))


def plot(lgraph: Any, ax: Any = None):
    """MATLAB ``plot(lgraph)``: a picture of the graph (``minidl.reporting.graph_plot.plot_network``: boxes with
    the layer names and, where the shapes can be inferred, the output sizes; arrows for the connections).  Also
    takes a trained network.  Returns what plot_network returns."""
    from minidl.network import Network
    from minidl.reporting.graph_plot import plot_network

    if isinstance(lgraph, LayerGraph):
        net = lgraph.to_network("plot")
        try:
            net.initialize(dtype="float64")
        except (ValueError, TypeError):
            pass                 # a graph whose sizes cannot be inferred yet is drawn without them
        return plot_network(net, ax=ax)
    if isinstance(lgraph, Network):
        return plot_network(lgraph, ax=ax)
    raise TypeError(f"plot: lgraph: got {type(lgraph).__name__}; allowed: a LayerGraph or a minidl Network")


# ---------------------------------------------------------------------------------------- trained networks
def network_connections(net) -> ConnectionTable:
    """MATLAB's ``net.Connections`` of a trained network (a DAG network or a chain), as :class:`ConnectionTable`."""
    g = layerGraph(_network("network_connections", net))
    return g.Connections


def network_display(net) -> str:
    """MATLAB's display of a trained network: ``DAGNetwork with properties:`` (``SeriesNetwork`` for a chain) and its
    Layers, Connections, InputNames, OutputNames (a DAGNetwork) or Layers (a SeriesNetwork)."""
    net = _network("network_display", net)
    g = layerGraph(net)
    if getattr(net, "is_chain", True):
        return f"  SeriesNetwork with properties:\n\n    Layers: [{len(g.Layers)}x1 nnet.cnn.layer.Layer]"
    return "  DAGNetwork with properties:" + repr(g).split("LayerGraph with properties:", 1)[1]


def _network(func: str, net):
    from minidl.network import Network

    if not isinstance(net, Network):
        raise TypeError(f"{func}: net: got {type(net).__name__}; allowed: a minidl Network")
    return net


# ---------------------------------------------------------------------------------------- merge layers
_MERGE_NAMES = ("Name",)


def _layer_name(func: str, opts: dict) -> str | None:
    name = opts.get("Name", "")
    if not isinstance(name, str):
        raise TypeError(f"{func}: 'Name': got {name!r}; allowed: a character vector")
    return name or None


def additionLayer(numInputs, *args: Any, **kwargs: Any):
    """MATLAB ``additionLayer(numInputs, 'Name', n)``: the element-wise sum of ``numInputs`` (≥ 2) inputs named
    ``in1``, ``in2``, ... → ``minidl.layers.Addition(numInputs)``."""
    from minidl.layers.merge import Addition

    func = "additionLayer"
    (n,) = _int_vector(func, "numInputs", numInputs, (1,), 2)
    opts = _parse_pairs(func, args, kwargs, _MERGE_NAMES)
    return Addition(n, name=_layer_name(func, opts))


def concatenationLayer(dim, numInputs, *args: Any, **kwargs: Any):
    """MATLAB ``concatenationLayer(dim, numInputs, 'Name', n)``: ``numInputs`` (≥ 2) image inputs joined along
    MATLAB's dimension ``dim`` of H×W×C (1 height, 2 width, 3 channels) → ``minidl.layers.Concatenation(axis,
    numInputs)`` with minidl's axis of (N, C, H, W): 2, 3, 1.

    Feature and sequence inputs (MATLAB's dim 1, their channels) are not mapped: the layer's axis is fixed before
    the input's rank is known; join their channels with :func:`depthConcatenationLayer` (docs/semantics-matlab.md
    §13)."""
    from minidl.layers.merge import Concatenation

    func = "concatenationLayer"
    (d,) = _int_vector(func, "dim", dim, (1,), 1)
    if d > 3:
        raise ValueError(f"{func}: 'dim': got {dim!r}; allowed: 1 (height), 2 (width) or 3 (channels) of H×W×C")
    (n,) = _int_vector(func, "numInputs", numInputs, (1,), 2)
    opts = _parse_pairs(func, args, kwargs, _MERGE_NAMES)
    return Concatenation({1: 2, 2: 3, 3: 1}[d], n, name=_layer_name(func, opts))


def depthConcatenationLayer(numInputs, *args: Any, **kwargs: Any):
    """MATLAB ``depthConcatenationLayer(numInputs, 'Name', n)``: ``numInputs`` (≥ 2) inputs of equal height and
    width joined along the channels → ``minidl.layers.DepthConcatenation(numInputs)``."""
    from minidl.layers.merge import DepthConcatenation

    func = "depthConcatenationLayer"
    (n,) = _int_vector(func, "numInputs", numInputs, (1,), 2)
    opts = _parse_pairs(func, args, kwargs, _MERGE_NAMES)
    return DepthConcatenation(n, name=_layer_name(func, opts))
