"""``train_network``: TrainingOptions (MATLAB semantics, snake_case) translated onto the engine and its observers.

The rules are those of docs/semantics-matlab.md; this module only configures the engine (``EngineConfig``) and the
generic observers: the verbose table, output functions (:class:`~minidl.training.observers.UserFunction` with
MATLAB's record), validation patience (:class:`~minidl.training.observers.EarlyStopping`), checkpoints after every
epoch and at a mid-epoch stop, a failed save warning (:class:`~minidl.training.observers.Checkpointer`), the figure
and the progress bar.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from minidl import layers as L
from minidl._checks import named_device
from minidl.backend import Device, device_description, get_device, gpu_unavailable_reason
from minidl.matlab import records
from minidl.matlab.arrays import (
    _is_classifier,
    _predictors,
    _responses,
    is_sequence_cells,
    sequence_predictors,
    sequence_responses,
)
from minidl.matlab.graph import LayerGraph
from minidl.matlab.names import TrainingOptions as MatlabOptions
from minidl.matlab.options import TrainingOptions
from minidl.matlab.predict import classify, predict  # noqa: F401  (their old home; kept importable)
from minidl.matlab.records import TrainingInfoStruct
from minidl.network import Network, copy_network
from minidl.optim import SGDM, Adam, Optimizer, RMSProp
from minidl.optim.schedules import ConstantSchedule, EpochIterationSchedule, PiecewiseSchedule, Schedule
from minidl.training import events as ev
from minidl.training import launch
from minidl.training.checkpoint import read_checkpoint, restore_network
from minidl.training.data import ArraySource, SequenceSource, as_sequence_source, as_source, is_source
from minidl.training.events import Observer, TrainingState
from minidl.training.info import InfoRecorder, TrainingInfo
from minidl.training.observers import AuditLog, Checkpointer, EarlyStopping, KeepBest, UserFunction, every_epoch
from minidl.training.parallel import world
from minidl.training.serialization import network_to_json
from minidl.training.trainer import EngineConfig, Trainer

__all__ = ["train_network", "engine_config", "make_observers", "trainNetwork", "classify", "predict"]


def engine_config(options: TrainingOptions, device: str | Device | None = None) -> EngineConfig:
    """The neutral engine configuration of MATLAB-semantics options (docs/semantics-matlab.md)."""
    o = options
    optimizer: Optimizer
    if o.solver == "sgdm":
        optimizer = SGDM(momentum=o.momentum)
    elif o.solver == "rmsprop":
        optimizer = RMSProp(beta2=o.squared_gradient_decay_factor, epsilon=o.epsilon)
    else:
        optimizer = Adam(beta1=o.gradient_decay_factor, beta2=o.squared_gradient_decay_factor, epsilon=o.epsilon,
                         form=o.adam_form)
    schedule: Schedule
    if callable(o.learn_rate_schedule):     # minidl extension: rate = initial·f(epoch, iteration)
        schedule = EpochIterationSchedule(o.initial_learn_rate, o.learn_rate_schedule)
    elif o.learn_rate_schedule == "piecewise":
        schedule = PiecewiseSchedule(o.initial_learn_rate, o.learn_rate_drop_factor, o.learn_rate_drop_period)
    else:
        schedule = ConstantSchedule(o.initial_learn_rate)
    names = o.names  # errors raised while training name the options as the user spelled them
    return EngineConfig(
        optimizer=optimizer, schedule=schedule, max_epochs=o.max_epochs, batch_size=o.mini_batch_size,
        shuffle=o.shuffle, partial_batch="drop", l2=o.l2_regularization, l2_order="before_clip",
        gradient_threshold=o.gradient_threshold, gradient_threshold_method=o.gradient_threshold_method,
        validation_frequency=o.validation_frequency, validate_first_iteration=True, validate_at_end=True,
        validate_last_iteration=True, validate_final_in_loop=True,  # §7: the last iteration, an early stop's, validated
        validation_batch_statistics=o.batch_normalization_statistics == "population",  # §7: each batch's own
        batch_norm_statistics=o.batch_normalization_statistics, normalize_inputs=True,
        reset_input_normalization=o.reset_input_normalization,
        device=get_device(device) if device is not None else _environment_device(o),
        dtype=o.precision, cuda_graphs=o.cuda_graphs,
        seed=o.seed, stop_reasons=dict(records.STOP_REASONS), dispatch_in_background=o.dispatch_in_background,
        sequence_length=o.sequence_length, sequence_padding_value=o.sequence_padding_value,
        sequence_padding_direction=o.sequence_padding_direction, sequence_loss_mask=o.sequence_loss_mask,
        names={"x": "X", "y": "Y", "layers": "layers", "batch_size": names("mini_batch_size"),
               "max_epochs": names("max_epochs"), "shuffle": names("shuffle"),
               "validation_x": names("validation_data", 0), "validation_y": names("validation_data", 1),
               "sequence_length": names("sequence_length"), "sequence_padding_value": names("sequence_padding_value"),
               "sequence_padding_direction": names("sequence_padding_direction"),
               "precision": names("precision"), "device": names("execution_environment")})


def _environment_device(options: TrainingOptions) -> Device:
    """The device of ExecutionEnvironment: 'parallel' trains CPU workers, 'multi-gpu' one worker per GPU."""
    env, arg = options.execution_environment, options.names("execution_environment")
    if env == "multi-gpu":
        try:
            return get_device("gpu")
        except RuntimeError as e:   # no CuPy, no CUDA device, or CuPy cannot run: the cause, named
            raise RuntimeError(f"{arg}: got 'multi-gpu' (one worker per GPU), but {gpu_unavailable_reason()}; or "
                               "use 'parallel' (CPU workers)") from e
    return named_device(arg, "cpu" if env == "parallel" else env)


def make_observers(options: TrainingOptions, settings: dict[str, Any], stream=None,
                   header: Sequence[str] = ()) -> list[Observer]:
    """The observers the options ask for, in order: table, output functions, patience, figure, progress bar
    (checkpoints apart).  ``header``: the lines the verbose table prints before its titles (:func:`header_lines`)."""
    obs: list[Observer] = []
    if options.verbose:
        from minidl.matlab.verbose import VerboseTable
        obs.append(VerboseTable(options.verbose_frequency, stream=stream, header=list(header)))
    if options.output_fcn:
        obs.append(UserFunction(options.output_fcn, records.output_fcn_info, records.output_fcn_due,
                                records.wants_stop))
    if options.validation_source() is not None and not math.isinf(options.validation_patience):
        # MATLAB: after each validation, loss < best resets the count, else count += 1; stop at count ≥ patience
        obs.append(EarlyStopping(lambda s: s.validation_loss, options.validation_patience,
                                 key="validation_patience"))
    if options.plots == "training-progress":
        try:
            from minidl.reporting.figure import TrainingProgressFigure
        except ImportError as e:
            raise ImportError(f"plots='training-progress' needs minidl.reporting.figure (matplotlib): {e}") from e
        obs.append(TrainingProgressFigure(plots_file=options.plots_file, settings=settings))
    if options.progress_bar is not False:
        from minidl.reporting.progress_bar import ProgressBar, in_notebook
        if options.progress_bar or not options.verbose or in_notebook():
            # auto: only when the table is off or in a notebook, and (unless forced) only to a terminal
            obs.append(ProgressBar(force=bool(options.progress_bar)))
    if options.log_file is not None:       # minidl extension: the audit log streamed while training runs
        obs.append(AuditLog(options.log_file))
    return obs


def header_lines(device: Device, net: Network, workers: int = 1) -> list[str]:
    """What MATLAB prints before the verbose table (§9): "Training on single CPU." (or GPU; with several workers
    "Training on N workers (CPUs)."), then "Initializing input data normalization." when the input layer's
    normalization statistics are computed before training."""
    kind = "GPU" if device.name == "gpu" else "CPU"
    lines = [f"Training on single {kind}." if workers <= 1 else f"Training on {workers} workers ({kind}s)."]
    fallback = getattr(device, "fallback", None)  # 'auto' chose the CPU although CuPy is installed: why, in one line
    if fallback:
        lines.insert(0, f"ExecutionEnvironment 'auto' uses the CPU: {' '.join(fallback.split())}")
    layer = net.layers[0] if net.layers else None
    if getattr(layer, "needs_statistics", False):
        lines.append("Initializing input data normalization.")
    return lines


def stopped_mid_epoch(state: TrainingState) -> bool:
    """A due-rule: DONE after a stop in the middle of an epoch (output function, stop button, patience, Ctrl-C);
    not after a non-finite loss (the network was rolled back) nor at an epoch's end (checkpointed then)."""
    return (state.event == ev.DONE and state.stop_kind not in (None, ev.MAX_EPOCHS, ev.NON_FINITE)
            and 0 < state.batch_in_epoch < state.iterations_this_epoch)  # (sequence chunks: this epoch's count)


def _parse(args: tuple) -> tuple[Any, Any, Any, Any]:
    if len(args) == 4:
        return args
    if len(args) == 3 and is_source(args[0]):
        return args[0], None, args[1], args[2]
    raise TypeError(f"train_network: got {len(args)} positional arguments; allowed: (X, Y, layers, options) with "
                    "arrays, or (source, layers, options) with a mini-batch source")


def train_network(*args, resume_from: str | os.PathLike | None = None, device: str | Device | None = None,
                  observers: Sequence[Observer] = (), stream=None, stop_event=None,
                  workers: int | None = None) -> tuple[Network, TrainingInfo]:
    """Train a network with MATLAB ``trainNetwork`` semantics; returns ``(net, info)``.

    ``train_network(X, Y, layers, options)`` or ``train_network(source, layers, options)``.

    Args:
        X: (N, C, H, W) images or (N, F) features (host arrays; moved to the device one mini-batch at a time).
        Y: (N,) class labels of any hashable kind (classes are the sorted distinct labels, ``net.classes``) for a
            network ending in ClassificationOutput; (N,) or (N, R) numbers for RegressionOutput.
        source: a mini-batch source (see :mod:`minidl.training.data`) instead of X and Y.
        layers: a list of layers or a Network (copied, never modified); None when resuming.
        options: :class:`~minidl.matlab.options.TrainingOptions` from ``training_options(...)``.
        resume_from: a checkpoint folder written by ``checkpoint_path``: training continues exactly where it was
            saved (float64 resumes are bit-identical to uninterrupted runs).
        device: a ``minidl.backend.Device`` overriding ``execution_environment`` (the CPU stand-in in tests).
        observers: extra observers (minidl.training.events.Observer) receiving every event.
        stream: where the verbose table is printed (default ``sys.stdout``).
        stop_event: a ``threading.Event`` (anything with ``is_set()``): set it from any thread to stop training
            after the current iteration ("Stopped by user"), e.g. for a training run in a worker thread, where
            Ctrl-C reaches the main thread only.
        workers: with ``execution_environment='parallel'``, the number of worker processes, the caller included
            (default: env MINIDL_WORKERS, else one per core; docs/parallel-launch.md).  Under ``mpiexec -n N``
            every rank trains its share whatever the environment, and each returns ``(net, info)``.

    Returns:
        ``net``: the trained Network (classes set for classifiers); ``info``: a TrainingInfo record.
    """
    X, Y, layers, options = _parse(args)
    if not isinstance(options, TrainingOptions):
        raise TypeError(f"options: got {type(options).__name__}; allowed: TrainingOptions from "
                        "minidl.training_options(solver, ...)")
    resume = None
    if resume_from is not None:
        resume = read_checkpoint(resume_from)
        net = restore_network(resume[0]["network"], resume[1])
        if layers is not None and network_to_json(copy_network(layers))["layers"] != \
                resume[0]["network"]["architecture"]["layers"]:
            raise ValueError("layers: the architecture differs from the checkpoint's; give None (or the same "
                             "layers) when resuming")
    elif layers is None:
        raise TypeError("layers: got None; allowed: a list of minidl layers or a Network (None only with "
                        "resume_from)")
    else:
        net = copy_network(layers)
    sequences = net.input_layer is not None and net.input_layer.is_sequence
    data = as_sequence_source(X, Y, "X", "Y") if sequences else as_source(X, Y, "X", "Y")
    config = engine_config(options, device)
    if getattr(data, "DispatchInBackground", False) is True:   # a datastore's own property turns it on too (§1)
        config.dispatch_in_background = True
    config.stop_event = stop_event
    in_memory = isinstance(data, ArraySource) or isinstance(data, SequenceSource) and data.stream is None
    if in_memory and config.batch_size > len(data):
        config.batch_size = len(data)  # §5: clamped to N for in-memory data
    settings = {**options.settings(), "hardware": device_description(config.device),
                "execution_environment": options.execution_environment}
    env = options.execution_environment if device is None else "cpu"
    gpus = launch.gpu_count() if env == "multi-gpu" else 0
    parallel = env in ("parallel", "multi-gpu")
    mpi_world = world()
    size = mpi_world.size if mpi_world is not None else (gpus or launch.workers_count(workers)) if parallel else 1
    obs = make_observers(options, settings, stream, header_lines(get_device(config.device), net, size)) + \
        list(observers)
    if options.output_network == "best-validation-loss":  # R2021b: the network of the lowest validation loss
        if options.validation_source() is None:
            raise ValueError(f"{options._names('output_network')}: got 'best-validation-loss' without validation "
                             f"data; allowed: 'last-iteration', or give {options._names('validation_data')}")
        config.output_best = KeepBest(lambda s: s.validation_loss)
        obs.append(config.output_best)
    if options.checkpoint_path is not None:  # last: it saves the other observers' state
        at_epoch_end = every_epoch()
        obs.append(Checkpointer(options.checkpoint_path, lambda s: at_epoch_end(s) or stopped_mid_epoch(s),
                                lambda s: records.checkpoint_name(s.iteration), on_failure="warn",
                                arg=options.names("checkpoint_path")))  # §11
    recorder = InfoRecorder(settings, fields=records.INFO_FIELD_NAMES)
    trainer = Trainer(net, data, config, options.validation_source(), obs, settings, recorder=recorder)
    trainer.state.extra["settings"] = settings
    net, info = launch.train(trainer, resume, parallel=parallel, workers=workers, gpus=gpus,
                             worker_load=options.worker_load, worker_load_arg=options.names("worker_load"))
    if options.plots_file is not None and options.plots != "training-progress":
        info.save_figure(options.plots_file)
    return net, info


# ================================================================================================ MATLAB spelling
def _engine_options(options: Any) -> Any:
    """The engine's options object from trainingOptions' result (or the engine's own options, accepted as is)."""
    engine = options.engine if isinstance(options, MatlabOptions) else options
    if not isinstance(engine, TrainingOptions):
        raise TypeError(f"options: got {type(options).__name__}; allowed: the result of trainingOptions(...)")
    return engine


def trainNetwork(X, Y, layers=None, options=None, **engine_kwargs: Any) -> tuple[Network, TrainingInfoStruct]:
    """MATLAB ``[net, info] = trainNetwork(X, Y, layers, options)`` on the engine; also
    ``trainNetwork(ds, layers, options)`` with a datastore (any mini-batch source, e.g. ``imageDatastore``).

    Args:
        X: images H×W×C×N (MATLAB layout; converted to N×C×H×W without a copy) or features N×F (one observation
            per row, as MATLAB's featureInputLayer takes them).
        Y: labels (N,) of any hashable kind (MATLAB categorical ≈ an array of strings or integers; classes in
            sorted order; an N×1 column is accepted), or responses (N,), N×R, or H×W×C×N images.
        layers: a list of layers (MATLAB's layer array), a LayerGraph (``layerGraph(...)``: a DAG network) or a
            Network; None only with ``resume_from``.
        options: from :func:`trainingOptions` (or the engine's own options object).
        **engine_kwargs: minidl extensions passed to ``minidl.train_network`` as they are: ``resume_from`` (a
            checkpoint folder), ``device``, ``observers``, ``stream`` (where the verbose table goes).

    Returns:
        (net, info): the trained ``minidl.Network`` and a :class:`TrainingInfoStruct` with MATLAB's fields
        (TrainingLoss, TrainingAccuracy | TrainingRMSE, ValidationLoss, ValidationAccuracy | ValidationRMSE,
        BaseLearnRate, FinalValidationLoss, FinalValidationAccuracy | FinalValidationRMSE, OutputNetworkIteration)
        plus minidl's GradientNorm, StopReason and ElapsedTime where the engine records them.
    """
    if is_source(X) and options is None:  # trainNetwork(ds, layers, options)
        X, Y, layers, options = X, None, Y, layers
        if isinstance(layers, LayerGraph):  # a DAG network (docs/semantics-matlab.md §13, layer graphs)
            layers = layers.to_network("trainNetwork")
        engine = _engine_options(options)
        net, info = train_network(X, [layers] if isinstance(layers, L.Layer) else layers, engine, **engine_kwargs)
        return net, TrainingInfoStruct(info, net.is_classifier)
    engine = _engine_options(options)
    if isinstance(layers, L.Layer):
        layers = [layers]
    if isinstance(layers, LayerGraph):  # a DAG network (docs/semantics-matlab.md §13, layer graphs)
        layers = layers.to_network("trainNetwork")
    if layers is not None and not isinstance(layers, (list, tuple, Network)):
        raise TypeError(f"layers: got {type(layers).__name__}; allowed: a list of layers, a LayerGraph or a "
                        "Network")
    first = (layers.layers if isinstance(layers, Network) else layers)[0] if layers else None
    if getattr(first, "is_sequence", False) or (layers is None and is_sequence_cells(X)):  # sequence network
        x = sequence_predictors(X, "X")
        one = not is_sequence_cells(X) and np.ndim(X) == 2          # one C×T matrix: one sequence
        y = sequence_responses(Y, False, "Y", steps=int(np.shape(X)[1]) if one else None)
        layers = list(layers) if isinstance(layers, tuple) else layers
        net, info = train_network(x, y, layers, engine, **engine_kwargs)
        return net, TrainingInfoStruct(info, net.is_classifier)
    x = _predictors(X, "X")
    if layers is not None:
        classifier = _is_classifier(layers)
    else:  # resuming: the architecture is the checkpoint's; numbers are responses, anything else labels
        classifier = (Y.dtype if hasattr(Y, "dtype") else np.asarray(Y).dtype).kind not in "fc"
    y = _responses(Y, classifier, "Y")
    layers = list(layers) if isinstance(layers, tuple) else layers
    net, info = train_network(x, y, layers, engine, **engine_kwargs)
    return net, TrainingInfoStruct(info, net.is_classifier)
