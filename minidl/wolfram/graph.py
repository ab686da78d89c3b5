"""Wolfram's NetGraph with named ports, NetPort, NetExtract, NetTake and NetDrop on minidl's graph network
(docs/wolfram.md#netgraph-and-ports, docs/semantics-wolfram.md#16-graphs-ports-and-update-schedules).

``NetGraph(layers, connections, **ports)`` flattens the Wolfram graph into one :class:`~minidl.network.Network`:

- ``layers``: a dict name → layer or net (NetChain), or a list (addressed by 0-based position in connections);
  a nested chain's layers are named ``"<part>:<layer>"`` (:data:`minidl.wolfram.parts.SEP`), its input layer (if
  any) gives the size of the graph port that feeds it;
- ``connections``: ``(source, destination)`` pairs, or longer tuples ``(a, b, c)`` for a → b → c; a source is a
  part (its only output), ``NetPort("Input")`` (a graph input port), ``NetPort("part", "Output")`` or a list of
  sources (into a multi-input layer's inputs, in order); a destination is a part (its only input),
  ``NetPort("part", "Input2")``, ``NetPort("Output")`` (a graph output port) or ``NetPort("loss", "Target")``;
- ``**ports``: the size of each graph input port (``Input=2``, ``Input=(1, 28, 28)``) when no nested net tells it.

The graph's input layers are named by their ports; a loss layer's "Target" comes from the data port connected to
it, or, unconnected, from the data port "Target".  ``net.ports`` keeps the port map: input port → input layer,
output port → the layer that gives it, loss layer → its target port.

>>> from minidl.wolfram.layers import LinearLayer, NetChain
>>> from minidl.layers import MeanSquaredLoss
>>> g = NetGraph({"evaluation": NetChain([LinearLayer(1)]), "loss": MeanSquaredLoss()},
...              [(NetPort("Input"), "evaluation", "loss"), ("loss", NetPort("Loss"))], Input=2)
>>> [layer.name for layer in g.layers], g.ports.targets
(['Input', 'evaluation:fc_1', 'loss'], {'loss': 'Target'})
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

import numpy as np

from minidl.errors import NotSupportedYetError
from minidl.layers import FeatureInput, ImageInput
from minidl.layers.base import InputLayer, Layer, OutputLayer
from minidl.network import Network
from minidl.wolfram.parts import SEP, part_layers

__all__ = ["NetPort", "NetGraph", "PendingGraph", "GraphPorts", "NetExtract", "NetTake", "NetDrop", "port_outputs"]


@dataclass(frozen=True)
class NetPort:
    """``NetPort("Input")``: a graph port; ``NetPort("layer", "Input2")``: a port of a part."""

    first: str | int
    second: str | None = None

    @property
    def is_graph_port(self) -> bool:
        return self.second is None


@dataclass
class GraphPorts:
    """The Wolfram view of a flattened graph: port names ↔ minidl layers."""

    inputs: dict[str, str] = field(default_factory=dict)     # input port -> input layer name (the same name)
    outputs: dict[str, str] = field(default_factory=dict)    # output port -> layer whose output it is
    targets: dict[str, str | None] = field(default_factory=dict)  # loss layer -> data port of its targets (None: none)
    parts: dict[str, list[str]] = field(default_factory=dict)   # nested part -> its layer names, in order
    part_inputs: dict[str, Layer | None] = field(default_factory=dict)  # nested part -> its own input layer
    #: a nested NetGraph part -> (its input layers, its connections and ports in its own names), for NetExtract
    part_graphs: dict[str, tuple] = field(default_factory=dict)


class _WithPorts(Protocol):
    """A Network that carries its Wolfram port map: NetGraph, NetGANOperator, NetExtract, NetTake and NetDrop set
    ``net.ports`` on the networks they build (an attribute :class:`~minidl.network.Network` does not declare)."""

    ports: GraphPorts


def _with_ports(net: Network) -> _WithPorts:
    """``net`` as a network with ``ports`` (the same object; reading ``ports`` raises AttributeError if unset)."""
    return cast(_WithPorts, net)


def _name(layer: Layer) -> str:
    """The name of a layer of a network or of the graph being built: set (a Network names its layers when built,
    the builder names every layer it takes)."""
    assert layer.name is not None, "a network's layers are always named"
    return layer.name


_PORT_ALIASES = {"input": "in", "output": "out"}


def _input_layer(port: str, size) -> InputLayer:
    """The input layer of a graph port from its size: F or (F,) features, (C, H, W) images; or an InputLayer."""
    if isinstance(size, InputLayer):
        layer = copy.deepcopy(size)
        layer.name = port
        return layer
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size),)
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return FeatureInput(size[0], normalization="none", name=port)
    if isinstance(size, (tuple, list)) and len(size) == 3:
        return ImageInput(tuple(size), normalization="none", name=port)
    raise ValueError(f"NetGraph port {port!r}: got size {size!r}; allowed: F (features), (F,), (C, H, W) or an "
                     "input layer")


class _Builder:
    """Flattens parts, resolves connections into minidl's ``"a/out" → "b/in"`` pairs."""

    def __init__(self, layers, ports: Mapping):
        if isinstance(layers, Mapping):
            items = list(layers.items())
        elif isinstance(layers, (list, tuple)):
            items = [(None, v) for v in layers]
        else:
            raise TypeError(f"NetGraph layers: got {type(layers).__name__}; allowed: a dict name -> layer or net, "
                            "or a list of them")
        self.keys: list[str] = []
        self.layers: list[Layer] = []
        # part -> its first layer (where its input goes) / its last layer (what gives its output); None for a nested
        # NetGraph part, whose ports are connected through nested_in / nested_out
        self.entry: dict[str, str | None] = {}
        self.exit: dict[str, str | None] = {}
        self.ports = GraphPorts()
        self.sizes = dict(ports)
        self.inputs: dict[str, InputLayer | None] = {}   # input port -> its layer (None: not sized yet)
        self.pairs: list[tuple[str, str]] = []
        self.unsized: list[str] = []                 # input ports whose size only the data will tell
        self.nested_in: dict[str, dict[str, list[str]]] = {}   # nested graph part -> its input port -> consumers
        self.nested_out: dict[str, dict[str, str]] = {}        # nested graph part -> its output port -> layer
        self.nested_sizes: dict[str, dict[str, InputLayer]] = {}
        for i, (key, value) in enumerate(items):
            self._add(key, value, i)

    def _add(self, key, value, i: int) -> None:
        if isinstance(value, Layer):
            layer = copy.deepcopy(value)
            if key is not None:
                layer.name = str(key)
            elif layer.name is None:
                layer.name = f"{layer.kind}_{i + 1}"
            name = layer.name
            self.layers.append(layer)
            self.entry[name] = self.exit[name] = name
        elif isinstance(value, Network) or (isinstance(value, list) and all(isinstance(v, Layer) for v in value)):
            src = value if isinstance(value, Network) else Network(value)
            name = str(key) if key is not None else f"net_{i + 1}"
            if not src.is_chain or getattr(src, "ports", None) is not None and len(src.input_layers) != 1:
                self._add_graph(name, src)
                self.keys.append(name)
                return
            dup = copy.deepcopy(src.layers)
            first = dup[0] if isinstance(dup[0], InputLayer) else None
            body = [layer for layer in dup if not isinstance(layer, InputLayer)]
            if not body:
                raise ValueError(f"NetGraph part {name!r}: a net with no layers after its input")
            if any(isinstance(layer, OutputLayer) for layer in body):
                raise _not_yet("NetGraph: a nested NetGraph part with a loss layer", name)
            names = [f"{name}{SEP}{layer.name}" for layer in body]
            for layer, new_name in zip(body, names):
                layer.name = new_name
            for a, b in zip(names, names[1:]):
                self.pairs.append((a, b))
            self.layers.extend(body)
            self.entry[name], self.exit[name] = names[0], names[-1]
            self.ports.parts[name] = names
            self.ports.part_inputs[name] = first
        else:
            raise TypeError(f"NetGraph layers[{key if key is not None else i}]: got {type(value).__name__}; "
                            "allowed: a minidl layer, a NetChain (Network) or a list of layers")
        self.keys.append(name)        # the key given, else the layer's own name or "net_<i>"

    def _add_graph(self, name: str, inner: Network) -> None:
        """A nested NetGraph: its layers named "part:layer", its inner connections kept, its input ports'
        consumers and its output ports' layers remembered for the outer connections."""
        if inner.loss_layers:
            raise _not_yet("NetGraph: a nested NetGraph part with a loss layer", name)
        dup = copy.deepcopy(inner.layers)
        inputs = [layer for layer in dup if isinstance(layer, InputLayer)]
        body = [layer for layer in dup if not isinstance(layer, InputLayer)]
        ports = getattr(inner, "ports", None)
        own = {_name(layer): _name(layer) for layer in dup}
        pairs = list(inner.connections)
        new = {_name(layer): f"{name}{SEP}{layer.name}" for layer in body}
        self.nested_in[name] = {_name(layer): [] for layer in inputs}
        self.nested_sizes[name] = {_name(layer): copy.deepcopy(layer) for layer in inputs}
        for s_, d_ in pairs:
            (sl, sp), (dl, dp) = s_.split("/", 1), d_.split("/", 1)
            if sl in self.nested_in[name]:
                self.nested_in[name][sl].append(f"{new[dl]}/{dp}")
            else:
                self.pairs.append((f"{new[sl]}/{sp}", f"{new[dl]}/{dp}"))
        outs = ports.outputs if ports is not None and ports.outputs else \
            {_name(layer): _name(layer) for layer in inner.output_layers}
        self.nested_out[name] = {port: new[layer] for port, layer in outs.items()}
        for layer in body:
            layer.name = new[_name(layer)]
        self.layers.extend(body)
        self.entry[name] = self.exit[name] = None
        self.ports.parts[name] = [_name(layer) for layer in body]
        self.ports.part_inputs[name] = None
        self.ports.part_graphs[name] = ([copy.deepcopy(x) for x in inputs], pairs, copy.deepcopy(ports), own)

    def _nested_port(self, part: str, port, side: str) -> str:
        table = self.nested_in[part] if side == "input" else self.nested_out[part]
        if port is None:
            if len(table) != 1:
                raise ValueError(f"NetGraph connection: part {part!r} has {side} ports {list(table)}; name one as "
                                 f"NetPort({part!r}, port)")
            return next(iter(table))
        if port not in table:
            raise ValueError(f"NetGraph connection: part {part!r} has no {side} port {port!r}; allowed: "
                             f"{list(table)}")
        return port

    # -- references
    def _part(self, ref) -> str:
        if isinstance(ref, numbers.Integral) and not isinstance(ref, bool):
            if not -len(self.keys) <= int(ref) < len(self.keys):
                raise ValueError(f"NetGraph connection: part {ref} is out of range; the graph has {len(self.keys)}")
            return self.keys[ref]
        if isinstance(ref, str) and ref in self.entry:
            return ref
        raise ValueError(f"NetGraph connection: unknown part {ref!r}; parts: {', '.join(self.keys)}")

    def _graph_input(self, port: str) -> str:
        if port not in self.inputs:
            self.inputs[port] = None  # sized when its first consumer is known
        return port

    def _source(self, ref) -> str:
        if isinstance(ref, NetPort) and ref.is_graph_port:
            return self._graph_input(str(ref.first)) + "/out"
        if isinstance(ref, NetPort):
            part = self._part(ref.first)
            if part in self.nested_out:
                return self.nested_out[part][self._nested_port(part, str(ref.second), "output")]
            out = _PORT_ALIASES.get(str(ref.second).lower(), str(ref.second))
            return f"{self.exit[part]}/{out}"
        part = self._part(ref)
        if part in self.nested_out:
            return self.nested_out[part][self._nested_port(part, None, "output")]
        end = self.exit[part]
        assert end is not None, "only a nested NetGraph part has no exit layer, and it is handled above"
        return end

    def connect(self, src, dst) -> None:
        if isinstance(src, list):                      # several sources into a multi-input part, in order
            part = self._part(dst.first if isinstance(dst, NetPort) else dst)
            layer = self._layer(self.entry[part])
            names = tuple(getattr(layer, "input_names", ("in",)))
            if len(src) != len(names) and hasattr(layer, "set_num_inputs") and not layer.initialized:
                layer.set_num_inputs(len(src))            # Wolfram's merge layers take their count from here
                names = tuple(layer.input_names)
            if len(src) != len(names):
                raise ValueError(f"NetGraph connection: {len(src)} sources into {part!r}, which has inputs "
                                 f"{', '.join(names)}")
            for s, port in zip(src, names):
                self.connect(s, NetPort(part, port))
            return
        if isinstance(dst, NetPort) and dst.is_graph_port:   # a graph output port
            port = str(dst.first)
            if port in self.ports.outputs:
                raise ValueError(f"NetGraph connection: output port {port!r} is connected twice")
            self.ports.outputs[port] = self._source(src).split("/", 1)[0]
            return
        nested = self._part(dst.first if isinstance(dst, NetPort) else dst)
        if nested in self.nested_in:                     # into a nested graph: every consumer of its input port
            port = self._nested_port(nested, str(dst.second) if isinstance(dst, NetPort) else None, "input")
            source = self._source(src)
            if isinstance(src, NetPort) and src.is_graph_port and self.inputs.get(str(src.first)) is None:
                given = self.sizes.get(str(src.first), self.nested_sizes[nested][port])
                self.inputs[str(src.first)] = _input_layer(str(src.first), given)
            for consumer in self.nested_in[nested][port]:
                self.pairs.append((source, consumer))
            return
        if isinstance(dst, NetPort):
            part = self._part(dst.first)
            port = str(dst.second)
            layer = self._layer(self.entry[part])
            if port.lower() == "target" and isinstance(layer, OutputLayer):
                if not (isinstance(src, NetPort) and src.is_graph_port):
                    raise _not_yet("NetGraph: a loss layer's Target fed by a layer (targets come "
                                               "from a data port)", part)
                self.ports.targets[_name(layer)] = str(src.first)
                return
            target = f"{self.entry[part]}/{_PORT_ALIASES.get(port.lower(), port)}"
        else:
            entry = self.entry[self._part(dst)]
            assert entry is not None, "only a nested NetGraph part has no entry layer, and it is handled above"
            target = entry
        source = self._source(src)
        if isinstance(src, NetPort) and src.is_graph_port:
            self._size_input(str(src.first), self._layer(target.split("/", 1)[0]), dst)
        self.pairs.append((source, target))

    def _size_input(self, port: str, consumer: Layer, dst) -> None:
        if self.inputs.get(port) is not None:
            return
        part = dst.first if isinstance(dst, NetPort) else dst
        given = self.sizes.get(port)
        if given is None and isinstance(part, (str, int)):
            own = self.ports.part_inputs.get(self._part(part))
            given = own if own is not None else None
        if given is None:                               # NetTrain sizes it from the data (PendingGraph)
            self.unsized.append(port)
            self.inputs[port] = _input_layer(port, 1)
            return
        self.inputs[port] = _input_layer(port, given)

    def _layer(self, name: str | None) -> Layer:
        """The layer named ``name``; None (a nested NetGraph part's entry) is no layer: a ValueError as any other."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"NetGraph: unknown layer {name!r}")

    def build(self, connections) -> Network:
        if not isinstance(connections, (list, tuple)):
            raise TypeError(f"NetGraph connections: got {type(connections).__name__}; allowed: a list of (source, "
                            "destination) pairs")
        for i, c in enumerate(connections):
            if not isinstance(c, tuple) or len(c) < 2:
                raise TypeError(f"NetGraph connections[{i}]: got {c!r}; allowed: (source, destination) or "
                                "(a, b, c, ...) for a chain a -> b -> c")
            for s, d in zip(c, c[1:]):
                self.connect(s, d)
        for layer in self.layers:                        # a loss's unconnected Target: the data port "Target"
            if isinstance(layer, OutputLayer) and layer.name not in self.ports.targets:
                if "Target" in self.ports.targets.values():
                    raise ValueError(f"NetGraph: loss layer {layer.name!r} has no Target connection and the data "
                                     "port 'Target' feeds another loss; connect NetPort('Target2') -> "
                                     f"NetPort({layer.name!r}, 'Target')")
                self.ports.targets[_name(layer)] = "Target"
        unsized = [p for p, v in self.inputs.items() if v is None]
        if unsized:
            raise ValueError(f"NetGraph: input ports {unsized} feed nothing")
        inputs = [layer for layer in self.inputs.values() if layer is not None]   # all of them: checked just above
        self.ports.inputs = {_name(layer): _name(layer) for layer in inputs}
        for port in self.ports.outputs:
            if port in self.inputs:
                raise ValueError(f"NetGraph: {port!r} is both an input and an output port")
        net = Network([*inputs, *self.layers], connections=self.pairs)
        _with_ports(net).ports = self.ports
        return net


def _not_yet(what: str, part) -> NotSupportedYetError:
    return NotSupportedYetError(f"{what} ({part!r}): not supported yet")


def NetGraph(layers, connections: Sequence, **ports) -> Network | PendingGraph:
    """Wolfram NetGraph[layers, connections, "Input" -> size]: a minidl graph network (see the module docstring).

    Args:
        layers: dict name → layer or NetChain, or a list of them (0-based positions in connections).
        connections: (source, destination) pairs or chains (a, b, c); sources and destinations as parts, lists of
            parts, ``NetPort("Input")``, ``NetPort("part", "port")``, ``NetPort("Output")``.
        ports: graph input port → size (F, (F,), (C, H, W)) or an input layer.

    Returns:
        A :class:`~minidl.network.Network` with ``ports`` (:class:`GraphPorts`); a :class:`PendingGraph` when the
        size of an input port is not known yet.
    """
    spec = (copy.deepcopy(layers), list(connections), dict(ports))
    builder = _Builder(layers, ports)
    net = builder.build(list(connections))
    if builder.unsized:
        return PendingGraph(*spec, builder.unsized)
    return net


class PendingGraph:
    """A NetGraph whose input ports' sizes are not given: NetTrain sizes them from the training data (Wolfram infers
    them the same way); ``sized({"Input": 2})`` builds the graph by hand."""

    def __init__(self, layers, connections: list, ports: dict, unsized: list[str]):
        self.layers, self.connections, self.ports, self.unsized = layers, connections, ports, list(unsized)

    def sized(self, sizes: Mapping) -> Network | PendingGraph:
        """The graph with the missing input port sizes given (``{port: F or (C, H, W)}``)."""
        missing = [p for p in self.unsized if p not in sizes]
        if missing:
            raise ValueError(f"NetGraph: the size of input ports {missing} is not known; give it as Port=n "
                             "(features) or Port=(C, H, W), or train it with NetTrain (the data tells it)")
        return NetGraph(self.layers, self.connections, **{**self.ports, **dict(sizes)})

    def sized_from(self, data, arg: str = "data") -> Network | PendingGraph:
        """The graph sized from NetTrain data by port (``{port: values}`` or a list of ``{port: value}``)."""
        sizes = {}
        for port in self.unsized:
            if isinstance(data, Mapping) and port in data:
                shape = np.asarray(data[port]).shape[1:]
            elif isinstance(data, (list, tuple)) and data and isinstance(data[0], Mapping) and port in data[0]:
                shape = np.asarray(data[0][port]).shape
            else:
                raise ValueError(f"{arg}: the graph's input port {port!r} has no size and the data has no port "
                                 f"{port!r} to take it from")
            if len(shape) not in (1, 3):
                raise ValueError(f"{arg}: port {port!r} holds examples of shape {shape}; allowed for an input port: "
                                 "vectors (F,) or images (C, H, W)")
            sizes[port] = shape
        return self.sized(sizes)

    def __repr__(self) -> str:
        return f"PendingGraph(unsized input ports {self.unsized})"


# ================================================================================================ outputs by port
def port_outputs(net: Network, x) -> dict[str, object]:
    """A graph's output ports for ``x``: a dict port → array (input ports, and the target ports of the losses that
    give output ports) or one array for a graph with one input.  A port given by a loss layer is each example's
    loss (N,); a loss whose target port is not in ``x`` is left out."""
    if getattr(net, "gan_loss", None) is not None:       # NetGANOperator: LossReal, LossFake, GeneratedFake
        from minidl.wolfram.gan import gan_outputs

        return gan_outputs(net, x["Sample"], x["Latent"])
    ports = getattr(net, "ports", None) or GraphPorts()
    names = [layer.name for layer in net.input_layers]
    feed = x if not isinstance(x, Mapping) else {k: v for k, v in x.items() if k in names}
    outs = net._run(net._graph_inputs(feed, "x"), False)
    result: dict[str, object] = {}
    for port, name in (ports.outputs or {net.output_layers[0].name: net.output_layers[0].name}).items():
        layer = net[name]
        i = net._index[name]
        if isinstance(layer, OutputLayer):
            target = ports.targets.get(name)
            y = outs[net._srcs[i][0][0]][net._srcs[i][0][1]]
            if target is None:
                result[port] = layer.example_losses(y, None)
            elif isinstance(x, Mapping) and target in x:
                result[port] = layer.example_losses(y, x[target])
        else:
            result[port] = outs[i][0]
    return result


# ================================================================================================ parts of a net
def _layer_names(net: Network) -> list[str]:
    return [_name(layer) for layer in net.layers if not isinstance(layer, InputLayer)]


def _strip(layer: Layer, prefix: str) -> Layer:
    dup = copy.deepcopy(layer)
    dup.name = _name(dup)[len(prefix) + 1:]
    return dup


def NetExtract(net: Network, spec):
    """Wolfram NetExtract[net, spec]: a part of a (trained) net.

    ``spec``: a part name (a nested net → a NetChain of its layers with its weights, its input layer first; a
    layer → a copy of the layer), a 0-based position, or a path tuple ``("part", "layer")``; ``("layer",
    "weight")`` gives the array (a host copy).
    """
    ports = getattr(net, "ports", None)
    parts = ports.parts if ports is not None else {}
    if isinstance(spec, str) and spec in parts:
        return _extract_part(net, spec)
    if isinstance(spec, tuple) and len(spec) >= 2 and isinstance(spec[-1], str):
        try:
            owner = part_layers(spec[:-1], _layer_names(net), "NetExtract spec")
        except ValueError:
            owner = None
        if owner is not None and len(owner) == 1 and spec[-1] in net[owner[0]].params:
            from minidl.backend import to_host

            return to_host(net[owner[0]].params[spec[-1]]).copy()
    chosen = part_layers(spec, _layer_names(net), "NetExtract spec")
    if len(chosen) == 1:
        name = chosen[0]
        return _strip(net[name], name.rsplit(SEP, 1)[0]) if SEP in name else copy.deepcopy(net[name])
    head = chosen[0].rsplit(SEP, 1)[0] if SEP in chosen[0] else None
    if head is not None and head in parts and parts[head] == chosen:
        return _extract_part(net, head)
    raise ValueError(f"NetExtract spec: got {spec!r}, which selects {len(chosen)} layers; allowed: one part or layer")


def _extract_part(net: Network, part: str) -> Network:
    ports = _with_ports(net).ports
    if part in ports.part_graphs:                       # a nested NetGraph: rebuilt with its own names and ports
        inputs, pairs, inner_ports, _ = ports.part_graphs[part]
        layers = [copy.deepcopy(x) for x in inputs] + [_strip(net[n], part) for n in ports.parts[part]]
        out = Network(layers, connections=pairs)
        if inner_ports is not None:
            _with_ports(out).ports = copy.deepcopy(inner_ports)
        if all(layer.initialized for layer in layers if not isinstance(layer, InputLayer)):
            out.initialize(dtype=net.dtype or "float32", device=net.device or "cpu")
        out.dtype, out.device = net.dtype, net.device
        return out
    layers = [_strip(net[n], part) for n in ports.parts[part]]
    first = ports.part_inputs.get(part)
    if first is not None:
        layers = [copy.deepcopy(first)] + layers
    out = Network(layers)
    body = [layer for layer in layers if not isinstance(layer, InputLayer)]
    if all(layer.initialized for layer in body):     # a trained part: shapes known, its weights kept
        out.initialize(None if first is not None else body[0].input_shape, dtype=net.dtype or "float32",
                       device=net.device or "cpu")
    out.dtype, out.device = net.dtype, net.device
    return out


def _reachable(net: Network, names: set[str], upstream: bool) -> set[str]:
    """``names`` and every layer that feeds them (``upstream``) or that they feed, through the connections."""
    links: dict[str, set[str]] = {}
    for s, d in net.connections:
        a, b = s.split("/", 1)[0], d.split("/", 1)[0]
        links.setdefault(b if upstream else a, set()).add(a if upstream else b)
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(links.get(n, ()))
    return seen


def _subgraph(net: Network, keep: set[str], outputs: dict[str, str] | None) -> Network:
    layers = [copy.deepcopy(layer) for layer in net.layers if layer.name in keep]
    pairs = [(s, d) for s, d in net.connections if s.split("/", 1)[0] in keep and d.split("/", 1)[0] in keep]
    if net.is_chain or _is_chain_pairs(layers, pairs):
        out = Network(layers)
    else:
        out = Network(layers, connections=pairs)
    out.dtype, out.device = net.dtype, net.device
    ports = getattr(net, "ports", None)
    if ports is not None:
        _with_ports(out).ports = GraphPorts(
            inputs={p: n for p, n in ports.inputs.items() if n in keep},
            outputs=outputs if outputs is not None else {p: n for p, n in ports.outputs.items() if n in keep},
            targets={n: p for n, p in ports.targets.items() if n in keep},
            parts={p: [n for n in ns if n in keep] for p, ns in ports.parts.items() if any(n in keep for n in ns)},
            part_inputs={p: v for p, v in ports.part_inputs.items()})
    return out


def _is_chain_pairs(layers: list[Layer], pairs) -> bool:
    names = [layer.name for layer in layers]
    return [(s.split("/", 1)[0], d.split("/", 1)[0]) for s, d in pairs] == list(zip(names, names[1:]))


def NetTake(net: Network, spec) -> Network:
    """Wolfram NetTake: a chain's first n layers (``n``), layers m … n (``(m, n)``, 0-based, inclusive) or up to a
    named layer; a graph's part that computes the given output ports (``"Output"`` or ``NetPort("Output")``, a
    list of them): the layers they depend on, the other outputs (a "Loss" port and its loss) removed;
    ``(NetPort("Input"), NetPort("Output"))``: the same, checked to need only the given inputs."""
    if not getattr(net, "is_chain", True) or getattr(net, "ports", None) is not None:
        ports = getattr(net, "ports", GraphPorts())
        if isinstance(spec, tuple) and len(spec) == 2:      # {start, end}: from the given inputs to the outputs
            starts = spec[0] if isinstance(spec[0], list) else [spec[0]]
            names = [s.first if isinstance(s, NetPort) else s for s in starts]
            for n in names:
                if n not in ports.inputs and not any(layer.name == n for layer in net.layers):
                    raise ValueError(f"NetTake spec: start {n!r}; allowed: input ports ({', '.join(ports.inputs)}) "
                                     "or layer names")
            starts_at = {str(n) for n in names}          # each an input port or a layer name: checked above
            taken = NetTake(net, spec[1])
            below = _reachable(net, {ports.inputs.get(n, n) for n in starts_at}, upstream=False)
            missing = [layer.name for layer in taken.input_layers if layer.name not in below]
            if missing:
                raise ValueError(f"NetTake spec: the outputs {spec[1]!r} also need the inputs {missing}; allowed: "
                                 "start from every input they need")
            return taken
        wanted = spec if isinstance(spec, list) else [spec]
        outs: dict[str, str] = {}
        for w in wanted:
            p = w.first if isinstance(w, NetPort) else w
            if isinstance(p, str) and p in ports.outputs:    # the keys are str: nothing else is in them
                outs[p] = ports.outputs[p]
            elif isinstance(p, str) and any(layer.name == p for layer in net.layers):
                outs[p] = p
            else:
                raise ValueError(f"NetTake spec: got {w!r}; allowed: output ports ({', '.join(ports.outputs)}) or "
                                 "layer names")
        return _subgraph(net, _reachable(net, set(outs.values()), upstream=True), outs)
    body = [_name(layer) for layer in net.layers]
    lead = 1 if isinstance(net.layers[0], InputLayer) else 0
    if isinstance(spec, str):
        stop = body.index(spec) + 1 if spec in body else None
        if stop is None:
            raise ValueError(f"NetTake spec: got {spec!r}; allowed: a layer name ({', '.join(body)})")
        keep = body[:stop]
    elif isinstance(spec, tuple) and len(spec) == 2:
        m, n = spec
        keep = body[:lead] + body[lead:][m:(None if n == -1 else n + 1)]
    elif isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        keep = body[:lead] + (body[lead:][:spec] if int(spec) >= 0 else body[lead:][spec:])
    else:
        raise ValueError(f"NetTake spec: got {spec!r}; allowed: n, (m, n), a layer name or output ports")
    return _subgraph(net, set(keep), None)


def NetDrop(net: Network, spec) -> Network:
    """Wolfram NetDrop: a chain without its first n layers (``n``; ``-n``: without its last n); a graph without
    the given output ports or layers (``"Loss"``, ``NetPort("Loss")``, a list) and what only they needed."""
    if not getattr(net, "is_chain", True) or getattr(net, "ports", None) is not None:
        drop = spec if isinstance(spec, list) else [spec]
        ports = getattr(net, "ports", GraphPorts())
        names = {d.first if isinstance(d, NetPort) else d for d in drop}
        for d in names:
            if d not in ports.outputs and not any(layer.name == d for layer in net.layers):
                raise ValueError(f"NetDrop spec: got {d!r}; allowed: output ports ({', '.join(ports.outputs)}) or "
                                 "layer names")
        dropped = {str(d) for d in names}               # each an output port or a layer name: checked above
        outs = {p: n for p, n in ports.outputs.items() if p not in dropped and n not in dropped}
        sinks = {_name(layer) for layer in net.output_layers} - {ports.outputs.get(d, d) for d in dropped}
        keep = _reachable(net, set(outs.values()) | sinks, upstream=True) - {ports.outputs.get(d, d) for d in dropped}
        return _subgraph(net, keep, outs)
    if isinstance(spec, bool) or not isinstance(spec, numbers.Integral):
        raise ValueError(f"NetDrop spec: got {spec!r}; allowed: n (drop the first n layers) or -n (the last n)")
    lead = 1 if isinstance(net.layers[0], InputLayer) else 0
    body = [_name(layer) for layer in net.layers]
    rest = body[lead:][spec:] if int(spec) >= 0 else body[lead:][:spec]
    return _subgraph(net, set(body[:lead] if spec == 0 or spec < 0 else []) | set(rest), None)
