"""Argument checks shared across minidl (optimizers, options, dialects): errors name the argument, value and range."""

from __future__ import annotations

import math
import numbers


def check_real(arg: str, value, low: float = -math.inf, high: float = math.inf, *, low_open: bool = False,
               high_open: bool = False) -> float:
    """``value`` as a Python float if it is a real number in the interval; else ValueError/TypeError naming ``arg``.

    >>> check_real("momentum", 0.5, 0.0, 1.0, high_open=True)
    0.5
    >>> check_real("momentum", 1.0, 0.0, 1.0, high_open=True)
    Traceback (most recent call last):
    ValueError: momentum: got 1.0; allowed: a real number in [0, 1)
    """
    allowed = f"a real number in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{arg}: got {value!r} of type {type(value).__name__}; allowed: {allowed}")
    x = float(value)
    too_low = x < low or (low_open and x == low)
    too_high = x > high or (high_open and x == high)
    if math.isnan(x) or too_low or too_high:
        raise ValueError(f"{arg}: got {value!r}; allowed: {allowed}")
    return x


def check_nonnegative(arg: str, value) -> float:
    """``value`` as a Python float if it is a finite real number ≥ 0; else ValueError/TypeError naming ``arg``."""
    return check_real(arg, value, 0.0, math.inf, high_open=True)


def check_positive_int(arg: str, value) -> int:
    """``value`` as an int if it is a positive integer; else ValueError/TypeError naming ``arg``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{arg}: got {value!r} of type {type(value).__name__}; allowed: a positive integer")
    if value < 1:
        raise ValueError(f"{arg}: got {value!r}; allowed: a positive integer")
    return int(value)


def check_choice(arg: str, value, allowed: tuple[str, ...], ignore_case: bool = False) -> str:
    """The spelling in ``allowed`` that ``value`` names (exactly, or case-insensitively as MATLAB's validatestring and
    Wolfram's names match); else ValueError naming ``arg`` and the choices.

    >>> check_choice("Shuffle", "EVERY-epoch", ("once", "every-epoch"), ignore_case=True)
    'every-epoch'
    """
    if isinstance(value, str):
        for a in allowed:
            if a == value or (ignore_case and a.lower() == value.lower()):
                return a
    raise ValueError(f"{arg}: got {value!r}; allowed: {', '.join(map(repr, allowed))}")


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"
