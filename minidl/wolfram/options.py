"""NetTrain's options: Wolfram names ↔ snake_case, defaults, checks, Method and its sub-options
(docs/semantics-wolfram.md#2-options-and-their-automatic-rules).

Every option is checked before anything is trained: a wrong name, type or value raises an error that names the
option as the caller spelled it (``MaxTrainingRounds`` for NetTrain, ``max_training_rounds`` for net_train), the
value given and what is allowed.  Values Wolfram accepts but minidl has not built raise
:class:`~minidl.training.options.NotSupportedYetError`.  String choices are matched case-insensitively
(``"adam"`` is ``"ADAM"``); sub-option keys may be given in either spelling (``"Momentum"`` or ``"momentum"``).

>>> method_spec(("SGD", {"Momentum": 0.9}))
('SGD', {'Momentum': 0.9})
>>> automatic_batch_size(seconds_per_example=1e-5, n_examples=1000), automatic_rounds(seconds_per_round=0.5)
(64, 40)
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from minidl._checks import ArgNames, check_choice, check_positive_int, did_you_mean, snake_case
from minidl.errors import NotSupportedYetError
from minidl.optim import SGD, Adam, CenteredRMSProp, SignSGD, register_method
from minidl.optim.base import Optimizer

__all__ = ["Automatic", "All", "OPTIONS", "WOLFRAM_NAMES", "ARG_NAMES", "method_spec", "make_method_optimizer",
           "DEFAULT_LEARNING_RATE", "METHOD_SUBOPTIONS", "COMMON_SUBOPTIONS", "MEASUREMENTS", "automatic_batch_size",
           "automatic_rounds", "camel_keys", "choice", "interval_spec", "Quantity", "Interval", "Span", "positive_int",
           "positive_real", "NotSupportedYetError"]

Automatic = "Automatic"
"""Wolfram's ``Automatic`` (the string; ``None`` also means Automatic for options whose None has no other sense)."""
All = "All"
"""Wolfram's ``All`` as ``prop``: the results object."""

#: snake_case name -> (Wolfram name, default).
OPTIONS: dict[str, tuple[str, Any]] = {
    "batch_size": ("BatchSize", Automatic),
    "learning_rate": ("LearningRate", Automatic),
    "learning_rate_multipliers": ("LearningRateMultipliers", Automatic),
    "loss_function": ("LossFunction", Automatic),
    "max_training_rounds": ("MaxTrainingRounds", Automatic),
    "method": ("Method", Automatic),
    "performance_goal": ("PerformanceGoal", Automatic),
    "target_device": ("TargetDevice", "CPU"),
    "time_goal": ("TimeGoal", Automatic),
    "training_progress_measurements": ("TrainingProgressMeasurements", Automatic),
    "training_progress_checkpointing": ("TrainingProgressCheckpointing", None),
    "random_seeding": ("RandomSeeding", 1234),
    "training_progress_function": ("TrainingProgressFunction", None),
    "training_progress_reporting": ("TrainingProgressReporting", Automatic),
    "training_stopping_criterion": ("TrainingStoppingCriterion", None),
    "training_update_schedule": ("TrainingUpdateSchedule", Automatic),
    "validation_set": ("ValidationSet", None),
    "working_precision": ("WorkingPrecision", Automatic),
}
#: Wolfram name -> snake_case name.
WOLFRAM_NAMES = {w: s for s, (w, _) in OPTIONS.items()}

#: Sub-option keys (Method, ValidationSet, reporting, checkpointing, stopping criterion, custom properties, data).
SUB_KEYS = ("Momentum", "Beta1", "Beta2", "Epsilon", "Beta", "LearningRateSchedule", "L2Regularization",
            "GradientClipping", "WeightClipping", "Interval", "RoundLength", "Criterion", "Patience",
            "InitialPatience", "AbsoluteChange", "RelativeChange", "Property", "Form")


snake = snake_case  # a Wolfram name in snake_case: ``MaxTrainingRounds`` → ``max_training_rounds``


_SUB_SNAKE = {snake(k): k for k in SUB_KEYS}


def camel_keys(mapping: Mapping, arg: str) -> dict[str, Any]:
    """A sub-option mapping with keys in Wolfram spelling (``round_length`` → ``RoundLength``); others kept."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{arg}: got {type(mapping).__name__}; allowed: a dict of sub-options")
    return {(_SUB_SNAKE.get(k, k) if isinstance(k, str) else k): v for k, v in mapping.items()}


#: How NetTrain's messages spell the options (Wolfram's names); net_train's use snake_case (``ArgNames()``).
ARG_NAMES = ArgNames({s: w for s, (w, _) in OPTIONS.items()})


# ------------------------------------------------------------------------------------------------ small checks
def is_automatic(value) -> bool:
    """True for None and the string "Automatic" (any case)."""
    return value is None or (isinstance(value, str) and value.lower() == "automatic")


def choice(arg: str, value, allowed: tuple[str, ...]) -> str:
    """The canonical spelling in ``allowed`` of a case-insensitive string choice (Wolfram names)."""
    return check_choice(arg, value, allowed, ignore_case=True)


def positive_int(arg: str, value) -> int:
    """An integer ≥ 1 (not a bool); any wrong value is a ValueError (as Wolfram reports an invalid option value)."""
    return check_positive_int(arg, value, wrong_type=ValueError)


def positive_real(arg: str, value, allow_zero: bool = False) -> float:
    """A finite real > 0 (or ≥ 0)."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{arg}: got {value!r}; allowed: a finite number {'≥' if allow_zero else '>'} 0")
    return float(value)


#: Quantity units (any case, singular or plural, or the short forms) -> the canonical unit.
_UNITS = {"batch": "Batches", "batches": "Batches", "round": "Rounds", "rounds": "Rounds", "percent": "Percent",
          "%": "Percent", "second": "Seconds", "seconds": "Seconds", "s": "Seconds", "minute": "Minutes",
          "minutes": "Minutes", "min": "Minutes", "hour": "Hours", "hours": "Hours", "h": "Hours"}
_SECONDS_PER = {"Seconds": 1.0, "Minutes": 60.0, "Hours": 3600.0}


@dataclass(frozen=True)
class Quantity:
    """Wolfram's ``Quantity[n, unit]`` for intervals: ``Quantity(2, "Rounds")``, ``Quantity(30, "Seconds")``.

    Units: "Batches", "Rounds", "Percent" (of the whole run), "Seconds", "Minutes", "Hours" (any case, singular or
    plural; "s", "min", "h", "%" too).

    >>> Quantity(2, "round"), Quantity(1.5, "Minutes").seconds
    (Quantity(2, 'Rounds'), 90.0)
    """

    magnitude: float
    unit: str

    def __post_init__(self):
        unit = _UNITS.get(self.unit.lower()) if isinstance(self.unit, str) else None
        if unit is None:
            raise ValueError(f"Quantity unit: got {self.unit!r}; allowed: 'Batches', 'Rounds', 'Percent', 'Seconds', "
                             "'Minutes', 'Hours'")
        m = self.magnitude
        if isinstance(m, bool) or not isinstance(m, numbers.Real) or not math.isfinite(m) or m <= 0:
            raise ValueError(f"Quantity magnitude: got {m!r}; allowed: a finite number > 0")
        if unit in ("Batches", "Rounds") and int(m) != m:
            raise ValueError(f"Quantity({m!r}, {unit!r}): a count of {unit.lower()} must be a whole number")
        object.__setattr__(self, "unit", unit)

    @property
    def seconds(self) -> float:
        """The magnitude in seconds (time units only)."""
        return float(self.magnitude) * _SECONDS_PER[self.unit]

    def __repr__(self) -> str:
        return f"Quantity({self.magnitude!r}, {self.unit!r})"


@dataclass(frozen=True)
class Span:
    """Wolfram's span of layers ``m ;; n`` as a part in LearningRateMultipliers, GradientClipping,
    WeightClipping and L2Regularization specs: layer positions ``first`` … ``last`` inclusive, 0-based as minidl's
    other positions (negative from the end; None: open).  ``{Span(0, 2): 0}`` freezes the first three layers.

    >>> Span(1, 2).as_slice(), Span(-2).as_slice()
    (slice(1, 3, None), slice(-2, None, None))
    """

    first: int | None = None
    last: int | None = None

    def as_slice(self) -> slice:
        stop = None if self.last is None or self.last == -1 else self.last + 1
        return slice(self.first, stop)


@dataclass(frozen=True)
class Interval:
    """An interval in one of four kinds: every n "batches", every n "rounds", every p "percent" of the run, every
    s "seconds"."""

    kind: str
    n: float


def interval_spec(arg: str, value, default, bare: str = "rounds"):
    """An :class:`Interval` from "Batch", "Round", a :class:`Quantity` or a bare number; None gives ``default``.

    A bare number keeps Wolfram's meaning for the option (``bare``): seconds for reporting and the progress function,
    rounds for ValidationSet, checkpointing and custom properties (docs/semantics-wolfram.md#12-progress-reporting-
    and-progress-functions).
    """
    if value is None:
        return default
    if isinstance(value, Interval):
        return value
    if isinstance(value, str):
        return Interval("batches" if choice(arg, value, ("Batch", "Round")) == "Batch" else "rounds", 1)
    if isinstance(value, Quantity):
        if value.unit in _SECONDS_PER:
            return Interval("seconds", value.seconds)
        return Interval(value.unit.lower(), value.magnitude if value.unit == "Percent" else int(value.magnitude))
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value) and value > 0
    if ok and bare == "seconds":
        return Interval("seconds", float(value))
    if ok and isinstance(value, numbers.Integral):
        return Interval("rounds", int(value))
    meaning = "seconds" if bare == "seconds" else "a positive integer number of rounds"
    raise ValueError(f"{arg}: got {value!r}; allowed: 'Batch', 'Round', a number ({meaning}) or a Quantity such "
                     "as Quantity(2, 'Rounds'), Quantity(10, 'Batches'), Quantity(5, 'Percent'), "
                     "Quantity(30, 'Seconds')")


def unknown_key(arg: str, key, allowed) -> ValueError:
    """The error for an unknown sub-option key, with the closest allowed spellings."""
    return ValueError(f"{arg}: unknown sub-option {key!r}{did_you_mean(str(key), allowed)}; allowed: "
                      f"{', '.join(map(repr, allowed))}")


# ------------------------------------------------------------------------------------------------ Method
METHODS = ("ADAM", "RMSProp", "SGD", "SignSGD")
#: Wolfram's method names -> the optimizer classes (Wolfram's defaults: METHOD_SUBOPTIONS below).
METHOD_CLASSES = {"ADAM": Adam, "RMSProp": CenteredRMSProp, "SGD": SGD, "SignSGD": SignSGD}
#: Method-specific sub-options and their defaults (docs/semantics-wolfram.md#3-methods-sub-options-and-equations).
METHOD_SUBOPTIONS: dict[str, dict[str, float]] = {
    "ADAM": {"Beta1": 0.9, "Beta2": 0.999, "Epsilon": 1e-5},
    "RMSProp": {"Beta": 0.95, "Momentum": 0.9, "Epsilon": 1e-6},
    "SGD": {"Momentum": 0.93},
    "SignSGD": {"Momentum": 0.93},
}
#: Sub-options of every method and their defaults (Automatic schedule: polynomial for SGD, none for the others).
COMMON_SUBOPTIONS: dict[str, Any] = {"LearningRateSchedule": Automatic, "L2Regularization": None,
                                     "GradientClipping": None, "WeightClipping": None}
for _name, _cls in METHOD_CLASSES.items():  # make_optimizer("ADAM") etc. with Wolfram's defaults
    register_method(_name, _cls, {"epsilon": 1e-5} if _name == "ADAM" else None)
#: LearningRate Automatic per method.
DEFAULT_LEARNING_RATE = {"ADAM": 0.001, "RMSProp": 0.001, "SGD": 0.01, "SignSGD": 0.01}
#: Wolfram sub-option -> the optimizer class's argument.
_HYPER = {"Beta1": "beta1", "Beta2": "beta2", "Epsilon": "epsilon", "Beta": "beta", "Momentum": "momentum"}


def method_spec(value, arg: str = "Method") -> tuple[str, dict[str, Any]]:
    """(method name, sub-options as given, Wolfram keys) from "ADAM", ("SGD", {...}) or {"SGD": {...}}."""
    if is_automatic(value):
        return "ADAM", {}
    if isinstance(value, str):
        return choice(arg, value, METHODS), {}
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str):
        name, subs = value
    elif isinstance(value, Mapping) and len(value) == 1:
        (name, subs), = value.items()
    else:
        raise TypeError(f"{arg}: got {value!r}; allowed: a method name {', '.join(map(repr, METHODS))}, a tuple "
                        "(name, {sub-option: value}) or a dict {name: {sub-option: value}}")
    name = choice(arg, name, METHODS)
    subs = camel_keys(subs, f"{arg} {name!r} sub-options")
    allowed = {**METHOD_SUBOPTIONS[name], **COMMON_SUBOPTIONS}
    for key in subs:
        if key not in allowed:
            raise unknown_key(f"{arg} {name!r}", key, list(allowed))
    return name, subs


def make_method_optimizer(name: str, subs: Mapping[str, Any], arg: str = "Method") -> Optimizer:
    """A fresh optimizer of method ``name``: its sub-options from ``subs``, the documented defaults otherwise
    (docs/semantics-wolfram.md#3-methods-sub-options-and-equations).

    Momentum, Beta, Beta1, Beta2 must lie in [0, 1); Epsilon must be ≥ 0.
    """
    hyper = {}
    for key, default in METHOD_SUBOPTIONS[name].items():
        value = subs.get(key, default)
        value = default if is_automatic(value) else value
        where = f"{arg} {name!r} sub-option {key!r}"
        if key == "Epsilon":
            value = positive_real(where, value, allow_zero=True)
        elif isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
            raise ValueError(f"{where}: got {value!r}; allowed: a number in [0, 1)")
        hyper[_HYPER[key]] = float(value)
    return METHOD_CLASSES[name](**hyper)


# ------------------------------------------------------------------------------------------------ measurements
#: Measurements minidl computes: name -> network kind it applies to ("classification", "regression" or "any").
#: The last ones are computed from each example's output (minidl.wolfram.measurements.OUTPUT_MEASUREMENTS).
MEASUREMENTS = {"Loss": "any", "ErrorRate": "classification", "Accuracy": "classification",
                "MeanSquare": "regression", "RootMeanSquare": "regression",
                "Precision": "classification", "Recall": "classification", "F1Score": "classification",
                "ConfusionMatrix": "classification", "ConfusionMatrixPlot": "classification",
                "AreaUnderROCCurve": "classification", "CohenKappa": "classification",
                "R2": "regression", "MeanDeviation": "regression"}
#: Wolfram measurements minidl has not built (named in the error).
MEASUREMENTS_NOT_YET = ("ROCCurve", "ScottPi", "Perplexity", "LogLikelihood", "MeanCrossEntropy",
                        "IntersectionOverUnion", "GeometricMeanProbability")


def measurements(value, is_classifier: bool, arg: str) -> list[str]:
    """The measurement names to track: Automatic → Loss (+ ErrorRate for a cross-entropy net)."""
    if is_automatic(value):
        return ["Loss", "ErrorRate"] if is_classifier else ["Loss"]
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)):
        raise TypeError(f"{arg}: got {type(value).__name__}; allowed: 'Automatic', a measurement name or a list "
                        f"of them ({', '.join(MEASUREMENTS)})")
    out = ["Loss"]
    for v in names:
        if isinstance(v, str) and v in MEASUREMENTS_NOT_YET:
            raise NotSupportedYetError(f"{arg}: got {v!r}; not supported yet (built: {', '.join(MEASUREMENTS)})")
        name = choice(arg, v, tuple(MEASUREMENTS))
        kind = MEASUREMENTS[name]
        if kind != "any" and (kind == "classification") != is_classifier:
            raise ValueError(f"{arg}: {name!r} applies to {kind} networks; this network is trained with a "
                             f"{'cross-entropy' if is_classifier else 'regression'} loss")
        if name not in out:
            out.append(name)
    return out


# ------------------------------------------------------------------------------------------------ automatic rules
BATCH_TARGET_SECONDS = 0.1
"""BatchSize Automatic aims one batch at this many seconds of forward + backward + update."""
MAX_AUTOMATIC_BATCH = 64
ROUNDS_TARGET_SECONDS = 20.0
MAX_AUTOMATIC_ROUNDS = 10000


def automatic_batch_size(seconds_per_example: float, n_examples: int | None) -> int:
    """BatchSize Automatic: floor(0.1 s / time per example), clipped to [1, 64] and to the training-set size."""
    b = MAX_AUTOMATIC_BATCH if seconds_per_example <= 0 else int(BATCH_TARGET_SECONDS // seconds_per_example)
    b = min(max(b, 1), MAX_AUTOMATIC_BATCH)
    return b if n_examples is None else max(1, min(b, n_examples))


def automatic_rounds(seconds_per_round: float) -> int:
    """MaxTrainingRounds Automatic: ceil(20 s / time per round), clipped to [1, 10000]."""
    if seconds_per_round <= 0:
        return MAX_AUTOMATIC_ROUNDS
    return min(max(math.ceil(ROUNDS_TARGET_SECONDS / seconds_per_round), 1), MAX_AUTOMATIC_ROUNDS)


# ------------------------------------------------------------------------------------------------ other options
def target_device(value, arg: str) -> tuple[str, bool, int | None]:
    """TargetDevice as (device name, parallel, workers): "CPU" | "GPU" (Automatic: "CPU") on one process;
    ``{"CPU", n}``: n CPU worker processes (``{"CPU", All}``: env MINIDL_WORKERS, else one per core);
    ``{"GPU", All}``: one worker per GPU (docs/parallel-launch.md).  ``{"GPU", k}`` (the k-th GPU) is not built.

    >>> target_device(("CPU", 2), "TargetDevice"), target_device(["GPU", "All"], "TargetDevice")
    (('cpu', True, 2), ('gpu', True, None))
    """
    if isinstance(value, (tuple, list)) and len(value) == 2:
        kind, count = choice(arg, value[0], ("CPU", "GPU")), value[1]
        if count == All:
            return kind.lower(), True, None
        if kind == "GPU":
            raise NotSupportedYetError(f"{arg}: got {{\"GPU\", {count!r}}}; not supported yet (choosing one GPU); "
                                       "allowed: \"GPU\" (the current GPU) or {\"GPU\", All} (every GPU)")
        return "cpu", True, check_positive_int(f"{arg} {{\"CPU\", n}}", count, wrong_type=ValueError)
    if isinstance(value, (tuple, list)):
        raise ValueError(f"{arg}: got {value!r}; allowed: \"CPU\", \"GPU\", {{\"CPU\", n}} with n workers, "
                         "{\"CPU\", All} or {\"GPU\", All}")
    return ("cpu" if is_automatic(value) else choice(arg, value, ("CPU", "GPU")).lower()), False, None


def precision(value, device_name: str, arg: str) -> str:
    """'float32', 'float64' or 'mixed' from WorkingPrecision ("Mixed" needs a GPU: float16 compute with float32
    master weights and dynamic loss scaling, minidl.training.mixed)."""
    if is_automatic(value):
        return "float32"
    name = choice(arg, value, ("Real32", "Real64", "Mixed", "float32", "float64"))
    if name == "Mixed":
        if device_name not in ("gpu", "standin"):   # the CPU stand-in counts as a device (the test suite)
            raise ValueError(f"{arg}: got 'Mixed', which needs TargetDevice 'GPU' (this run is on "
                             f"{device_name!r}); allowed on the CPU: 'Real32', 'Real64'")
        return "mixed"
    return {"Real32": "float32", "Real64": "float64"}.get(name, name)


def seed(value, arg: str) -> int:
    """RandomSeeding: an integer ≥ 0 as given, or "Automatic": a fresh seed from the operating system."""
    if isinstance(value, str) and value.lower() == "automatic":
        return int(np.random.SeedSequence().entropy)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{arg}: got {value!r}; allowed: an integer ≥ 0 (default 1234) or 'Automatic' (a fresh "
                         "seed every call)")
    return int(value)


def stopping_criterion(value, arg: str) -> dict[str, Any] | None:
    """{"Criterion", "Patience", "InitialPatience", "AbsoluteChange", "RelativeChange"} or None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"Criterion": "Loss" if is_automatic(value) else value}
    if not isinstance(value, Mapping):
        raise TypeError(f"{arg}: got {type(value).__name__}; allowed: None, a measurement name ('Loss', "
                        "'ErrorRate', ...) or a dict {'Criterion': name, 'Patience': n, 'InitialPatience': n, "
                        "'AbsoluteChange': v | 'RelativeChange': v}")
    spec = camel_keys(value, arg)
    allowed = ("Criterion", "Patience", "InitialPatience", "AbsoluteChange", "RelativeChange")
    for key in spec:
        if key not in allowed:
            raise unknown_key(arg, key, allowed)
    if "AbsoluteChange" in spec and "RelativeChange" in spec:
        raise ValueError(f"{arg}: got both 'AbsoluteChange' and 'RelativeChange'; allowed: one of them")
    crit = spec.get("Criterion", "Loss")
    crit = "Loss" if is_automatic(crit) else crit
    if isinstance(crit, str) and crit in MEASUREMENTS_NOT_YET:
        raise NotSupportedYetError(f"{arg}: Criterion {crit!r} is not supported yet (built: "
                                   f"{', '.join(MEASUREMENTS)})")
    out = {"Criterion": choice(f"{arg} 'Criterion'", crit, tuple(MEASUREMENTS)), "Patience": 0,
           "InitialPatience": 0, "AbsoluteChange": 0.0, "RelativeChange": 0.0}
    for key in ("Patience", "InitialPatience"):
        if key in spec:
            v = spec[key]
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"{arg} {key!r}: got {v!r}; allowed: an integer ≥ 0")
            out[key] = int(v)
    for key in ("AbsoluteChange", "RelativeChange"):
        if key in spec:
            out[key] = positive_real(f"{arg} {key!r}", spec[key], allow_zero=True)
    return out


def checkpointing(value, arg: str) -> tuple[str, str, Interval] | None:
    """(kind "File" | "Directory", path, interval; a bare number: rounds) or None."""
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) not in (2, 3) or not isinstance(value[0], str):
        raise TypeError(f"{arg}: got {value!r}; allowed: None, ('File', path), ('Directory', folder), optionally "
                        "with {'Interval': n} as a third element")
    kind = choice(arg, value[0], ("File", "Directory"))
    if not isinstance(value[1], (str, os.PathLike)):
        raise TypeError(f"{arg}: got path {value[1]!r}; allowed: a path string")
    path = os.fspath(value[1])
    interval = Interval("rounds", 1)
    if len(value) == 3:
        opts = camel_keys(value[2], arg)
        for key in opts:
            if key != "Interval":
                raise unknown_key(arg, key, ("Interval",))
        interval = interval_spec(f"{arg} 'Interval'", opts.get("Interval"), interval)
    folder = path if kind == "Directory" else (os.path.dirname(os.path.abspath(path)))
    if not os.path.isdir(folder):
        raise ValueError(f"{arg}: {folder!r} is not an existing folder; create it first")
    return kind, path, interval


def function_with_interval(value, arg: str, default) -> tuple[Callable, Any] | None:
    """(f, interval) from f or (f, {"Interval": ...}); None stays None."""
    if value is None:
        return None
    if callable(value):
        return value, default
    if isinstance(value, (tuple, list)) and len(value) == 2 and callable(value[0]):
        opts = camel_keys(value[1], arg)
        for key in opts:
            if key != "Interval":
                raise unknown_key(arg, key, ("Interval",))
        return value[0], interval_spec(f"{arg} 'Interval'", opts.get("Interval"), default, bare="seconds")
    raise TypeError(f"{arg}: got {value!r}; allowed: None, a function f(progress) or (f, {{'Interval': i}})")


REPORTERS = ("Print", "ProgressIndicator", "Panel")


def reporting(value, arg: str) -> list[tuple[str, Any, Any]]:
    """[(kind, target, interval)] with kind "Print" | "ProgressIndicator" | "Panel" | "File" | "Function".

    Automatic is "Panel" inside a notebook and "Print" elsewhere; None reports nothing; a list gives several.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return [r for v in value for r in reporting(v, arg)]
    interval = None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
        opts = camel_keys(value[1], arg)
        for key in opts:
            if key != "Interval":
                raise unknown_key(arg, key, ("Interval",))
        value, interval = value[0], interval_spec(f"{arg} 'Interval'", opts.get("Interval"), None, bare="seconds")
    if is_automatic(value):
        return [("Panel" if _in_notebook() else "Print", None, interval)]
    if callable(value):
        return [("Function", value, interval or Interval("rounds", 1))]
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if text.lower().endswith((".csv", ".json")):
            folder = os.path.dirname(os.path.abspath(text))
            if not os.path.isdir(folder):
                raise ValueError(f"{arg}: the folder of {text!r} does not exist; create it first")
            return [("File", text, interval or Interval("rounds", 1))]
        return [(choice(arg, text, REPORTERS), None, interval)]
    raise TypeError(f"{arg}: got {type(value).__name__}; allowed: 'Automatic', 'Print', 'ProgressIndicator', "
                    "'Panel', a .csv or .json file path, a function, None, or (spec, {'Interval': i})")


def _in_notebook() -> bool:
    from minidl.reporting.notebook import in_notebook  # the one notebook check

    return in_notebook()
