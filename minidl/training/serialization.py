"""Network architecture as JSON: each layer as its class name and constructor arguments (no arrays, no pickle).

Layers keep their hyper-parameters as attributes named like their constructor arguments, so the arguments are read
back from the attributes. Arrays (weights, statistics) are not part of the architecture: they travel in the ``.npz``
of a checkpoint. Only classes defined in ``minidl.layers`` and classes the user registered with
:func:`minidl.layers.register_layer` can be rebuilt: a file names a class, it is looked up in those two tables, and
nothing named in a file is ever imported (docs/extending.md#saving-and-loading).

>>> from minidl import layers as L
>>> spec = layer_to_json(L.FullyConnected(10, name="fc", weights_initializer="he"))
>>> spec["type"], spec["args"]["output_size"], spec["args"]["weights_initializer"]
('FullyConnected', 10, 'he')
>>> layer_from_json(spec).describe()
'fc: 10 fully connected'
"""

from __future__ import annotations

import importlib
import inspect
import math
from typing import Any

from minidl.layers.base import Layer, builtin_layer_classes, registered_layers

__all__ = ["layer_to_json", "layer_from_json", "network_to_json", "network_from_json", "layer_classes"]

#: Constructor arguments that hold arrays (given weights or statistics): never in the JSON, always in the npz.
ARRAY_ARGS = frozenset({"weights", "bias", "scale", "offset", "mean", "std", "input_weights", "recurrent_weights",
                        "recurrent_bias", "initial_hidden_state", "initial_cell_state"})
#: Constructor argument -> attribute name where they differ.
ALIASES = {"input_size": "size"}


def layer_classes() -> dict[str, type[Layer]]:
    """The classes a saved architecture may name: every concrete minidl.layers class and the classes registered with
    :func:`minidl.layers.register_layer`, by saved name."""
    importlib.import_module("minidl.layers")  # every built-in layer module (the package imports them all)
    return {**builtin_layer_classes(), **registered_layers()}


def _saved_name(cls: type) -> str | None:
    """The name a saved file gives ``cls``: its class name if built in, its registered name, else None."""
    if builtin_layer_classes().get(cls.__name__) is cls:
        return cls.__name__
    return next((k for k, v in registered_layers().items() if v is cls), None)


def _constructor_args(cls: type) -> list[str]:
    """Named constructor arguments along the class hierarchy (a subclass passing **kwargs to its base)."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]
        names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name not in names]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def _plain(value: Any, where: str) -> Any:
    """A JSON value from a hyper-parameter (tuples become lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v, where) for v in value]
    raise TypeError(f"{where}: a {type(value).__name__} cannot be saved in the architecture JSON; allowed: numbers, "
                    "strings, booleans and lists of them")


def layer_to_json(layer: Layer) -> dict[str, Any]:
    """``{"type": class name, "args": {constructor argument: value}}``; factors as ``<key>_learn_rate_factor``."""
    cls = type(layer)
    saved = _saved_name(cls)
    if saved is None:
        raise TypeError(f"layer {layer.name!r}: {cls.__module__}.{cls.__qualname__} is neither a minidl layer nor "
                        f"registered; allowed: minidl.layers classes and registered ones (call "
                        f"minidl.layers.register_layer({cls.__name__}) before saving, and before loading)")
    args: dict[str, Any] = {}
    for arg in _constructor_args(cls):
        attr = ALIASES.get(arg, arg)
        if arg in ARRAY_ARGS and not isinstance(getattr(layer, attr, None), (int, float)):
            continue  # a number under an array's name (LeakyReLU's scale) is a hyper-parameter: saved
        if not hasattr(layer, attr):
            continue
        value = getattr(layer, attr)
        if arg.endswith("_initializer") and not isinstance(value, str):
            value = "normal"  # a callable or array initializer: the trained arrays come from the npz anyway
        args[arg] = _plain(value, f"layer {layer.name!r} argument {arg!r}")
    for key in layer.factor_defaults:
        args[f"{key}_learn_rate_factor"] = float(layer.learn_rate_factors[key])
        args[f"{key}_l2_factor"] = float(layer.l2_factors[key])
    return {"type": saved, "args": args}


def layer_from_json(spec: dict[str, Any]) -> Layer:
    """The layer ``layer_to_json`` described (without arrays)."""
    classes = layer_classes()
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or not isinstance(spec.get("args"), dict):
        raise ValueError(f"layer spec: got {spec!r}; allowed: {{'type': a layer name, 'args': {{...}}}}")
    name = spec["type"]
    if name not in classes:
        raise ValueError(f"layer spec: the saved layer type {name!r} is neither a minidl layer nor registered; "
                         f"register its class before loading: minidl.layers.register_layer(<the class>, "
                         f"name={name!r}) (registered now: {sorted(registered_layers()) or 'none'}; nothing named in "
                         "a file is ever imported)")
    return classes[name](**spec["args"])


def network_to_json(net) -> dict[str, Any]:
    """The architecture of a Network: its layers in order and its per-example input shape; a graph (not a chain)
    adds its ``"connections"`` (normalized ``["a/out", "b/in"]`` pairs) and no input shape when it has several
    inputs (each input layer's size gives its own)."""
    shape = net.input_shape
    out: dict[str, Any] = {"layers": [layer_to_json(layer) for layer in net.layers],
                           "input_shape": None if shape is None or isinstance(shape, dict) else list(shape)}
    if not net.is_chain:
        out["connections"] = [list(pair) for pair in net.connections]
    if any(float(w) != 1.0 for w in net.loss_weights.values()):   # the weighted total Σ weight·loss (graphs)
        out["loss_weights"] = {name: float(w) for name, w in net.loss_weights.items()}
    return out


def network_from_json(spec: dict[str, Any]):
    """An uninitialized Network from :func:`network_to_json` output."""
    from minidl.network import Network

    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        raise ValueError("architecture: expected {'layers': [...], 'input_shape': [...]}")
    connections = spec.get("connections")
    if connections is not None and not (isinstance(connections, list) and all(
            isinstance(c, list) and len(c) == 2 and all(isinstance(e, str) for e in c) for c in connections)):
        raise ValueError(f"architecture: 'connections' is {connections!r:.80}; allowed: a list of [source, "
                         "destination] string pairs")
    net = Network([layer_from_json(s) for s in spec["layers"]],
                  None if connections is None else [tuple(c) for c in connections])
    weights = spec.get("loss_weights", {})
    if not (isinstance(weights, dict) and all(
            name in net.loss_weights and isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w)
            for name, w in weights.items())):
        raise ValueError(f"architecture: 'loss_weights' is {weights!r:.80}; allowed: finite numbers by loss layer "
                         f"name ({', '.join(net.loss_weights) or 'none'})")
    net.loss_weights.update({name: float(w) for name, w in weights.items()})
    return net
