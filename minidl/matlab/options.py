"""Training options with MATLAB ``trainingOptions`` semantics under snake_case names (docs/semantics-matlab.md).

``training_options(solver, **options)`` checks every value when the options are made: a wrong type, range or name
raises an error naming the option, the value and what is allowed; a solver-specific option given to another solver
is an error; options MATLAB accepts but minidl has not built yet raise :class:`NotSupportedYetError`.

>>> opts = training_options("sgdm", max_epochs=20, mini_batch_size=64)
>>> opts.initial_learn_rate, opts.momentum, opts.shuffle
(0.01, 0.9, 'once')
>>> training_options("adam").squared_gradient_decay_factor
0.999
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
from collections.abc import Callable
from typing import Any

from minidl._checks import ArgNames, check_choice, check_positive_int, check_real, did_you_mean, plain_scalar
from minidl.errors import NotSupportedYetError
from minidl.optim import SGDM, Adam, RMSProp, register_method
from minidl.training.data import as_sequence_source, as_source, is_source
from minidl.training.graph import is_port_data

__all__ = ["TrainingOptions", "training_options", "NotSupportedYetError", "SOLVERS", "OPTION_NAMES"]

SOLVERS = ("sgdm", "rmsprop", "adam")
for _name, _cls in zip(SOLVERS, (SGDM, RMSProp, Adam)):  # MATLAB's solver names for make_optimizer
    register_method(_name, _cls)
SHUFFLE = ("once", "never", "every-epoch")
SCHEDULES = ("none", "piecewise")
CLIP_METHODS = ("l2norm", "global-l2norm", "absolute-value")
PLOTS = ("none", "training-progress")
ENVIRONMENTS = ("auto", "cpu", "gpu", "multi-gpu", "parallel")
PRECISIONS = ("float32", "float64", "mixed")  # mixed: a minidl extension, a GPU only (docs/gpu.md)
BN_STATISTICS = ("population", "moving")
ADAM_FORMS = ("matlab", "paper")
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
OUTPUT_NETWORKS = ("last-iteration", "best-validation-loss")  # OutputNetwork (R2021b; docs/semantics-matlab.md §12)


#: Options that belong to some solvers only (an error with another solver; docs/semantics-matlab.md).
SOLVER_ONLY = {
    "momentum": ("sgdm",),
    "gradient_decay_factor": ("adam",),
    "squared_gradient_decay_factor": ("adam", "rmsprop"),
    "epsilon": ("adam", "rmsprop"),
    "adam_form": ("adam",),
}

#: Every option in display order (MATLAB's display: solver settings first).
OPTION_NAMES = (
    "momentum", "gradient_decay_factor", "squared_gradient_decay_factor", "epsilon", "adam_form",
    "initial_learn_rate", "learn_rate_schedule", "learn_rate_drop_period", "learn_rate_drop_factor",
    "l2_regularization", "gradient_threshold_method", "gradient_threshold", "max_epochs", "mini_batch_size",
    "verbose", "verbose_frequency", "validation_data", "validation_frequency", "validation_patience", "shuffle",
    "checkpoint_path", "execution_environment", "worker_load", "output_fcn", "plots", "plots_file",
    "progress_bar", "sequence_length", "sequence_padding_value", "sequence_padding_direction",
    "dispatch_in_background", "precision", "seed",
    "batch_normalization_statistics",
    "log_file",
    "output_network",
    "reset_input_normalization",
    "sequence_loss_mask",
    "cuda_graphs",
)


def _defaults(solver: str) -> dict[str, Any]:
    """The trainingOptions defaults for ``solver`` (solver-specific options only for their solvers)."""
    d: dict[str, Any] = {
        "initial_learn_rate": 0.01 if solver == "sgdm" else 0.001,
        "learn_rate_schedule": "none", "learn_rate_drop_period": 10, "learn_rate_drop_factor": 0.1,
        "l2_regularization": 1e-4, "gradient_threshold_method": "l2norm", "gradient_threshold": math.inf,
        "max_epochs": 30, "mini_batch_size": 128, "verbose": True, "verbose_frequency": 50,
        "validation_data": None, "validation_frequency": 50, "validation_patience": math.inf, "shuffle": "once",
        "checkpoint_path": None, "execution_environment": "auto", "worker_load": None, "output_fcn": (),
        "plots": "none", "plots_file": None, "progress_bar": None, "sequence_length": "longest",
        "sequence_padding_value": 0, "sequence_padding_direction": "right",
        "dispatch_in_background": False, "precision": "float32", "seed": 0,
        "batch_normalization_statistics": "population",
        "log_file": None,
        "output_network": "last-iteration",
        "reset_input_normalization": True,
        "sequence_loss_mask": True,
        "cuda_graphs": "off",
    }
    if solver == "sgdm":
        d["momentum"] = 0.9
    if solver == "adam":
        d.update(gradient_decay_factor=0.9, squared_gradient_decay_factor=0.999, epsilon=1e-8, adam_form="matlab")
    if solver == "rmsprop":
        d.update(squared_gradient_decay_factor=0.9, epsilon=1e-8)
    return d


def _not_yet(name: str, value, why: str) -> NotSupportedYetError:
    return NotSupportedYetError(f"{name}: got {value!r}; not supported yet ({why})")


def _check_bool(value, name: str) -> bool:
    value = plain_scalar(value)  # np.bool_, a 0-d array
    if isinstance(value, bool) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name}: got {value!r}; allowed: True or False")


def _check_patience(value, arg: str) -> float | int:
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return math.inf
    return check_positive_int(arg, value)


def _check_folder(value, arg: str) -> str | None:
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{arg}: got {type(value).__name__}; allowed: the path of an existing folder, or "
                        "None / '' for no checkpoints")
    path = os.fspath(value)
    if not os.path.isdir(path):
        raise ValueError(f"{arg}: got {path!r}, which is not an existing folder; allowed: an existing "
                         "folder (create it first)")
    return path


def _takes_one_argument(f: Callable) -> bool:
    """Whether ``f(info)`` can be called with one positional argument (True when Python cannot tell)."""
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):  # some builtins have no signature
        return True
    try:
        signature.bind(None)
    except TypeError:
        return False
    return True


def _check_output_fcn(value, arg: str) -> tuple[Callable, ...]:
    if value is None:
        return ()
    functions = (value,) if callable(value) else value
    if not isinstance(functions, (list, tuple)):
        raise TypeError(f"{arg}: got {type(value).__name__}; allowed: a callable f(info) -> bool or a list of them")
    for i, f in enumerate(functions):
        where = arg if callable(value) else f"{arg}[{i}]"
        if not callable(f):
            raise TypeError(f"{where}: got {type(f).__name__}; allowed: a callable f(info) -> bool")
        if not _takes_one_argument(f):  # MATLAB calls every output function with the info struct
            raise TypeError(f"{where}: got {getattr(f, '__qualname__', f)!r}, which cannot be called with one "
                            "argument; allowed: a function f(info) taking the training-progress record")
    return tuple(functions)


def _check_plots_file(value, arg: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{arg}: got {type(value).__name__}; allowed: a file path ending in "
                        f"{', '.join(FIGURE_SUFFIXES)}")
    path = os.fspath(value)
    if os.path.splitext(path)[1].lower() not in FIGURE_SUFFIXES:
        raise ValueError(f"{arg}: got {path!r}; allowed: a file name ending in {', '.join(FIGURE_SUFFIXES)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{arg}: got {path!r}, but its folder {folder!r} does not exist; create it first")
    return path


def _check_log_file(value, arg: str) -> str | None:
    """log_file (a minidl extension): the audit log streamed while training, a .csv or .jsonl path in an existing
    folder (docs/your-data.md#logs-while-training)."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{arg}: got {type(value).__name__}; allowed: None or a file path ending in .csv or .jsonl")
    path = os.fspath(value)
    if os.path.splitext(path)[1].lower() not in (".csv", ".jsonl"):
        raise ValueError(f"{arg}: got {path!r}; allowed: a file name ending in .csv or .jsonl")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{arg}: got {path!r}, but its folder {folder!r} does not exist; create it first")
    return path


def _check_validation_data(value, names: ArgNames):
    if value is None:
        return None
    if is_source(value):
        return as_source(value, None, names("validation_data"), names("validation_data"))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        cells = (isinstance(value[0], (list, tuple)) and not is_port_data(value[0], lists=False)) or \
            getattr(getattr(value[0], "dtype", None), "kind", "") == "O"       # (a tuple of arrays: graph inputs)
        if cells:                                              # a cell array of sequences
            return as_sequence_source(value[0], value[1], names("validation_data", 0), names("validation_data", 1))
        return as_source(value[0], value[1], names("validation_data", 0), names("validation_data", 1))
    raise TypeError(f"{names('validation_data')}: got {type(value).__name__}; allowed: a pair (X, Y) of arrays or a "
                    "mini-batch source")


def _check_sequence_length(value, arg: str):
    """'longest' | 'shortest' | a positive integer S (docs/semantics-matlab.md, sequences)."""
    value = plain_scalar(value)
    if isinstance(value, str):
        return check_choice(arg, value, ("longest", "shortest"))
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value)) and \
            float(value) == int(float(value)) and float(value) >= 1:   # MATLAB's doubles: 20.0 is the integer 20
        return int(float(value))
    raise ValueError(f"{arg}: got {value!r}; allowed: 'longest', 'shortest' or a positive integer")


def _check_padding_value(value, arg: str):
    """A real scalar; NaN refused (the reference: "do not pad sequences with NaN", it spreads through the
    network; the one padding rule, minidl.sequences, refuses it)."""
    v = check_real(arg, value)
    if math.isnan(v):
        raise ValueError(f"{arg}: got NaN; allowed: a real number (padding with NaN spreads NaN through the network)")
    return v


def _check_environment(value, arg: str) -> str:
    """'parallel' (a local pool of CPU workers) and 'multi-gpu' (one worker per GPU) are checked when training
    starts: they need mpi4py and an MPI library (``pip install 'minidl[mpi]'``), 'multi-gpu' also CuPy and GPUs."""
    check_choice(arg, value, ENVIRONMENTS)
    return value


def _check_worker_load(value, arg: str):
    """MATLAB's forms: a fraction in [0, 1] or a positive integer of workers per machine, or a vector of
    nonnegative loads, one per worker.  It divides work among parallel workers only ('multi-gpu', 'parallel', or
    under mpiexec; minidl.training.parallel.worker_loads), so on one CPU or GPU any valid value changes nothing and
    is accepted, as MATLAB accepts it."""
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        if 0 <= v <= 1 or (v > 1 and v.is_integer()):
            return int(v) if v > 1 else v
    elif isinstance(value, (list, tuple)) or hasattr(value, "shape"):
        loads = [float(v) for v in list(getattr(value, "flat", value))
                 if isinstance(v, numbers.Real) and not isinstance(v, bool)]
        if len(loads) == len(list(getattr(value, "flat", value))) and loads and all(v >= 0 for v in loads):
            return tuple(loads)
    raise ValueError(f"{arg}: got {value!r}; allowed: a number in [0, 1], a positive integer or a vector of "
                     "nonnegative numbers (one load per worker)")


def _check_dispatch(value, arg: str) -> bool:
    """True: a reader thread reads the next mini-batches while a step runs, for any source (the same run bit for
    bit; minidl.training.prefetch)."""
    return _check_bool(value, arg)


def _check_seed(value, arg: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{arg}: got {value!r}; allowed: an integer >= 0")
    return int(value)


_CHECKS: dict[str, Callable[[Any, str], Any]] = {  # option -> check(value, the name as the caller spells it)
    "momentum": lambda v, a: check_real(a, v, 0.0, 1.0),  # [0, 1], 1 included [ref]
    "gradient_decay_factor": lambda v, a: check_real(a, v, 0.0, 1.0, high_open=True),
    "squared_gradient_decay_factor": lambda v, a: check_real(a, v, 0.0, 1.0, high_open=True),
    "epsilon": lambda v, a: check_real(a, v, 0.0, math.inf, low_open=True, high_open=True),
    "adam_form": lambda v, a: check_choice(a, v, ADAM_FORMS),
    "initial_learn_rate": lambda v, a: check_real(a, v, 0.0, math.inf, low_open=True, high_open=True),
    "learn_rate_schedule": lambda v, a: v if callable(v) else check_choice(a, v, SCHEDULES),  # f(epoch, it)
    "learn_rate_drop_period": lambda v, a: check_positive_int(a, v),
    "learn_rate_drop_factor": lambda v, a: check_real(a, v, 0.0, 1.0),
    "l2_regularization": lambda v, a: check_real(a, v, 0.0, math.inf, high_open=True),
    "gradient_threshold_method": lambda v, a: check_choice(a, v, CLIP_METHODS),
    "gradient_threshold": lambda v, a: check_real(a, v, 0.0, math.inf, low_open=True),
    "max_epochs": lambda v, a: check_positive_int(a, v),
    "mini_batch_size": lambda v, a: check_positive_int(a, v),
    "verbose": _check_bool,
    "verbose_frequency": lambda v, a: check_positive_int(a, v),
    "validation_data": lambda v, a: v,  # checked apart (the checked source is kept too)
    "validation_frequency": lambda v, a: check_positive_int(a, v),
    "validation_patience": _check_patience,
    "shuffle": lambda v, a: check_choice(a, v, SHUFFLE),
    "checkpoint_path": _check_folder,
    "execution_environment": _check_environment,
    "worker_load": _check_worker_load,
    "output_fcn": _check_output_fcn,
    "plots": lambda v, a: check_choice(a, v, PLOTS),
    "plots_file": _check_plots_file,
    "progress_bar": lambda v, a: None if v is None else _check_bool(v, a),
    "sequence_length": _check_sequence_length,
    "sequence_padding_value": _check_padding_value,
    "sequence_padding_direction": lambda v, a: check_choice(a, v, ("right", "left")),  # 'left': later releases
    "dispatch_in_background": _check_dispatch,
    "precision": lambda v, a: check_choice(a, v, PRECISIONS),
    "seed": _check_seed,
    "batch_normalization_statistics": lambda v, a: check_choice(a, v, BN_STATISTICS),
    "log_file": _check_log_file,
    "output_network": lambda v, a: check_choice(a, v, OUTPUT_NETWORKS),
    "sequence_loss_mask": _check_bool,  # minidl extension: False counts padded steps in the loss and metrics
    "cuda_graphs": lambda v, a: check_choice(a, v, ("off", "on", "auto")),  # minidl extension (docs/gpu.md)
    "reset_input_normalization": _check_bool,  # R2019b: recompute given input statistics (docs/matlab-interop.md)
}


class TrainingOptions:
    """Checked, read-only training options for one solver; make them with :func:`training_options`."""

    # the attributes __init__ sets (read-only afterwards): the solver, and one per option of OPTION_NAMES
    solver: str
    _given: dict[str, Any]
    _names: ArgNames
    _validation_source: Any
    momentum: Any
    gradient_decay_factor: Any
    squared_gradient_decay_factor: Any
    epsilon: Any
    adam_form: Any
    initial_learn_rate: Any
    learn_rate_schedule: Any
    learn_rate_drop_period: Any
    learn_rate_drop_factor: Any
    l2_regularization: Any
    gradient_threshold_method: Any
    gradient_threshold: Any
    max_epochs: Any
    mini_batch_size: Any
    verbose: Any
    verbose_frequency: Any
    validation_data: Any
    validation_frequency: Any
    validation_patience: Any
    shuffle: Any
    checkpoint_path: Any
    execution_environment: Any
    worker_load: Any
    output_fcn: Any
    plots: Any
    plots_file: Any
    progress_bar: Any
    sequence_length: Any
    sequence_padding_value: Any
    sequence_padding_direction: Any
    dispatch_in_background: Any
    precision: Any
    seed: Any
    batch_normalization_statistics: Any
    log_file: Any
    output_network: Any
    reset_input_normalization: Any
    sequence_loss_mask: Any
    cuda_graphs: Any

    def __init__(self, solver: str, *, names: ArgNames | None = None, **options: Any):
        names = names or ArgNames()
        solver = check_choice(names("solver"), solver, SOLVERS)
        values = _defaults(solver)
        for name, value in options.items():
            if name not in _CHECKS:
                raise TypeError(f"training_options: unknown option {name!r}{did_you_mean(name, OPTION_NAMES)}; "
                                f"allowed: {', '.join(OPTION_NAMES)}")
            if name in SOLVER_ONLY and solver not in SOLVER_ONLY[name]:
                raise ValueError(f"{names(name)}: given with solver {solver!r}, but it applies to solver "
                                 f"{' and '.join(map(repr, SOLVER_ONLY[name]))} only")
            values[name] = _CHECKS[name](value, names(name))
        source = _check_validation_data(values["validation_data"], names)
        object.__setattr__(self, "solver", solver)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_given", dict(options))
        object.__setattr__(self, "_validation_source", source)
        for name in OPTION_NAMES:
            object.__setattr__(self, name, values.get(name))

    # -- read-only --
    def __setattr__(self, name, value):
        raise AttributeError(f"TrainingOptions are read-only; use options.replace({name}=...) for a changed copy")

    def __delattr__(self, name):
        raise AttributeError("TrainingOptions are read-only")

    def replace(self, **changes: Any) -> TrainingOptions:
        """A new, checked TrainingOptions with ``changes`` applied; ``name=None`` goes back to the default and
        ``solver=`` switches solver (drop the old solver's options with ``momentum=None`` etc.)."""
        solver = changes.pop("solver", self.solver)
        given = {**self._given, **changes}
        return TrainingOptions(solver, names=self._names, **{k: v for k, v in given.items() if v is not None})

    @property
    def names(self) -> ArgNames:
        """How errors spell the option names (``names("mini_batch_size")``: the caller's spelling)."""
        return self._names

    @property
    def properties(self) -> tuple[str, ...]:
        """The option names of this solver, in display order."""
        return tuple(n for n in OPTION_NAMES if n not in SOLVER_ONLY or self.solver in SOLVER_ONLY[n])

    def to_dict(self) -> dict[str, Any]:
        """``{"solver": ..., option: value, ...}`` for this solver's options."""
        return {"solver": self.solver, **{n: getattr(self, n) for n in self.properties}}

    def validation_source(self):
        """The checked mini-batch source of ``validation_data`` (None without validation data)."""
        return self._validation_source

    def settings(self) -> dict[str, Any]:
        """The JSON-serializable options (validation data and output functions summarized as text)."""
        out = {}
        for k, v in self.to_dict().items():
            if k in ("validation_data", "output_fcn"):
                v = _show(k, v) if v not in (None, ()) else None
            elif isinstance(v, float) and math.isinf(v):
                v = "inf"
            elif callable(v):                       # a learn_rate_schedule function: its name
                v = f"<function {getattr(v, '__qualname__', type(v).__name__)}>"
            out[k] = v
        return out

    def __repr__(self) -> str:
        names = self.properties
        width = max(map(len, names))
        lines = [f"TrainingOptions(solver={self.solver!r}) with properties:", ""]
        lines += [f"  {n.rjust(width)}: {_show(n, getattr(self, n))}" for n in names]
        return "\n".join(lines)


def _show(name: str, value) -> str:
    """MATLAB-display style value text."""
    if name == "validation_data" and value is not None:
        if isinstance(value, (tuple, list)):
            x, y = value
            return f"(X: {'x'.join(map(str, getattr(x, 'shape', ())))} {getattr(x, 'dtype', '')}, " \
                   f"Y: {len(y)} values)"
        return f"{type(value).__name__} of {len(value)} observations"
    if name == "output_fcn":
        return "[" + ", ".join(getattr(f, "__qualname__", None) or repr(f) for f in value) + "]"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}" if value and abs(value) < 1e-3 else repr(value)
    return repr(value)


def training_options(solver: str, *, names: ArgNames | None = None, **options: Any) -> TrainingOptions:
    """Options for :func:`minidl.train_network`: MATLAB ``trainingOptions(solverName, Name, Value)`` in snake_case.

    Args:
        solver: ``"sgdm"``, ``"rmsprop"`` or ``"adam"``.
        **options: any of :data:`OPTION_NAMES` (docs/training.md lists each with its default and effect):
            momentum (sgdm; 0.9), gradient_decay_factor (adam; 0.9), squared_gradient_decay_factor (adam 0.999,
            rmsprop 0.9), epsilon (adam, rmsprop; 1e-8), adam_form ('matlab' | 'paper'), initial_learn_rate
            (0.01 sgdm, else 0.001), learn_rate_schedule ('none' | 'piecewise' | a callable
            f(epoch, iteration) -> factor: rate = initial_learn_rate·f, both 1-based), learn_rate_drop_period (10),
            learn_rate_drop_factor (0.1), l2_regularization (1e-4), gradient_threshold (inf),
            gradient_threshold_method ('l2norm' | 'global-l2norm' | 'absolute-value'), max_epochs (30),
            mini_batch_size (128), shuffle ('once' | 'never' | 'every-epoch'), verbose (True), verbose_frequency
            (50), validation_data ((X, Y) or a source), validation_frequency (50), validation_patience (inf),
            checkpoint_path (an existing folder), output_fcn (callable or list), plots ('none' |
            'training-progress'), plots_file (save the figure there), progress_bar (None: a tqdm bar when verbose is
            off or in a notebook, written to a terminal only; True: always; False: never), execution_environment
            ('auto' | 'cpu' | 'gpu'), worker_load, dispatch_in_background, sequence_length ('longest' |
            'shortest' | a positive integer S: chunks of S steps, one iteration each, the recurrent state carried),
            sequence_padding_value (0), sequence_padding_direction ('right', the reference's only behaviour |
            'left', later releases), precision ('float32' | 'float64' | 'mixed': float16 compute with float32
            master weights, a GPU only), seed (0),
            batch_normalization_statistics ('population' | 'moving'), log_file (None; a .csv or .jsonl path:
            the audit log appended and flushed each epoch while training runs), output_network ('last-iteration' |
            'best-validation-loss': the network of the lowest validation loss; needs validation_data),
            reset_input_normalization (True: input statistics are computed from the training data even when given),
            sequence_loss_mask (True: padded time steps of a sequence-to-sequence network add nothing to the loss,
            accuracy or RMSE, MATLAB's rule; False: they count as real steps; a minidl extension),
            cuda_graphs ('off' | 'on' | 'auto': the training step captured as a CUDA graph and replayed on a GPU;
            'on' elsewhere runs eagerly with a notice; a minidl extension, docs/gpu.md#cuda-graphs).

        names: how errors spell the option names (a dialect's :class:`~minidl._checks.ArgNames`; default: as given).

    Returns:
        read-only :class:`TrainingOptions`; ``options.replace(**changes)`` gives a changed copy.
    """
    return TrainingOptions(solver, names=names, **options)
