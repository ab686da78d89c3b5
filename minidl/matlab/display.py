"""MATLAB's way of writing values and reading them back: struct display and 'Name', Value pairs.

Values show as MATLAB shows them (``format_value``, :class:`MatlabStruct`); name-value arguments parse as MATLAB
parses them: names matched case-insensitively, numbers as doubles (``20.0`` is ``20``), 1×1 arrays as scalars.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from minidl._checks import check_choice, did_you_mean
from minidl.backend import to_host


def format_value(value: Any) -> str:
    """A value as MATLAB's ``format short`` shows it in a struct or object display.

    >>> [format_value(v) for v in (0.9, 0.01, 1e-4, 0.001, 20, True, 'once', None, float('inf'), [1, 2])]
    ['0.9000', '0.0100', '1.0000e-04', '1.0000e-03', '20', '1', "'once'", '[]', 'Inf', '[1x2 double]']
    """
    if value is None:
        return "[]"
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, str):
        return repr(value) if "'" not in value else f'"{value}"'
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Inf" if x > 0 else "-Inf"
        if x == int(x) and abs(x) < 1e10:
            return str(int(x))
        return f"{x:.4f}" if 1e-3 < abs(x) < 1e3 else f"{x:.4e}"  # MATLAB: fixed 4 decimals, else 1.0000e-04
    if isinstance(value, MatlabStruct):
        return "[1x1 struct]"
    if callable(value):
        return "@" + getattr(value, "__name__", type(value).__name__)
    if isinstance(value, (tuple, list)):
        if value and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
            return f"[1x{len(value)} double]"
        return f"{{1x{len(value)} cell}}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        dims = tuple(shape) if len(shape) >= 2 else (1,) + tuple(shape) if shape else (1, 1)
        kind = {"f": "double", "i": "int64", "u": "uint8", "b": "logical"}.get(getattr(value.dtype, "kind", ""),
                                                                                 "array")
        if dims == (1, 1) and kind != "array":
            return format_value(value.item())
        return "[" + "x".join(map(str, dims)) + f" {kind}]"
    return f"[1x1 {type(value).__name__}]"


def _format_fields(fields: Mapping[str, Any]) -> str:
    width = max((len(k) for k in fields), default=0)
    return "\n".join(f"    {k.rjust(width)}: {format_value(v)}" for k, v in fields.items())


class MatlabStruct(Mapping):
    """A MATLAB struct: named fields in order, read as ``s.Field`` or ``s["Field"]``, displayed like MATLAB.

    >>> s = MatlabStruct(Method='piecewise', DropRateFactor=0.2, DropPeriod=5)
    >>> s.DropPeriod, s["Method"], list(s)
    (5, 'piecewise', ['Method', 'DropRateFactor', 'DropPeriod'])
    >>> print(s)
      struct with fields:
    <BLANKLINE>
                Method: 'piecewise'
        DropRateFactor: 0.2000
            DropPeriod: 5
    """

    def __init__(self, fields: Mapping[str, Any] | None = None, **more: Any):
        object.__setattr__(self, "_fields", dict(fields or {}, **more))

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        raise AttributeError(f"struct has no field {name!r}; fields: {', '.join(fields) or 'none'}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._fields[name] = value

    def __getitem__(self, name: str) -> Any:
        if name not in self._fields:
            raise KeyError(f"struct has no field {name!r}; fields: {', '.join(self._fields) or 'none'}")
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __dir__(self):
        return list(self._fields) + list(super().__dir__())

    def __repr__(self) -> str:
        return "  struct with fields:\n\n" + _format_fields(self._fields)



def _parse_pairs(func: str, args: tuple, kwargs: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Positional 'Name', Value pairs and Name=Value keywords → {CanonicalName: value}; the last one given wins.

    Names are matched case-insensitively against ``allowed`` (MATLAB spellings).
    """
    if len(args) % 2:
        raise TypeError(f"{func}: name-value arguments must come in pairs; got {len(args)} arguments "
                        f"(the name {args[-1]!r} has no value)")
    canon = {a.lower(): a for a in allowed}
    out: dict[str, Any] = {}
    for name, value in list(zip(args[::2], args[1::2])) + list(kwargs.items()):
        if not isinstance(name, str):
            raise TypeError(f"{func}: a name-value argument name must be a string; got {name!r} "
                            f"({type(name).__name__})")
        key = canon.get(name.lower())
        if key is None:
            raise TypeError(f"{func}: unknown name {name!r}{did_you_mean(name, allowed, ignore_case=True)}; allowed: "
                            f"{', '.join(map(repr, sorted(allowed)))}")
        out[key] = value
    return out


def _to_python(value: Any) -> Any:
    """NumPy scalars and one-element arrays (MATLAB has no scalars apart from 1×1 arrays) → Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "biuf":
        return value.item()
    return value


def _integral(value: Any) -> Any:
    """MATLAB numbers are doubles: a float with an integer value (20.0) becomes the int 20; anything else as is."""
    value = _to_python(value)
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def _choice(func: str, arg: str, value: Any, allowed: tuple[str, ...]) -> str:
    """A string option matched case-insensitively (MATLAB's validatestring) → its canonical spelling."""
    return check_choice(f"{func}: '{arg}'", value, allowed, ignore_case=True)


def _int_vector(func: str, arg: str, value: Any, lengths: tuple[int, ...], low: int) -> tuple[int, ...]:
    """An integer scalar or MATLAB row vector ([3 3], numpy array, list) of integers ≥ low → tuple of ints."""
    v = _to_python(value)
    items = (v,) if isinstance(v, numbers.Number) else tuple(np.asarray(v).ravel().tolist()) \
        if isinstance(v, (list, tuple, np.ndarray)) else None
    ok = items is not None and len(items) in lengths and all(
        isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) and x == int(x) and x >= low
        for x in items)
    if not ok:
        counts = [str(n) for n in lengths if n > 1]
        forms = (["an integer"] if 1 in lengths else []) + ([f"a vector of {' or '.join(counts)} integers"]
                                                             if counts else [])
        raise ValueError(f"{func}: '{arg}': got {value!r}; allowed: {' or '.join(forms)}, each >= {low}")
    return tuple(int(x) for x in items)


def _hw(v: tuple[int, ...]) -> int | tuple[int, ...]:
    """A MATLAB scalar-or-vector size as minidl takes it: (3,) → 3, (3, 5) → (3, 5), (1, 2, 3, 4) as is."""
    return v[0] if len(v) == 1 else v


def _padding(func: str, value: Any) -> str | int | tuple[int, ...]:
    """MATLAB 'Padding': 'same', p, [ph pw] (top-bottom, left-right) or [t b l r] → minidl's padding argument."""
    if isinstance(value, str) and value.lower() == "same":
        return "same"
    try:
        return _hw(_int_vector(func, "Padding", value, (1, 2, 4), 0))
    except ValueError:
        raise ValueError(f"{func}: 'Padding': got {value!r}; allowed: 'same', an integer p, [ph pw] or "
                         "[t b l r] of integers >= 0") from None


def _host_array(func: str, arg: str, value: Any, ndims: tuple[int, ...]) -> np.ndarray:
    """A numeric host array of one of the ranks ``ndims`` (weights, statistics given to a layer), else an error."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{func}: '{arg}': got {value!r}; allowed: a numeric array")
    a = np.asarray(to_host(value)) if hasattr(value, "shape") else np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{func}: '{arg}': got an array of dtype {a.dtype}; allowed: a numeric array")
    if a.ndim not in ndims:
        raise ValueError(f"{func}: '{arg}': got an array of rank {a.ndim} (shape {a.shape}); allowed: rank "
                         f"{' or '.join(map(str, ndims))}")
    return a.astype(np.float64)


def _engine_call(func: str, names: Mapping[str, str], make: Callable[[], Any]) -> Any:
    """Call an engine constructor; re-raise its argument errors under the MATLAB argument names."""
    try:
        return make()
    except (ValueError, TypeError) as e:
        msg = str(e)
        head, sep, rest = msg.partition(":")
        if sep and head in names:
            msg = f"'{names[head]}'{sep}{rest}"
        raise type(e)(f"{func}: {msg}") from e
