"""The engine's part for graph networks (docs/graphs.md#training): data for several inputs and several losses.

A graph network (``not net.is_chain``) trains on

- X: an array (one input layer), a tuple or list of arrays (one per input layer, in ``net.input_layers`` order) or
  a dict by input layer name;
- Y: an array (one loss layer), a tuple or list of arrays (one per loss layer, in ``net.loss_layers`` order) or a
  dict by loss layer name;

or a mini-batch source whose batches are such (X, Y) pairs. The engine moves each array to the device; the reported
loss is the weighted total Σ weight·loss (``net.loss_weights``); the accuracy is that of the first classification
loss; a network of regression losses only reports the RMSE of its first loss (from that loss's own value).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minidl._checks import check_representable
from minidl.backend import get_array_module, to_device, to_host
from minidl.layers.output import ClassificationOutput
from minidl.training.data import (
    ArraySource,
    MiniBatchSource,
    check_labels,
    check_predictors,
    check_responses,
    encode_labels,
    sorted_classes,
)
from minidl.training.parallel import batch_rows, take_rows


def _is_array(v) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype") and getattr(v, "ndim", 0) >= 1


def is_port_data(v, lists: bool = True) -> bool:
    """True for data given per port: a dict, or a tuple (and, with ``lists``, a list) of arrays — not a list of
    labels. ``lists=False`` where the network is not known yet: a list of arrays there is a cell array of
    sequences."""
    kinds = (tuple, list) if lists else tuple
    return isinstance(v, dict) or (isinstance(v, kinds) and len(v) > 0 and all(_is_array(a) for a in v))


class MultiArraySource(MiniBatchSource):
    """In-memory arrays for several inputs and/or several losses.

    ``X`` and ``Y``: an array, a tuple/list of arrays or a dict of arrays (by port name), every array with the same
    number N of observations. ``read`` returns them in the same form, indexed.

    >>> import numpy as np
    >>> src = MultiArraySource((np.zeros((4, 2)), np.ones((4, 3))), {"loss": np.arange(4)})
    >>> x, y = src.read(np.array([3, 1]))
    >>> [a.shape for a in x], y["loss"].tolist()
    ([(2, 2), (2, 3)], [3, 1])
    """

    def __init__(self, X, Y=None, arg_x: str = "X", arg_y: str = "Y"):
        self.X = _map(X, lambda v, where: check_predictors(v, where), arg_x)
        self.Y = None if Y is None else _map(Y, lambda v, where: _host(v, where), arg_y)
        self.arg_x, self.arg_y = arg_x, arg_y
        ns = {(where, len(v)) for where, v in _items(self.X, arg_x) + (_items(self.Y, arg_y) if Y is not None
                                                                       else [])}
        if len({n for _, n in ns}) > 1:
            raise ValueError(f"{arg_x}, {arg_y}: the arrays hold different numbers of observations "
                             f"{sorted(ns)}; allowed: the same N for every input and target")
        self.n = next(iter(ns))[1]

    def __len__(self) -> int:
        return self.n

    def read(self, indices: np.ndarray):
        return _index(self.X, indices), (None if self.Y is None else _index(self.Y, indices))

    def __repr__(self) -> str:
        return f"MultiArraySource(N={self.n})"


def _host(v, where: str):
    if isinstance(v, (list, tuple)):
        v = np.asarray(v)
    if not hasattr(v, "shape"):
        raise TypeError(f"{where}: got {type(v).__name__}; allowed: an array of N labels or responses")
    return to_host(v) if get_array_module(v) is not np else v


def _items(v, arg: str) -> list[tuple[str, Any]]:
    if isinstance(v, dict):
        return [(f"{arg}[{k!r}]", a) for k, a in v.items()]
    if isinstance(v, (tuple, list)):
        return [(f"{arg}[{i}]", a) for i, a in enumerate(v)]
    return [(arg, v)]


def _map(v, f, arg: str):
    if isinstance(v, dict):
        return {k: f(a, f"{arg}[{k!r}]") for k, a in v.items()}
    if isinstance(v, (tuple, list)) and is_port_data(v):
        return tuple(f(a, f"{arg}[{i}]") for i, a in enumerate(v))
    return f(v, arg)


def _index(v, idx):
    if isinstance(v, dict):
        return {k: a[idx] for k, a in v.items()}
    if isinstance(v, tuple):
        return tuple(a[idx] for a in v)
    return v[idx]


def by_port(v, names: list[str], arg: str, what: str) -> dict[str, Any]:
    """``v`` (an array for one port, a tuple/list in ``names`` order, or a dict by name) as ``{name: array}``."""
    if isinstance(v, dict):
        if set(v) != set(names):
            raise ValueError(f"{arg}: got keys {sorted(map(str, v))}; allowed: the {what} {names}")
        return {n: v[n] for n in names}
    if isinstance(v, (tuple, list)) and is_port_data(v):
        if len(v) != len(names):
            raise ValueError(f"{arg}: got {len(v)} arrays; allowed: {len(names)}, one per {what[:-1]} {names} (in "
                             "that order), or a dict by name")
        return dict(zip(names, v))
    if len(names) != 1:
        raise ValueError(f"{arg}: got {type(v).__name__}; allowed: a tuple of {len(names)} arrays, one per "
                         f"{what[:-1]} {names}, or a dict by name")
    return {names[0]: v}


class GraphPrepared:
    """What the engine reads for a graph network: host ``({input name: X}, {loss name: T})`` batches, T class
    indices (B,) int64 (classification losses) or float64 responses (B, R); checked and encoded once for arrays."""

    def __init__(self, source, part: GraphPart, arg_x: str, arg_y: str):
        self.source, self.part, self.arg_x, self.arg_y = source, part, arg_x, arg_y
        self.n = len(source)
        self.n_responses = part.n_responses
        self._encoded = None
        self._x = None
        if isinstance(source, (MultiArraySource, ArraySource)):
            xs, ys = source.X, source.Y
            self._x = by_port(xs, part.inputs, arg_x, "input layers")
            self._check_x(self._x, arg_x)
            self._encoded = self._targets(ys, self.n, arg_y)

    def __len__(self) -> int:
        return self.n

    def _check_x(self, xs: dict, where: str) -> None:
        for name, shape in self.part.shapes.items():
            x = xs[name]
            if tuple(x.shape[1:]) != shape:
                raise ValueError(f"{where} input {name!r}: got observations of shape {tuple(x.shape[1:])}; the "
                                 f"input layer takes {shape}")

    def _targets(self, Y, n: int, arg: str) -> dict[str, np.ndarray]:
        if Y is None:
            raise TypeError(f"{arg}: got None; allowed: the targets of the loss layers {self.part.losses}")
        out = {}
        for name, y in by_port(Y, self.part.losses, arg, "loss layers").items():
            where = arg if len(self.part.losses) == 1 else f"{arg} loss {name!r}"
            classes = self.part.classes.get(name)
            if classes is not None:
                out[name] = encode_labels(check_labels(y, n, where), classes, where)
            else:
                t = check_responses(y, n, where)
                t = t.reshape(len(t), -1)
                r = self.part.responses.get(name)
                if r is not None and t.shape[1] != r:
                    raise ValueError(f"{where}: got {t.shape[1]} responses per observation; the loss layer "
                                     f"{name!r} receives {r}")
                out[name] = t
        return out

    def batches(self, order: np.ndarray, batch_size: int) -> Iterator[tuple[dict, dict]]:
        """Host ({input: X}, {loss: T}) batches for ``order``."""
        if self._encoded is not None:
            xs, ts = self._x, self._encoded
            assert xs is not None                       # in-memory arrays: encoded with their inputs
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                yield {k: v[idx] for k, v in xs.items()}, {k: v[idx] for k, v in ts.items()}
            return
        for k, (X, Y) in enumerate(self.source.batches(order, batch_size)):
            where = f"{self.arg_x} (mini-batch {k})"
            xs = {n: check_predictors(v, f"{where} input {n!r}")
                  for n, v in by_port(X, self.part.inputs, where, "input layers").items()}
            self._check_x(xs, where)
            expected = len(order[k * batch_size:(k + 1) * batch_size])
            for n, v in xs.items():
                if len(v) != expected:
                    raise ValueError(f"{where} input {n!r}: the source yielded {len(v)} observations; the order "
                                     f"asked for {expected}")
                check_representable(f"{where} input {n!r}", v, self.part.tr.dtype)
            yield xs, self._targets(Y, expected, f"{self.arg_y} (mini-batch {k})")


class GraphPart:
    """The trainer's data set-up, device transfer, metrics and evaluation for a graph network."""

    def __init__(self, trainer):
        self.tr = trainer
        net = trainer.net
        self.inputs = [layer.name for layer in net.input_layers]
        self.losses = [layer.name for layer in net.loss_layers]
        if not self.inputs:
            raise ValueError("layers: the graph has no input layer; allowed: graphs whose sources are input layers")
        self.classification = net.classification_layer.name if net.classification_layer is not None else None
        self.classes: dict[str, np.ndarray] = {}
        self.responses: dict[str, int] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.n_responses: int | None = None

    # ------------------------------------------------------------------------------------------- set-up
    def _first(self, source, arg_x: str, arg_y: str) -> tuple[dict, dict]:
        if isinstance(source, (MultiArraySource, ArraySource)):
            return (by_port(source.X, self.inputs, arg_x, "input layers"),
                    by_port(source.Y, self.losses, arg_y, "loss layers") if source.Y is not None else {})
        X, Y = next(iter(source.batches(np.zeros(1, dtype=np.int64), 1)))
        return by_port(X, self.inputs, arg_x, "input layers"), by_port(Y, self.losses, arg_y, "loss layers")

    def _classes(self, source, name: str, arg_y: str) -> np.ndarray:
        """Sorted class labels of loss ``name``: from arrays, else one pass over the source's labels."""
        if isinstance(source, (MultiArraySource, ArraySource)):
            y = by_port(source.Y, self.losses, arg_y, "loss layers")[name]
            return sorted_classes(check_labels(y, len(source), arg_y), arg_y)
        seen = []
        for k, (_, Y) in enumerate(source.batches(np.arange(len(source), dtype=np.int64), 1024)):
            y = by_port(Y, self.losses, arg_y, "loss layers")[name]
            seen.append(sorted_classes(check_labels(y, None, f"{arg_y} (mini-batch {k})"), arg_y))
        return sorted_classes(np.concatenate(seen) if seen else np.zeros(0), arg_y)

    def setup(self, resume) -> None:
        """Check the data against the input layers, classes per classification loss, input statistics, the network
        initialized, the targets checked against the losses, validation prepared the same way."""
        tr = self.tr
        cfg, net, n, B = tr.config, tr.net, tr.n, tr.config.batch_size
        ax, ay = cfg.name("x"), cfg.name("y")
        xs, _ = self._first(tr.raw_data, ax, ay)
        for layer in net.input_layers:
            shape = tuple(check_predictors(xs[layer.name], f"{ax} input {layer.name!r}").shape[1:])
            size = getattr(layer, "size", None)
            if size is not None and tuple(size) != shape:
                raise ValueError(f"{ax} input {layer.name!r}: got observations of shape {shape}; the input layer "
                                 f"takes {tuple(size)}")
            self.shapes[layer.name] = shape
        for layer in net.loss_layers:
            assert layer.name is not None               # the network named every layer
            if isinstance(layer, ClassificationOutput):
                if layer.name == self.classification and net.classes is not None:
                    self.classes[layer.name] = net.classes
                else:
                    self.classes[layer.name] = self._classes(tr.raw_data, layer.name, ay)
        train = GraphPrepared(tr.raw_data, self, ax, ay)
        if isinstance(tr.raw_data, (MultiArraySource, ArraySource)) and train._x is not None:
            for name, x in train._x.items():
                check_representable(f"{ax} input {name!r}", x, tr.dtype)
        if cfg.normalize_inputs:
            for layer in net.input_layers:
                if cfg.reset_input_normalization and resume is None and hasattr(layer, "reset_statistics"):
                    layer.reset_statistics()
                if getattr(layer, "needs_statistics", False):
                    layer.set_statistics(x[layer.name] for x, _ in train.batches(np.arange(n), B))
        if not net.initialized:
            net.initialize(dict(self.shapes), rng=tr.rng, dtype=tr.dtype, device=tr.device)
        net.to(tr.device, tr.dtype)
        net.set_rng(tr.rng)
        for layer in net.loss_layers:              # what each loss receives
            shape = tuple(layer.input_shape)
            if layer.name in self.classes:
                k = len(self.classes[layer.name])
                if shape != (k,):
                    raise ValueError(f"{ay} loss {layer.name!r}: the labels have {k} classes but the layer receives "
                                     f"{shape}; allowed: a FullyConnected layer of output size {k} before its Softmax")
            else:
                self.responses[layer.name] = int(np.prod(shape))
        first = net.output_layer
        self.n_responses = self.responses.get(first.name) if first is not None else None
        train.n_responses = self.n_responses
        if train._encoded is not None:                 # arrays: the targets now checked against the losses
            train._encoded = train._targets(tr.raw_data.Y, n, ay)
        net.classes = self.classes.get(self.classification) if self.classification is not None else None
        tr.train = train
        tr.validation = None
        if tr.raw_validation is not None:
            tr.validation = GraphPrepared(tr.raw_validation, self, cfg.name("validation_x"), cfg.name("validation_y"))
        tr.n_val = 0 if tr.validation is None else len(tr.validation)

    # ------------------------------------------------------------------------------------------- batches
    def to_device(self, x_host: dict, t_host: dict | None):
        """Host batches → device dicts (targets: class indices as integers, responses in the working dtype)."""
        tr = self.tr
        x = {k: to_device(v, tr.device, dtype=tr.dtype) for k, v in x_host.items()}
        if t_host is None:
            return x, None
        t = {k: to_device(v, tr.device, dtype=None if k in self.classes else tr.dtype) for k, v in t_host.items()}
        return x, t

    def example_losses(self, y, t):
        """Σ weight·ℓₙ over the losses, (B,)."""
        net, total = self.tr.net, None
        for out, yy, tt, w in net._loss_terms(y, t):
            e = out.example_losses(yy, tt)
            e = e if w == 1.0 else e * w
            total = e if total is None else total + e
        return total

    def metrics(self, y, t, loss) -> list:
        """[hits of the first classification loss] or, several regression losses, [the first loss's own value]."""
        if self.classification is not None:
            yy = y[self.classification] if isinstance(y, dict) else y
            xp = get_array_module(yy)
            return [(xp.argmax(yy, axis=1) == t[self.classification]).sum().astype(loss.dtype)]
        if len(self.losses) > 1:
            first = self.tr.net.output_layer
            yy = y[first.name] if isinstance(y, dict) else y
            return [first.loss_array(yy, t[first.name]).astype(loss.dtype)]
        return []

    def evaluate(self, source: GraphPrepared, order: np.ndarray) -> tuple[float, float]:
        """(weighted total loss, accuracy % | RMSE) over ``source`` in prediction mode; one host read.  Several
        workers (``trainer.par``): each evaluates its rows of every batch (every port's same rows), the sums are
        combined and ``record_outputs`` gathered in row order (docs/parallel.md)."""
        tr = self.tr
        net, par = tr.net, tr.par
        B = tr.config.validation_batch_size or tr.config.batch_size
        loss_sum = metric = None
        xp = None
        kept: list = []
        first = net.output_layer
        for x_host, t_host in source.batches(order, B):
            if par is not None:                          # this worker's rows of the batch, by port
                lo, hi = par.evaluate_rows(batch_rows(x_host))
                x_host, t_host = take_rows(x_host, lo, hi), take_rows(t_host, lo, hi)
            x, t = self.to_device(x_host, t_host)
            y = net.forward(x, training=False)
            if tr.config.record_outputs:
                kept.append((to_host(y if not isinstance(y, dict) else y[first.name]), t_host[first.name]))
            one = next(iter(y.values())) if isinstance(y, dict) else y
            xp = get_array_module(one)
            empty = len(one) == 0                        # a worker's empty share: nothing to add
            part = self.example_losses(y, t).sum() if not empty else xp.zeros((), dtype=one.dtype)
            loss_sum = part if loss_sum is None else loss_sum + part
            if self.classification is not None:
                yy = y[self.classification] if isinstance(y, dict) else y
                m = (xp.argmax(yy, axis=1) == t[self.classification]).sum().astype(part.dtype)
            elif len(self.losses) > 1 and empty:
                m = xp.zeros((), dtype=one.dtype)
            elif len(self.losses) > 1:
                yy = y[first.name] if isinstance(y, dict) else y
                m = first.example_losses(yy, t[first.name]).sum()
            else:
                m = None
            if m is not None:
                metric = m if metric is None else metric + m
        if par is not None and tr.config.record_outputs:  # every worker's rows, batch by batch
            ranks = par.comm.allgather(kept)
            kept = [(np.concatenate([k[i][0] for k in ranks]), np.concatenate([k[i][1] for k in ranks]))
                    for i in range(len(kept))]
        if kept:
            tr._validation_outputs = tuple(np.concatenate(a) for a in zip(*kept))
        assert xp is not None                            # at least one validation batch
        values = [float(v) for v in to_host(xp.stack([loss_sum] + ([metric] if metric is not None else [])))]
        if par is not None:                              # the sums over the workers
            values = par.sum(values)
        n = len(order)
        loss = values[0] / n
        if self.classification is not None:
            return loss, 100.0 * values[1] / n
        return loss, tr._rmse(values[1] / n if metric is not None else loss)
