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
    if type(value) is float or type(value) is int:  # the common case: a plain number (no conversion)
        x = float(value)
    else:
        value = plain_scalar(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{arg}: got {value!r} of type {type(value).__name__}; allowed: "
                            f"{_real_interval(low, high, low_open, high_open)}")
        x = float(value)
    too_low = x < low or (low_open and x == low)
    too_high = x > high or (high_open and x == high)
    if math.isnan(x) or too_low or too_high:
        raise ValueError(f"{arg}: got {value!r}; allowed: {_real_interval(low, high, low_open, high_open)}")
    return x


def _real_interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    """The 'allowed' part of :func:`check_real`'s messages (formatted only when a check fails)."""
    return f"a real number in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"


def check_nonnegative(arg: str, value) -> float:
    """``value`` as a Python float if it is a finite real number ≥ 0; else ValueError/TypeError naming ``arg``."""
    return check_real(arg, value, 0.0, math.inf, high_open=True)


def check_positive_int(arg: str, value, *, wrong_type: type[Exception] = TypeError) -> int:
    """``value`` as an int if it is a positive integer; else ValueError (or ``wrong_type`` for a value that is not an
    integer at all) naming ``arg``.

    >>> check_positive_int("max_epochs", 3)
    3
    """
    value = plain_scalar(value)
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
    value = plain_scalar(value)
    if isinstance(value, str):
        for a in allowed:
            if a == value or (ignore_case and a.lower() == value.lower()):
                return a
    raise ValueError(f"{arg}: got {value!r}; allowed: {', '.join(map(repr, allowed))}")


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


def plain_scalar(value):
    """A NumPy scalar or 0-d array as the Python scalar it holds (``np.bool_`` → bool, ``np.array(0.01)`` →
    float, ``np.str_`` → str); anything else unchanged.  Every scalar check calls this first, so NumPy values are
    accepted wherever Python scalars are.

    >>> import numpy as np
    >>> plain_scalar(np.array(0.01)), plain_scalar(np.bool_(True)), plain_scalar(np.int64(3)), plain_scalar([1])
    (0.01, True, 3, [1])
    """
    if isinstance(value, (bool, int, float, str)) and type(value) in (bool, int, float, str):
        return value
    shape = getattr(value, "shape", None)
    item = getattr(value, "item", None)
    if shape == () and callable(item) and getattr(value, "dtype", None) is not None:
        if value.dtype.kind in "biufUS":
            out = item()
            return out.decode("utf-8", "replace") if isinstance(out, bytes) else out
    if isinstance(value, str):
        return str(value)
    return value


def check_bool(arg: str, value) -> bool:
    """``value`` as a bool if it is one (Python or NumPy, or a 0-d array holding one); else TypeError naming
    ``arg``.

    >>> import numpy as np
    >>> check_bool("verbose", np.bool_(False))
    False
    """
    value = plain_scalar(value)
    if not isinstance(value, bool):
        raise TypeError(f"{arg}: got {value!r} of type {type(value).__name__}; allowed: true or false")
    return value


def check_finite_positive(arg: str, value) -> float:
    """``value`` as a float if it is a finite real number > 0; else ValueError/TypeError naming ``arg``.

    >>> check_finite_positive("epsilon", float("inf"))
    Traceback (most recent call last):
    ValueError: epsilon: got inf; allowed: a real number in (0, inf)
    """
    return check_real(arg, value, 0.0, math.inf, low_open=True, high_open=True)


def check_representable(arg: str, x, dtype, what: str = "observation") -> None:
    """ValueError naming ``arg`` when the array ``x`` (N, ...; host or device) holds values finite as given but
    infinite once cast to the working precision ``dtype`` (float64 data beyond float32's range, ±3.4e38).

    >>> import numpy as np
    >>> check_representable("X", np.array([[1.0], [1e39]]), "float32")
    Traceback (most recent call last):
    ValueError: X: observation 1 holds 1e+39, finite in float64 but Inf in float32 (the working precision); ...
    """
    import numpy as np  # noqa: PLC0415  (the other checks need no NumPy)

    from minidl.backend import get_array_module, is_device  # noqa: PLC0415

    dt = np.dtype(dtype)
    if is_device(get_array_module(x)):  # a device array (CuPy's, the stand-in's): checked on a host copy
        from minidl.backend import to_host  # noqa: PLC0415

        x = to_host(x)
    x = np.asarray(x)
    if x.dtype.kind != "f" or dt.kind != "f" or np.finfo(dt).max >= np.finfo(x.dtype).max or x.size == 0:
        return
    limit = float(np.finfo(dt).max)
    flat = np.abs(x.reshape(len(x), -1) if x.ndim else x.reshape(1, 1))
    over = flat > limit
    if over.any():
        i = int(np.argmax(over.any(axis=1)))
        value = float(x.reshape(len(x), -1)[i][over[i]][0]) if x.ndim else float(x)
        raise ValueError(f"{arg}: {what} {i} holds {value:g}, finite in {x.dtype.name} but Inf in {dt.name} (the "
                         f"working precision); allowed: |values| <= {limit:g} (rescale the data or train in "
                         "float64)")


def named_device(arg: str, name):
    """The backend device ``name`` ("cpu", "gpu", "auto", ...), a refusal naming the option ``arg`` that asked for it
    (e.g. a GPU without CuPy: "'ExecutionEnvironment': device 'gpu' was requested but ...")."""
    from minidl.backend import get_device

    try:
        return get_device(name)
    except (RuntimeError, ValueError) as e:
        raise type(e)(f"{arg}: {e}") from e
