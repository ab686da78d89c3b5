"""A network of layers: an ordered chain or a directed acyclic graph (docs/graphs.md); shapes, initialization,
forward, loss, backward, prediction, state as plain arrays."""

from __future__ import annotations

import contextlib
import copy
import heapq
import html
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from minidl import sequences as S
from minidl.backend import Device, device_of, get_array_module, get_device, to_device, to_host
from minidl.errors import NotSupportedYetError
from minidl.layers.base import InputLayer, Layer, OutputLayer
from minidl.layers.core import Softmax
from minidl.layers.output import ClassDecoder, ClassificationOutput
from minidl.optim.flat import FlatLayout

DTYPES = ("float32", "float64")
#: ``"network"``: the function :meth:`Network.plot` draws with (minidl registers
#: :func:`minidl.reporting.graph_plot.plot_network`; the network itself never imports the reporting layer)
PLOTTERS: dict[str, Any] = {}


def check_dtype(dtype: Any, arg: str = "dtype") -> np.dtype:
    """float32 or float64 (by name or numpy dtype), else a ValueError naming ``arg``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"{arg}: got {dtype!r}; allowed: 'float32', 'float64'")
    return dt


def _first(names: tuple[str, ...], default: str) -> str:
    return names[0] if names else default


def _endpoint(text: str, by_name: dict[str, Layer], side: str, k: int) -> tuple[str, str]:
    """``"layer"`` or ``"layer/port"`` → (layer name, port name), checked against the layer's ports."""
    name, _, port = text.partition("/")
    if name not in by_name:
        raise ValueError(f"connections[{k}]: {'source' if side == 'output' else 'destination'} {text!r} names no "
                         f"layer; layers: {list(by_name)}")
    ports = by_name[name].output_names if side == "output" else by_name[name].input_names
    if not port:
        if len(ports) != 1:
            raise ValueError(f"connections[{k}]: layer {name!r} has {side}s {list(ports)}; allowed: name one as "
                             f"'{name}/<{side}>'" if ports else f"connections[{k}]: layer {name!r} has no {side}s")
        return name, ports[0]
    if port not in ports:
        raise ValueError(f"connections[{k}]: layer {name!r} has no {side} {port!r}; allowed: {list(ports)}")
    return name, port


def chain_connections(layers: Sequence[Layer]) -> list[tuple[str, str]]:
    """The (source, destination) pairs that connect ``layers`` one after the other (naming unnamed layers as
    :class:`Network` does), as MATLAB's ``layerGraph(layers)`` connects an array: each layer's first output to the
    next layer's first input (named, ``"add_1/in1"``, where the next layer has several inputs).

    >>> from minidl import layers as L
    >>> chain_connections([L.FeatureInput(3), L.FullyConnected(2, name="fc")])
    [('featureinput_1', 'fc')]
    >>> chain_connections([L.FeatureInput(3, name="x"), L.Addition(2, name="add")])
    [('x', 'add/in1')]
    """
    _assign_names(list(layers))
    def first(layer: Layer, ports: tuple[str, ...]) -> str:
        return f"{layer.name}/{ports[0]}" if len(ports) > 1 else str(layer.name)
    return [(first(a, a.output_names), first(b, b.input_names)) for a, b in zip(layers, layers[1:])]


def _assign_names(layers: list[Layer]) -> None:
    counts: dict[str, int] = {}
    taken = {layer.name for layer in layers if layer.name}
    for layer in layers:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        if layer.name is None:
            name, n = f"{layer.kind}_{counts[layer.kind]}", counts[layer.kind]
            while name in taken:
                n += 1
                name = f"{layer.kind}_{n}"
            layer.name = name
            taken.add(name)


class Network:
    """Layers in order; the last may be an OutputLayer (the loss).  Parameters are named ``<layer>.<key>``.

    >>> import numpy as np, minidl as dl
    >>> from minidl import layers as L
    >>> net = dl.Network([L.FeatureInput(3, normalization="none"), L.FullyConnected(2), L.Softmax(),
    ...                   L.ClassificationOutput()])
    >>> _ = net.initialize(rng=np.random.default_rng(0), dtype="float64")
    >>> list(net.params)
    ['fc_1.weight', 'fc_1.bias']
    >>> net.forward(np.ones((4, 3))).shape
    (4, 2)
    """

    def __init__(self, layers: Sequence[Layer], connections: Sequence[tuple[str, str]] | None = None):
        if isinstance(layers, Network):
            if connections is None and not layers.is_chain:
                connections = layers.connections
            layers = layers.layers
        if not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError(f"layers: got {type(layers).__name__}; allowed: a non-empty list of minidl layers")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}]: got {type(layer).__name__}; allowed: a minidl layer")
            if connections is None and isinstance(layer, OutputLayer) and i != len(layers) - 1:
                raise ValueError(f"layers[{i}]: {type(layer).__name__} must be the last layer")
            if connections is None and isinstance(layer, InputLayer) and i != 0:
                raise ValueError(f"layers[{i}]: {type(layer).__name__} must be the first layer")
        if connections is None and isinstance(layers[-1], ClassificationOutput) and (
                len(layers) < 2 or not isinstance(layers[-2], Softmax)):
            got = type(layers[-2]).__name__ if len(layers) > 1 else "nothing"
            raise ValueError(f"layers[{len(layers) - 1}]: ClassificationOutput must follow a Softmax layer (got "
                             f"{got} before it); allowed: ..., Softmax(), ClassificationOutput() (MATLAB refuses "
                             "this network too)")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("layers: the same layer object appears twice; give each position its own layer")
        self.layers: list[Layer] = list(layers)
        self._name_layers()
        if connections is None:
            self._set_chain()
        else:
            self._set_graph(connections)
        self.loss_weights: dict[str, float] = {layer.name: 1.0 for layer in self.loss_layers}
        self.classes: np.ndarray | None = None  # the labels the class indices stand for (set when trained)
        self.dtype: np.dtype | None = None
        self.device: Device | None = None
        self.rng: np.random.Generator | None = None
        self.decoder = None  # ClassDecoder | BooleanDecoder (minidl.layers.output): how ``net(x)`` reads outputs
        #: how ``net(x)`` takes and gives sequences: "CT" (channels first, minidl's) or "TC" (Wolfram's lists of T
        #: vectors; NetChain with a "Varying" input and NetTrain set it)
        self.sequence_layout = "CT"

    # ---------------------------------------------------------------- the graph
    def _set_chain(self) -> None:
        """A chain: each layer feeds the next (``connections`` None, or connections that say exactly that)."""
        layers = self.layers
        self.is_chain = True
        self.order = layers
        self.connections = [(f"{a.name}/{_first(a.output_names, 'out')}", f"{b.name}/{_first(b.input_names, 'in')}")
                            for a, b in zip(layers, layers[1:])]
        self.input_layers = [layers[0]] if isinstance(layers[0], InputLayer) else []
        self.output_layers = [layers[-1]]
        self._index = {layer.name: i for i, layer in enumerate(layers)}
        n = len(layers)
        self._srcs = [[]] + [[(i, 0)] for i in range(n - 1)]
        self._dsts = [[[(i + 1, 0)]] for i in range(n - 1)] + [[[]]]

    def _set_graph(self, connections: Sequence[tuple[str, str]]) -> None:
        """Parse and check ``connections``, order the layers (Kahn), find the inputs, outputs and the chain case."""
        given = self.layers
        by_name = {layer.name: layer for layer in given}
        index = {layer.name: i for i, layer in enumerate(given)}
        if isinstance(connections, (str, bytes)) or not isinstance(connections, Sequence):
            raise TypeError(f"connections: got {type(connections).__name__}; allowed: a list of (source, "
                            "destination) string pairs such as ('conv_1', 'add_1/in2')")
        feeds: dict[tuple[str, str], tuple[str, str]] = {}          # (dst layer, in port) -> (src layer, out port)
        for k, pair in enumerate(connections):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(e, str) for e in pair)):
                raise ValueError(f"connections[{k}]: got {pair!r}; allowed: a (source, destination) pair of strings "
                                 "'layer' or 'layer/port'")
            src = _endpoint(pair[0], by_name, "output", k)
            dst = _endpoint(pair[1], by_name, "input", k)
            if dst in feeds:
                a, b = feeds[dst]
                raise ValueError(f"layer {dst[0]!r} input {dst[1]!r} is connected twice: from '{a}/{b}' and from "
                                 f"'{src[0]}/{src[1]}' (connections[{k}]); allowed: one source per input")
            feeds[dst] = src
        for layer in given:
            for port in layer.input_names:
                if (layer.name, port) not in feeds:
                    raise ValueError(f"layer {layer.name!r} input {port!r} is not connected; allowed: connect it "
                                     f"('<source>', '{layer.name}/{port}')")
        preds: dict[str, set[str]] = {layer.name: set() for layer in given}
        succs: dict[str, set[str]] = {layer.name: set() for layer in given}
        for (d, _), (s_, _) in feeds.items():
            preds[d].add(s_)
            succs[s_].add(d)
        waiting = {name: len(p) for name, p in preds.items()}
        ready = [index[name] for name, c in waiting.items() if c == 0]
        heapq.heapify(ready)
        order: list[Layer] = []
        while ready:
            layer = given[heapq.heappop(ready)]
            order.append(layer)
            for d in succs[layer.name]:
                waiting[d] -= 1
                if waiting[d] == 0:
                    heapq.heappush(ready, index[d])
        if len(order) != len(given):
            left = {name for name, c in waiting.items() if c > 0}
            node, seen = min(left, key=index.__getitem__), []
            while node not in seen:                     # walk back through predecessors still waiting: a loop
                seen.append(node)
                node = min((p for p in preds[node] if p in left), key=index.__getitem__)
            cycle = seen[seen.index(node):][::-1]
            raise ValueError(f"connections: a cycle through layers {cycle}; allowed: a directed acyclic graph")
        pos = self._index = {layer.name: i for i, layer in enumerate(order)}
        self.layers = self.order = order
        self._srcs = [[(pos[feeds[(layer.name, p)][0]], order[pos[feeds[(layer.name, p)][0]]].output_names.index(
            feeds[(layer.name, p)][1])) for p in layer.input_names] for layer in order]
        self._dsts = [[[] for _ in (layer.output_names or ("out",))] for layer in order]
        for i, srcs in enumerate(self._srcs):
            for q, (j, p) in enumerate(srcs):
                self._dsts[j][p].append((i, q))
        self.connections = [(f"{order[j].name}/{order[j].output_names[p]}", f"{layer.name}/{layer.input_names[q]}")
                            for i, layer in enumerate(order) for q, (j, p) in enumerate(self._srcs[i])]
        self.input_layers = [layer for layer in order if isinstance(layer, InputLayer)]
        self.output_layers = [layer for i, layer in enumerate(order)
                              if isinstance(layer, OutputLayer) or not any(self._dsts[i])]
        for i, layer in enumerate(order):
            if isinstance(layer, ClassificationOutput) and not isinstance(order[self._srcs[i][0][0]], Softmax):
                raise ValueError(f"layer {layer.name!r} input 'in': ClassificationOutput must follow a Softmax layer "
                                 f"(got {type(order[self._srcs[i][0][0]]).__name__} "
                                 f"{order[self._srcs[i][0][0]].name!r}); allowed: a Softmax feeding it (MATLAB "
                                 "refuses this network too)")
        n = len(order)
        self.is_chain = n > 1 and all(
            self._srcs[i + 1] == [(i, 0)] and self._dsts[i] == [[(i + 1, 0)]] for i in range(n - 1)) and \
            not self._srcs[0] and len(self.output_layers) == 1
        #: layers whose every input comes straight from an input layer (their dx is skipped, as in a chain)
        self._fed_by_inputs = [i for i in range(n) if self._srcs[i] and all(
            isinstance(order[j], InputLayer) for j, _ in self._srcs[i])]

    def _name_layers(self) -> None:
        _assign_names(self.layers)
        names = [layer.name for layer in self.layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"layer names: {dup} appear more than once; allowed: unique names")

    # ---------------------------------------------------------------- structure
    @property
    def input_layer(self) -> InputLayer | None:
        """The network's one input layer (a chain: the first layer when it is one); None with several inputs."""
        if self.is_chain:
            return self.layers[0] if isinstance(self.layers[0], InputLayer) else None
        return self.input_layers[0] if len(self.input_layers) == 1 else None

    @property
    def output_layer(self) -> OutputLayer | None:
        """The loss layer (a chain: the last layer when it is one); with several losses the first of
        :attr:`loss_layers`."""
        if self.is_chain:
            return self.layers[-1] if isinstance(self.layers[-1], OutputLayer) else None
        losses = self.loss_layers
        return losses[0] if losses else None

    @property
    def loss_layers(self) -> list[OutputLayer]:
        """The output (loss) layers, in :attr:`layers` order."""
        return [layer for layer in self.output_layers if isinstance(layer, OutputLayer)]

    @property
    def classification_layer(self) -> ClassificationOutput | None:
        """The first classification loss of :attr:`loss_layers` (its accuracy is the one reported), or None."""
        return next((layer for layer in self.loss_layers if isinstance(layer, ClassificationOutput)), None)

    @property
    def is_classifier(self) -> bool:
        """True when the loss is cross-entropy (classification), False for regression; with several losses, True
        when one of them is a classification loss."""
        if self.is_chain:
            return isinstance(self.output_layer, ClassificationOutput)
        return self.classification_layer is not None

    @property
    def is_sequence(self) -> bool:
        """True when the input layer takes sequences (a SequenceInput): data are (N, C, T) or lists of (C, Tᵢ)."""
        return any(getattr(layer, "is_sequence", False) for layer in (self.input_layers or [self.input_layer]))

    @property
    def sequence_output(self) -> bool:
        """True for a sequence-to-sequence network: its output keeps the time axis ((K, None))."""
        shape = self.output_shape
        return bool(shape) and shape[-1] is None

    @property
    def initialized(self) -> bool:
        """True once every layer knows its shapes and has its parameters."""
        return all(layer.initialized for layer in self.layers)

    @property
    def input_shape(self) -> tuple[int, ...] | dict[str, tuple[int, ...]] | None:
        """Per-example input shape (no N); several inputs: ``{input layer name: shape}``."""
        if self.is_chain or len(self.input_layers) == 1:
            return (self.layers[0] if self.is_chain else self.input_layers[0]).input_shape
        return {layer.name: layer.input_shape for layer in self.input_layers}

    @property
    def output_shape(self) -> tuple[int, ...] | dict[str, Any] | None:
        """Per-example output shape (no N); several outputs: ``{output layer name: shape}``."""
        if self.is_chain or len(self.output_layers) == 1:
            return self.output_layers[0].output_shape
        return {layer.name: layer.output_shape for layer in self.output_layers}

    def __getitem__(self, name: str | int) -> Layer:
        if isinstance(name, int):
            return self.layers[name]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers: {[layer.name for layer in self.layers]}")

    def __len__(self) -> int:
        return len(self.layers)

    # ---------------------------------------------------------------- life cycle
    def initialize(self, input_shape: Sequence[int] | None = None, rng: np.random.Generator | None = None,
                   dtype: Any = "float32", device: str | Device = "cpu") -> Network:
        """Infer every layer's shapes from the per-example ``input_shape`` and create missing weights.

        ``input_shape`` defaults to the input layer's size.  Weights are drawn on the host from ``rng`` in float64
        (in layer order), cast to ``dtype`` and moved to ``device``; existing weights are kept.  Returns self.
        """
        dt = check_dtype(dtype)
        if not self.is_chain:
            return self._initialize_graph(input_shape, rng, dt, device)
        if input_shape is None:
            if self.input_layer is None:
                raise ValueError("input_shape: got None; allowed: the per-example input shape (the network has no "
                                 "input layer to take it from)")
            input_shape = self.input_layer.size
        if not isinstance(input_shape, (tuple, list)) or not all(
                (s is None and i == len(input_shape) - 1 and i > 0) or (isinstance(s, (int, np.integer)) and s > 0)
                for i, s in enumerate(input_shape)):
            raise ValueError(f"input_shape: got {input_shape!r}; allowed: a tuple of positive integers (no N), the "
                             "last one None for a time axis (C, None)")
        rng = rng if rng is not None else np.random.default_rng(0)
        shape = tuple(None if s is None else int(s) for s in input_shape)
        for layer in self.layers:
            shape = layer.initialize(shape, rng=rng, dtype=dt, device=device)
        self.dtype, self.device = dt, get_device(device)
        if self.rng is None:
            self.set_rng(rng)
        return self

    def _initialize_graph(self, input_shape, rng, dt: np.dtype, device) -> Network:
        """Shapes through the graph in :attr:`layers` order: each layer gets its sources' output shapes (a list for
        a layer with several inputs); a layer's size error is raised naming it."""
        names = [layer.name for layer in self.input_layers]
        if input_shape is None:
            shapes = [layer.size for layer in self.input_layers]
        elif isinstance(input_shape, dict):
            if set(input_shape) != set(names):
                raise ValueError(f"input_shape: got keys {sorted(input_shape)}; allowed: the input layers {names}")
            shapes = [input_shape[n] for n in names]
        elif len(names) > 1:
            if not isinstance(input_shape, (list, tuple)) or len(input_shape) != len(names) or \
                    not all(isinstance(v, (list, tuple)) for v in input_shape):
                raise ValueError(f"input_shape: got {input_shape!r}; allowed: one shape per input layer {names} (a "
                                 "list or a dict by name)")
            shapes = list(input_shape)
        else:
            shapes = [input_shape]
        rng = rng if rng is not None else np.random.default_rng(0)
        at = {id(layer): k for k, layer in enumerate(self.input_layers)}
        for i, layer in enumerate(self.layers):
            src = self._srcs[i]
            if not src:
                shape = shapes[at[id(layer)]] if id(layer) in at else ()
                shape = tuple(None if s is None else int(s) for s in shape)
            else:
                got = [self._output_shape_of(j, p) for j, p in src]
                shape = got if len(layer.input_names) != 1 else got[0]
            try:
                layer.initialize(shape, rng=rng, dtype=dt, device=device)
            except ValueError as e:
                if str(e).startswith(f"layer {layer.name!r}"):
                    raise
                raise ValueError(f"layer {layer.name!r}: {e}") from e
        self.dtype, self.device = dt, get_device(device)
        if self.rng is None:
            self.set_rng(rng)
        return self

    def _output_shape_of(self, j: int, p: int):
        layer = self.layers[j]
        return layer.output_shape[p] if len(layer.output_names) > 1 else layer.output_shape

    def set_rng(self, rng: np.random.Generator) -> None:
        """Give the layers that draw random numbers (dropout) the run's one host generator."""
        self.rng = rng
        for layer in self.layers:
            if hasattr(layer, "rng"):
                layer.rng = rng

    def set_shard(self, rows: tuple[int, int, int] | None, reduce=None) -> None:
        """A data-parallel worker's part of the next forwards (docs/parallel.md): ``rows`` (lo, hi, B), this worker
        computes rows lo:hi of mini-batches of B (dropout draws the whole batch's mask and keeps those rows);
        ``reduce`` sums a (K,) device array over the workers (batch normalization's whole-batch statistics).
        ``set_shard(None)``: one process again."""
        for layer in self.layers:
            if hasattr(layer, "shard"):
                layer.shard = rows
            if hasattr(layer, "reduce"):
                layer.reduce = None if rows is None else reduce

    def to(self, device: str | Device, dtype: Any = None) -> Network:
        """Move (and optionally cast) every parameter and state array to ``device``.  Returns self."""
        dt = check_dtype(dtype) if dtype is not None else self.dtype
        for layer in self.layers:
            layer.to(device, dt)
        self.device, self.dtype = get_device(device), dt
        return self

    def copy(self) -> Network:
        """An independent deep copy (parameters, state, classes; the generator is shared, not copied)."""
        generators = [self.rng] + [getattr(layer, "rng", None) for layer in self.layers]
        shared = {id(g): g for g in generators if g is not None}  # deepcopy's memo: these are reused as they are
        return copy.deepcopy(self, shared)

    # ---------------------------------------------------------------- computation
    def _check_ready(self) -> None:
        if not self.initialized:
            raise RuntimeError("the network is not initialized; call net.initialize(input_shape, rng, dtype)")

    def forward(self, x, training: bool = False, mask=None):
        """x: (N, *input_shape) on the network's device -> the output before the loss, (N, *output_shape).

        ``training=True`` uses batch statistics and dropout and keeps what backward needs.  ``mask`` (N, T), for
        sequences (N, C, T): 1 at real and 0 at padded steps; passed to the layers whose ``uses_mask`` is True
        (as ``forward(x, training, mask=mask)``), the others are called as ``forward(x, training)``.
        """
        self._check_ready()
        if self.is_chain and not isinstance(x, dict):
            for layer in self.layers:
                x = layer.forward(x, training, mask=mask) if layer.uses_mask else layer.forward(x, training)
            return x
        outs = self._run(self._graph_inputs(x, "x"), training, mask)
        return self._sinks(outs)

    def _graph_inputs(self, x, arg: str) -> list:
        """x for the input layers, in :attr:`input_layers` order: an array (one input), a dict by name or a tuple."""
        names = [layer.name for layer in self.input_layers]
        if isinstance(x, dict):
            if set(x) != set(names):
                raise ValueError(f"{arg}: got a dict with keys {sorted(x)}; allowed: the input layers' names {names}")
            return [x[n] for n in names]
        if len(names) > 1:
            if not isinstance(x, (tuple, list)) or len(x) != len(names):
                raise ValueError(f"{arg}: got {type(x).__name__}; allowed: a tuple of {len(names)} arrays (one per "
                                 f"input layer {names}) or a dict by name")
            return list(x)
        return [x]

    def _run(self, inputs: list, training: bool, mask=None, stop: int | None = None) -> list:
        """Every layer's outputs (a tuple per layer) in :attr:`layers` order, up to layer ``stop``."""
        outs: list = [None] * len(self.layers)
        k = 0
        for i, layer in enumerate(self.layers):
            src = self._srcs[i]
            if not src:
                x, k = (inputs[k], k + 1) if isinstance(layer, InputLayer) else (None, k)
            elif len(layer.input_names) == 1:
                j, p = src[0]
                x = outs[j][p]
            else:
                x = [outs[j][p] for j, p in src]
            y = layer.forward(x, training, mask=mask) if layer.uses_mask else layer.forward(x, training)
            outs[i] = tuple(y) if len(layer.output_names) > 1 else (y,)
            if i == stop:
                break
        return outs

    def _sinks(self, outs: list):
        """The network's outputs from :meth:`_run`'s: an array (one output) or ``{output layer name: array}``."""
        got = {}
        for layer in self.output_layers:
            y = outs[self._index[layer.name]]
            got[layer.name] = y if len(layer.output_names) > 1 else y[0]
        return next(iter(got.values())) if len(got) == 1 else got

    def _require_output(self) -> OutputLayer:
        if self.output_layer is None:
            raise ValueError("the network has no output layer (ClassificationOutput or RegressionOutput) to define "
                             "a loss")
        return self.output_layer

    def loss(self, y, t, mask=None) -> float:
        """The mean data loss over the batch (float).  y: forward's output; t: class indices (N,), one-hot (N, K),
        or regression targets (N, R); sequence-to-sequence: (N, T) class indices or (N, R, T), with ``mask``.
        Several losses: y and t dicts by loss layer name; the total Σ weight·loss (:attr:`loss_weights`)."""
        return float(self.loss_array(y, t, mask))

    def loss_array(self, y, t, mask=None):
        """The mean data loss as a 0-d array on the device (no host round trip).  ``mask`` (N, T) is passed to the
        loss only when given (sequence-to-sequence batches).  Several losses: Σ weight·loss."""
        if self.is_chain:
            out = self._require_output()
            return out.loss_array(y, t) if mask is None else out.loss_array(y, t, mask=mask)
        total = None
        for out, yy, tt, w in self._loss_terms(y, t):
            value = out.loss_array(yy, tt) if mask is None else out.loss_array(yy, tt, mask=mask)
            value = value if w == 1.0 else value * w
            total = value if total is None else total + value
        return total

    def _loss_terms(self, y, t) -> list:
        """(loss layer, its y, its t, its weight) for each loss layer."""
        losses = self.loss_layers
        if not losses:
            self._require_output()
        one = len(losses) == 1
        out = []
        for layer in losses:
            yy = y[layer.name] if isinstance(y, dict) else y
            if isinstance(t, dict):
                if layer.name not in t:
                    raise ValueError(f"t: no targets for the loss layer {layer.name!r}; got keys {sorted(t)}")
                tt = t[layer.name]
            elif one:
                tt = t
            else:
                raise ValueError(f"t: got {type(t).__name__}; allowed: a dict of targets by loss layer name "
                                 f"{[x.name for x in losses]}")
            out.append((layer, yy, tt, float(self.loss_weights.get(layer.name, 1.0))))
        return out

    def backward(self, y, t, need_input_gradient: bool = False, mask=None, scale: float = 1.0):
        """Backpropagate the loss of (y, t) through every layer after a training forward; fills ``grads``.

        The first layer after the input skips its input gradient unless ``need_input_gradient`` (nothing before it
        learns).  Returns dL/dx at that layer's input, or None when it was skipped.  ``mask`` (N, T): the real
        steps of a sequence-to-sequence batch, passed to the loss gradient (only when given).  A graph: layers in
        reverse :attr:`layers` order, the gradients of an output feeding several layers summed; returns the
        gradient at each input layer's output (a dict by name with several inputs); a layer no loss reaches gets
        zero gradients.  ``scale``: the loss gradient (each loss's, weighted) times this factor first (a
        data-parallel worker's rows/B: the gradient of the whole mini-batch's mean loss).
        """
        if not self.is_chain:
            return self._graph_backward(y, t, need_input_gradient, mask, scale)
        out = self._require_output()
        dy = out.loss_gradient(y, t) if mask is None else out.loss_gradient(y, t, mask=mask)
        if scale != 1.0:
            dy = dy * dy.dtype.type(scale)
        body = [layer for layer in self.layers[:-1] if not isinstance(layer, InputLayer)]
        if not body:
            return dy
        first, saved = body[0], body[0].compute_input_gradient
        first.compute_input_gradient = need_input_gradient
        try:
            for layer in reversed(body):
                dy = layer.backward(dy)
        finally:
            first.compute_input_gradient = saved
        return dy

    def _graph_backward(self, y, t, need_input_gradient: bool, mask, scale: float = 1.0):
        layers = self.layers
        dys: list = [[None] * max(1, len(layer.output_names)) for layer in layers]
        for out, yy, tt, w in self._loss_terms(y, t):
            g = out.loss_gradient(yy, tt) if mask is None else out.loss_gradient(yy, tt, mask=mask)
            w = w * scale
            dys[self._index[out.name]][0] = g if w == 1.0 else g * w
        first = [layers[i] for i in self._fed_by_inputs]
        saved = [layer.compute_input_gradient for layer in first]
        for layer in first:
            layer.compute_input_gradient = need_input_gradient
        try:
            for i in range(len(layers) - 1, -1, -1):
                layer, src = layers[i], self._srcs[i]
                if not src:
                    continue
                got = dys[i]
                if all(g is None for g in got):             # nothing reached this layer: no gradient through it
                    layer._cache = None
                    xp = get_array_module(next(iter(layer.params.values()))) if layer.params else np
                    layer.grads = {k: xp.zeros_like(v) for k, v in layer.params.items()}
                    continue
                dx = layer.backward(got if len(layer.output_names) > 1 else got[0])
                dxs = dx if len(layer.input_names) != 1 else [dx]
                for (j, p), g in zip(src, dxs):
                    if g is not None:
                        dys[j][p] = g if dys[j][p] is None else dys[j][p] + g
        finally:
            for layer, old in zip(first, saved):
                layer.compute_input_gradient = old
        grads = {layer.name: dys[self._index[layer.name]][0] for layer in self.input_layers}
        return next(iter(grads.values())) if len(grads) == 1 else grads

    def predict(self, x, batch_size: int = 128, sequence_length: str | int = "longest",
                sequence_padding_value: float = 0.0, sequence_padding_direction: str = "right"):
        """Outputs for host or device data x, in mini-batches; returns a host array (N, *output_shape).

        ``x``: an array (N, *input_shape); a list (or tuple) of arrays, either N observations of shape input_shape
        (stacked) or chunks of shape (nᵢ, *input_shape) (concatenated, in order); or a mini-batch source
        (:mod:`minidl.training.data`, e.g. a datastore: its X, observations 0 … N − 1 in order, labels ignored).
        Input is moved to the network's device batch by batch.

        A sequence network (:attr:`is_sequence`) takes a list of (C, Tᵢ) arrays or an (N, C, T) array, padded per
        mini-batch by the sequence options (:func:`minidl.sequences.pad_batch`; an integer ``sequence_length`` runs
        the chunks one after the other with the recurrent state carried, from the initial state: the result equals
        the whole-sequence one; the network's carried state is left as it was).  Sequence-to-sequence outputs come
        back as a list of (K, Tᵢ) arrays, each trimmed to its sequence's steps; sequence-to-label as (N, K).
        """
        if not self.is_chain:
            return self._graph_activations(x, None, batch_size)
        return self.activations(x, len(self.layers) - 1, batch_size, sequence_length, sequence_padding_value,
                                sequence_padding_direction)

    def activations(self, x, layer: str | int, batch_size: int = 128, sequence_length: str | int = "longest",
                    sequence_padding_value: float = 0.0, sequence_padding_direction: str = "right"):
        """The output of one layer (its name or 0-based index) for x: (N, *input_shape), prediction mode, in
        mini-batches; returns a host array (N, *that layer's output shape) (sequences: see :meth:`predict`)."""
        self._check_ready()
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: got {batch_size!r}; allowed: a positive integer")
        if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool) and not 0 <= layer < len(self):
            raise ValueError(f"layer: got {layer!r}; allowed: 0 to {len(self) - 1} or a layer name")
        stop = self.layers.index(self[layer if isinstance(layer, str) else int(layer)])
        if not self.is_chain:
            return self._graph_activations(x, stop, batch_size)
        if self.is_sequence:
            return self._sequence_activations(x, stop, batch_size, sequence_length, sequence_padding_value,
                                              sequence_padding_direction, update_state=False)
        outs = []
        for chunk in self._input_batches(x, batch_size):
            y = to_device(chunk, self.device, dtype=self.dtype)
            for lay in self.layers[:stop + 1]:
                y = lay.forward(y, False)
            outs.append(to_host(y))
        shape = tuple(self.layers[stop].output_shape)
        return np.concatenate(outs) if outs else np.zeros((0,) + shape, dtype=self.dtype)

    def _graph_activations(self, x, stop: int | None, batch_size: int):
        """A graph's outputs (``stop`` None: :meth:`forward`'s, as host arrays or a dict of them) or layer ``stop``'s
        output for x (one input: as :meth:`predict`; several: a dict by input layer name or a tuple of arrays)."""
        self._check_ready()
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: got {batch_size!r}; allowed: a positive integer")
        if self.is_sequence:
            raise NotSupportedYetError("predict: a graph network with a sequence input; allowed: a chain network "
                                       "for sequences (graphs of sequences are not built yet)")
        if len(self.input_layers) == 1 and not isinstance(x, dict):
            batches = ([chunk] for chunk in self._input_batches(x, batch_size))
        else:
            xs = [np.asarray(to_host(v)) for v in self._graph_inputs(x, "x")]
            for layer, v in zip(self.input_layers, xs):
                if tuple(v.shape[1:]) != tuple(layer.input_shape) or len(v) != len(xs[0]):
                    raise ValueError(f"x[{layer.name!r}]: got shape {tuple(v.shape)}; expected (N, "
                                     f"{', '.join(map(str, layer.input_shape))}) with the N of the first input "
                                     f"({len(xs[0])})")
            batches = ([v[i:i + batch_size] for v in xs] for i in range(0, len(xs[0]), batch_size))
        got: list = []
        for chunk in batches:
            outs = self._run([to_device(v, self.device, dtype=self.dtype) for v in chunk], False, stop=stop)
            y = outs[stop][0] if stop is not None else self._sinks(outs)
            got.append({k: to_host(v) for k, v in y.items()} if isinstance(y, dict) else to_host(y))
        if stop is not None:
            return np.concatenate(got)
        if got and isinstance(got[0], dict):
            return {k: np.concatenate([g[k] for g in got]) for k in got[0]}
        return np.concatenate(got)

    # ---------------------------------------------------------------- sequences and recurrent state
    def _sequence_activations(self, x, stop: int, batch_size: int, sequence_length, value, direction,
                              update_state: bool):
        """Padded mini-batches of sequences through layers 0 … stop (see :meth:`predict`).

        ``update_state`` False: each mini-batch starts from the initial state and the network's carried state is
        restored afterwards; True (:meth:`predict_and_update_state`): one mini-batch, from the carried state, which
        is kept.
        """
        length = S.check_sequence_length(sequence_length)
        value = S.check_padding_value(value)
        direction = S.check_direction(direction)
        seqs = S.as_sequences(x, "x", channels=self.input_shape[0])
        lengths = S.sequence_lengths(seqs)
        check = getattr(self.input_layer, "check_lengths", None)
        if check is not None:
            check(lengths)
        recurrent = self._recurrent_layers()
        saved = [layer.carried for layer in recurrent]
        outs: list = []
        try:
            for i in range(0, len(lengths), batch_size):
                xb, mask, lb = S.pad_batch(seqs[i:i + batch_size], length, value, direction, dtype=self.dtype)
                if not update_state:
                    self.reset_state()
                with self.carrying_state(update_state or isinstance(length, int)):
                    ys = []
                    for part in S.chunks(xb.shape[2], length):
                        y = to_device(xb[:, :, part], self.device, dtype=self.dtype)
                        m = to_device(mask[:, part], self.device, dtype=self.dtype)
                        for lay in self.layers[:stop + 1]:
                            y = lay.forward(y, False, mask=m) if lay.uses_mask else lay.forward(y, False)
                        ys.append(to_host(y))
                shape = self.layers[stop].output_shape
                if shape and shape[-1] is None:                     # a time axis: the chunks joined, then trimmed
                    outs += S.trim_outputs(np.concatenate(ys, axis=-1), lb, direction)
                else:                                               # sequence-to-label: after the last chunk
                    outs.append(ys[-1])
        finally:
            if not update_state:
                for layer, carried in zip(recurrent, saved):
                    layer.carried = carried
        shape = self.layers[stop].output_shape
        if shape and shape[-1] is None:
            return outs
        return np.concatenate(outs)

    def predict_and_update_state(self, x, batch_size: int = 128, sequence_length: str | int = "longest",
                                 sequence_padding_value: float = 0.0, sequence_padding_direction: str = "right"):
        """Predict x (sequences, one mini-batch) from the network's carried recurrent state and keep the state it
        ends in, for step-by-step forecasting (MATLAB's predictAndUpdateState; :meth:`reset_state` starts over).

        A recurrent layer starts from its carried state when that state's N equals x's, else from its initial
        state (a new number of sequences starts fresh).  Returns what :meth:`predict` returns.

        Raises:
            NotSupportedYetError: more sequences than ``batch_size`` (the state of several mini-batches would not be
                one state).
        """
        self._check_ready()
        if not self.is_sequence:
            raise ValueError("predict_and_update_state: the network has no SequenceInput; allowed: sequence networks")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: got {batch_size!r}; allowed: a positive integer")
        n = len(x) if isinstance(x, (list, tuple)) else int(np.shape(x)[0])
        if n > batch_size:
            raise NotSupportedYetError(f"predict_and_update_state: {n} sequences with batch_size {batch_size}; "
                                       "allowed: at most batch_size sequences (one mini-batch carries one state)")
        return self._sequence_activations(x, len(self.layers) - 1, batch_size, sequence_length,
                                          sequence_padding_value, sequence_padding_direction, update_state=True)

    def _recurrent_layers(self) -> list[Layer]:
        """The layers that carry a recurrent state (``carry_state`` and ``carried`` attributes)."""
        return [layer for layer in self.layers if hasattr(layer, "carry_state") and hasattr(layer, "carried")]

    def reset_state(self) -> None:
        """Forget the carried recurrent state of every layer that has one (MATLAB's resetState)."""
        for layer in self.layers:
            reset = getattr(layer, "reset_state", None)
            if callable(reset):
                reset()

    @contextlib.contextmanager
    def carrying_state(self, flag: bool = True) -> Iterator[Network]:
        """A context in which every recurrent layer's ``carry_state`` is ``flag`` (restored on exit)."""
        recurrent = self._recurrent_layers()
        saved = [layer.carry_state for layer in recurrent]
        try:
            for layer in recurrent:
                layer.carry_state = bool(flag)
            yield self
        finally:
            for layer, old in zip(recurrent, saved):
                layer.carry_state = old

    def recurrent_state(self) -> dict[str, np.ndarray]:
        """The carried state of every recurrent layer as host copies, keyed ``"<layer>.<key>"`` (e.g.
        ``"lstm_1.hidden"`` (N, H)); a layer without a carried state adds nothing."""
        return {f"{layer.name}.{k}": np.array(to_host(v)) for layer in self._recurrent_layers()
                for k, v in (layer.carried or {}).items()}

    def set_recurrent_state(self, arrays: dict[str, Any]) -> None:
        """Set the carried states from :meth:`recurrent_state` output, on the network's device and dtype; a
        recurrent layer with no key in ``arrays`` gets no carried state (None)."""
        recurrent = self._recurrent_layers()
        names = {layer.name for layer in recurrent}
        unknown = sorted(k for k in arrays if k.split(".", 1)[0] not in names or "." not in k)
        if unknown:
            raise ValueError(f"arrays: keys {unknown} name no recurrent layer; allowed: '<layer>.<key>' for "
                             f"{sorted(names)}")
        for layer in recurrent:
            mine = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.split(".", 1)[0] == layer.name}
            layer.carried = {k: to_device(np.asarray(v), self.device, dtype=self.dtype)
                             for k, v in mine.items()} if mine else None

    def _input_batches(self, x, batch_size: int):
        """Chunks (≤ batch_size, *input_shape) of an array, a list of arrays or a mini-batch source (see predict)."""
        want = f"(N, {', '.join(map(str, self.input_shape))})"
        if hasattr(x, "__len__") and callable(getattr(x, "batches", None)):      # a mini-batch source
            for k, (xb, _) in enumerate(x.batches(np.arange(len(x), dtype=np.int64), batch_size)):
                if tuple(xb.shape[1:]) != self.input_shape:
                    raise ValueError(f"x: the source's batch {k} has shape {tuple(xb.shape)}; expected {want}")
                yield xb
            return
        if isinstance(x, (list, tuple)):
            items = [np.asarray(to_host(v)) for v in x]
            k = len(self.input_shape)
            if items and all(v.shape == self.input_shape for v in items):
                x = np.stack(items)                                             # N observations
            elif items and all(v.ndim == k + 1 and v.shape[1:] == self.input_shape for v in items):
                x = np.concatenate(items)                                       # chunks of observations
            else:
                shapes = sorted({tuple(v.shape) for v in items})
                raise ValueError(f"x: a list of arrays of shapes {shapes[:4]}; allowed: a non-empty list of "
                                 f"observations {self.input_shape} or of chunks {want}")
        if not hasattr(x, "shape"):
            raise TypeError(f"x: got {type(x).__name__}; allowed: an array {want}, a list of arrays or a mini-batch "
                            "source")
        if getattr(x, "dtype", None) is not None and x.dtype.kind not in "iuf":
            raise TypeError(f"x: got dtype {x.dtype}; allowed: real numbers (float or integer arrays)")
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"x: got shape {tuple(x.shape)}; expected {want}")
        for i in range(0, len(x), batch_size):
            yield x[i:i + batch_size]

    def classify(self, x, batch_size: int = 128, sequence_length: str | int = "longest",
                 sequence_padding_value: float = 0.0, sequence_padding_direction: str = "right"):
        """Predicted labels for x: the class of highest probability, as the labels trained on (``classes``).

        Sequence-to-sequence: a list of (Tᵢ,) label arrays, one per sequence (the sequence options as in
        :meth:`predict`).
        """
        if not self.is_classifier:
            raise ValueError("classify: the network is not a classifier (no ClassificationOutput); use predict")
        y = self.predict(x, batch_size, sequence_length, sequence_padding_value, sequence_padding_direction)
        return self.labels_of(y)

    def labels_of(self, y):
        """Class probabilities → labels: (N, K) → (N,), or a list of (K, Tᵢ) → a list of (Tᵢ,)."""
        if isinstance(y, list):
            return [self.labels_of(yi.T) for yi in y]
        idx = np.argmax(y, axis=1)
        return self.classes[idx] if self.classes is not None else idx

    def __call__(self, x, prop=None, batch_size: int = 128):
        """The network applied to x: (N, *input_shape), decoded as Wolfram's ``net[x]`` and ``net[x, prop]``.

        With a decoder (``self.decoder``), or classes (``classes``, set by training on labels) and one output per
        class: labels (``prop`` None or "Decision"), ``"Probabilities"`` (N, K) or ``("Probability", c)`` (N,).
        Otherwise the outputs (``predict``); ``prop`` must then be None. With ``sequence_layout == "TC"``
        (Wolfram's form), sequences go in as (Tᵢ, C) lists of vectors and per-step outputs come out as (Tᵢ, K).
        """
        tc = self.sequence_layout == "TC" and self.is_sequence
        if tc:
            x = [np.asarray(to_host(s)).T if np.ndim(s) == 2 else np.asarray(to_host(s))[None, :] for s in x]
        y = self.predict(x, batch_size)
        decoder = self.decoder
        if decoder is None and self.classes is not None and tuple(self.output_shape)[:1] == (len(self.classes),):
            decoder = ClassDecoder(self.classes)
        if decoder is not None:
            if isinstance(y, list):                          # sequence-to-sequence: each sequence's (Tᵢ, K) steps
                return [decoder.decode(yi.T, prop) for yi in y]
            return decoder.decode(y, prop)
        if prop is not None:
            raise ValueError(f"prop: got {prop!r}; allowed: None (the network has no decoder: no classes)")
        return [yi.T for yi in y] if tc and isinstance(y, list) else y

    # ---------------------------------------------------------------- named arrays
    def _named(self, table: str) -> dict[str, Any]:
        return {f"{layer.name}.{k}": v for layer in self.layers for k, v in getattr(layer, table).items()}

    @property
    def params(self) -> dict[str, Any]:
        """Learnable arrays in layer order: ``{"conv_1.weight": (F, C, KH, KW), "fc_1.weight": (O, I), ...}``."""
        return self._named("params")

    @property
    def grads(self) -> dict[str, Any]:
        """Gradients of the last backward, same keys as ``params``."""
        return self._named("grads")

    @property
    def state(self) -> dict[str, Any]:
        """Non-learnable persistent arrays (normalization statistics, batch-norm statistics)."""
        return self._named("state")

    @property
    def learn_rate_factors(self) -> dict[str, float]:
        """Per-array learn-rate factors (0 freezes), same keys as ``params``."""
        return {f"{layer.name}.{k}": layer.learn_rate_factors.get(k, 1.0)
                for layer in self.layers for k in layer.params}

    @property
    def l2_factors(self) -> dict[str, float]:
        """Per-array L2 factors (MATLAB: weights 1, biases 0, batch-norm scale and offset 1)."""
        return {f"{layer.name}.{k}": layer.l2_factors.get(k, 1.0) for layer in self.layers for k in layer.params}

    # ---------------------------------------------------------------- flat buffers (docs/gpu.md#launches)
    def flat_buffers(self) -> list[FlatGroup]:
        """The parameters in one flat buffer per dtype and device, ``layer.params[k]`` being views into it.

        Built on first use (the values copied in; each ``layer.params[k]`` becomes its view, so every per-array API
        sees the same numbers) and rebuilt when an array was replaced since (a move, a load, a user's assignment):
        a cheap identity check per array, no device work.  Each group also holds a flat gradient buffer that
        :meth:`gather_grads` fills.
        """
        groups = getattr(self, "_flat", None)
        named = [(layer, k, v) for layer in self.layers for k, v in layer.params.items()]
        if groups is not None and groups.current(named):
            return groups.groups
        by_kind: dict[tuple, list] = {}
        for layer, k, v in named:
            by_kind.setdefault((str(v.dtype), device_of(v).name), []).append((layer, k, v))
        built = []
        for members in by_kind.values():
            layout = FlatLayout({f"{layer.name}.{k}": v for layer, k, v in members})
            params, grads = layout.zeros(), layout.zeros()
            for layer, k, v in members:
                view = layout.view(params, f"{layer.name}.{k}")
                get_array_module(view).copyto(view, v)
                layer.params[k] = view
            built.append(FlatGroup(layout, params, grads, members))
        self._flat = _FlatGroups(built)
        return built

    def gather_grads(self) -> list[FlatGroup]:
        """After :meth:`backward`: every gradient into its group's flat buffer, ``layer.grads[k]`` becoming its view.

        A gradient a layer wrote into the view already (in place) costs nothing; otherwise all of a group's
        gradients go in with one concatenation (one launch), or one copy each when only some are new.
        Returns :meth:`flat_buffers`.
        """
        groups = self.flat_buffers()
        for group in groups:
            buf = group.grads
            new = []
            for layer, k in group.members:
                name = f"{layer.name}.{k}"
                if k not in layer.grads:
                    raise ValueError(f"{name}: no gradient; call backward after a training forward first")
                view = group.grad_views[name]
                if layer.grads[k] is not view:
                    new.append((layer, k, name, view))
            if not new:
                continue
            xp = get_array_module(buf)
            if len(new) == len(group.members):        # every gradient is a new array: one concatenation
                xp.concatenate([layer.grads[k].reshape(-1) for layer, k, _, _ in new], out=buf)
            else:
                for layer, k, _, view in new:
                    xp.copyto(view, layer.grads[k])
            for layer, k, _, view in new:
                layer.grads[k] = view
        return groups

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every parameter and state array as host copies: ``{"params/conv_1.weight": ..., "state/...": ...}``."""
        out = {f"params/{k}": np.array(to_host(v)) for k, v in self.params.items()}
        out.update({f"state/{k}": np.array(to_host(v)) for k, v in self.state.items()})
        return out

    def load_state_arrays(self, arrays: dict[str, Any]) -> None:
        """Set parameters and state from ``state_arrays()`` output (shapes must match), on the current device."""
        self._check_ready()
        expected = set(self.state_arrays())
        if set(arrays) != expected:
            raise ValueError(f"arrays: keys differ from the network's; missing {sorted(expected - set(arrays))}, "
                             f"unexpected {sorted(set(arrays) - expected)}")
        for layer in self.layers:
            for table_name in ("params", "state"):
                table = getattr(layer, table_name)
                for k, v in table.items():
                    new = arrays[f"{table_name}/{layer.name}.{k}"]
                    if tuple(new.shape) != tuple(v.shape):
                        raise ValueError(f"{table_name}/{layer.name}.{k}: got shape {tuple(new.shape)}; expected "
                                         f"{tuple(v.shape)}")
                    table[k] = to_device(new, device_of(v), dtype=v.dtype)

    # ---------------------------------------------------------------- display
    def summary(self) -> Summary:
        """A table: layer name, (a graph: the inputs feeding it,) description, output size, learnables (and their
        count).

        The text (a ``str``; ``print(net.summary())``); in a notebook, ``net.summary()`` as a cell's value shows as
        an HTML table (``_repr_html_``).
        """
        graph = not self.is_chain
        rows = [("#", "Name") + (("Inputs",) if graph else ()) + ("Description", "Output size", "Learnables")]
        total = 0

        def size(shape) -> str:
            return "x".join("T" if d is None else str(d) for d in shape)

        for i, layer in enumerate(self.layers, 1):
            out = layer.output_shape
            shp = "?" if out is None else ", ".join(map(size, out)) if isinstance(out, list) else size(out) or "?"
            learn = ", ".join(f"{k} {'x'.join(map(str, v.shape))}" for k, v in layer.params.items())
            total += sum(int(v.size) for v in layer.params.values())
            inputs = ", ".join(self.layers[j].name if len(self.layers[j].output_names) == 1 else
                               f"{self.layers[j].name}/{self.layers[j].output_names[p]}"
                               for j, p in self._srcs[i - 1]) or "-"
            rows.append((str(i), layer.name) + ((inputs,) if graph else ()) +
                        (layer.describe().split(": ", 1)[-1], shp, learn or "-"))
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"Total learnables: {total}")
        return Summary("\n".join(lines), rows, total)

    def plot(self, ax=None):
        """A picture of the network (:func:`minidl.reporting.plot_network`: boxes with layer names and output sizes,
        arrows for connections); returns the matplotlib Axes."""
        if "network" not in PLOTTERS:
            raise RuntimeError("no network plotter is registered; import minidl (it registers "
                               "minidl.reporting.graph_plot.plot_network) or set minidl.network.PLOTTERS['network']")
        return PLOTTERS["network"](self, ax=ax)

    def __repr__(self) -> str:
        return f"Network({len(self.layers)} layers: {', '.join(layer.name for layer in self.layers)})"


class Summary(str):
    """The text of :meth:`Network.summary` (equal to it as a ``str``), shown as the table itself at a prompt and
    as an HTML table in notebooks (``_repr_html_``). ``rows``: the header and one tuple of cells per layer."""

    rows: list[tuple[str, ...]]
    total: int

    def __new__(cls, text: str, rows: list[tuple[str, ...]], total: int):
        out = super().__new__(cls, text)
        out.rows, out.total = list(rows), int(total)
        return out

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head, body = self.rows[0], self.rows[1:]
        cells = "".join(f"<th>{html.escape(c)}</th>" for c in head)
        lines = ["<table>", f"<thead><tr>{cells}</tr></thead>", "<tbody>"]
        for r in body:
            lines.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>")
        lines += ["</tbody>", f"<caption>Total learnables: {self.total}</caption>", "</table>"]
        return "\n".join(lines)


class FlatGroup:
    """The parameters of one dtype and device in one flat buffer (``params``) and their gradients in another
    (``grads``), laid out by ``layout`` (:class:`minidl.optim.flat.FlatLayout`); ``members`` the (layer, key, array)
    triples in layout order."""

    def __init__(self, layout: FlatLayout, params, grads, members: list) -> None:
        self.layout, self.params, self.grads = layout, params, grads
        self.members = [(layer, k) for layer, k, _ in members]
        self.param_views = {f"{layer.name}.{k}": layer.params[k] for layer, k, _ in members}
        self.grad_views = layout.views(grads)

    def __repr__(self) -> str:
        return f"FlatGroup({len(self.members)} arrays, {self.layout.size} {self.layout.dtype} on " \
               f"{self.layout.device.name})"


class _FlatGroups:
    """A network's flat groups and the check that they still hold its arrays (not copied with the network: a copy
    builds its own)."""

    def __init__(self, groups: list[FlatGroup]) -> None:
        self.groups = groups
        self._expected = [(layer, k, view) for g in groups for (layer, k), view in
                          zip(g.members, g.param_views.values())]

    def current(self, named: list) -> bool:
        """Whether every (layer, key, array) of ``named`` is still the view this set made for it, in order."""
        return len(named) == len(self._expected) and all(
            a is layer and ka == kb and v is view for (a, ka, v), (layer, kb, view) in zip(named, self._expected))

    def __deepcopy__(self, memo):
        return None

    def __reduce__(self):
        return (type(None), ())


def copy_network(layers_or_network: Network | Sequence[Layer], arg: str = "layers") -> Network:
    """A private copy of a Network or of a list of layers: training never modifies the caller's objects."""
    if isinstance(layers_or_network, Network):
        return layers_or_network.copy()
    if isinstance(layers_or_network, (Layer, str)) or not isinstance(layers_or_network, Sequence):
        raise TypeError(f"{arg}: got {type(layers_or_network).__name__}; allowed: a list of minidl layers or a "
                        "Network")
    return Network(copy.deepcopy(list(layers_or_network)))
