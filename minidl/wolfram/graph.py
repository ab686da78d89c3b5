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

from minidl.layers import FeatureInput, ImageInput
from minidl.layers.base import InputLayer, Layer, OutputLayer
from minidl.network import Network
from minidl.wolfram.parts import SEP, part_layers

__all__ = ["NetPort", "NetGraph", "GraphPorts", "NetExtract", "NetTake", "NetDrop", "port_outputs"]


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
    targets: dict[str, str] = field(default_factory=dict)    # loss layer name -> data port of its targets
    parts: dict[str, list[str]] = field(default_factory=dict)   # nested part -> its layer names, in order
    part_inputs: dict[str, Layer | None] = field(default_factory=dict)  # nested part -> its own input layer


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
        self.entry: dict[str, str] = {}          # part -> its first layer (where its input goes)
        self.exit: dict[str, str] = {}           # part -> its last layer (what gives its output)
        self.ports = GraphPorts()
        self.sizes = dict(ports)
        self.inputs: dict[str, InputLayer] = {}
        self.pairs: list[tuple[str, str]] = []
        self.fed: set[str] = set()
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
            if not src.is_chain:
                raise NotImplementedError_("NetGraph: a nested NetGraph part", key)
            name = str(key) if key is not None else f"net_{i + 1}"
            dup = copy.deepcopy(src.layers)
            first = dup[0] if isinstance(dup[0], InputLayer) else None
            body = [layer for layer in dup if not isinstance(layer, InputLayer)]
            if not body:
                raise ValueError(f"NetGraph part {name!r}: a net with no layers after its input")
            for layer in body:
                layer.name = f"{name}{SEP}{layer.name}"
            for a, b in zip(body, body[1:]):
                self.pairs.append((a.name, b.name))
                self.fed.add(b.name)
            self.layers.extend(body)
            self.entry[name], self.exit[name] = body[0].name, body[-1].name
            self.ports.parts[name] = [layer.name for layer in body]
            self.ports.part_inputs[name] = first
        else:
            raise TypeError(f"NetGraph layers[{key if key is not None else i}]: got {type(value).__name__}; "
                            "allowed: a minidl layer, a NetChain (Network) or a list of layers")
        self.keys.append(str(key) if key is not None else (self.layers[-1].name if isinstance(value, Layer)
                                                             else name))

    # -- references
    def _part(self, ref) -> str:
        if isinstance(ref, numbers.Integral) and not isinstance(ref, bool):
            if not -len(self.keys) <= ref < len(self.keys):
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
            out = _PORT_ALIASES.get(str(ref.second).lower(), str(ref.second))
            return f"{self.exit[part]}/{out}"
        part = self._part(ref)
        return self.exit[part]

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
        if isinstance(dst, NetPort):
            part = self._part(dst.first)
            port = str(dst.second)
            layer = self._layer(self.entry[part])
            if port.lower() == "target" and isinstance(layer, OutputLayer):
                if not (isinstance(src, NetPort) and src.is_graph_port):
                    raise NotImplementedError_("NetGraph: a loss layer's Target fed by a layer (targets come "
                                               "from a data port)", part)
                self.ports.targets[layer.name] = str(src.first)
                return
            target = f"{self.entry[part]}/{_PORT_ALIASES.get(port.lower(), port)}"
        else:
            target = self.entry[self._part(dst)]
        source = self._source(src)
        if isinstance(src, NetPort) and src.is_graph_port:
            self._size_input(str(src.first), self._layer(target.split("/", 1)[0]), dst)
        self.pairs.append((source, target))
        self.fed.add(target.split("/", 1)[0])

    def _size_input(self, port: str, consumer: Layer, dst) -> None:
        if self.inputs.get(port) is not None:
            return
        part = dst.first if isinstance(dst, NetPort) else dst
        given = self.sizes.get(port)
        if given is None and isinstance(part, (str, int)):
            own = self.ports.part_inputs.get(self._part(part))
            given = own if own is not None else None
        if given is None:
            raise ValueError(f"NetGraph: the size of input port {port!r} is not known; give it as {port}=n "
                             "(features), {port}=(C, H, W), or an input layer, or feed it into a net with an "
                             "input layer")
        self.inputs[port] = _input_layer(port, given)

    def _layer(self, name: str) -> Layer:
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
                self.ports.targets[layer.name] = "Target"
        unsized = [p for p, v in self.inputs.items() if v is None]
        if unsized:
            raise ValueError(f"NetGraph: input ports {unsized} feed nothing")
        inputs = list(self.inputs.values())
        self.ports.inputs = {layer.name: layer.name for layer in inputs}
        for port in self.ports.outputs:
            if port in self.inputs:
                raise ValueError(f"NetGraph: {port!r} is both an input and an output port")
        net = Network(inputs + self.layers, connections=self.pairs)
        net.ports = self.ports
        return net


def NotImplementedError_(what: str, part) -> Exception:
    from minidl.errors import NotSupportedYetError

    return NotSupportedYetError(f"{what} ({part!r}): not supported yet")


def NetGraph(layers, connections: Sequence, **ports) -> Network:
    """Wolfram NetGraph[layers, connections, "Input" -> size]: a minidl graph network (see the module docstring).

    Args:
        layers: dict name → layer or NetChain, or a list of them (0-based positions in connections).
        connections: (source, destination) pairs or chains (a, b, c); sources and destinations as parts, lists of
            parts, ``NetPort("Input")``, ``NetPort("part", "port")``, ``NetPort("Output")``.
        ports: graph input port → size (F, (F,), (C, H, W)) or an input layer.

    Returns:
        A :class:`~minidl.network.Network` with ``ports`` (:class:`GraphPorts`).
    """
    return _Builder(layers, ports).build(list(connections))


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
    return [layer.name for layer in net.layers if not isinstance(layer, InputLayer)]


def _strip(layer: Layer, prefix: str) -> Layer:
    dup = copy.deepcopy(layer)
    dup.name = dup.name[len(prefix) + 1:]
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
    if head in parts and parts[head] == chosen:
        return _extract_part(net, head)
    raise ValueError(f"NetExtract spec: got {spec!r}, which selects {len(chosen)} layers; allowed: one part or layer")


def _extract_part(net: Network, part: str) -> Network:
    ports = net.ports
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


def _ancestors(net: Network, names: set[str]) -> set[str]:
    feeds: dict[str, set[str]] = {}
    for s, d in net.connections:
        feeds.setdefault(d.split("/", 1)[0], set()).add(s.split("/", 1)[0])
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(feeds.get(n, ()))
    return seen


def _descendants(net: Network, names: set[str]) -> set[str]:
    feeds: dict[str, set[str]] = {}
    for s, d in net.connections:
        feeds.setdefault(s.split("/", 1)[0], set()).add(d.split("/", 1)[0])
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(feeds.get(n, ()))
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
        out.ports = GraphPorts(
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
            taken = NetTake(net, spec[1])
            below = _descendants(net, {ports.inputs.get(n, n) for n in names})
            missing = [layer.name for layer in taken.input_layers if layer.name not in below]
            if missing:
                raise ValueError(f"NetTake spec: the outputs {spec[1]!r} also need the inputs {missing}; allowed: "
                                 "start from every input they need")
            return taken
        wanted = spec if isinstance(spec, list) else [spec]
        outs: dict[str, str] = {}
        for w in wanted:
            p = w.first if isinstance(w, NetPort) else w
            if p in ports.outputs:
                outs[p] = ports.outputs[p]
            elif isinstance(p, str) and any(layer.name == p for layer in net.layers):
                outs[p] = p
            else:
                raise ValueError(f"NetTake spec: got {w!r}; allowed: output ports ({', '.join(ports.outputs)}) or "
                                 "layer names")
        return _subgraph(net, _ancestors(net, set(outs.values())), outs)
    body = [layer.name for layer in net.layers]
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
        keep = body[:lead] + (body[lead:][:spec] if spec >= 0 else body[lead:][spec:])
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
        outs = {p: n for p, n in ports.outputs.items() if p not in names and n not in names}
        sinks = {layer.name for layer in net.output_layers} - {ports.outputs.get(d, d) for d in names}
        keep = _ancestors(net, set(outs.values()) | sinks) - {ports.outputs.get(d, d) for d in names}
        return _subgraph(net, keep, outs)
    if isinstance(spec, bool) or not isinstance(spec, numbers.Integral):
        raise ValueError(f"NetDrop spec: got {spec!r}; allowed: n (drop the first n layers) or -n (the last n)")
    lead = 1 if isinstance(net.layers[0], InputLayer) else 0
    body = [layer.name for layer in net.layers]
    rest = body[lead:][spec:] if spec >= 0 else body[lead:][:spec]
    return _subgraph(net, set(body[:lead] if spec == 0 or spec < 0 else []) | set(rest), None)
