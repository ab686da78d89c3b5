"""Argument checks shared across minidl (optimizers, options, dialects): errors name the argument, value and range.

Names reach the messages in the caller's spelling through one mechanism: an :class:`ArgNames` mapping passed in
(the engine's name -> the dialect's), never by rewriting a message afterwards.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping


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


def check_positive_int(arg: str, value, *, wrong_type: type[Exception] = TypeError) -> int:
    """``value`` as an int if it is a positive integer; else ValueError (or ``wrong_type`` for a value that is not an
    integer at all) naming ``arg``.

    >>> check_positive_int("max_epochs", 3)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise wrong_type(f"{arg}: got {value!r}" + (f" of type {type(value).__name__}" if wrong_type is TypeError
                                                    else "") + "; allowed: a positive integer")
    if value < 1:
        raise ValueError(f"{arg}: got {value!r}; allowed: a positive integer")
    return int(value)


def did_you_mean(name: str, allowed: Iterable[str], ignore_case: bool = False, n: int = 1) -> str:
    """`` (did you mean 'x'?)`` for the closest allowed spelling (up to ``n`` of them), or ``""``.

    >>> did_you_mean("MaxEpoch", ["MaxEpochs", "Momentum"])
    " (did you mean 'MaxEpochs'?)"
    """
    allowed = list(allowed)
    canon = {(a.lower() if ignore_case else a): a for a in allowed}
    close = difflib.get_close_matches(name.lower() if ignore_case else name, list(canon), n=n)
    return f" (did you mean {', '.join(repr(canon[c]) for c in close)}?)" if close else ""


def snake_case(name: str) -> str:
    """A CamelCase name (MATLAB's or Wolfram's) in snake_case: an underscore before each capital that follows a
    small letter; runs of capitals stay one word.

    >>> snake_case("MaxTrainingRounds"), snake_case("TrainingRMSE"), snake_case("Beta1")
    ('max_training_rounds', 'training_rmse', 'beta1')
    """
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i and (not name[i - 1].isupper() and not name[i - 1].isdigit()):
            out.append("_")
        out.append(c.lower())
    return "".join(out)


class ArgNames:
    """Argument names as the caller spells them, for error messages: ``names("max_epochs")``.

    ``mapping``: engine name -> the dialect's name (unmapped names are used as they are); ``quote`` puts the name in
    quotes (MATLAB's messages: ``'MaxEpochs'``); ``index_base`` and ``brackets`` spell an element
    (``validation_data[0]`` in Python, ``'ValidationData{1}'`` in MATLAB).

    >>> ArgNames({"max_epochs": "MaxEpochs"}, quote=True)("max_epochs")
    "'MaxEpochs'"
    >>> ArgNames({"validation_data": "ValidationData"}, quote=True, index_base=1, brackets="{}")("validation_data", 0)
    "'ValidationData{1}'"
    >>> ArgNames()("validation_data", 1)
    'validation_data[1]'
    """

    def __init__(self, mapping: Mapping[str, str] | None = None, *, quote: bool = False, index_base: int = 0,
                 brackets: str = "[]"):
        self.mapping, self.quote, self.index_base, self.brackets = dict(mapping or {}), quote, index_base, brackets

    def __call__(self, key: str, index: int | None = None) -> str:
        name = self.mapping.get(key, key)
        if index is not None:
            name = f"{name}{self.brackets[0]}{index + self.index_base}{self.brackets[1]}"
        return f"'{name}'" if self.quote else name

    def spelling(self, key: str) -> str:
        """The dialect's bare name of ``key`` (no quotes, no index)."""
        return self.mapping.get(key, key)


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
