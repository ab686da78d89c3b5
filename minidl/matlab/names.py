"""MATLAB's spelling of the training options: ``trainingOptions(solverName, 'Name', Value, ...)``.

Each MATLAB option name maps to the snake_case option of :mod:`minidl.matlab.options` (which holds the rules);
errors name the MATLAB option through an :class:`~minidl._checks.ArgNames` mapping.  The result is MATLAB's
options object (``TrainingOptionsSGDM``, ...), shown like MATLAB shows it.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from minidl._checks import ArgNames
from minidl.matlab.arrays import _predictors, hwcn_to_nchw, is_sequence_cells, sequence_predictors, sequence_responses
from minidl.matlab.display import MatlabStruct, _choice, _format_fields, _integral, _parse_pairs, _to_python
from minidl.matlab.options import TrainingOptions as EngineOptions
from minidl.matlab.options import training_options

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
    "SequencePaddingDirection": "sequence_padding_direction",  # later releases (R2019a); 'right' = the reference
    "DispatchInBackground": "dispatch_in_background",
    "BatchNormalizationStatistics": "batch_normalization_statistics",
    "OutputNetwork": "output_network",
    "ResetInputNormalization": "reset_input_normalization",
    "AdamForm": "adam_form",
    "Precision": "precision",
    "Seed": "seed",
    "PlotsFile": "plots_file",
    "ProgressBar": "progress_bar",
    "SequenceLossMask": "sequence_loss_mask",  # minidl extension: False counts padded steps in loss and metrics
    "CudaGraphs": "cuda_graphs",  # minidl extension: 'off' | 'on' | 'auto' (docs/gpu.md#cuda-graphs)
    "LogFile": "log_file",  # minidl extension: the audit log streamed while training (.csv or .jsonl)
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
_LOGICAL_OPTIONS = ("Verbose", "DispatchInBackground", "ResetInputNormalization")
_STRING_CHOICES = {
    "LearnRateSchedule": ("none", "piecewise"),
    "GradientThresholdMethod": ("l2norm", "global-l2norm", "absolute-value"),
    "Shuffle": ("once", "never", "every-epoch"),
    "ExecutionEnvironment": ("auto", "cpu", "gpu", "multi-gpu", "parallel"),
    "Plots": ("none", "training-progress"),
    "BatchNormalizationStatistics": ("population", "moving"),
    "OutputNetwork": ("last-iteration", "best-validation-loss"),
    "AdamForm": ("matlab", "paper"),
    "SequencePaddingDirection": ("right", "left"),
    "CudaGraphs": ("off", "on", "auto"),
}
_PRECISIONS = {"single": "float32", "double": "float64", "float32": "float32", "float64": "float64",
               "mixed": "mixed"}  # 'mixed': a minidl extension (a GPU only; docs/gpu.md#mixed-precision)


#: Error messages name the MATLAB options: 'MaxEpochs', and 'ValidationData{2}' for an element (1-based).
ARG_NAMES = ArgNames(_SNAKE_TO_MATLAB, quote=True, index_base=1, brackets="{}")


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
        if is_sequence_cells(x):                    # {XValidation, YValidation} of sequences (cell arrays)
            return (sequence_predictors(x, "'ValidationData{1}'"),
                    sequence_responses(y, False, "'ValidationData{2}'"))
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
                                            "LearnRateDropPeriod", "OutputNetwork",  # R2019b+: not displayed
                                            "ResetInputNormalization", "LogFile", "SequencePaddingDirection",
                                            "SequenceLossMask", "CudaGraphs")
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
        if key == "Precision" and value is not None and value != "mixed":
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
        engine = training_options(solver, names=ARG_NAMES, **snake)
    except (ValueError, TypeError) as e:
        if str(e).startswith("trainingOptions: "):
            raise
        raise type(e)(f"trainingOptions: {e}") from e  # the function's name before the message, as MATLAB does
    cls = {"sgdm": TrainingOptionsSGDM, "rmsprop": TrainingOptionsRMSProp, "adam": TrainingOptionsADAM}[solver]
    return cls(solver, engine, given)
