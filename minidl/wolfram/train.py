"""``NetTrain`` (Wolfram names) and ``net_train`` (snake_case): Wolfram's NetTrain on the one engine.

This module translates and does nothing else: the options become an :class:`~minidl.training.EngineConfig`
(method → optimizer, LearningRateSchedule → schedule, sub-options → L2 / clipping, BatchSize / MaxTrainingRounds
/ TimeGoal / RandomSeeding / WorkingPrecision / TargetDevice), the data forms become mini-batch sources, and
bookkeeping, stopping and reporting are observers (:mod:`minidl.wolfram.observers`).  The loop is the engine's:
a round is ``ceil(N / BatchSize)`` batches of BatchSize (the last filled with random examples), the same batches
every round in an order shuffled when there are more than 4; validation at every ``Interval`` and at the last
batch; batch-norm statistics as moving averages (docs/semantics-wolfram.md).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from minidl._checks import ArgNames, did_you_mean, named_device
from minidl.backend import Device
from minidl.layers._params import WeightBiasLayer
from minidl.layers.base import Layer
from minidl.network import Network, copy_network
from minidl.optim import ConstantSchedule, FunctionSchedule, PolynomialSchedule
from minidl.training import launch
from minidl.training.data import (
    ArraySource,
    SequenceSource,
    as_source,
    check_labels,
    is_source,
    sorted_classes,
    source_classes,
)
from minidl.training.info import InfoRecorder
from minidl.training.trainer import EngineConfig, Trainer
from minidl.wolfram import measurements
from minidl.wolfram import observers as obs
from minidl.wolfram import options as opt
from minidl.wolfram.data import (
    GeneratorSource,
    Scaled,
    as_arrays,
    as_sequences,
    generator_parts,
    is_generator_spec,
    named_dataset,
    port_arrays,
    split_scaled,
)
from minidl.wolfram.graph import PendingGraph
from minidl.wolfram.losses import PortLosses, choose_loss, graph_losses
from minidl.wolfram.options import OPTIONS, WOLFRAM_NAMES, NotSupportedYetError, is_automatic
from minidl.wolfram.parts import SEP, describe_schedule, part_arrays, update_groups
from minidl.wolfram.results import (
    EXPENSIVE,
    PROPERTIES,
    NetTrainResultsObject,
    custom_value,
    loss_plot,
    measurement_plot,
    parse_props,
)

__all__ = ["NetTrain", "net_train"]


# ================================================================================================ entry points
def NetTrain(net, data, prop=None, **options):
    """Train ``net`` on ``data`` with Wolfram's NetTrain semantics and option names (docs/semantics-wolfram.md).

    ``NetTrain(net, data)`` returns the trained net; ``NetTrain(net, data, "FinalNet")`` a property;
    ``NetTrain(net, data, ["TrainedNet", "RoundLossList"])`` a list; ``NetTrain(net, data, "All")`` a
    :class:`~minidl.wolfram.results.NetTrainResultsObject`.  Options: ``MaxTrainingRounds=5``,
    ``Method=("SGD", {"Momentum": 0.9})``, ``ValidationSet=Scaled(0.2)``, ... (docs/wolfram.md).

    Args:
        net: a :class:`~minidl.Network` or a list of layers; never modified.  A net ending in Softmax is trained
            with cross-entropy on class labels, any other with the mean squared loss, unless it ends in its own
            output layer.  Uninitialized layers are initialized from the data and RandomSeeding.
        data: (input, output) pairs, (inputs, outputs), {"Input": X, "Output": Y}, a named data set, a generator
            f({"BatchSize": n, "Round": r}) or (f, {"RoundLength": n}) (see :mod:`minidl.wolfram.data`).  Inputs
            (N, F) or (N, C, H, W); outputs (N,) labels or (N,) / (N, R) numbers.
        prop: None ("TrainedNet"), a property name, a custom spec dict, a list of those, or "All".
    """
    snake = {}
    for key, value in options.items():
        if key not in WOLFRAM_NAMES:
            raise _unknown_option("NetTrain", key, list(WOLFRAM_NAMES),
                                  f" (net_train takes snake_case; NetTrain takes {OPTIONS[key][0]!r})"
                                  if key in OPTIONS else "")
        snake[WOLFRAM_NAMES[key]] = value
    return _train(net, data, prop, snake, opt.ARG_NAMES, "NetTrain", options)


def net_train(net, data, prop=None, **options):
    """Train ``net`` on ``data`` with Wolfram's NetTrain semantics, options in snake_case.

    The Pythonic face of :func:`NetTrain`: ``max_training_rounds=5``, ``method=("SGD", {"momentum": 0.9})``,
    ``validation_set=Scaled(0.2)``, ``random_seeding=1234``, ... ; the same data forms, properties and results.
    """
    for key in options:
        if key not in OPTIONS:
            raise _unknown_option("net_train", key, list(OPTIONS),
                                  f" (that is NetTrain's spelling; net_train takes {WOLFRAM_NAMES[key]!r})"
                                  if key in WOLFRAM_NAMES else "")
    return _train(net, data, prop, dict(options), ArgNames(), "net_train", options)


def _unknown_option(func: str, key: str, allowed: list[str], hint: str) -> TypeError:
    hint = hint or did_you_mean(key, allowed)
    return TypeError(f"{func}: unknown option {key!r}{hint}; allowed: {', '.join(allowed)}")


# ================================================================================================ the network
def _rebuilt(layers: list[Layer], like: Network) -> Network:
    """A Network of ``layers`` carrying ``like``'s dtype, device, classes and generator."""
    out = Network(layers)
    out.dtype, out.device, out.classes = like.dtype, like.device, like.classes
    out.decoder = like.decoder                       # NetDecoder: how net(x) reads the outputs
    out.sequence_layout = like.sequence_layout       # Wolfram's (T, C) sequences in net(x)
    if like.rng is not None:
        out.set_rng(like.rng)
    return out


@dataclass
class _NetParts:
    """The network being trained and how to give it back as NetTrain returns it."""

    train: Network
    attached: bool                                   # True: NetTrain attached the last layer (the loss)
    graph: Network | None = None                     # a graph as given: it shares its layers with ``train``
    targets: dict[str, str | None] | None = None     # graph: loss layer -> its data port (None: needs none)

    def returned(self) -> Network:
        """A copy at the current weights: the input's layers (no attached loss; factors as given, since NetTrain's
        multipliers reach the engine through its config, not the layers).  A graph: the graph as given."""
        if self.graph is not None:
            dup = self.graph.copy()
            dup.dtype, dup.device, dup.classes = self.train.dtype, self.train.device, self.train.classes
            return dup
        dup = self.train.copy()
        return _rebuilt(dup.layers[:-1] if self.attached else dup.layers, dup)


def _netinitialize_defaults(net: Network) -> None:
    """NetInitialize's default for the layers NetTrain initializes (docs/semantics-wolfram.md#14-initialization-and-
    precision): weights Kaiming normal N(0, 2/fan_in) where the layer kept minidl's default initializer ("normal",
    N(0, 0.01²)) and has no weights yet; biases stay zero.  Given arrays and other initializers are kept."""
    for layer in net.layers:
        if (isinstance(layer, WeightBiasLayer) and "weight" not in layer.params
                and layer._given.get("weight") is None and isinstance(layer.weights_initializer, str)
                and layer.weights_initializer == "normal"):
            layer.weights_initializer = "he"


def _graph_network(net: Network, loss_spec, name: ArgNames) -> _NetParts:
    """A graph with ports (NetGraph, NetGANOperator): its losses per LossFunction (docs/semantics-wolfram.md#16-
    graphs-ports-and-update-schedules), the training net made of the graph's own layers (shared: the graph as
    given is the trained one) and the losses, pruned to what the losses need."""
    graph = net.copy()
    _netinitialize_defaults(graph)
    if getattr(graph, "gan_loss", None) is not None:
        if not is_automatic(loss_spec):
            raise ValueError(f"{name('loss_function')}: got {loss_spec!r}; a NetGANOperator has its own losses "
                             "(LossReal + LossFake); allowed: 'Automatic'")
        pl = PortLosses(weights={"Loss": 1.0}, targets={"Loss": None})
    else:
        pl = graph_losses(graph, loss_spec, name("loss_function"))
    layers = list(graph.layers) + [loss for loss, _ in pl.attach]
    pairs = list(graph.connections) + [(src, loss.name) for loss, src in pl.attach]
    keep: set[str] = set()
    feeds: dict[str, set[str]] = {}
    for s_, d_ in pairs:
        feeds.setdefault(d_.split("/", 1)[0], set()).add(s_.split("/", 1)[0])
    todo = list(pl.weights)
    while todo:
        n = todo.pop()
        if n not in keep:
            keep.add(n)
            todo.extend(feeds.get(n, ()))
    layers = [layer for layer in layers if layer.name in keep]
    pairs = [(a, b) for a, b in pairs if a.split("/", 1)[0] in keep and b.split("/", 1)[0] in keep]
    train = Network(layers, connections=pairs)
    train.loss_weights = {k: float(w) for k, w in pl.weights.items()}
    train.dtype, train.device, train.classes, train.decoder = graph.dtype, graph.device, graph.classes, graph.decoder
    if graph.rng is not None:
        train.set_rng(graph.rng)
    return _NetParts(train, bool(pl.attach), graph, dict(pl.targets))


def _is_graph(net) -> bool:
    return isinstance(net, Network) and (getattr(net, "ports", None) is not None or not net.is_chain)


def _network(net, loss_spec, name: ArgNames) -> _NetParts:
    if _is_graph(net):
        return _graph_network(net, loss_spec, name)
    train = copy_network(net, "net")
    _netinitialize_defaults(train)
    loss = choose_loss(train, loss_spec, name("loss_function"))  # the net: its decoder counts
    if loss is None:
        return _NetParts(train, False)
    if any(layer.name == loss.name for layer in train.layers):
        loss.name = None  # named like its kind instead
    return _NetParts(_rebuilt(train.layers + [loss], train), True)


def _part_layers(part, layers: list[str], names: list[str], arg: str) -> list[str]:
    """The array names a part selects: a layer name, "layer.array", (layer, array), a layer position (0-based,
    negative from the end), a :class:`~minidl.wolfram.options.Span` or ``slice`` of positions, or "All".  A net
    with nested parts (NetGraph, NetGANOperator: layers named "part:layer") takes paths and alternatives too
    (:func:`minidl.wolfram.parts.part_arrays`)."""
    if any(SEP in layer for layer in layers):
        return part_arrays(part, layers, names, arg)
    if isinstance(part, str) and part.lower() == "all":
        return list(names)
    if isinstance(part, tuple) and len(part) == 2 and all(isinstance(p, (str, numbers.Integral)) for p in part):
        layer = _part_layers(part[0], layers, names, arg)[0].split(".", 1)[0]
        part = f"{layer}.{part[1]}"
    if isinstance(part, opt.Span):
        part = part.as_slice()
    if isinstance(part, slice):
        chosen = set(layers[part])
        return [n for n in names if n.split(".", 1)[0] in chosen]
    if isinstance(part, numbers.Integral) and not isinstance(part, bool):
        if not -len(layers) <= part < len(layers):
            raise ValueError(f"{arg}: layer position {part} is out of range; the net has {len(layers)} layers")
        part = layers[part]
    if not isinstance(part, str) or (part not in layers and part not in names):
        raise ValueError(f"{arg}: got part {part!r}; allowed: a layer name ({', '.join(layers)}), an array "
                         f"name ({', '.join(names)}), (layer, array), a layer position, a Span or slice of "
                         "positions, or 'All'")
    return [n for n in names if n == part or n.split(".", 1)[0] == part]


def _part_values(spec, net: Network, arg: str, default: float, none_means: float | None = None,
                 positive: bool = False) -> dict[str, float]:
    """Per-array values from a part spec: a number (every array), {part: r} or [(part, r), ...] (parts as in
    :func:`_part_layers`); the first rule matching an array wins.  ``none_means``: the value of r = None (None:
    not allowed); ``positive``: r > 0 (clipping) instead of r ≥ 0."""
    names = [f"{layer.name}.{k}" for layer in net.layers for k in layer.learn_rate_factors]  # known before init

    def value_of(where: str, r) -> float:
        if r is None and none_means is not None:
            return none_means
        return opt.positive_real(where, r, allow_zero=not positive)
    if spec is None and none_means is not None:
        return {n: none_means for n in names}
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        return {n: value_of(arg, spec) for n in names}
    rules = list(spec.items()) if isinstance(spec, Mapping) else spec
    if not isinstance(rules, (list, tuple)) or not all(isinstance(r, (tuple, list)) and len(r) == 2 for r in rules):
        raise TypeError(f"{arg}: got {spec!r}; allowed: a number, a dict {{part: value}} or a list of "
                        "(part, value) pairs (part: a layer name, 'layer.array', (layer, array), a position, a "
                        "Span or slice of positions, 'All')")
    layers = [layer.name for layer in net.layers]
    out: dict[str, float] = {}
    for part, value in rules:
        value = value_of(f"{arg}[{part!r}]", value)
        for n in _part_layers(part, layers, names, arg):
            out.setdefault(n, value)
    return {n: out.get(n, default) for n in names}


# ================================================================================================ the data
@dataclass
class _Data:
    """The training data as the engine reads it, and what the properties need to know about it."""

    train: Any
    kind: str                                     # "arrays" | "generator" | "source"
    n_train: int
    index_map: np.ndarray | None = None           # training example -> position in the data as given
    n_rows: int | None = None                     # examples in the data as given (ExampleLosses rows)
    held_out: tuple[np.ndarray, np.ndarray] | None = None  # Scaled: (X, Y) of the validation part
    summary: str = ""
    seq: tuple[bool, bool] | None = None          # "Varying" sequence inputs: (outputs per step, classifier)

    def probe_arrays(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The first m training examples as arrays (for timing)."""
        if self.kind == "arrays":
            return _head(self.train.X, m), _head(self.train.Y, m)
        if self.kind == "sequences":
            return self.train.seqs[:m], self.train.Y[:m]
        if self.kind == "generator":
            return self.train.first
        return next(iter(self.train.batches(np.arange(min(m, len(self.train))), m)))


def _head(v, m: int):
    """The first m examples of an array or of a dict of arrays (graph ports)."""
    return {k: a[:m] for k, a in v.items()} if isinstance(v, dict) else v[:m]


def _pick(v, idx):
    return {k: a[idx] for k, a in v.items()} if isinstance(v, dict) else v[idx]


def _port_xy(data, parts: _NetParts, arg: str):
    """A graph's port data → (X, Y) as the engine takes them: X one array or {input layer: array}, Y one array or
    {loss layer: array} (a loss that needs no targets gets zeros)."""
    net = parts.train
    inputs = [layer.name for layer in net.input_layers]
    target_ports = sorted({p for p in parts.targets.values() if p is not None})
    arrays = port_arrays(data, inputs + [p for p in target_ports if p not in inputs], arg)
    n = len(next(iter(arrays.values())))
    X = {k: arrays[k] for k in inputs}
    Y = {loss: (arrays[p] if p is not None else np.zeros(n)) for loss, p in parts.targets.items()}
    return (X[inputs[0]] if len(X) == 1 else X), (next(iter(Y.values())) if len(Y) == 1 else Y)


def _split_interval(spec) -> tuple[Any, opt.Interval | None]:
    """(spec, interval) from (spec, {"Interval": i}) (i: n rounds, "Batch", "Round" or a Quantity); a
    (generator, {"RoundLength": n}) is not split."""
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Mapping):
        keys = opt.camel_keys(spec[1], "ValidationSet")
        if "Interval" in keys:
            for key in keys:
                if key != "Interval":
                    raise opt.unknown_key("ValidationSet", key, ("Interval",))
            return spec[0], opt.interval_spec("ValidationSet 'Interval'", keys["Interval"], None)
    return spec, None


def _validation_schedule(interval: opt.Interval, per_round: int, rounds: int) -> dict[str, Any]:
    """The engine's validation settings for a ValidationSet Interval: every n rounds = every n·BatchesPerRound
    batches; p percent = every max(1, round(p/100 · total batches)) batches; seconds by the clock."""
    if interval.kind == "seconds":
        return {"validation_frequency": None, "validation_seconds": interval.n}
    n = {"rounds": interval.n * per_round, "batches": interval.n,
         "percent": max(1, round(interval.n / 100 * per_round * rounds))}[interval.kind]
    return {"validation_frequency": int(n)}


def _generator(spec, batch_size: int, arg: str) -> GeneratorSource:
    if isinstance(spec, tuple):
        spec = (spec[0], opt.camel_keys(spec[1], arg))
    f, round_length = generator_parts(spec, arg)
    return GeneratorSource(f, batch_size, round_length, arg)


def _sequence_kind(net: Network) -> tuple[bool, bool] | None:
    """For a net whose input takes sequences ("Varying"): (outputs per time step, classifier); else None."""
    if not net.is_sequence:
        return None
    probe = net.copy()
    if not probe.initialized:
        probe.initialize(tuple(probe.input_layer.size), rng=np.random.default_rng(0))
    return probe.sequence_output, probe.is_classifier


def _sequence_data(data, validation, seed: int, name: ArgNames, seq: tuple[bool, bool]) -> _Data:
    """Sequences of T vectors (Wolfram's (T, C), converted to (C, T) at the door) and their outputs."""
    X, Y = as_sequences(data, "data", *seq)
    n_rows, index_map, held = len(X), None, None
    if isinstance(validation, Scaled):
        train_idx, val_idx = split_scaled(len(X), validation.frac, seed, name("validation_set"))
        pick = (lambda v, idx: [v[int(i)] for i in idx]) if isinstance(Y, list) else (lambda v, idx: v[idx])
        held = ([X[int(i)] for i in val_idx], pick(Y, val_idx))
        X, Y, index_map = [X[int(i)] for i in train_idx], pick(Y, train_idx), train_idx
    src = SequenceSource(X, Y, "data inputs", "data outputs")
    summary = f"<{len(X)} sequences of {X[0].shape[0]}-vectors, lengths {min(x.shape[1] for x in X)} to " \
              f"{max(x.shape[1] for x in X)}>"
    return _Data(src, "sequences", len(src), index_map, n_rows, held, summary, seq)


def _training_data(data, validation, batch_size: int | None, seed: int, name: ArgNames,
                   seq: tuple[bool, bool] | None = None, parts: _NetParts | None = None) -> _Data:
    arg = "data"
    if parts is not None and parts.graph is not None and not isinstance(data, str) and \
            not is_generator_spec(data) and not is_source(data):
        X, Y = _port_xy(data, parts, arg)
        n = len(next(iter(X.values()))) if isinstance(X, dict) else len(X)
        n_rows, index_map, held = n, None, None
        if isinstance(validation, Scaled):
            train_idx, val_idx = split_scaled(n, validation.frac, seed, name("validation_set"))
            held = (_pick(X, val_idx), _pick(Y, val_idx))
            X, Y, index_map = _pick(X, train_idx), _pick(Y, train_idx), train_idx
        src = as_source(X, Y, "data inputs", "data outputs")
        return _Data(src, "arrays", len(src), index_map, n_rows, held, f"<{len(src)} examples of ports>")
    if seq is not None and isinstance(data, str):   # a named sequence set: its (T, C) inputs and outputs
        return _sequence_data(named_dataset(data, "train", arg), validation, seed, name, seq)
    if seq is not None and not is_generator_spec(data) and not is_source(data):
        return _sequence_data(data, validation, seed, name, seq)
    if isinstance(data, str):
        X, Y = named_dataset(data, "train", arg)
        summary = repr(data)
    elif is_generator_spec(data):
        rl = None
        if isinstance(data, tuple):
            rl = generator_parts((data[0], opt.camel_keys(data[1], arg)), arg)[1]
        B = batch_size or (min(opt.MAX_AUTOMATIC_BATCH, rl) if rl else opt.MAX_AUTOMATIC_BATCH)
        src = _generator(data, B, arg)
        if isinstance(validation, Scaled):
            raise ValueError(f"{name('validation_set')}: Scaled(...) holds out part of fixed training data; a "
                             "generator has none (give validation data or a generator (g, {'RoundLength': n}))")
        return _Data(src, "generator", len(src), summary=f"<generator {getattr(src.f, '__qualname__', 'f')}>")
    elif is_source(data):
        if isinstance(validation, Scaled):
            raise ValueError(f"{name('validation_set')}: Scaled(...) needs array data, not a mini-batch source")
        return _Data(data, "source", len(data), n_rows=len(data), summary=repr(data))
    else:
        X, Y = as_arrays(data, arg)
        summary = f"<{len(X)} examples: inputs {tuple(X.shape[1:])}, outputs {tuple(Y.shape[1:]) or 'scalar'}>"
    n_rows, index_map, held = len(X), None, None
    if isinstance(validation, Scaled):
        train_idx, val_idx = split_scaled(len(X), validation.frac, seed, name("validation_set"))
        held = (X[val_idx], Y[val_idx])
        X, Y, index_map = X[train_idx], Y[train_idx], train_idx
    src = ArraySource(X, Y, "data inputs", "data outputs")
    return _Data(src, "arrays", len(src), index_map, n_rows, held, summary)


def _validation_data(spec, d: _Data, data, batch_size: int, name: ArgNames, parts: _NetParts | None = None):
    arg = name("validation_set")
    if spec is None:
        return None
    if isinstance(spec, Scaled):
        if d.kind == "sequences":
            return SequenceSource(*d.held_out, f"{arg} inputs", f"{arg} outputs")
        return as_source(*d.held_out, f"{arg} inputs", f"{arg} outputs")
    if isinstance(spec, str):
        if is_automatic(spec):
            if not isinstance(data, str):
                raise ValueError(f"{arg}: 'Automatic' takes the TestData of a named data set; the training data "
                                 "is not one (give validation data or Scaled(frac))")
            spec = data
        if d.seq is not None:                       # a named sequence set's TestData
            return SequenceSource(*as_sequences(named_dataset(spec, "test", arg), arg, *d.seq), f"{arg} inputs",
                                  f"{arg} outputs")
        return ArraySource(*named_dataset(spec, "test", arg), f"{arg} inputs", f"{arg} outputs")
    if is_generator_spec(spec):
        return _generator(spec, batch_size, arg)
    if is_source(spec):
        return spec
    if d.seq is not None:
        return SequenceSource(*as_sequences(spec, arg, *d.seq), f"{arg} inputs", f"{arg} outputs")
    if parts is not None and parts.graph is not None:
        return as_source(*_port_xy(spec, parts, arg), f"{arg} inputs", f"{arg} outputs")
    return ArraySource(*as_arrays(spec, arg), f"{arg} inputs", f"{arg} outputs")


def _generator_classes(net: Network, src: GeneratorSource, arg: str) -> np.ndarray:
    """A generator's classes: the net's own, else 0..K−1 for integer labels (K = the net's number of outputs)."""
    if net.classes is not None:
        return np.asarray(net.classes)
    labels = check_labels(src.first[1], None, arg)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{arg}: a generator of {labels.dtype} labels needs the classes up front: set "
                         "net.classes (the sorted labels) before training, or use integer labels 0..K-1")
    probe = net.copy()
    if not probe.initialized:
        probe.initialize(tuple(src.first[0].shape[1:]), rng=np.random.default_rng(0))
    return np.arange(int(np.prod(probe.output_shape)))


# ================================================================================================ automatic rules
def _seconds_per_batch(parts: _NetParts, d: _Data, batch_size: int, make_config, classes) -> float:
    """Time of one batch through the engine itself (forward, loss, backward, update, bookkeeping): a throwaway
    copy trains on the first min(N, 3·B) examples; the mean time of the batches after the first is returned."""
    probe = parts.train.copy()
    X, Y = d.probe_arrays(3 * batch_size)
    if d.kind == "generator":
        X, Y = X[:batch_size], Y[:batch_size]
    if classes is not None:
        probe.classes = classes
    source = SequenceSource if d.kind == "sequences" else as_source
    _, info = Trainer(probe, source(X, Y, "data inputs", "data outputs"), make_config(batch_size)).run()
    t = info.time_since_start
    return float((t[-1] - t[0]) / (len(t) - 1)) if len(t) > 1 else float(t[0])


# ================================================================================================ the run, in stages
@dataclass
class _Settings:
    """The options that need neither the net nor the data, checked (stage 1)."""

    method: str
    subs: dict[str, Any]
    device: Device
    dtype: str
    seed: int
    time_goal: float | None
    rounds: int | None
    batch_size: int | None
    rate: float
    criterion: dict[str, Any] | None
    reporters: list
    progress_fn: tuple | None
    checkpoints: tuple | None
    schedule: Any
    gclip: Any                           # a number, or a per-part spec until _factors resolves it
    wclip: Any
    loss_spec: Any
    measurements_spec: Any
    multipliers_spec: Any
    validation_spec: Any
    update_schedule: Any = None          # TrainingUpdateSchedule as given (resolved against the net in _factors)
    parallel: bool = False               # TargetDevice {"CPU", n} / {"GPU", All}: data-parallel workers
    workers: int | None = None           # {"CPU", n}: n (None: the default pool size, or every GPU)


def _parse_options(o: dict[str, Any], name: ArgNames) -> _Settings:
    for key in ("performance_goal",):
        if not is_automatic(o[key]):
            raise NotSupportedYetError(f"{name(key)}: got {o[key]!r}; not supported yet (only 'Automatic')")
    method, subs = opt.method_spec(o["method"], name("method"))
    opt.make_method_optimizer(method, subs, name("method"))               # checks the sub-option values now
    device, parallel, workers = _device(o["target_device"], name("target_device"))
    rate = opt.DEFAULT_LEARNING_RATE[method] if is_automatic(o["learning_rate"]) else opt.positive_real(
        name("learning_rate"), o["learning_rate"])
    return _Settings(
        method=method, subs=subs, device=device,
        dtype=opt.precision(o["working_precision"], device.name, name("working_precision")),
        seed=opt.seed(o["random_seeding"], name("random_seeding")),
        time_goal=None if is_automatic(o["time_goal"]) else opt.positive_real(name("time_goal"), o["time_goal"]),
        rounds=None if is_automatic(o["max_training_rounds"]) else opt.positive_int(
            name("max_training_rounds"), o["max_training_rounds"]),
        batch_size=None if is_automatic(o["batch_size"]) else opt.positive_int(name("batch_size"), o["batch_size"]),
        rate=rate,
        criterion=opt.stopping_criterion(o["training_stopping_criterion"], name("training_stopping_criterion")),
        reporters=opt.reporting(o["training_progress_reporting"], name("training_progress_reporting")),
        progress_fn=opt.function_with_interval(o["training_progress_function"],   # default: once per round (§12)
                                               name("training_progress_function"), opt.Interval("rounds", 1)),
        checkpoints=opt.checkpointing(o["training_progress_checkpointing"],
                                      name("training_progress_checkpointing")),
        schedule=_schedule(subs.get("LearningRateSchedule", opt.Automatic), method, rate, name("method")),
        gclip=_clip(subs.get("GradientClipping"), f"{name('method')} 'GradientClipping'"),
        wclip=_clip(subs.get("WeightClipping"), f"{name('method')} 'WeightClipping'"),
        loss_spec=o["loss_function"], measurements_spec=o["training_progress_measurements"],
        multipliers_spec=o["learning_rate_multipliers"], validation_spec=o["validation_set"],
        update_schedule=o["training_update_schedule"], parallel=parallel, workers=workers)


@dataclass
class _Factors:
    """Per-array learn-rate multipliers and L2 (stage 2): they reach the engine through its config."""

    multipliers: dict[str, float]
    l2: float
    l2_factors: dict[str, float] | None
    groups: list[tuple[frozenset[str], int]] | None = None   # TrainingUpdateSchedule: the engine's update_groups


def _factors(st: _Settings, net: Network, name: ArgNames) -> _Factors:
    """Multipliers (r = None or 0 freezes a part; the option None is Automatic), per-part clipping thresholds
    resolved to arrays, L2."""
    multipliers = {} if is_automatic(st.multipliers_spec) else _part_values(
        st.multipliers_spec, net, name("learning_rate_multipliers"), 1.0, none_means=0.0)
    groups = update_groups(st.update_schedule, [layer.name for layer in net.layers],
                           [f"{layer.name}.{k}" for layer in net.layers for k in layer.learn_rate_factors],
                           name("training_update_schedule"))
    for key, sub in (("gclip", "GradientClipping"), ("wclip", "WeightClipping")):
        spec = getattr(st, key)
        if not isinstance(spec, float):
            setattr(st, key, _part_values(spec, net, f"{name('method')} {sub!r}", math.inf, positive=True))
    l2_spec = st.subs.get("L2Regularization")
    if l2_spec is None:
        return _Factors(multipliers, 0.0, None, groups)
    arg = f"{name('method')} 'L2Regularization'"
    if isinstance(l2_spec, numbers.Real) and not isinstance(l2_spec, bool):   # Wolfram: every learned array
        return _Factors(multipliers, opt.positive_real(arg, l2_spec, allow_zero=True),
                        {f"{layer.name}.{k}": 1.0 for layer in net.layers for k in layer.l2_factors}, groups)
    return _Factors(multipliers, 1.0, _part_values(l2_spec, net, arg, 0.0), groups)


def _classes(net: Network, d: _Data) -> np.ndarray | None:
    """The class labels of a classifier (stage 3, with the data): the net's own, else from the data."""
    if not net.is_classifier:
        return None
    if d.kind == "generator":
        d.train.classes = _generator_classes(net, d.train, "data outputs")
        return d.train.classes
    if net.classes is not None:
        return np.asarray(net.classes)
    if d.kind == "arrays":
        Y = d.train.Y
        if isinstance(Y, dict):                   # a graph: the labels of its (first) classification loss
            Y = Y[net.classification_layer.name]
        return sorted_classes(check_labels(Y, None, "data outputs"), "data outputs")
    if d.kind == "sequences":
        return sorted_classes(d.train.labels(), "data outputs")
    return source_classes(d.train, "data outputs")


@dataclass
class _Sizes:
    """BatchSize, batches per round and MaxTrainingRounds, Automatic ones timed (stage 4)."""

    batch_size: int
    per_round: int
    rounds: int


def _sizes(st: _Settings, parts: _NetParts, d: _Data, make_config, classes) -> _Sizes:
    """BatchSize and MaxTrainingRounds Automatic: timed through the engine on a throwaway copy."""
    B = d.train.batch_size if d.kind == "generator" else st.batch_size
    per_batch = None
    if B is None:
        B0 = min(opt.MAX_AUTOMATIC_BATCH, d.n_train)
        per_batch = (B0, _seconds_per_batch(parts, d, B0, make_config, classes))
        B = opt.automatic_batch_size(per_batch[1] / B0, d.n_train)
    elif d.kind != "generator":
        B = min(B, d.n_train)               # the effective size: at most the training examples (§2, BatchSize)
    ipe = d.train.batches_per_round if d.kind == "generator" else -(-d.n_train // B)
    rounds = st.rounds
    if rounds is None:
        if st.time_goal is not None:
            rounds = opt.MAX_AUTOMATIC_ROUNDS  # TimeGoal ends the run (rounds are only a cap)
        else:
            t = per_batch[1] if per_batch is not None and per_batch[0] == B else \
                _seconds_per_batch(parts, d, B, make_config, classes)
            rounds = opt.automatic_rounds(t * ipe)
    return _Sizes(B, ipe, rounds)


@dataclass
class _Observers:
    """The recorder, the Wolfram views and the generic observers configured (stage 5)."""

    recorder: InfoRecorder
    book: obs.RoundBook
    best: obs.BestRound | None
    checkpointer: Any
    collectors: list
    all: list
    settings: dict[str, Any]


def _observers(st: _Settings, parts: _NetParts, d: _Data, validation, sz: _Sizes, tracked: list[str],
               wanted: set, customs: list, validation_config: dict[str, Any], name: ArgNames,
               measurer=None) -> _Observers:
    """Bookkeeping first, then keep-best, stopping, callbacks, reports, checkpoints, custom properties."""
    classifier = parts.train.is_classifier
    schedule_name = type(st.schedule).__name__.removesuffix("Schedule")
    settings = {"solver": st.method, "mini_batch_size": sz.batch_size, "execution_environment": st.device.name,
                "learn_rate_schedule": schedule_name,
                "validation_frequency": validation_config.get("validation_frequency") if validation is not None
                else None}
    recorder = InfoRecorder(settings)
    book = obs.RoundBook(recorder, is_classifier=classifier, names=tracked, index_map=d.index_map, n_rows=d.n_rows,
                         record_permutation="BatchPermutation" in wanted,
                         record_example_losses=_wants_example_losses(wanted, customs), make_net=parts.returned,
                         time_goal=st.time_goal, measurer=measurer)
    observers: list = [book]
    best = None
    if validation is not None:
        best = obs.BestRound(_best_key(st.criterion, classifier), classifier)
        observers.append(best)
    if st.criterion is not None:
        observers.append(obs.stopping_criterion(st.criterion, book, on_validation=validation is not None))
    if st.progress_fn is not None:
        observers.append(obs.progress_function(st.progress_fn[0], st.progress_fn[1], book, True,
                                               name("training_progress_function")))
    header = {"Optimization Method": st.method, "Device": _device_name(st.device), "Batch Size": sz.batch_size,
              "Batches Per Round": sz.per_round, "Training Examples": d.n_train}
    if validation is not None:
        header["Validation Examples"] = len(validation)
    for kind, target, every in st.reporters:
        if kind == "Print":
            observers.append(obs.PrintReport(book, every, header=header))
        elif kind == "File":
            observers.append(obs.file_report(target, book, every))
        elif kind == "Function":
            observers.append(obs.progress_function(target, every, book, False, name("training_progress_reporting")))
        elif kind == "Panel":
            from minidl.reporting.figure import TrainingProgressFigure

            observers.append(TrainingProgressFigure(settings=settings))       # its Stop button: "ManualStop"
        else:
            try:
                from minidl.reporting.progress_bar import ProgressBar
            except ImportError as e:
                raise ImportError("TrainingProgressReporting 'ProgressIndicator' needs "
                                  f"minidl.reporting.progress_bar (tqdm): {e}") from e
            observers.append(ProgressBar(desc="NetTrain"))
    checkpointer = None
    if st.checkpoints is not None:
        checkpointer = obs.net_checkpointer(*st.checkpoints, make_net=parts.returned, book=book)
        observers.append(checkpointer)
    collectors = [obs.CustomProperty(c["Property"], c["Interval"], book) for c in customs]
    return _Observers(recorder, book, best, checkpointer, collectors, observers + collectors, settings)


def _train(net, data, prop, options: dict[str, Any], name: ArgNames, call: str, given: dict[str, Any]):
    """NetTrain in stages: options → network → data → automatic sizes → observers → run → results."""
    o = {k: options.get(k, default) for k, (_, default) in OPTIONS.items()}
    shape, items = parse_props(prop)
    wanted = {i for i in items if isinstance(i, str)}
    customs = [i for i in items if isinstance(i, dict)]
    st = _parse_options(o, name)
    if isinstance(net, PendingGraph):     # a NetGraph without input port sizes: the data tells them
        net = net.sized_from(data, "data")

    # -- the network, its loss and its factors
    parts = _network(net, st.loss_spec, name)
    classifier = parts.train.is_classifier
    tracked, custom_measures = measurements.parse(st.measurements_spec, classifier,
                                                  name("training_progress_measurements"))
    measurements.check_criterion(st.criterion, name("training_stopping_criterion"))
    if st.criterion is not None:
        opt.measurements([st.criterion["Criterion"]], classifier,
                         f"{name('training_stopping_criterion')} 'Criterion'")
    factors = _factors(st, parts.train, name)

    # -- the data
    validation_spec, interval = _split_interval(st.validation_spec)
    seq_kind = _sequence_kind(parts.train)
    if seq_kind is not None:
        parts.train.sequence_layout = "TC"           # the trained net takes Wolfram's (T, C) sequences, as NetTrain
    d = _training_data(data, validation_spec, st.batch_size, st.seed, name, seq_kind, parts)
    if d.kind == "generator" and wanted & set(EXPENSIVE):
        raise ValueError(f"prop: {sorted(wanted & set(EXPENSIVE))} need examples with an identity; a generator "
                         "makes new examples every batch")
    classes = _classes(parts.train, d)

    def make_config(b: int, **kw) -> EngineConfig:
        base = dict(optimizer=opt.make_method_optimizer(st.method, st.subs), schedule=st.schedule, max_epochs=1,
                    batch_size=b, shuffle="never", partial_batch="keep", l2=factors.l2, gradient_threshold=st.gclip,
                    gradient_threshold_method="absolute-value", weight_clip=st.wclip, validation_frequency=None,
                    validate_first_iteration=False, validate_at_end=False, batch_norm_statistics="moving",
                    normalize_inputs=True, device=st.device, dtype=st.dtype, seed=st.seed,
                    learn_rate_multipliers=factors.multipliers, l2_factors=factors.l2_factors,
                    stop_reasons=dict(obs.REASONS), freeze_frozen_statistics=True,
                    **({"update_groups": factors.groups} if factors.groups is not None else {}),
                    names={"batch_size": name("batch_size"), "x": "data inputs", "y": "data outputs",
                           "layers": "net", "validation_x": f"{name('validation_set')} inputs",
                           "validation_y": f"{name('validation_set')} outputs"})
        return EngineConfig(**{**base, **kw})

    # -- sizes, validation data, observers
    sz = _sizes(st, parts, d, make_config, classes)
    validation = _validation_data(validation_spec, d, data, sz.batch_size, name, parts)
    validation_config = _validation_schedule(interval or opt.Interval("rounds", 1), sz.per_round, sz.rounds) \
        if validation is not None else {"validation_frequency": None}
    measurer = measurements.Measurer(tracked, custom_measures, classes, classifier) \
        if measurements.needs_outputs(tracked, custom_measures) else None
    ob = _observers(st, parts, d, validation, sz, tracked, wanted, customs, validation_config, name, measurer)

    # -- the run
    config = make_config(sz.batch_size, max_epochs=sz.rounds, shuffle="every-epoch", partial_batch="fill",
                         time_limit=st.time_goal or math.inf, **validation_config, validate_last_iteration=True,
                         record_example_losses=_wants_example_losses(wanted, customs),
                         record_outputs=measurer is not None)
    ob.book.net, ob.book.source, ob.book.batch_data_ok = parts.train, d.train, d.kind == "arrays"
    trainer = Trainer(parts.train, d.train, config, validation, ob.all, ob.settings, recorder=ob.recorder)
    trainer.state.extra["settings"] = ob.settings
    gpus = launch.gpu_count() if st.parallel and st.device.name == "gpu" else 0
    try:
        launch.train(trainer, None, parallel=st.parallel, workers=st.workers, gpus=gpus,
                     workers_arg=name("target_device"))
    except Exception as e:
        if hasattr(e, "minidl_net"):   # a failed run: the net as NetTrain returns it, at its last completed batch
            e.minidl_net = parts.returned()  # type: ignore[attr-defined]
        raise
    return _results(st, parts, d, validation, sz, ob, factors, trainer.lr_factors, tracked, wanted, items, customs,
                    shape, (call, net, prop, given))


def _results(st: _Settings, parts: _NetParts, d: _Data, validation, sz: _Sizes, ob: _Observers, factors: _Factors,
             lr_factors: dict[str, float], tracked, wanted, items, customs, shape, input_form):
    """The properties asked for (stage 7): TrainedNet is the best validation round's weights, FinalNet the last."""
    book = ob.book
    final = parts.returned()
    trained = final
    if ob.best is not None and ob.best.best_arrays is not None:
        trained = final.copy()
        trained.load_state_arrays(ob.best.best_arrays)
    values = _properties(book, ob.best, parts, d, validation, trained, final, st.method, st.device, sz.batch_size,
                         sz.per_round, st.rate, lr_factors, ob.checkpointer, wanted, st.update_schedule)
    values["NetTrainInputForm"] = _input_form(input_form[0], input_form[1], d, input_form[2], input_form[3])
    lazy = {"LossPlot": lambda: _loss_plot(book),
            "FinalPlots": lambda: {n: measurement_plot(n, book.batch_measures, book.round_measures,
                                                       book.round_positions, book.validation_measures,
                                                       book.validation_positions)
                                   for n in tracked if n not in measurements.NOT_SCALAR}}
    results = NetTrainResultsObject(values, lazy)
    values_by_item = []
    for item in items:
        if isinstance(item, dict):
            c = ob.collectors[customs.index(item)]
            title = item["Property"] if isinstance(item["Property"], str) else "value"
            values_by_item.append(custom_value(item["Form"], c.values, c.positions, title))
        elif item == "ResultsObject":
            values_by_item.append(results)
        else:
            values_by_item.append(results[item])
    return values_by_item if shape == "list" else values_by_item[0]


# ================================================================================================ helpers
def _device(value, arg: str) -> tuple[Device, bool, int | None]:
    """TargetDevice as (device, parallel, workers) (:func:`minidl.wolfram.options.target_device`)."""
    if isinstance(value, Device):
        return value, False, None
    name, parallel, workers = opt.target_device(value, arg)
    return named_device(arg, name), parallel, workers


def _device_name(device: Device) -> str:
    return {"cpu": "CPU", "gpu": "GPU"}.get(device.name, device.name)


def _schedule(spec, method: str, rate: float, arg: str):
    """LearningRateSchedule: Automatic (SGD: polynomial; others: none), None / "Constant", "Polynomial", f."""
    if isinstance(spec, str) and spec.lower() == "automatic":
        return PolynomialSchedule(rate) if method == "SGD" else ConstantSchedule(rate)
    if spec is None or (isinstance(spec, str) and spec.lower() in ("none", "constant")):
        return ConstantSchedule(rate)
    if isinstance(spec, str) and spec.lower() == "polynomial":
        return PolynomialSchedule(rate)
    if callable(spec):   # f[batch, total], batch 0 … total − 1; a value outside [0, 1] clipped with a warning (§4)
        return FunctionSchedule(rate, spec, first_batch=0, clip=True)
    raise ValueError(f"{arg} 'LearningRateSchedule': got {spec!r}; allowed: 'Automatic', None, 'Polynomial' or a "
                     "function f(batch, total) returning a number in [0, 1] (batch 0 … total − 1)")


def _clip(spec, arg: str):
    """GradientClipping / WeightClipping: None (no clipping), one number r > 0, or a per-part spec kept as given
    (resolved against the net in :func:`_factors`)."""
    if spec is None:
        return math.inf
    if isinstance(spec, (Mapping, list, tuple)):
        return spec
    return opt.positive_real(arg, spec)


def _wants_example_losses(wanted: set, customs: list) -> bool:
    """ExampleLosses is recorded when named as a property or as a custom property (its history)."""
    return "ExampleLosses" in wanted or any(c["Property"] == "ExampleLosses" for c in customs)


def _best_key(criterion, classifier: bool):
    """TrainedNet's rule: the criterion's measurement (then loss) if given; else classification: (error rate, loss),
    otherwise loss.  Lower is better."""
    if criterion is not None:
        m = criterion["Criterion"]
        sign = -1.0 if m == "Accuracy" else 1.0
        return lambda v: (sign * v[m], v["Loss"])
    if classifier:
        return lambda v: (v["ErrorRate"], v["Loss"])
    return lambda v: (v["Loss"],)


def _loss_plot(book: obs.RoundBook):
    return loss_plot(np.array(book.batch_losses), np.array(book.round_losses), np.array(book.round_positions),
                     np.array([v["Loss"] for v in book.validation_measures]), np.array(book.validation_positions))


def _properties(book: obs.RoundBook, best, parts: _NetParts, d: _Data, validation, trained, final, method, device, B,
                ipe, rate, lr_factors, checkpointer, wanted, schedule=None) -> dict[str, Any]:
    total_time = book.elapsed
    batches = len(book.batch_losses)
    examples = int(sum(book.batch_sizes))
    v = {
        "TrainedNet": trained, "FinalNet": final, "TrainingNet": parts.train,
        "BatchesPerRound": ipe, "BatchSize": B,
        "BatchLossList": np.array(book.batch_losses), "BatchMeasurementsLists": book.lists("batch"),
        "BestValidationRound": best.best_round if best is not None else None,
        "CheckpointingFiles": list(checkpointer.paths) if checkpointer is not None else [],
        "ExamplesProcessed": examples,
        "InitialLearningRate": rate,                                   # the LearningRate setting (§4)
        "FinalLearningRate": book.rates[-1] if book.rates else rate,
        "MeanBatchesPerSecond": batches / total_time if total_time > 0 else math.nan,
        "MeanExamplesPerSecond": examples / total_time if total_time > 0 else math.nan,
        "OptimizationMethod": method, "ReasonTrainingStopped": book.stop_reason,
        "RoundLoss": book.round_loss, "RoundLossList": np.array(book.round_losses),
        "RoundMeasurements": book.lists("round")[-1] if book.round_measures else None,
        "RoundMeasurementsLists": book.lists("round"), "RoundPositions": np.array(book.round_positions, int),
        "TargetDevice": _device_name(device), "TotalBatches": batches,
        "TotalRounds": book.batch_rounds[-1] if book.batch_rounds else 0, "TotalTrainingTime": total_time,
        "TrainingExamples": d.n_train, "TrainingUpdateSchedule": describe_schedule(schedule),
        "ValidationExamples": len(validation) if validation is not None else None,
        "ValidationLoss": book.validation_loss,
        "ValidationLossList": np.array([m["Loss"] for m in book.validation_measures]),
        "ValidationMeasurements": book.lists("validation")[-1] if book.validation_measures else None,
        "ValidationMeasurementsLists": book.lists("validation"),
        "ValidationPositions": np.array(book.validation_positions, int),
        "WeightsLearningRateMultipliers": {k: float(f) for k, f in lr_factors.items()},
    }
    if "BatchPermutation" in wanted:         # (TotalBatches, BatchSize): the examples of each batch, as given
        v["BatchPermutation"] = (np.stack(book.permutation) if book.permutation
                                 else np.zeros((0, B), dtype=np.int64))
    if "ExampleLosses" in wanted:            # (N,): each example's latest loss (NaN: held out or never drawn)
        v["ExampleLosses"] = book.latest_losses.copy()
    assert set(v) <= set(PROPERTIES)
    return v


def _input_form(call: str, net, d: _Data, prop, given: dict[str, Any]) -> str:
    """An expression of the call: the net, a summary of the data, prop and the options as given."""
    net_text = repr(net) if isinstance(net, Network) else f"[{', '.join(type(x).__name__ for x in net)}]"
    args = [net_text, d.summary]
    if prop is not None:
        args.append(repr(prop))
    args += [f"{k}={v!r}" for k, v in given.items()]
    return f"{call}({', '.join(args)})"
