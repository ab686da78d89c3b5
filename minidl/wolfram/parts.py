"""Parts of a Wolfram net addressed by name, position, span and path, and TrainingUpdateSchedule
(docs/semantics-wolfram.md#16-graphs-ports-and-update-schedules).

A NetGraph or NetGANOperator is flattened into one minidl network; a layer of a nested part (a subnet such as
NetGANOperator's "Generator") is named ``"<part>:<layer>"`` (:data:`SEP`), so its arrays are
``"Generator:fc_1.weight"``.  A part spec selects arrays:

==========================================  =========================================================
Wolfram                                     Python
==========================================  =========================================================
``"layer"`` (a layer or a subnet)           ``"layer"``: every array of it
``n`` (the n-th layer)                      ``n`` (0-based as minidl's other positions; negative from the end)
``m ;; n``                                  ``Span(m, n)`` or ``slice(m, n + 1)``
``{layer, "array"}``, ``{part1, part2}``    a tuple ``("layer", "weight")``, ``("Generator", "fc_1")``
``spec1 | spec2``                           a list ``["a", "b"]`` (inside a group) or ``Alternatives("a", "b")``
``_``, ``All``                              ``"_"`` or ``"All"``
``spec -> s`` (TrainingUpdateSchedule)      ``{spec: s}`` or ``(spec, s)`` with an integer s ≥ 1
==========================================  =========================================================

>>> layers = ["Generator:fc_1", "Generator:tanh_1", "Discriminator:fc_1"]
>>> names = ["Generator:fc_1.weight", "Generator:fc_1.bias", "Discriminator:fc_1.weight"]
>>> part_arrays("Generator", layers, names, "spec")
['Generator:fc_1.weight', 'Generator:fc_1.bias']
>>> part_arrays(("Generator", "fc_1", "weight"), layers, names, "spec")
['Generator:fc_1.weight']
>>> [(sorted(g), s) for g, s in update_groups([{"Discriminator": 2}, "Generator"], layers, names, "spec")]
[(['Discriminator:fc_1.weight'], 2), (['Generator:fc_1.bias', 'Generator:fc_1.weight'], 1)]
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from minidl.wolfram.options import Span, is_automatic

__all__ = ["SEP", "Alternatives", "part_arrays", "part_layers", "update_groups", "describe_schedule"]

SEP = ":"
"""Separates a nested part's name from its layer's: ``"Generator:fc_1"``."""


@dataclass(frozen=True)
class Alternatives:
    """Wolfram's ``spec1 | spec2 | ...``: the arrays of any of the specs."""

    specs: tuple

    def __init__(self, *specs):
        object.__setattr__(self, "specs", tuple(specs))


def _children(prefix: str, layers: Sequence[str]) -> list[str]:
    """The direct parts under ``prefix`` (a nested part's name, "" for the top), in layer order."""
    out: list[str] = []
    for name in layers:
        if prefix and not name.startswith(prefix + SEP):
            continue
        rest = name[len(prefix) + 1:] if prefix else name
        head = rest.split(SEP, 1)[0]
        if head not in out:
            out.append(head)
    return out


def _under(prefix: str, layers: Sequence[str]) -> list[str]:
    return [n for n in layers if n == prefix or n.startswith(prefix + SEP)]


def part_layers(part, layers: Sequence[str], arg: str, prefix: str = "") -> list[str]:
    """The layer names a part selects (no array key): a name, position, Span/slice, path tuple, alternatives,
    "_"/"All"; ``prefix``: inside which nested part."""
    scope = _children(prefix, layers)

    def full(head: str) -> str:
        return f"{prefix}{SEP}{head}" if prefix else head
    if isinstance(part, str) and part in ("_", "All", "all"):
        return _under(prefix, layers) if prefix else list(layers)
    if isinstance(part, (list, Alternatives)):
        specs = part.specs if isinstance(part, Alternatives) else part
        out: list[str] = []
        for s in specs:
            out += [n for n in part_layers(s, layers, arg, prefix) if n not in out]
        return out
    if isinstance(part, tuple) and part:
        if len(part) == 1:
            return part_layers(part[0], layers, arg, prefix)
        p0 = part[0]
        if isinstance(p0, numbers.Integral) and not isinstance(p0, bool) and -len(scope) <= int(p0) < len(scope):
            head = scope[p0]
        elif isinstance(p0, str) and p0 in scope:
            head = p0
        else:
            raise ValueError(f"{arg}: path {part!r}: {p0!r} is not one part{' of ' + repr(prefix) if prefix else ''}"
                             f"; allowed: a name or position of {', '.join(scope)}")
        return part_layers(part[1:], layers, arg, full(head))
    if isinstance(part, Span):
        part = part.as_slice()
    if isinstance(part, slice):
        return [n for head in scope[part] for n in _under(full(head), layers)]
    if isinstance(part, numbers.Integral) and not isinstance(part, bool):
        if not -len(scope) <= int(part) < len(scope):
            where = f" of {prefix!r}" if prefix else ""
            raise ValueError(f"{arg}: layer position {part} is out of range; the net{where} has {len(scope)} parts")
        return _under(full(scope[part]), layers)
    if isinstance(part, str) and part in scope:
        return _under(full(part), layers)
    where = f" inside {prefix!r}" if prefix else ""
    raise ValueError(f"{arg}: got part {part!r}{where}; allowed: a layer or part name ({', '.join(scope)}), a "
                     "position, a Span or slice of positions, a path tuple (part, layer, ..., 'array'), a list or "
                     "Alternatives of parts, '_' or 'All'")


def part_arrays(part, layers: Sequence[str], names: Sequence[str], arg: str) -> list[str]:
    """The array names (``"layer.key"``, in ``names`` order) a part selects; a path may end in an array key
    (``("conv_1", "weight")``) and a plain ``"layer.key"`` names one array."""
    if isinstance(part, str) and part in names:
        return [part]
    if isinstance(part, tuple) and len(part) >= 2 and isinstance(part[-1], str):
        try:
            owner = part_layers(part[:-1], layers, arg)
        except ValueError:
            owner = None
        if owner is not None and len(owner) == 1 and f"{owner[0]}.{part[-1]}" in names:
            return [f"{owner[0]}.{part[-1]}"]
    chosen = set(part_layers(part, layers, arg))
    return [n for n in names if n.rsplit(".", 1)[0] in chosen]


def _group(spec, arg: str):
    """(part, s) of one group: {part: s}, (part, s) with an int s, or part (s = 1)."""
    if isinstance(spec, Mapping):
        if len(spec) != 1:
            raise ValueError(f"{arg}: got {spec!r}; a rule spec -> s is a dict with one entry {{spec: s}}")
        (part, s), = spec.items()
    elif (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], numbers.Integral)
          and not isinstance(spec[1], bool) and not isinstance(spec[0], (numbers.Integral,))):
        part, s = spec
    else:
        part, s = spec, 1
    if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
        raise ValueError(f"{arg}: rule {part!r} -> {s!r}; allowed: a whole number of steps ≥ 1")
    return part, int(s)


def update_groups(spec, layers: Sequence[str], names: Sequence[str], arg: str = "TrainingUpdateSchedule"
                  ) -> list[tuple[frozenset[str], int]] | None:
    """The engine's ``update_groups`` from TrainingUpdateSchedule: a cycle of (arrays updated, consecutive steps).

    ``spec``: Automatic/None (every array every step: None), one group, or a list of groups, each a part spec or a
    rule ``{part: s}``; the groups are cycled to the end of training, the arrays outside the current group stay
    constant during its steps (docs/semantics-wolfram.md#16-graphs-ports-and-update-schedules).
    """
    if is_automatic(spec):
        return None
    groups = list(spec) if isinstance(spec, list) else [spec]
    if not groups:
        raise ValueError(f"{arg}: got []; allowed: 'Automatic' or a non-empty list of groups")
    out = []
    for i, g in enumerate(groups):
        part, s = _group(g, f"{arg}[{i}]")
        arrays = part_arrays(part, layers, names, f"{arg}[{i}]")
        out.append((frozenset(arrays), s))
    return out


def describe_schedule(spec) -> object:
    """The result property "TrainingUpdateSchedule": the option as given ("Automatic" when not set)."""
    return "Automatic" if is_automatic(spec) else spec
