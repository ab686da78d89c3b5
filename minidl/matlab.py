"""The MATLAB dialect: MATLAB names, 'Name', Value pairs, HWCN arrays and MATLAB result shapes, over the one engine.

This file translates and does nothing else: no training logic lives here (docs/matlab.md).

>>> import numpy as np
>>> from minidl.matlab import trainingOptions, convolution2dLayer, hwcn_to_nchw
>>> conv = convolution2dLayer(3, 8, 'Padding', 'same', 'Stride', 2)
>>> conv.filter_size, conv.num_filters, conv.padding, conv.stride
((3, 3), 8, 'same', (2, 2))
>>> hwcn_to_nchw(np.zeros((28, 28, 1, 5))).shape
(5, 1, 28, 28)

What maps to what
-----------------
- ``trainingOptions(solverName, 'Name', Value, ...)`` → ``minidl.training.options.training_options(solver, **snake)``;
  names are matched case-insensitively (``'maxepochs'`` is ``'MaxEpochs'``); MATLAB's ``Name=Value`` syntax works
  as Python keywords (``trainingOptions('sgdm', MaxEpochs=20)``).
- ``trainNetwork(X, Y, layers, options)`` → ``minidl.train_network``: X as H×W×C×N images (or N×F features), Y as
  labels (N,) or responses (N,) / (N, R) / H×W×C×N; returns ``(net, info)``, info with MATLAB field names.
- ``classify(net, X)``, ``predict(net, X)`` with H×W×C×N arrays.
- Layer constructors ``imageInputLayer([28 28 1])`` → ``ImageInput((1, 28, 28))`` etc.; MATLAB weight layouts
  (convolution weights h×w×c×F, fully connected weights O×I over MATLAB's H, W, C flattening) converted.
- ``digitTrain4DArrayData()`` / ``digitTest4DArrayData()`` over ``minidl.datasets``.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from minidl import layers as L
from minidl._checks import check_choice
from minidl.backend import to_host
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import AveragePooling2D, MaxPooling2D
from minidl.network import Network
from minidl.training import train_network
from minidl.training.options import TrainingOptions as EngineOptions
from minidl.training.options import training_options

__all__ = [
    "MatlabStruct", "TrainingInfoStruct", "TrainingOptions", "TrainingOptionsSGDM", "TrainingOptionsRMSProp",
    "TrainingOptionsADAM",
    "trainingOptions", "trainNetwork", "classify", "predict",
    "imageInputLayer", "featureInputLayer", "convolution2dLayer", "batchNormalizationLayer", "reluLayer",
    "maxPooling2dLayer", "averagePooling2dLayer", "fullyConnectedLayer", "dropoutLayer", "softmaxLayer",
    "classificationLayer", "regressionLayer", "digitTrain4DArrayData", "digitTest4DArrayData",
    "hwcn_to_nchw", "nchw_to_hwcn", "matlab_fc_weights_to_minidl", "format_value", "OPTION_NAMES", "INFO_FIELDS",
]


# ================================================================================================================
# MATLAB-style display of values and structs
# ================================================================================================================

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


# ================================================================================================================
# 'Name', Value pairs
# ================================================================================================================

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
            close = difflib.get_close_matches(name.lower(), list(canon), n=1)
            hint = f" (did you mean {canon[close[0]]!r}?)" if close else ""
            raise TypeError(f"{func}: unknown name {name!r}{hint}; allowed: {', '.join(map(repr, sorted(allowed)))}")
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


# ================================================================================================================
# Arrays: MATLAB's H×W×C×N ↔ minidl's N×C×H×W
# ================================================================================================================

def hwcn_to_nchw(x, arg: str = "X"):
    """MATLAB images H×W×C×N (4-D; one image H×W×C as 3-D) → N×C×H×W; ``out[n, c, h, w] = x[h, w, c, n]``.

    A view (no copy) of host or device arrays; lists become host arrays.
    """
    a = x if hasattr(x, "shape") and hasattr(x, "transpose") else np.asarray(x)
    if a.ndim == 3:
        a = a.reshape(a.shape + (1,))
    if a.ndim != 4:
        raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed: H×W×C×N images "
                         "(4-D) or one H×W×C image (3-D)")
    return a.transpose(3, 2, 0, 1)


def nchw_to_hwcn(x, arg: str = "X"):
    """minidl images N×C×H×W → MATLAB's H×W×C×N; ``out[h, w, c, n] = x[n, c, h, w]`` (a view)."""
    a = x if hasattr(x, "shape") and hasattr(x, "transpose") else np.asarray(x)
    if a.ndim != 4:
        raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed: N×C×H×W (4-D)")
    return a.transpose(2, 3, 1, 0)


def _predictors(x, arg: str = "X"):
    """trainNetwork/predict input: images H×W×C×N (4-D) or H×W×C (3-D, one image) → NCHW; N×F features as is."""
    a = x if hasattr(x, "shape") and hasattr(x, "transpose") else np.asarray(x)
    if a.ndim in (3, 4):
        return hwcn_to_nchw(a, arg)
    if a.ndim == 2:
        return a
    raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed: H×W×C×N images "
                     "(4-D), one H×W×C image (3-D) or N×F features (2-D, observations in rows)")


def _responses(y, classifier: bool, arg: str = "Y"):
    """Labels (N,) (an N×1 column is flattened for classification), responses (N,) or (N, R), or H×W×C×N images."""
    if y is None:
        raise TypeError(f"{arg}: got None; allowed: labels (N,) or responses (N,), (N, R), H×W×C×N")
    a = y if hasattr(y, "shape") and hasattr(y, "transpose") else np.asarray(y)
    if a.ndim == 4 and not classifier:
        return hwcn_to_nchw(a, arg)
    if classifier and a.ndim == 2 and a.shape[1] == 1:
        return a.reshape(-1)
    if a.ndim in (1, 2):
        return a
    raise ValueError(f"{arg}: got an array of rank {a.ndim} (shape {tuple(a.shape)}); allowed: labels (N,), "
                     "responses (N,) or N×R, or H×W×C×N image responses")


def _is_classifier(layers) -> bool:
    last = layers.layers[-1] if isinstance(layers, Network) else list(layers)[-1] if layers else None
    return isinstance(last, L.ClassificationOutput)


# ================================================================================================================
# trainingOptions
# ================================================================================================================

#: MATLAB option name → engine option name (snake_case).  The last four are minidl extensions.
OPTION_NAMES: dict[str, str] = {
    "Momentum": "momentum",
    "InitialLearnRate": "initial_learn_rate",
    "LearnRateSchedule": "learn_rate_schedule",
    "LearnRateDropFactor": "learn_rate_drop_factor",
    "LearnRateDropPeriod": "learn_rate_drop_period",
    "L2Regularization": "l2_regularization",
    "GradientDecayFactor": "gradient_decay_factor",
    "SquaredGradientDecayFactor": "squared_gradient_decay_factor",
    "Epsilon": "epsilon",
    "GradientThreshold": "gradient_threshold",
    "GradientThresholdMethod": "gradient_threshold_method",
    "MaxEpochs": "max_epochs",
    "MiniBatchSize": "mini_batch_size",
    "Verbose": "verbose",
    "VerboseFrequency": "verbose_frequency",
    "ValidationData": "validation_data",
    "ValidationFrequency": "validation_frequency",
    "ValidationPatience": "validation_patience",
    "Shuffle": "shuffle",
    "CheckpointPath": "checkpoint_path",
    "ExecutionEnvironment": "execution_environment",
    "WorkerLoad": "worker_load",
    "OutputFcn": "output_fcn",
    "Plots": "plots",
    "SequenceLength": "sequence_length",
    "SequencePaddingValue": "sequence_padding_value",
    "DispatchInBackground": "dispatch_in_background",
    "BatchNormalizationStatistics": "batch_normalization_statistics",
    "AdamForm": "adam_form",
    "Precision": "precision",
    "Seed": "seed",
    "PlotsFile": "plots_file",
    "ProgressBar": "progress_bar",
}
_SNAKE_TO_MATLAB = {v: k for k, v in OPTION_NAMES.items()} | {"solver": "solverName"}
_SOLVER_CLASS = {"sgdm": "TrainingOptionsSGDM", "rmsprop": "TrainingOptionsRMSProp", "adam": "TrainingOptionsADAM"}
_SOLVER_FIRST = {"sgdm": ("Momentum",), "rmsprop": ("SquaredGradientDecayFactor", "Epsilon"),
                 "adam": ("GradientDecayFactor", "SquaredGradientDecayFactor", "Epsilon", "AdamForm")}
_DISPLAY_ORDER = (
    "InitialLearnRate", "LearnRateScheduleSettings", "L2Regularization", "GradientThresholdMethod",
    "GradientThreshold", "MaxEpochs", "MiniBatchSize", "Verbose", "VerboseFrequency", "ValidationData",
    "ValidationFrequency", "ValidationPatience", "Shuffle", "CheckpointPath", "ExecutionEnvironment", "WorkerLoad",
    "OutputFcn", "Plots", "SequenceLength", "SequencePaddingValue", "DispatchInBackground",
    "BatchNormalizationStatistics", "Precision", "Seed", "PlotsFile", "ProgressBar",
)
_INTEGER_OPTIONS = ("LearnRateDropPeriod", "MaxEpochs", "MiniBatchSize", "VerboseFrequency", "ValidationFrequency",
                    "ValidationPatience", "SequenceLength", "Seed")
_LOGICAL_OPTIONS = ("Verbose", "DispatchInBackground")
_STRING_CHOICES = {
    "LearnRateSchedule": ("none", "piecewise"),
    "GradientThresholdMethod": ("l2norm", "global-l2norm", "absolute-value"),
    "Shuffle": ("once", "never", "every-epoch"),
    "ExecutionEnvironment": ("auto", "cpu", "gpu", "multi-gpu", "parallel"),
    "Plots": ("none", "training-progress"),
    "BatchNormalizationStatistics": ("population", "moving"),
    "AdamForm": ("matlab", "paper"),
}
_PRECISIONS = {"single": "float32", "double": "float64", "float32": "float32", "float64": "float64"}


_ENGINE_ARG = re.compile(r"\b(" + "|".join(sorted(_SNAKE_TO_MATLAB, key=len, reverse=True)) + r")\b(?:\[(\d+)\])?")


def _translate_message(msg: str) -> str:
    """Engine option names in an error message → MATLAB names: "max_epochs: got 0" → "'MaxEpochs': got 0",
    ``validation_data[1]`` → ``'ValidationData{2}'``.  One-word names (momentum, seed, ...) only where they head a
    clause (followed by ':') so that ordinary words stay as they are."""
    def sub(m: re.Match) -> str:
        name, index = m.group(1), m.group(2)
        if "_" not in name and index is None and not msg.startswith(":", m.end()):
            return m.group(0)
        return f"'{_SNAKE_TO_MATLAB[name]}{'' if index is None else '{' + str(int(index) + 1) + '}'}'"

    return _ENGINE_ARG.sub(sub, msg)


def _option_value(name: str, value: Any) -> Any:
    """One MATLAB option value → the engine's value (MATLAB's forms: 1/0 logicals, '' and [] for none, Inf)."""
    func = "trainingOptions"
    value = _to_python(value)
    if name in _LOGICAL_OPTIONS and isinstance(value, numbers.Real) and value in (0, 1):
        return bool(value)
    if name in _INTEGER_OPTIONS:
        return _integral(value)
    if name in _STRING_CHOICES:
        return _choice(func, name, value, _STRING_CHOICES[name])
    if name == "Precision":
        return _PRECISIONS[_choice(func, name, value, tuple(_PRECISIONS))]
    if name in ("CheckpointPath", "PlotsFile") and isinstance(value, str) and value == "":
        return None
    if name == "WorkerLoad" and isinstance(value, (list, tuple, np.ndarray)) and len(value) == 0:
        return None
    if name == "OutputFcn" and isinstance(value, (list, tuple)) and len(value) == 0:
        return None
    if name == "ValidationData":
        return _validation_data(value)
    return value


def _validation_data(value: Any) -> Any:
    """{XValidation, YValidation} (a 2-tuple or 2-list) with MATLAB arrays → (X NCHW, Y); [] → None.

    Anything else (a mini-batch source object) passes to the engine as is.
    """
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"trainingOptions: 'ValidationData': got a cell of {len(value)} elements; allowed: "
                             "{XValidation, YValidation} (2 elements)")
        x, y = value
        xv = _predictors(x, "'ValidationData{1}'")
        yv = y if hasattr(y, "shape") else np.asarray(y)
        if yv.ndim == 4:
            yv = hwcn_to_nchw(yv, "'ValidationData{2}'")
        elif yv.ndim == 2 and yv.shape[1] == 1 and yv.dtype.kind not in "f":
            yv = yv.reshape(-1)  # a column of labels
        return (xv, yv)
    return value


class TrainingOptions:
    """MATLAB's training options object: the engine's options read under MATLAB property names, shown like MATLAB.

    ``options.engine`` is the engine's own options object (what ``minidl.train_network`` takes).
    """

    def __init__(self, solver: str, engine: EngineOptions, given: Mapping[str, Any]):
        object.__setattr__(self, "SolverName", solver)
        object.__setattr__(self, "engine", engine)
        object.__setattr__(self, "_given", dict(given))  # MATLAB values as given (ValidationData in HWCN, ...)

    def _engine_value(self, snake: str) -> Any:
        return getattr(self.engine, snake, None)  # None: an option of another solver

    def property(self, name: str) -> Any:
        """A MATLAB property by name (case-insensitive), in MATLAB's form (None shows as [], no path as '')."""
        readable = self.property_names() + ("SolverName", "LearnRateSchedule", "LearnRateDropFactor",
                                            "LearnRateDropPeriod")
        canon = {k.lower(): k for k in readable}
        key = canon.get(name.lower()) if isinstance(name, str) else None
        if key is None:
            raise AttributeError(f"{type(self).__name__} has no property {name!r}; properties: "
                                 f"{', '.join(self.property_names())}")
        if key == "SolverName":
            return self.SolverName
        if key == "LearnRateScheduleSettings":
            method = self._engine_value("learn_rate_schedule") or "none"
            if method == "piecewise":
                return MatlabStruct(Method=method, DropRateFactor=self._engine_value("learn_rate_drop_factor"),
                                    DropPeriod=self._engine_value("learn_rate_drop_period"))
            return MatlabStruct(Method=method)
        if key in ("ValidationData", "OutputFcn") and key in self._given:
            return self._given[key]
        value = self._engine_value(OPTION_NAMES[key])
        if key == "OutputFcn" and not value:
            return None
        if key == "CheckpointPath" and value is None:
            return ""
        if key == "Precision" and value is not None:
            return {"float32": "single", "float64": "double"}.get(str(np.dtype(value)), str(value))
        return value

    def property_names(self) -> tuple[str, ...]:
        """The properties in MATLAB's display order (the solver's own first, the minidl extensions last)."""
        return _SOLVER_FIRST[self.SolverName] + _DISPLAY_ORDER

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.property(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__}: properties are read-only; make new options with "
                             f"trainingOptions('{self.SolverName}', '{name}', value, ...)")

    def __dir__(self):
        return list(self.property_names()) + list(super().__dir__())

    def __repr__(self) -> str:
        fields = {k: self.property(k) for k in self.property_names()}
        if fields.get("ValidationData") is not None and not isinstance(fields["ValidationData"], (list, tuple)):
            fields["ValidationData"] = MatlabStruct()  # a mini-batch source: shown as an object
        return f"  {type(self).__name__} with properties:\n\n" + _format_fields(fields)


class TrainingOptionsSGDM(TrainingOptions):
    """Options for stochastic gradient descent with momentum (trainingOptions('sgdm', ...))."""


class TrainingOptionsRMSProp(TrainingOptions):
    """Options for RMSProp (trainingOptions('rmsprop', ...))."""


class TrainingOptionsADAM(TrainingOptions):
    """Options for Adam (trainingOptions('adam', ...))."""


def trainingOptions(solverName: str, *args: Any, **kwargs: Any) -> TrainingOptions:
    """MATLAB ``options = trainingOptions(solverName, Name, Value, ...)``.

    Args:
        solverName: 'sgdm', 'rmsprop' or 'adam' (any case).
        *args: 'Name', Value pairs with the names of :data:`OPTION_NAMES` (case-insensitive): 'MaxEpochs', 20, ...
            'ValidationData' is {XValidation, YValidation} as a 2-tuple or list with X as H×W×C×N images or N×F
            features.  MATLAB forms are accepted: 1/0 for logicals, '' or [] for "none", ``float('inf')`` for Inf,
            'single'/'double' for the minidl extension 'Precision'.
        **kwargs: the same as Name=Value keywords (MATLAB R2021a syntax).

    Returns:
        TrainingOptionsSGDM, TrainingOptionsRMSProp or TrainingOptionsADAM; ``.engine`` holds the engine's options.

    Raises:
        TypeError: odd number of arguments, a non-string name, an unknown name (the message lists the allowed ones).
        ValueError: a value the option does not allow (the message names the MATLAB option).
    """
    solver = _choice("trainingOptions", "solverName", solverName, tuple(_SOLVER_CLASS))
    given = _parse_pairs("trainingOptions", args, kwargs, tuple(OPTION_NAMES))
    try:
        snake = {OPTION_NAMES[k]: _option_value(k, v) for k, v in given.items()}
        engine = training_options(solver, **snake)
    except (ValueError, TypeError) as e:
        if str(e).startswith("trainingOptions: "):
            raise
        raise type(e)(f"trainingOptions: {_translate_message(str(e))}") from e
    cls = {"sgdm": TrainingOptionsSGDM, "rmsprop": TrainingOptionsRMSProp, "adam": TrainingOptionsADAM}[solver]
    return cls(solver, engine, given)


# ================================================================================================================
# trainNetwork, classify, predict
# ================================================================================================================

#: MATLAB info fields of trainNetwork, in MATLAB's order, for classification and regression networks.
INFO_FIELDS = {
    True: ("TrainingLoss", "TrainingAccuracy", "ValidationLoss", "ValidationAccuracy", "BaseLearnRate",
           "FinalValidationLoss", "FinalValidationAccuracy", "OutputNetworkIteration"),
    False: ("TrainingLoss", "TrainingRMSE", "ValidationLoss", "ValidationRMSE", "BaseLearnRate",
            "FinalValidationLoss", "FinalValidationRMSE", "OutputNetworkIteration"),
}
#: minidl additions to the info struct (not in MATLAB's), after MATLAB's fields.
INFO_EXTRA_FIELDS = ("GradientNorm", "StopReason", "ElapsedTime")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.replace("RMSE", "Rmse")).lower()


def _info_field(info: Any, name: str) -> tuple[bool, Any]:
    """(found, value) of a MATLAB-named field of the engine's info: its MATLAB-name access, else snake_case."""
    try:
        return True, info[name]
    except (KeyError, TypeError, IndexError):
        pass
    snake = _snake(name)
    if isinstance(info, Mapping) and snake in info:
        return True, info[snake]
    if hasattr(info, snake):
        return True, getattr(info, snake)
    return False, None


class TrainingInfoStruct(MatlabStruct):
    """trainNetwork's info: a struct with MATLAB's field names; ``.engine`` is the engine's record (CSV/JSON, plot)."""

    def __init__(self, engine_info: Any, classifier: bool):
        fields = {}
        for name in INFO_FIELDS[classifier] + INFO_EXTRA_FIELDS:
            found, value = _info_field(engine_info, name)
            if found:
                fields[name] = value  # the engine's own arrays, not copies
        super().__init__(fields)
        object.__setattr__(self, "_engine", engine_info)

    @property
    def engine(self) -> Any:
        """The engine's info record (``to_csv``, ``to_json``, ``plot``, snake_case arrays)."""
        return self._engine


def _engine_options(options: Any) -> Any:
    """The engine's options object from trainingOptions' result (or the engine's own options, accepted as is)."""
    engine = options.engine if isinstance(options, TrainingOptions) else options
    if not isinstance(engine, EngineOptions):
        raise TypeError(f"options: got {type(options).__name__}; allowed: the result of trainingOptions(...)")
    return engine


def trainNetwork(X, Y, layers, options, **engine_kwargs: Any) -> tuple[Network, TrainingInfoStruct]:
    """MATLAB ``[net, info] = trainNetwork(X, Y, layers, options)`` on the engine.

    Args:
        X: images H×W×C×N (MATLAB layout; converted to N×C×H×W without a copy) or features N×F (one observation
            per row, as MATLAB's featureInputLayer takes them).
        Y: labels (N,) of any hashable kind (MATLAB categorical ≈ an array of strings or integers; classes in
            sorted order; an N×1 column is accepted), or responses (N,), N×R, or H×W×C×N images.
        layers: a list of layers (MATLAB's layer array) or a Network; None only with ``resume_from``.
        options: from :func:`trainingOptions` (or the engine's own options object).
        **engine_kwargs: minidl extensions passed to ``minidl.train_network`` as they are: ``resume_from`` (a
            checkpoint folder), ``device``, ``observers``, ``stream`` (where the verbose table goes).

    Returns:
        (net, info): the trained ``minidl.Network`` and a :class:`TrainingInfoStruct` with MATLAB's fields
        (TrainingLoss, TrainingAccuracy | TrainingRMSE, ValidationLoss, ValidationAccuracy | ValidationRMSE,
        BaseLearnRate, FinalValidationLoss, FinalValidationAccuracy | FinalValidationRMSE, OutputNetworkIteration)
        plus minidl's GradientNorm, StopReason and ElapsedTime where the engine records them.
    """
    engine = _engine_options(options)
    if isinstance(layers, L.Layer):
        layers = [layers]
    if layers is not None and not isinstance(layers, (list, tuple, Network)):
        raise TypeError(f"layers: got {type(layers).__name__}; allowed: a list of layers or a Network")
    x = _predictors(X, "X")
    if layers is not None:
        classifier = _is_classifier(layers)
    else:  # resuming: the architecture is the checkpoint's; numbers are responses, anything else labels
        classifier = (Y.dtype if hasattr(Y, "dtype") else np.asarray(Y).dtype).kind not in "fc"
    y = _responses(Y, classifier, "Y")
    layers = list(layers) if isinstance(layers, tuple) else layers
    net, info = train_network(x, y, layers, engine, **engine_kwargs)
    return net, TrainingInfoStruct(info, net.is_classifier)


def _prediction_args(func: str, args: tuple, kwargs: Mapping[str, Any]) -> int:
    opts = _parse_pairs(func, args, kwargs, ("MiniBatchSize",))
    return _int_vector(func, "MiniBatchSize", opts.get("MiniBatchSize", 128), (1,), 1)[0]


def predict(net: Network, X, *args: Any, **kwargs: Any) -> np.ndarray:
    """MATLAB ``Y = predict(net, X, 'MiniBatchSize', 128)``: scores N×K (classification) or responses N×R.

    X as in :func:`trainNetwork`.  Image responses come back as H×W×C×N.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net: got {type(net).__name__}; allowed: a trained minidl Network")
    y = net.predict(_predictors(X, "X"), batch_size=_prediction_args("predict", args, kwargs))
    return nchw_to_hwcn(y) if y.ndim == 4 else y


def classify(net: Network, X, *args: Any, **kwargs: Any) -> np.ndarray:
    """MATLAB ``YPred = classify(net, X, 'MiniBatchSize', 128)``: the predicted labels (N,), as trained on.

    MATLAB's second output (the scores) is ``predict(net, X)``.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net: got {type(net).__name__}; allowed: a trained minidl Network")
    return net.classify(_predictors(X, "X"), batch_size=_prediction_args("classify", args, kwargs))


# ================================================================================================================
# Layers
# ================================================================================================================

_FACTOR_NAMES = {"WeightLearnRateFactor": "weight_learn_rate_factor", "BiasLearnRateFactor": "bias_learn_rate_factor",
                 "WeightL2Factor": "weight_l2_factor", "BiasL2Factor": "bias_l2_factor"}
_BN_FACTOR_NAMES = {"ScaleLearnRateFactor": "scale_learn_rate_factor",
                    "OffsetLearnRateFactor": "offset_learn_rate_factor",
                    "ScaleL2Factor": "scale_l2_factor", "OffsetL2Factor": "offset_l2_factor"}
_INITIALIZERS = {"glorot": "glorot", "he": "he", "narrow-normal": "normal", "zeros": "zeros", "ones": "ones"}


def _name(func: str, opts: Mapping[str, Any]) -> str | None:
    """'Name': '' (MATLAB's default) → None, so the network numbers the layer."""
    name = opts.get("Name", "")
    if not isinstance(name, str):
        raise TypeError(f"{func}: 'Name': got {name!r}; allowed: a character vector")
    return name or None


def _factors(func: str, opts: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, float]:
    out = {}
    for k, snake in table.items():
        if k in opts:
            v = _to_python(opts[k])
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"{func}: '{k}': got {opts[k]!r}; allowed: a nonnegative number")
            out[snake] = v
    return out


def _layer_names(table: Mapping[str, str]) -> dict[str, str]:
    return {v: k for k, v in table.items()}


def imageInputLayer(inputSize, *args: Any, **kwargs: Any) -> L.ImageInput:
    """MATLAB ``imageInputLayer([h w c], 'Normalization', 'zerocenter', 'Mean', m, 'StandardDeviation', s, 'Name', n)``.

    ``[h w]`` means one channel.  'Mean' (and 'StandardDeviation' for 'zscore') in MATLAB's h×w×c or 1×1×c layout
    become the minidl (C, H, W) / (C, 1, 1) statistics.  → ``ImageInput((c, h, w), normalization)``.
    """
    func = "imageInputLayer"
    size = _int_vector(func, "inputSize", inputSize, (2, 3), 1)
    h, w, c = size + (1,) * (3 - len(size))
    opts = _parse_pairs(func, args, kwargs, ("Normalization", "Mean", "StandardDeviation", "Name"))
    norm = _choice(func, "Normalization", opts.get("Normalization", "zerocenter"), ("zerocenter", "zscore", "none"))
    stats = {}
    for arg, key in (("Mean", "mean"), ("StandardDeviation", "std")):
        if arg in opts and not (isinstance(opts[arg], (list, tuple, np.ndarray)) and np.size(opts[arg]) == 0):
            a = _host_array(func, arg, opts[arg], (0, 1, 2, 3))
            if a.ndim == 1 and a.size != 1:
                raise ValueError(f"{func}: '{arg}': got a vector of shape {a.shape}; allowed: h×w×c, 1×1×c or a "
                                 "scalar")
            stats[key] = a.reshape(a.shape + (1,) * (3 - a.ndim)).transpose(2, 0, 1) if a.ndim >= 2 else a.reshape(())
    return _engine_call(func, {"normalization": "Normalization", "mean": "Mean", "std": "StandardDeviation",
                               "name": "Name", "input_size": "inputSize"},
                        lambda: L.ImageInput((c, h, w), normalization=norm, name=_name(func, opts), **stats))


def featureInputLayer(numFeatures, *args: Any, **kwargs: Any) -> L.FeatureInput:
    """MATLAB ``featureInputLayer(numFeatures, 'Normalization', 'none', 'Mean', m, 'StandardDeviation', s, 'Name', n)``.

    MATLAB's default normalization for feature input is 'none'.  → ``FeatureInput(numFeatures, normalization)``.
    """
    func = "featureInputLayer"
    (n,) = _int_vector(func, "numFeatures", numFeatures, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, ("Normalization", "Mean", "StandardDeviation", "Name"))
    norm = _choice(func, "Normalization", opts.get("Normalization", "none"), ("zerocenter", "zscore", "none"))
    stats = {key: _host_array(func, arg, opts[arg], (0, 1, 2)).reshape(-1)
             for arg, key in (("Mean", "mean"), ("StandardDeviation", "std")) if arg in opts}
    return _engine_call(func, {"normalization": "Normalization", "mean": "Mean", "std": "StandardDeviation",
                               "name": "Name"},
                        lambda: L.FeatureInput(n, normalization=norm, name=_name(func, opts), **stats))


def _initializer(func: str, arg: str, value: Any, convert: Callable[[np.ndarray, tuple], np.ndarray],
                 matlab_size: Callable[[tuple], tuple]):
    """'glorot' | 'he' | 'narrow-normal' | 'zeros' | 'ones' | a function handle f(sz) returning a MATLAB-layout array.

    A handle is called with MATLAB's size vector and its result converted to the minidl layout.
    """
    if callable(value):
        return _MatlabInitializer(value, convert, matlab_size)
    return _INITIALIZERS[_choice(func, arg, value, tuple(_INITIALIZERS))]


class _MatlabInitializer:
    """Calls a MATLAB-style initializer f(sz) and converts its array to the minidl layout (shape, rng) → array."""

    def __init__(self, func, convert, matlab_size):
        self.func, self.convert, self.matlab_size = func, convert, matlab_size

    def __call__(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.convert(np.asarray(self.func(list(self.matlab_size(shape))), dtype=np.float64), shape)


def _conv_weights(w: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """MATLAB convolution weights h×w×c×F (trailing singleton dimensions may be missing) → (F, C, KH, KW)."""
    return w.reshape(w.shape + (1,) * (4 - w.ndim)).transpose(3, 2, 0, 1)


def _vector(b: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """A MATLAB bias 1×1×F, F×1 or 1×F → (F,)."""
    return b.reshape(-1)


class _FullyConnectedWeights:
    """MATLAB fully connected weights O×I → minidl (O, I), reordering I when the layer's input is an image.

    MATLAB flattens an H×W×C activation column-major (index h + H·w + H·W·c); minidl flattens C, H, W row-major
    (index c·H·W + h·W + w).  The input shape is known only when the network is built, so this runs then, reading
    the layer's ``input_shape`` (a deep copy of the layer carries a copy of this object pointing at the copy).
    """

    def __init__(self, layer: L.FullyConnected | None, weights: np.ndarray | _MatlabInitializer):
        self.layer, self.weights = layer, weights

    def __call__(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        w = self.weights(shape, rng) if callable(self.weights) else self.weights
        return matlab_fc_weights_to_minidl(w, self.layer.input_shape if self.layer is not None else None)


def matlab_fc_weights_to_minidl(w: np.ndarray, input_shape: tuple[int, ...] | None) -> np.ndarray:
    """Fully connected weights O×I in MATLAB's flattening → minidl's: for image inputs (C, H, W) the columns go
    from MATLAB's (h, w, c) column-major order to minidl's (c, h, w) row-major order; other inputs unchanged.

    >>> w = np.arange(2 * 12.).reshape(2, 12)           # O = 2, input C, H, W = 2, 3, 2
    >>> wm = matlab_fc_weights_to_minidl(w, (2, 3, 2))
    >>> bool(wm[0, 1 * 6 + 2 * 2 + 1] == w[0, 2 + 3 * 1 + 6 * 1])   # c=1, h=2, w=1
    True
    """
    if input_shape is None or len(input_shape) != 3 or w.ndim != 2 or w.shape[1] != int(np.prod(input_shape)):
        return w
    c, h, wd = input_shape
    return w.reshape(w.shape[0], c, wd, h).transpose(0, 1, 3, 2).reshape(w.shape[0], -1)


def _fc_weights(w: np.ndarray, shape: tuple) -> np.ndarray:
    return w


_WB_NAMES = ("Weights", "Bias", "WeightsInitializer", "BiasInitializer", "Name") + tuple(_FACTOR_NAMES)


def convolution2dLayer(filterSize, numFilters, *args: Any, **kwargs: Any) -> Convolution2D:
    """MATLAB ``convolution2dLayer(filterSize, numFilters, 'Stride', s, 'Padding', p, 'DilationFactor', d, ...)``.

    filterSize / Stride / DilationFactor: a scalar or [h w].  Padding: 'same', a scalar, [ph pw] (top-bottom,
    left-right) or [t b l r].  'Weights' h×w×c×F → (F, C, KH, KW); 'Bias' 1×1×F → (F,).  'WeightsInitializer' /
    'BiasInitializer': 'glorot', 'he', 'narrow-normal' (N(0, 0.01²), minidl's default, as the reference states),
    'zeros', 'ones' or a function f(sz) with MATLAB's size vector [h w c F] (bias [1 1 F]).  Factors:
    'WeightLearnRateFactor', 'BiasLearnRateFactor', 'WeightL2Factor', 'BiasL2Factor'.
    """
    func = "convolution2dLayer"
    fs = _int_vector(func, "filterSize", filterSize, (1, 2), 1)
    (nf,) = _int_vector(func, "numFilters", numFilters, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, ("Stride", "Padding", "DilationFactor", "PaddingValue") + _WB_NAMES)
    stride = _hw(_int_vector(func, "Stride", opts.get("Stride", 1), (1, 2), 1))
    dilation = _hw(_int_vector(func, "DilationFactor", opts.get("DilationFactor", 1), (1, 2), 1))
    padding = _padding(func, opts.get("Padding", 0))
    if _to_python(opts.get("PaddingValue", 0)) != 0:
        raise ValueError(f"{func}: 'PaddingValue': got {opts['PaddingValue']!r}; allowed: 0 (zero padding)")
    kw = _weight_bias(func, opts, _conv_weights, lambda s: (s[2], s[3], s[1], s[0]), lambda s: (1, 1, s[0]))
    kh, kw_ = fs * 2 if len(fs) == 1 else fs
    if "weights" in kw and (kw["weights"].shape[2:] != (kh, kw_) or kw["weights"].shape[0] != nf):
        f, c, h, w = kw["weights"].shape
        raise ValueError(f"{func}: 'Weights': got an array of size {h}x{w}x{c}x{f}; allowed: "
                         f"{kh}x{kw_}xCx{nf} (filterSize x channels x numFilters)")
    if "bias" in kw and kw["bias"].shape != (nf,):
        raise ValueError(f"{func}: 'Bias': got {kw['bias'].size} values; allowed: 1x1x{nf} (one per filter)")
    return _engine_call(func, {"filter_size": "filterSize", "num_filters": "numFilters", "stride": "Stride",
                               "padding": "Padding", "dilation": "DilationFactor"} | _WB_ENGINE_NAMES,
                        lambda: Convolution2D(_hw(fs), nf, stride=stride, padding=padding, dilation=dilation,
                                              name=_name(func, opts), **kw))


_WB_ENGINE_NAMES = {"weights": "Weights", "bias": "Bias", "weights_initializer": "WeightsInitializer",
                    "bias_initializer": "BiasInitializer", "name": "Name"} | _layer_names(_FACTOR_NAMES)


def _weight_bias(func: str, opts: Mapping[str, Any], convert_w, w_size, b_size) -> dict[str, Any]:
    """The Weights / Bias / initializers / factors of a MATLAB layer as minidl keyword arguments."""
    kw: dict[str, Any] = _factors(func, opts, _FACTOR_NAMES)
    if "WeightsInitializer" in opts:
        kw["weights_initializer"] = _initializer(func, "WeightsInitializer", opts["WeightsInitializer"], convert_w,
                                                 w_size)
    if "BiasInitializer" in opts:
        kw["bias_initializer"] = _initializer(func, "BiasInitializer", opts["BiasInitializer"], _vector, b_size)
    if "Weights" in opts and np.size(opts["Weights"]) > 0:
        kw["weights"] = convert_w(_host_array(func, "Weights", opts["Weights"], (2, 3, 4) if convert_w is
                                              _conv_weights else (2,)), None)
    if "Bias" in opts and np.size(opts["Bias"]) > 0:
        kw["bias"] = _vector(_host_array(func, "Bias", opts["Bias"], (0, 1, 2, 3)))
    return kw


def fullyConnectedLayer(outputSize, *args: Any, **kwargs: Any) -> L.FullyConnected:
    """MATLAB ``fullyConnectedLayer(outputSize, 'Weights', W, 'Bias', b, 'WeightsInitializer', ..., 'Name', n)``.

    'Weights' O×I are in MATLAB's layout: when the layer's input is an image, I runs over the input flattened in
    MATLAB's order (h fastest, then w, then c); they are reordered to minidl's (c, h, w) flattening when the network
    is built (docs/matlab.md).  A 'WeightsInitializer' function f([O I]) is treated the same way.  'Bias' O×1.
    """
    func = "fullyConnectedLayer"
    (o,) = _int_vector(func, "outputSize", outputSize, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, _WB_NAMES)
    kw = _weight_bias(func, opts, _fc_weights, lambda s: s, lambda s: (s[0], 1))
    if "weights" in kw and kw["weights"].shape[0] != o:
        raise ValueError(f"{func}: 'Weights': got an array of size {'x'.join(map(str, kw['weights'].shape))}; "
                         f"allowed: {o}xI (outputSize x input size)")
    if "bias" in kw and kw["bias"].shape != (o,):
        raise ValueError(f"{func}: 'Bias': got {kw['bias'].size} values; allowed: {o}x1 (one per output)")
    reorder = None  # given MATLAB weights (or a MATLAB initializer) are reordered when the input shape is known
    if "weights" in kw:
        reorder = kw["weights"] = _FullyConnectedWeights(None, kw["weights"])
    elif isinstance(kw.get("weights_initializer"), _MatlabInitializer):
        reorder = kw["weights_initializer"] = _FullyConnectedWeights(None, kw["weights_initializer"])
    layer = _engine_call(func, {"output_size": "outputSize"} | _WB_ENGINE_NAMES,
                         lambda: L.FullyConnected(o, name=_name(func, opts), **kw))
    if reorder is not None:
        reorder.layer = layer
    return layer


def batchNormalizationLayer(*args: Any, **kwargs: Any) -> L.BatchNormalization:
    """MATLAB ``batchNormalizationLayer('Epsilon', 1e-5, 'MeanDecay', 0.1, 'VarianceDecay', 0.1, 'Name', n, ...)``.

    'Scale', 'Offset', 'TrainedMean', 'TrainedVariance' in MATLAB's 1×1×C (or C×1) layout → (C,); factors
    'ScaleLearnRateFactor', 'OffsetLearnRateFactor', 'ScaleL2Factor', 'OffsetL2Factor'.
    """
    func = "batchNormalizationLayer"
    opts = _parse_pairs(func, args, kwargs, ("Epsilon", "MeanDecay", "VarianceDecay", "Scale", "Offset",
                                             "TrainedMean", "TrainedVariance", "Name") + tuple(_BN_FACTOR_NAMES))
    kw: dict[str, Any] = _factors(func, opts, _BN_FACTOR_NAMES)
    for arg, key in (("Epsilon", "epsilon"), ("MeanDecay", "mean_decay"), ("VarianceDecay", "variance_decay")):
        if arg in opts:
            kw[key] = _to_python(opts[arg])
    for arg, key in (("Scale", "scale"), ("Offset", "offset")):
        if arg in opts and np.size(opts[arg]) > 0:
            kw[key] = _vector(_host_array(func, arg, opts[arg], (0, 1, 2, 3)))
    layer = _engine_call(func, {"epsilon": "Epsilon", "mean_decay": "MeanDecay", "variance_decay": "VarianceDecay",
                                "scale": "Scale", "offset": "Offset", "name": "Name"} | _layer_names(_BN_FACTOR_NAMES),
                         lambda: L.BatchNormalization(name=_name(func, opts), **kw))
    for arg, key in (("TrainedMean", "mean"), ("TrainedVariance", "variance")):
        if arg in opts and np.size(opts[arg]) > 0:
            layer.state[key] = _vector(_host_array(func, arg, opts[arg], (0, 1, 2, 3)))  # kept by build
    return layer


def reluLayer(*args: Any, **kwargs: Any) -> L.ReLU:
    """MATLAB ``reluLayer('Name', n)`` → ``ReLU()``."""
    opts = _parse_pairs("reluLayer", args, kwargs, ("Name",))
    return L.ReLU(name=_name("reluLayer", opts))


def _pooling(func: str, cls, poolSize, args, kwargs):
    size = _int_vector(func, "poolSize", poolSize, (1, 2), 1)
    opts = _parse_pairs(func, args, kwargs, ("Stride", "Padding", "Name"))
    stride = _hw(_int_vector(func, "Stride", opts.get("Stride", 1), (1, 2), 1))
    padding = _padding(func, opts.get("Padding", 0))
    return _engine_call(func, {"pool_size": "poolSize", "stride": "Stride", "padding": "Padding", "name": "Name"},
                        lambda: cls(_hw(size), stride=stride, padding=padding, name=_name(func, opts)))


def maxPooling2dLayer(poolSize, *args: Any, **kwargs: Any) -> MaxPooling2D:
    """MATLAB ``maxPooling2dLayer(poolSize, 'Stride', s, 'Padding', p, 'Name', n)``; Stride defaults to 1 (MATLAB)."""
    return _pooling("maxPooling2dLayer", MaxPooling2D, poolSize, args, kwargs)


def averagePooling2dLayer(poolSize, *args: Any, **kwargs: Any) -> AveragePooling2D:
    """MATLAB ``averagePooling2dLayer(poolSize, 'Stride', s, 'Padding', p, 'Name', n)``."""
    return _pooling("averagePooling2dLayer", AveragePooling2D, poolSize, args, kwargs)


def dropoutLayer(*args: Any, **kwargs: Any) -> L.Dropout:
    """MATLAB ``dropoutLayer(probability = 0.5, 'Name', n)`` → ``Dropout(probability)``."""
    func = "dropoutLayer"
    p = 0.5
    if args and not isinstance(args[0], str):
        p, args = _to_python(args[0]), args[1:]
    opts = _parse_pairs(func, args, kwargs, ("Name",))
    return _engine_call(func, {"probability": "probability", "name": "Name"},
                        lambda: L.Dropout(p, name=_name(func, opts)))


def softmaxLayer(*args: Any, **kwargs: Any) -> L.Softmax:
    """MATLAB ``softmaxLayer('Name', n)`` → ``Softmax()``."""
    opts = _parse_pairs("softmaxLayer", args, kwargs, ("Name",))
    return L.Softmax(name=_name("softmaxLayer", opts))


def classificationLayer(*args: Any, **kwargs: Any) -> L.ClassificationOutput:
    """MATLAB ``classificationLayer('Name', n)`` → ``ClassificationOutput()`` (cross-entropy)."""
    opts = _parse_pairs("classificationLayer", args, kwargs, ("Name",))
    return L.ClassificationOutput(name=_name("classificationLayer", opts))


def regressionLayer(*args: Any, **kwargs: Any) -> L.RegressionOutput:
    """MATLAB ``regressionLayer('Name', n)`` → ``RegressionOutput()`` (half mean squared error)."""
    opts = _parse_pairs("regressionLayer", args, kwargs, ("Name",))
    return L.RegressionOutput(name=_name("regressionLayer", opts))


# ================================================================================================================
# Embedded data
# ================================================================================================================

def _digit_arrays(data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, labels, angles = data
    return (np.ascontiguousarray(nchw_to_hwcn(x)), np.asarray(labels).astype(str),
            np.asarray(angles, dtype=np.float64).reshape(-1, 1))


def digitTrain4DArrayData() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MATLAB ``[XTrain, YTrain, anglesTrain] = digitTrain4DArrayData``, from ``minidl.datasets.digit_train_data``.

    Returns:
        XTrain: 28×28×1×5000 float32 in [0, 1] (H×W×C×N; a fresh writable array).
        YTrain: (5000,) labels '0'…'9' (strings, like the categories of MATLAB's categorical labels).
        anglesTrain: 5000×1 float64 rotation angles in degrees (a column, as MATLAB's, so it lines up with the N×1
            output of ``predict`` for a regression network).
    """
    from minidl.datasets import digit_train_data

    return _digit_arrays(digit_train_data())


def digitTest4DArrayData() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MATLAB ``[XTest, YTest, anglesTest] = digitTest4DArrayData``: as :func:`digitTrain4DArrayData`, the test set."""
    from minidl.datasets import digit_test_data

    return _digit_arrays(digit_test_data())
