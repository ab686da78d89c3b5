"""The one training engine: a neutral configuration and the loop that emits events to observers.

The engine knows no MATLAB or Wolfram spelling. A dialect fills an :class:`EngineConfig` (optimizer instance, rate
schedule, L2 and its order relative to clipping, clipping, weight clipping, epochs, batch size, shuffle mode,
partial-batch policy, when to validate, batch-norm statistics mode, device, dtype, seed, time limit) and attaches
its observers (table, output functions, patience, checkpoints, figure). One iteration::

    forward → data loss → backward → [audit: global gradient norm; stop if loss or gradient is non-finite]
            → L2 (arrays with learn-rate factor ≠ 0) → clipping (or clipping → L2) → optimizer step (lr · factor_i)
            → weight clipping → [validation when due] → ITERATION (→ VALIDATION) (→ EPOCH_END)

After the loop: batch-norm population statistics (one unshuffled pass over all training data, exact merge), final
validation with the finalized network, DONE.  The loop never prints, plots or saves.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minidl._checks import check_positive_int, check_representable, named_device
from minidl._threads import training_threads
from minidl.backend import Device, get_array_module, to_device, to_host
from minidl.errors import NotSupportedYetError
from minidl.layers.normalization import BatchNormalization
from minidl.network import Network, check_dtype
from minidl.optim import GradientPipeline, clip_weights, frozen_names, global_norm
from minidl.optim.base import Optimizer
from minidl.optim.flat import FlatStep
from minidl.optim.schedules import Schedule
from minidl.training import cuda_graph, mixed
from minidl.training import events as ev
from minidl.training.data import ArraySource, PreparedSource, peek_shape, source_classes
from minidl.training.events import Observer, TrainingState
from minidl.training.graph import GraphPart, MultiArraySource
from minidl.training.info import InfoRecorder, TrainingInfo
from minidl.training.parallel import batch_rows, take_rows
from minidl.training.prefetch import BackgroundReader
from minidl.training.sequence import SequencePart

__all__ = ["EngineConfig", "Trainer", "SHUFFLE_MODES", "PARTIAL_BATCH"]

SHUFFLE_MODES = ("once", "every-epoch", "never")
PARTIAL_BATCH = ("drop", "keep", "fill")


@dataclass
class EngineConfig:
    """Everything the loop needs, in neutral terms (a dialect translates its option names into these)."""

    optimizer: Optimizer                      # an instance; its state is the solver state (saved in checkpoints)
    schedule: Schedule                        # rate = schedule(epoch, iteration, total_iterations)
    max_epochs: int = 30                      # epochs (Wolfram: rounds)
    batch_size: int = 128
    shuffle: str = "once"                     # 'once' (training and validation, once) | 'every-epoch' | 'never'
    partial_batch: str = "drop"               # 'drop': floor(N/B) iterations per epoch (MATLAB) | 'keep' | 'fill'
    fill_shuffle_above: int = 4               # 'fill' (Wolfram): ceil(N/B) batches of B, the last filled up with
                                              # random examples, compositions fixed for the run; each epoch only
                                              # the batch order is shuffled, when there are more batches than this
    l2: float = 0.0                           # λ
    l2_order: str | None = None               # 'before_clip' | 'after_clip'; None: the optimizer's own order
    gradient_threshold: float | dict[str, float] = math.inf  # a dict: per-array thresholds ('absolute-value')
    gradient_threshold_method: str = "l2norm"  # 'l2norm' | 'global-l2norm' | 'absolute-value'
    weight_clip: float | dict[str, float] = math.inf  # clip weights to [−c, c] after each step (a dict: per array)
    validation_frequency: int | None = 50     # validate every this many iterations (None: never by count)
    validate_first_iteration: bool = True     # MATLAB validates at iteration 1
    validate_each_epoch: bool = False         # Wolfram: validate after every round
    validate_at_end: bool = True              # final validation with the finalized network
    validation_seconds: float | None = None   # also validate when this many seconds passed since the last one
    validate_last_iteration: bool = False     # the run's last iteration is validated if it was not, whatever the
                                              # interval and however it stopped (MATLAB and Wolfram; not after a
                                              # non-finite stop): its values reach the record, a VALIDATION event
    validate_final_in_loop: bool = False      # MATLAB: the final iteration (max epochs) validates within its
                                              # ITERATION event (its verbose row and OutputFcn record carry it)
    validation_batch_size: int | None = None  # None: batch_size
    validation_batch_statistics: bool = False  # in-training validation: batch norm uses each batch's own statistics
    batch_norm_statistics: str = "population"  # 'population' (pass after training) | 'moving'
    normalize_inputs: bool = True             # input-normalization statistics pass before training
    reset_input_normalization: bool = False   # recompute given input statistics too (not on resume)
    device: str | Device = "cpu"
    dtype: str = "float32"                    # 'float32' | 'float64' | 'mixed': float16 compute, float32 master
                                              # weights, dynamic loss scaling (a GPU only; minidl.training.mixed)
    cuda_graphs: str = "off"                  # 'off' | 'on' | 'auto': the step captured as a CUDA graph and
                                              # replayed (CuPy; minidl.training.cuda_graph, docs/gpu.md)
    seed: int = 0                             # the one host generator: weights, shuffles, dropout masks
    time_limit: float = math.inf              # seconds (Wolfram TimeGoal)
    record_example_losses: bool = False       # ITERATION: state.example_losses = ℓₙ of the batch (Wolfram)
    #: partial updates (Wolfram TrainingUpdateSchedule): a cycle of (parameter names updated, number of consecutive
    #: iterations); the other arrays are frozen for those iterations (no pre-steps, no update, state untouched)
    update_groups: list[tuple[frozenset[str], int]] | None = None
    freeze_frozen_statistics: bool = False    # Wolfram: a batch norm whose arrays are all frozen (factor 0) keeps
                                              # its moving statistics too
    record_outputs: bool = False              # state.batch_/validation_outputs and _targets (host copies; Wolfram
                                              # measurements such as Precision, AUC, R2 need them)
    learn_rate_multipliers: dict[str, float] = field(default_factory=dict)  # array -> × its layer's factor
    l2_factors: dict[str, float] | None = None  # array -> L2 factor replacing the layers' own (None: the layers')
    stop_reasons: dict[str, str] = field(default_factory=dict)  # stop kind -> the dialect's wording
    blas_threads: int | str | None = None     # BLAS threads while training: n, "keep", None (MINIDL_BLAS_THREADS or 1)
    stop_event: Any = None                    # an object with is_set() (threading.Event): set from any thread, it
                                              # stops training after the current iteration (stop kind INTERRUPT)
    names: dict[str, str] = field(default_factory=dict)  # argument names for error messages (dialect spellings)
    output_best: Any = None  # a KeepBest among the observers: its best arrays are the returned network (else last)
    # sequences (a network whose input layer is a SequenceInput; docs/training.md#sequences)
    sequence_length: str | int = "longest"    # 'longest' | 'shortest' | S: chunks of S steps, each one iteration,
                                              # the recurrent state carried between the chunks of a mini-batch
    sequence_padding_value: float = 0.0
    sequence_padding_direction: str = "right"  # 'right' | 'left'
    sequence_loss_mask: bool = True           # False: padded steps count as real ones in the loss and the metrics
    # data-parallel workers (docs/parallel.md): a minidl.training.parallel.Communicator; None or size 1: one process
    communicator: Any = None
    worker_loads: list[float] | None = None   # relative load of each worker (None: equal); see parallel.shares
    dispatch_in_background: bool = False      # a reader thread reads the next mini-batches while a step runs
                                              # (minidl.training.prefetch; the same run bit for bit)

    def name(self, key: str) -> str:
        """The user-facing name of an argument: the dialect's spelling from ``names``, else the engine's own
        (``batch_size``, ``x``, ``y``, ``layers``, ``validation_x``, ``validation_y``)."""
        return self.names.get(key, key)


class _SigintGuard:
    """While training, Ctrl-C asks for a clean stop after the current iteration; a second Ctrl-C interrupts at once
    outside an iteration (set-up, finalization), and inside one (``with guard.update():``) when the iteration is
    complete: an interrupt never leaves some arrays, the optimizer state or the record a step ahead of the others."""

    def __init__(self):
        self.requested = False
        self._previous = None
        self._in_update = False
        self._deferred = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            if self._in_update:
                self._deferred = True  # raised when the update is complete
                return
            raise KeyboardInterrupt
        self.requested = True  # the loop stops after this iteration (stop kind INTERRUPT)

    @contextlib.contextmanager
    def update(self):
        """An iteration (the update of every array, the optimizer state, the record): a second Ctrl-C arriving
        inside waits for its end."""
        self._in_update = True
        try:
            yield
        finally:
            self._in_update = False
        if self._deferred:
            self._deferred = False
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


class Trainer:
    """Trains ``net`` in place on a mini-batch source with an :class:`EngineConfig`, emitting events to observers."""

    def __init__(self, net: Network, data, config: EngineConfig, validation_data=None,
                 observers: list[Observer] | tuple[Observer, ...] = (), settings: dict[str, Any] | None = None,
                 recorder: InfoRecorder | None = None):
        self.net, self.config = net, config
        self.raw_data, self.raw_validation = data, validation_data
        self.recorder = recorder if recorder is not None else InfoRecorder(settings)
        comm = config.communicator
        if comm is not None and comm.size > 1 and comm.rank != 0:
            observers = ()                          # a worker other than rank 0 reports nothing: the record only
        self.observers: list[Observer] = [self.recorder, *observers]
        self.state = TrainingState()
        self.stop_kind: str | None = None
        self.stopped_by: str | None = None           # the observer that asked for the stop
        self._backup: dict[str, Any] | None = None  # device copies of the parameters before the current update
        self._backup_iteration = -1                 # the iteration whose parameters _backup holds
        self.run_id = uuid.uuid4().hex              # names this run's info-history side file in checkpoints
        self._reader: BackgroundReader | None = None  # the epoch's reader thread (dispatch_in_background)

    # ================================================================================================ set-up
    def _setup(self, resume: tuple[dict, dict] | None) -> None:
        cfg, net, data = self.config, self.net, self.raw_data
        self._check_config()
        self.device = named_device(cfg.name("device"), cfg.device)  # a GPU refused names the dialect's option
        self.dtype = check_dtype("float32" if cfg.dtype == "mixed" else cfg.dtype, "precision")
        self.rng = np.random.default_rng(cfg.seed)
        if net.output_layer is None:
            raise ValueError(f"{cfg.name('layers')}: the network has no output layer; allowed: layers ending in "
                             "ClassificationOutput or RegressionOutput")
        self.classifier = net.is_classifier
        if not net.is_chain and net.is_sequence:
            raise NotSupportedYetError(f"{cfg.name('layers')}: a graph network with a sequence input; not "
                                       "supported yet (sequences train as a chain of layers; docs/graphs.md)")
        self.seq = SequencePart(self) if net.input_layer is not None and net.input_layer.is_sequence else None
        self.graph = GraphPart(self) if not net.is_chain and self.seq is None else None   # several ports
        self.par = self._parallel()
        if self.graph is None and isinstance(data, MultiArraySource):
            raise ValueError(f"{cfg.name('x')}: got data by port (a tuple or dict of arrays); the network is a chain "
                             "with one input and one loss; allowed: one array of inputs and one of targets")
        n = len(self.raw_data)
        self.n = n
        B = cfg.batch_size
        self.ipe = n // B if cfg.partial_batch == "drop" else -(-n // B)  # iterations per epoch
        self.compositions: np.ndarray | None = None                       # 'fill': (ipe, B) example indices
        if self.ipe == 0:
            raise ValueError(f"{cfg.name('batch_size')}: got {B}, more than the {n} training observations; allowed: "
                             f"at most {n} (the partial mini-batch of every epoch is dropped)")
        if self.seq is not None:            # sequences: their own data set-up (minidl.training.sequence)
            self.seq.setup(resume)
        elif self.graph is not None:        # a graph: inputs and targets by port (minidl.training.graph)
            self.graph.setup(resume)
        else:
            self._setup_data(resume)
        # solver plumbing: per-array factors (the layers', times the config's multipliers), frozen arrays, pre-steps
        self.lr_factors = {k: f * cfg.learn_rate_multipliers.get(k, 1.0) for k, f in net.learn_rate_factors.items()}
        self.frozen = frozen_names(self.lr_factors)
        self._groups = self._update_groups()
        self._still_statistics = [layer for layer in net.layers if cfg.freeze_frozen_statistics
                                  and isinstance(layer, BatchNormalization) and layer.params
                                  and all(f"{layer.name}.{k}" in self.frozen for k in layer.params)]
        l2_factors = net.l2_factors if cfg.l2_factors is None else {k: cfg.l2_factors.get(k, 0.0) for k in net.params}
        self.pipeline = GradientPipeline(cfg.l2, l2_factors, cfg.gradient_threshold,
                                         cfg.gradient_threshold_method, cfg.l2_order or cfg.optimizer.l2_order)
        self._flat_step = FlatStep(self.pipeline, cfg.optimizer, cfg.weight_clip)  # the same, over flat buffers
        # position: epoch = current (1-based) epoch, next_batch = next batch within it; ipe = epoch complete
        self.epoch, self.next_batch, self.iteration, self.updated = 0, self.ipe, 0, 0
        self.elapsed_before = 0.0
        self._validated_at, self._validated_time = 0, 0.0    # iteration and time of the latest validation
        if resume is not None:
            self._restore(*resume)
        elif cfg.partial_batch == "fill":
            self.compositions = self._compose(n, B)
            self.order = self.compositions.reshape(-1)
            self.val_order = np.arange(self.n_val) if self.validation is not None else None
        elif cfg.shuffle == "once":  # one shuffle of training and validation data before training
            self.order = self.rng.permutation(n)
            self.val_order = self.rng.permutation(self.n_val) if self.validation is not None else None
        else:
            self.order = np.arange(n)
            self.val_order = np.arange(self.n_val) if self.validation is not None else None
        self._mixed = mixed.MixedStep(self) if cfg.dtype == "mixed" else None      # a GPU (or the stand-in) only
        self._graph_step = cuda_graph.graph_step_for(self)                         # None: the ordinary step
        for source in (self.raw_data, self.raw_validation):  # sources that draw (augmentation): the run's generator
            if source is not None and hasattr(source, "use_generator"):
                source.use_generator(self.rng)

    def _parallel(self):
        """The data-parallel part (minidl.training.parallel.DataParallel) when the communicator has several
        workers, else None (the one-process code path)."""
        cfg = self.config
        comm = cfg.communicator
        if comm is None or comm.size == 1:
            return None
        if self.seq is not None:
            raise NotSupportedYetError(f"{cfg.name('communicator')}: {comm.size} workers for a sequence network; "
                                       "not supported yet (MATLAB: \"Training long short-term memory networks "
                                       "supports single CPU and GPU training only\")")
        from minidl.training.parallel import DataParallel

        return DataParallel(self, comm, cfg.worker_loads)

    def _setup_data(self, resume) -> None:
        """Images or features: the source checked and prepared, input statistics, the network initialized."""
        cfg, net, n, B = self.config, self.net, self.n, self.config.batch_size
        shape = peek_shape(self.raw_data, cfg.name("x"))
        self._check_input_shape(shape)
        classes = None
        if self.classifier:
            classes = net.classes if net.classes is not None else source_classes(self.raw_data, cfg.name("y"))
        self.train = PreparedSource(self.raw_data, self.classifier, classes, cfg.name("x"), cfg.name("y"), shape,
                                    None)
        self._check_representable(self.train, "x", "y")  # before the statistics pass reads the data
        # input-normalization statistics: one pass over all training data before training (MATLAB zerocenter/zscore)
        layer = net.input_layer
        if cfg.normalize_inputs and cfg.reset_input_normalization and resume is None and \
                hasattr(layer, "reset_statistics"):
            layer.reset_statistics()
        if cfg.normalize_inputs and layer is not None and getattr(layer, "needs_statistics", False):
            layer.set_statistics(x for x, _ in self.train.batches(np.arange(n), B))
        if not net.initialized:
            net.initialize(shape, rng=self.rng, dtype=self.dtype, device=self.device)
        net.to(self.device, self.dtype)
        net.set_rng(self.rng)
        self._check_outputs(classes)
        net.classes = classes
        self.validation = None
        if self.raw_validation is not None:
            vshape = peek_shape(self.raw_validation, cfg.name("validation_x"))
            if vshape != shape:
                raise ValueError(f"{cfg.name('validation_x')}: got observations of shape {vshape}; the training data "
                                 f"and the network have {shape}")
            self.validation = PreparedSource(self.raw_validation, self.classifier, classes,
                                             cfg.name("validation_x"), cfg.name("validation_y"), shape,
                                             self.train.n_responses)
        self.n_val = 0 if self.validation is None else len(self.validation)
        self._check_representable(self.validation, "validation_x", "validation_y")

    def _update_groups(self) -> list[tuple[int, frozenset[str], dict[str, float]]] | None:
        """``update_groups`` checked: (iterations, frozen names, learn-rate factors) per group of the cycle."""
        groups = self.config.update_groups
        if groups is None:
            return None
        names = set(self.net.params)
        if not isinstance(groups, (list, tuple)) or not groups:
            raise ValueError(f"update_groups: got {groups!r}; allowed: a non-empty list of (parameter names, count)")
        out = []
        for k, group in enumerate(groups):
            if not (isinstance(group, (tuple, list)) and len(group) == 2):
                raise ValueError(f"update_groups[{k}]: got {group!r}; allowed: (a set of parameter names, a count)")
            members, count = frozenset(group[0]), group[1]
            check_positive_int(f"update_groups[{k}] count", count, wrong_type=ValueError)
            unknown = sorted(members - names)
            if unknown:
                raise ValueError(f"update_groups[{k}]: {unknown[:5]} name no parameter; allowed: names of "
                                 "net.params")
            frozen = self.frozen | frozenset(names - members)
            out.append((int(count), frozen, {n: (0.0 if n in frozen else f) for n, f in self.lr_factors.items()}))
        return out

    def _group(self, iteration: int) -> tuple[frozenset[str], dict[str, float]]:
        """The frozen names and learn-rate factors of ``iteration`` (1-based) in the update-group cycle."""
        if self._groups is None:
            return self.frozen, self.lr_factors
        at = (iteration - 1) % sum(c for c, _, _ in self._groups)
        for count, frozen, factors in self._groups:
            if at < count:
                return frozen, factors
            at -= count
        raise AssertionError("unreachable")

    def _compose(self, n: int, B: int) -> np.ndarray:
        """'fill': the (ipe, B) batch compositions of the run: a permutation of the N examples (in order with
        shuffle 'never'), the last batch filled up with examples drawn at random from the other batches."""
        perm = np.arange(n) if self.config.shuffle == "never" else self.rng.permutation(n)
        extra, r = self.ipe * B - n, n % B
        if extra:
            pool = perm[:n - r] if n - r >= extra else perm
            perm = np.concatenate([perm, pool[self.rng.choice(len(pool), extra, replace=len(pool) < extra)]])
        return perm.reshape(self.ipe, B)

    def _check_config(self) -> None:
        cfg = self.config
        for key, allowed in (("shuffle", SHUFFLE_MODES), ("partial_batch", PARTIAL_BATCH),
                             ("batch_norm_statistics", ("population", "moving"))):
            if getattr(cfg, key) not in allowed:
                raise ValueError(f"{key}: got {getattr(cfg, key)!r}; allowed: {', '.join(map(repr, allowed))}")
        for key in ("max_epochs", "batch_size"):
            check_positive_int(cfg.name(key), getattr(cfg, key), wrong_type=ValueError)
        if not isinstance(cfg.optimizer, Optimizer):
            raise TypeError(f"optimizer: got {type(cfg.optimizer).__name__}; allowed: a minidl.optim optimizer")
        if not isinstance(cfg.schedule, Schedule):
            raise TypeError(f"schedule: got {type(cfg.schedule).__name__}; allowed: a minidl.optim schedule")

    def _check_representable(self, src: PreparedSource | None, ax: str, ay: str) -> None:
        """Array data must stay finite in the working precision (streamed batches: checked in _iteration)."""
        if src is not None and isinstance(src.source, ArraySource):
            check_representable(self.config.name(ax), src.source.X, self.dtype)
            if src._encoded is not None and not self.classifier:
                check_representable(self.config.name(ay), src._encoded, self.dtype)

    def _check_input_shape(self, shape: tuple[int, ...]) -> None:
        net, arg = self.net, self.config.name("x")
        layer = net.input_layer
        expected = getattr(layer, "size", None) if layer is not None else net.input_shape if net.initialized else None
        if expected is not None and tuple(expected) != shape:
            kind = "images (N, C, H, W)" if len(expected) == 3 else f"(N, {', '.join(map(str, expected))})"
            raise ValueError(f"{arg}: got observations of shape {shape}; the network's input layer takes {kind} "
                             f"with per-observation shape {tuple(expected)}")

    def _check_outputs(self, classes) -> None:
        net, cfg = self.net, self.config
        out = net.output_shape
        if self.classifier:
            if tuple(out) != (len(classes),):
                raise ValueError(f"{cfg.name('y')}: the labels have {len(classes)} classes {classes[:10].tolist()}"
                                 f"{' ...' if len(classes) > 10 else ''} but the network outputs {out}; allowed: "
                                 f"a last FullyConnected layer of output size {len(classes)}")
        else:
            r = int(np.prod(out))
            self.train.n_responses = r
            if self.train._encoded is not None and self.train._encoded.shape[1] != r:
                raise ValueError(f"{cfg.name('y')}: got {self.train._encoded.shape[1]} responses per observation; "
                                 f"the network outputs {r} (shape {tuple(out)})")

    # ================================================================================================ the run
    def run(self, resume: tuple[dict, dict] | None = None) -> tuple[Network, TrainingInfo]:
        """Train; returns ``(net, info)``.  ``resume``: (manifest, arrays) of a checkpoint to continue exactly."""
        self._still_statistics: list[BatchNormalization] = []
        self._failure: BaseException | None = None      # an exception after the first update: re-raised at the end
        self._failed_observer: Observer | None = None  # the observer that raised it (not called again at DONE)
        self._pending: dict | None = None              # layer state to restore if this iteration's update fails
        self.par = None
        try:
            with training_threads(self.config.blas_threads):   # the BLAS thread count measured best, then restored
                self._run(resume)
        finally:
            if self.par is not None:
                self.net.set_shard(None)              # the network computes whole batches again
            for layer in self._still_statistics:
                layer.update_statistics = True
            for obs in self.observers:
                try:
                    obs.close()
                except Exception as e:  # closing a window or a file: never worth losing the run for
                    warnings.warn(f"{type(obs).__name__}.close() failed: {type(e).__name__}: {e}", RuntimeWarning,
                                  stacklevel=2)
        if self._failure is not None:  # the cause, as raised (type, message, traceback), carrying what was trained
            failure = self._failure
            try:
                failure.minidl_net, failure.minidl_info = self.net, self.recorder.info  # type: ignore[attr-defined]
            except AttributeError:  # an exception type that takes no attributes: raised as it is
                pass
            raise failure
        return self.net, self.recorder.info

    def _run(self, resume: tuple[dict, dict] | None) -> None:
        """Set-up, START, the loop, finalization and DONE (Ctrl-C asks for a clean stop while it runs)."""
        self._setup(resume)
        for layer in self._still_statistics:
            layer.update_statistics = False
        with _SigintGuard() as guard, (self.seq.carrying() if self.seq else contextlib.nullcontext()):
            self._guard = guard
            self._start_clock()
            self._fill_static_state()
            self._emit(ev.START)
            if self.par is not None:                # rank 0's stop at START reaches every worker
                self.par.agree()
            if self.stop_kind is None:
                self._loop()
            self._finish()

    def _start_clock(self) -> None:
        self._t0 = time.perf_counter() - self.elapsed_before

    def _elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def _fill_static_state(self) -> None:
        s, cfg = self.state, self.config
        s.iterations_per_epoch, s.max_epochs = self.ipe, cfg.max_epochs
        s.iterations_this_epoch = self.ipe
        s.max_iterations = self.ipe * cfg.max_epochs
        s.is_classifier, s.has_validation = self.classifier, self.validation is not None
        s.epoch, s.iteration = self.epoch, self.iteration
        s.mini_batch_size = cfg.batch_size
        s.time_since_start = self._elapsed()
        s.weights = self.net.state_arrays          # host copies on request (keep-best, checkpoints of the network)
        s.snapshot = self.checkpoint_state         # the whole training state on request (checkpoints)
        if self.seq is not None:                   # chunk iterations of an integer sequence length
            self.seq.fill_state(s)

    def _emit(self, kind: str) -> None:
        """Send the event to every observer in order; the first stop request wins (recorded with its observer)."""
        s = self.state
        s.event = kind
        for obs in self.observers:
            if kind == ev.DONE:
                if obs is self._failed_observer:
                    continue             # the observer whose failure ended the run is not called again
                try:
                    obs.on_event(s)
                except Exception as e:  # every observer still sees DONE (the record is built); the first failure
                    if self._failure is None and self.updated > 0:   # is re-raised at the end, with the network
                        self._failure = e
                    elif self._failure is None:
                        raise
                    else:
                        warnings.warn(f"{type(obs).__name__} failed at the end of a failed run: "
                                      f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
                continue
            try:
                result = obs.on_event(s)
            except Exception:
                self._failed_observer = obs
                raise
            request = ev.stop_request(result)
            if request is not None and self.stop_kind is None:
                self._stop(request.kind, type(obs).__name__)

    def _stop(self, kind: str, by: str | None = None) -> None:
        self.stop_kind, self.stopped_by = kind, by

    def _start_epoch(self) -> None:
        """Next epoch: reshuffle when asked, and tell the sources which epoch they serve (``start_epoch``)."""
        self.epoch, self.next_batch = self.epoch + 1, 0
        if self.compositions is not None:   # 'fill': the same batches, their order shuffled when there are enough
            if self.config.shuffle == "every-epoch" and self.ipe > self.config.fill_shuffle_above:
                self.order = self.compositions[self.rng.permutation(self.ipe)].reshape(-1)
        elif self.config.shuffle == "every-epoch":
            self.order = self.rng.permutation(self.n)
        if self.seq is not None:
            self.seq.start_epoch()
        self._tell_sources()

    def _tell_sources(self) -> None:
        """Tell the training and validation sources the epoch they serve (``start_epoch``, when they have it)."""
        for source in (self.raw_data, self.raw_validation):
            if source is not None and hasattr(source, "start_epoch"):
                source.start_epoch(self.epoch)

    def _loop(self) -> None:
        cfg, B = self.config, self.config.batch_size
        total = self.ipe * cfg.max_epochs
        if self.next_batch < self.ipe:  # resumed mid-epoch: the sources serve the saved epoch
            self._tell_sources()
        while True:
            if self.next_batch >= self.ipe:  # the epoch is complete: next epoch, or done
                if self.epoch >= cfg.max_epochs:
                    self._stop(ev.MAX_EPOCHS)
                    return
                self._start_epoch()
            end = self.n if cfg.partial_batch == "keep" else self.ipe * B
            try:
                batches = self._background(
                    self.train.batches(self.order[self.next_batch * B:end], B) if self.seq is None else
                    self.seq.iterations(self.order[self.next_batch * B:end], B))   # (x, t, mask, last chunk)
                for x, t, *chunk in batches:
                    start = self.next_batch * B
                    if chunk:                   # sequences: the schedule's total is the (restated) iteration count
                        total = self.state.max_iterations
                    b = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)   # a graph: x by input
                    with self._guard.update():  # an iteration is atomic: a second Ctrl-C waits for its end
                        self._iteration(x, t, cfg.schedule(self.epoch, self.iteration + 1, total),
                                        self.order[start:start + b], *chunk)
                    if self.next_batch == self.ipe and self.stop_kind != ev.NON_FINITE:
                        self._emit(ev.EPOCH_END)
                    if self.stop_kind is None and (self._guard.requested or (
                            cfg.stop_event is not None and cfg.stop_event.is_set())):
                        self._stop(ev.INTERRUPT)
                    if self.stop_kind is None and self._elapsed() >= cfg.time_limit:
                        self._stop(ev.TIME_LIMIT)
                    if self.par is not None:        # rank 0 decides; every worker stops at the same iteration
                        if self.par.interrupt and self.stop_kind is None:
                            self._stop(ev.INTERRUPT)
                        self.par.agree()
                    if self.stop_kind is not None:
                        return
            except KeyboardInterrupt:  # raised outside the guard (an output function, a thread): stop cleanly
                self._stop(ev.INTERRUPT)
                return
            except Exception as e:  # a source, a layer, an observer failed: keep what was trained, re-raise at the end
                if self.par is not None and self.par.pending and not self.par.lost(e):   # rank 0 failed after
                    self.par.agree(failure=e)                                        # the step: tell the others
                if self.updated == 0:
                    raise                # nothing trained yet: the error as it is
                self._fail(e)
                return
            finally:                   # the epoch's reader thread (dispatch_in_background) stopped and joined
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None

    def _background(self, batches):
        """``dispatch_in_background``: the epoch's batches from a reader thread (minidl.training.prefetch) when
        that keeps the run's order of random draws; else ``batches`` as they are (read on this thread)."""
        cfg = self.config
        if not cfg.dispatch_in_background or (self.seq is not None and self.seq.chunked):
            return batches                # chunked sequences: the chunk iterator resets the network's state
        draws = hasattr(self.raw_data, "use_generator")   # the source draws from the run's generator
        if draws and (any(getattr(layer, "rng", None) is not None for layer in self.net.layers)
                      or self.validation is not None and (hasattr(self.raw_validation, "use_generator")
                                                          or cfg.shuffle == "every-epoch")):
            return batches                # the step or a validation draws too: reading ahead would reorder draws
        self._reader = BackgroundReader(batches, generator=self.rng if draws else None)
        return self._reader

    # ================================================================================================ one iteration
    def _iteration(self, x_host, t_host, lr: float, indices: np.ndarray, mask_host=None, last: bool = True) -> None:
        """One mini-batch (or one chunk of a sequence mini-batch: ``mask_host`` (B, T), ``last`` chunk or not), as
        in the module diagram: step, one host read, rollback if not finite, report."""
        self.iteration += 1
        self.next_batch += int(last)
        mask = None
        if self.seq is not None:
            mask = self.seq.advance(mask_host, last)
        elif self.graph is None and not isinstance(self.train.source, ArraySource):
            check_representable(f"{self.config.name('x')} (mini-batch {self.next_batch})", x_host, self.dtype)
        if self.par is not None:            # a worker's rows, moved to the device inside the step
            x, t = x_host, t_host
        elif self.graph is not None:        # dicts by port (streamed inputs were checked as they were read)
            x, t = self.graph.to_device(x_host, t_host)
        else:
            x = to_device(x_host, self.device, dtype=self.dtype)
            t = to_device(t_host, self.device, dtype=None if self.classifier else self.dtype)
        graph = self._graph_step if self._graph_step is not None and self._graph_step.takes(x, t) else None
        saved_state = graph.saved_state() if graph is not None else \
            {layer.name: dict(layer.state) for layer in self.net.layers if layer.state}
        self._pending = saved_state            # a failure before this update is accepted rolls back to here
        step = graph.step if graph is not None else self._mixed.step if self._mixed is not None else self._step
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite values are checked below
            reported, examples, xp = step(x, t, lr, mask)
            loss_h, gnorm_h, hits_h, ok_h, examples_h = self._read(xp, reported, examples)
        if self.config.record_outputs:                     # a second host read, only when asked for
            out = self._outputs                            # a graph: {output layer name: host array}
            self.state.batch_outputs = {k: to_host(v) for k, v in out.items()} if isinstance(out, dict) else \
                out if self.par is not None else to_host(out)       # several workers: gathered on the host
            self.state.batch_targets = t_host
        skipped = self._mixed is not None and self._mixed.skipped   # loss-scale overflow: update skipped, not a stop
        finite = math.isfinite(loss_h) and (math.isfinite(gnorm_h) or skipped) and ok_h == 1.0
        self._pending = None
        if finite:
            self.updated = self.iteration
        else:
            self._record_non_finite(self.net.grads, self.net.params, loss_h, gnorm_h)
            self._rollback(saved_state)
        self._report(lr, loss_h, gnorm_h, hits_h, examples_h, indices, finite)

    def _step(self, x, t, lr: Any, mask=None, scalars: Sequence[Any] | None = None) -> tuple[list, Any, Any]:
        """forward → data loss → backward → audit norm → L2 / clipping → optimizer step → weight clipping.

        Returns the device values to report ([loss, ‖g‖, (hits), all-finite]), the per-example losses (or None) and
        the array module; nothing is read to the host here.  Sequences: ``mask`` (B, T) goes to the forward, and to
        the loss and backward of sequence-to-sequence outputs (``kw``).  The graph step (minidl.training.cuda_graph)
        passes ``lr`` and the optimizer's ``scalars`` as 0-d device arrays (:class:`FlatStep`'s arguments).
        """
        net, cfg = self.net, self.config
        if self.par is not None:                        # this worker's rows; gradients, loss, hits summed (one
            loss, hits, examples, self._outputs = self.par.gradients(   # allreduce): the whole batch's from here on
                x, t, self._to_device_pair, cfg.record_example_losses)
            y = None
        else:
            kw = self.seq.loss_mask(mask) if self.seq is not None else {}
            y = net.forward(x, training=True) if mask is None else net.forward(x, training=True, mask=mask)
            self._outputs = y if cfg.record_outputs else None
            loss = net.loss_array(y, t, **kw)               # data loss only (the L2 term is never reported)
            examples = None if not cfg.record_example_losses else self.graph.example_losses(y, t) if self.graph \
                else net.output_layer.example_losses(y, t, **kw)   # ℓₙ, (B,)
            net.backward(y, t, **kw)
        flat = net.gather_grads() if net.params else []   # one flat buffer per dtype/device (docs/gpu.md#launches)
        flat = flat if len(flat) == 1 else None            # several (mixed dtypes or devices): the per-array path
        if scalars is not None and not flat:
            raise ValueError("scalars: device scalars need one flat buffer (one dtype and device for all parameters)")
        params, grads = net.params, net.grads
        xp = get_array_module(loss)
        gnorm = (xp.sqrt(xp.dot(flat[0].grads, flat[0].grads)) if flat else global_norm(grads)).astype(loss.dtype)
        #                                                 audit: ‖∇ data loss‖₂ over all arrays
        reported = [loss, gnorm]
        if self.par is not None:
            if hits is not None:
                reported.append(hits)
        elif self.seq is not None:
            reported.extend(self.seq.metrics(y, t, kw))  # hits (real steps of sequence-to-sequence outputs)
        elif self.graph is not None:
            reported.extend(self.graph.metrics(y, t, loss))  # hits of the first classification loss
        elif self.classifier:
            reported.append((xp.argmax(y, axis=1) == t).sum().astype(loss.dtype))
        self._save_params({"flat": flat[0].params} if flat else params)
        frozen, factors = self._group(self.iteration) if self._groups is not None else (self.frozen, self.lr_factors)
        if flat:      # L2 → clipping (or clipping → L2) → θ ← step(θ, g, lr·factor_i) → weight clipping: one pass
            self._flat_step(flat[0].layout, flat[0].params, flat[0].grads, lr, factors, skip=frozen,
                            scalars=scalars)
        else:
            self.pipeline(grads, params, skip=frozen)                   # L2 → clipping (or clipping → L2)
            cfg.optimizer.step(params, grads, lr, factors)              # θ ← step(θ, g, lr·factor_i)
            if isinstance(cfg.weight_clip, dict) or math.isfinite(cfg.weight_clip):
                clip_weights(params, cfg.weight_clip, skip=frozen)
        ok = None
        for p in ([flat[0].params] if flat else params.values()):
            f = xp.isfinite(p).all()
            ok = f if ok is None else ok & f
        reported.append(ok.astype(loss.dtype))
        return reported, examples, xp

    def _to_device_pair(self, x_host, t_host):
        """A batch's inputs and targets on the training device (a graph: dicts by port)."""
        if self.graph is not None:
            return self.graph.to_device(x_host, t_host)
        return (to_device(x_host, self.device, dtype=self.dtype),
                to_device(t_host, self.device, dtype=None if self.classifier else self.dtype))

    def _read(self, xp, reported: list, examples) -> tuple[float, float, float | None, float, np.ndarray | None]:
        """The one host read of the step: (loss, ‖g‖, hits or None, all-finite flag, ℓₙ or None)."""
        packed = xp.stack(reported)
        if examples is not None:                        # per-example losses travel in the same read
            packed = xp.concatenate([packed, examples.astype(reported[0].dtype, copy=False)])
        packed = to_host(packed)
        k = len(reported)
        host = [float(v) for v in packed[:k]]
        hits = host[2] if k == 4 else None         # [loss, ‖g‖, hits, ok] for a classifier
        return host[0], host[1], hits, host[-1], (np.asarray(packed[k:], dtype=np.float64)
                                                  if examples is not None else None)

    def _fail(self, e: BaseException) -> None:
        """A failure after the first iteration: undo a half-done update, stop with kind FAILED, keep the cause."""
        pending = self._pending
        if pending is not None:                  # the failing iteration's update was not accepted: undo it
            if self._backup_iteration == self.iteration:
                self._rollback(pending)          # the parameters (saved this iteration) and the layer state
            else:                                # failed before the update: only the layer state moved (forward)
                self._restore_state(pending)
            self._pending = None
        self._failure = e
        self._stop(ev.FAILED, type(e).__name__)
        if self.par is not None and self.par.lost(e):   # a worker is gone: this one finishes alone (all data)
            self.net.set_shard(None)
            self.par = None

    def _rollback(self, saved_state) -> None:
        """After a non-finite step: the parameters and layer state of before the update (the last finite network)."""
        self._restore_params(self._saved_from, saved_state)   # the arrays _save_params copied (flat or per array)

    def _report(self, lr: float, loss_h: float, gnorm_h: float, hits_h, examples_h, indices: np.ndarray,
                finite: bool) -> None:
        """Fill the state record with this iteration's values, validate when due, emit ITERATION (→ VALIDATION)."""
        s = self.state
        s.epoch, s.iteration, s.base_learn_rate = self.epoch, self.iteration, lr
        s.training_loss, s.gradient_norm = loss_h, gnorm_h
        s.batch_indices, s.batch_size, s.batch_in_epoch = indices, len(indices), self.next_batch
        s.example_losses = examples_h
        if self.seq is not None:                   # real steps counted; position in the epoch in iterations
            self.seq.report(s, loss_h, hits_h, indices)
        elif self.classifier:
            s.training_accuracy, s.training_rmse = 100.0 * hits_h / len(indices), None
        else:  # RMSE from the loss, as the output layer defines it (see _rmse)
            s.training_accuracy = None
            own = loss_h if hits_h is None else hits_h   # several regression losses: the first one's own value
            s.training_rmse = self._rmse(own) if math.isfinite(own) else own
        s.validation_loss = s.validation_accuracy = s.validation_rmse = None
        s.validation_outputs = s.validation_targets = None
        validate = finite and self.validation is not None and (
            self._validation_due() or (self.config.validate_final_in_loop and self.iteration == s.max_iterations))
        if validate:
            self._validated_at, self._validated_time = self.iteration, self._clock()
            s.validation_loss, metric = self._validate()
            s.validation_accuracy, s.validation_rmse = (metric, None) if self.classifier else (None, metric)
            if self.config.record_outputs:
                s.validation_outputs, s.validation_targets = self._validation_outputs
        s.time_since_start = self._elapsed()
        self._emit(ev.ITERATION)
        if validate:
            self._emit(ev.VALIDATION)

    def _rmse(self, loss: float) -> float:
        """RMSE from a regression loss value, as the output layer defines it (``rmse_from_loss``)."""
        return float(self.net.output_layer.rmse_from_loss(loss, self.train.n_responses))

    def _save_params(self, params) -> None:
        """Copy every parameter into buffers kept on the device (the network before this update)."""
        self._backup_iteration = self.iteration
        self._saved_from = params
        if self._backup is None or self._backup.keys() != params.keys() or any(
                self._backup[k].shape != p.shape or self._backup[k].dtype != p.dtype for k, p in params.items()):
            self._backup = {k: get_array_module(p).empty_like(p) for k, p in params.items()}
        for k, p in params.items():
            get_array_module(p).copyto(self._backup[k], p)

    def _restore_params(self, params, saved_state) -> None:
        """Put back the parameters and layer state of before the update (state arrays are replaced, not mutated)."""
        for k, p in params.items():
            get_array_module(p).copyto(p, self._backup[k])
        self._restore_state(saved_state)

    def _restore_state(self, saved_state) -> None:
        """Put back the layers' state (running statistics) of before the iteration's forward."""
        for layer in self.net.layers:
            if layer.name in saved_state:
                layer.state = saved_state[layer.name]

    def _validation_due(self) -> bool:
        cfg, it = self.config, self.iteration
        return ((cfg.validate_first_iteration and it == 1)
                or (cfg.validation_frequency is not None and it % cfg.validation_frequency == 0)
                or (cfg.validate_each_epoch and self.next_batch == self.ipe)
                or (cfg.validation_seconds is not None
                    and self._clock() - self._validated_time >= cfg.validation_seconds))

    def _clock(self) -> float:
        """Seconds since the start for time-based decisions: rank 0's of this step with several workers."""
        return self._elapsed() if self.par is None else self.par.clock

    def _record_non_finite(self, grads, params, loss_h: float, gnorm_h: float) -> None:
        """Stop: record the iteration, what went non-finite (loss, gradient or the update) and the first array whose
        gradient (or, after a finite gradient, whose updated value) is not finite; None when only the loss is."""
        what = "loss" if not math.isfinite(loss_h) else "gradient" if not math.isfinite(gnorm_h) else "update"
        table = grads if not math.isfinite(gnorm_h) else params if what == "update" else {}
        parameter = None
        for name, a in table.items():
            if not bool(to_host(get_array_module(a).isfinite(a).all())):
                parameter = name
                break
        self.state.non_finite = {"iteration": self.iteration, "parameter": parameter, "what": what}
        self._stop(ev.NON_FINITE)

    # ================================================================================================ validation
    def _validate(self) -> tuple[float, float]:
        """(loss, accuracy % | RMSE) over all validation data with prediction-mode layers; one host read.

        With ``validation_batch_statistics`` (and population statistics), batch normalization normalizes each
        validation mini-batch with that batch's own mean and variance, leaving the running averages as they are.
        """
        cfg = self.config
        if cfg.shuffle == "every-epoch" and self.compositions is None:  # MATLAB: shuffled before each validation
            self.val_order = self.rng.permutation(self.n_val)
        bns = [layer for layer in self.net.layers if isinstance(layer, BatchNormalization)] \
            if cfg.validation_batch_statistics and cfg.batch_norm_statistics == "population" else []
        for layer in bns:
            layer.batch_statistics = True
        try:
            return self._evaluate(self.validation, self.val_order)
        finally:
            for layer in bns:
                layer.batch_statistics = False

    def _validate_last(self) -> None:
        """With ``validate_last_iteration``: validate the last iteration when it was not (a stop part-way, an
        interval longer than the run); its values go into the state, the info record's last entry, and a
        VALIDATION event (a stop it asks for changes nothing: training has ended)."""
        s = self.state
        if not (self.config.validate_last_iteration and self.validation is not None
                and s.batch_indices is not None  # an iteration of this run (not a stop at a resumed START)
                and self._validated_at != self.iteration and self.stop_kind != ev.NON_FINITE):
            return
        self._validated_at = self.iteration
        s.validation_loss, metric = self._validate()
        s.validation_accuracy, s.validation_rmse = (metric, None) if self.classifier else (None, metric)
        s.time_since_start = self._elapsed()
        self._emit(ev.VALIDATION)                    # the recorder puts the values into that iteration's row

    def _evaluate(self, source: PreparedSource, order: np.ndarray) -> tuple[float, float]:
        if self.seq is not None:
            return self.seq.evaluate(source, order)
        if self.graph is not None:
            return self.graph.evaluate(source, order)
        net, out = self.net, self.net.output_layer
        B = self.config.validation_batch_size or self.config.batch_size
        loss_sum = hits = None
        xp = None
        kept: list = []                                            # (y, t) per batch when record_outputs
        for x_host, t_host in source.batches(order, B):
            if self.par is not None:                               # this worker's rows of the batch
                lo, hi = self.par.evaluate_rows(len(x_host))
                x_host, t_host = x_host[lo:hi], t_host[lo:hi]
            x = to_device(x_host, self.device, dtype=self.dtype)
            t = to_device(t_host, self.device, dtype=None if self.classifier else self.dtype)
            y = net.forward(x, training=False)
            xp = get_array_module(y)
            if self.config.record_outputs:
                kept.append((to_host(y), t_host))
            part = out.example_losses(y, t).sum() if len(y) else xp.zeros((), dtype=y.dtype)  # Σₙ ℓₙ
            loss_sum = part if loss_sum is None else loss_sum + part
            if self.classifier:
                h = (xp.argmax(y, axis=1) == t).sum().astype(y.dtype)
                hits = h if hits is None else hits + h
        if self.par is not None and self.config.record_outputs:   # every worker's rows, batch by batch
            kept = [(np.concatenate([k[i][0] for k in ranks]), np.concatenate([k[i][1] for k in ranks]))
                    for ranks in [self.par.comm.allgather(kept)] for i in range(len(kept))]
        if kept:
            self._validation_outputs = tuple(np.concatenate(a) for a in zip(*kept))
        values = [float(v) for v in to_host(xp.stack([loss_sum] + ([hits] if self.classifier else [])))]
        if self.par is not None:                                   # the sums over the workers
            values = self.par.sum(values)
        n = len(order)
        loss = values[0] / n
        if self.classifier:
            return loss, 100.0 * values[1] / n
        return loss, self._rmse(loss)

    # ================================================================================================ the end
    def _finish(self) -> None:
        """Batch-norm population statistics, final validation, DONE."""
        cfg, s = self.config, self.state
        self._guarded("the last validation", self._validate_last)
        best = cfg.output_best
        kept = (best.best_arrays, best.best_iteration) if best is not None and best.best_arrays is not None else None
        if self.par is not None:                # rank 0 keeps the best (its observers); every worker returns it
            kept = self.par.comm.bcast(kept if self.par.rank == 0 else None)
        if kept is not None:                    # the kept network replaces the last one
            self.net.load_state_arrays(kept[0])
            self.updated = kept[1]
        self._guarded("the population pass", self._population_statistics)
        s.final_validation_loss = s.final_validation_accuracy = s.final_validation_rmse = None
        if self.validation is not None and cfg.validate_at_end:
            final = self._guarded("the final validation", lambda: self._evaluate(self.validation,
                                                                                   np.arange(self.n_val)))
            if final is not None:
                loss, metric = final
                s.final_validation_loss = loss
                if self.classifier:
                    s.final_validation_accuracy = metric
                else:
                    s.final_validation_rmse = metric
        s.stop_kind = self.stop_kind or ev.MAX_EPOCHS
        s.stop_reason = cfg.stop_reasons.get(s.stop_kind, s.stop_kind)
        s.stopped_by = self.stopped_by
        s.output_network_iteration = self.updated
        s.time_since_start = self._elapsed()
        self._emit(ev.DONE)

    def _guarded(self, what: str, step):
        """A finalization step; after a failure (the run is ending with it) a second failure skips the step and is
        noted (``info.non_finite["finalization"]``) instead of hiding the first."""
        if self._failure is None:
            return step()
        try:
            return step()
        except Exception as e:
            notes = (self.state.non_finite or {}).get("finalization", [])
            self.state.non_finite = {**(self.state.non_finite or {}),
                                     "finalization": [*notes, f"{what} skipped: {type(e).__name__}: {e}"]}
            return None

    def _population_statistics(self) -> None:
        """Batch-norm population statistics: one unshuffled pass over all training data with the final weights, the
        per-batch moments merged exactly.  The returned network must predict: if the pass gives NaN or Inf, or a
        second Ctrl-C interrupts it, the moving averages of before are kept and ``non_finite`` (or the stop) says so."""
        cfg = self.config
        bns = [layer for layer in self.net.layers if isinstance(layer, BatchNormalization)]
        if not bns or cfg.batch_norm_statistics != "population":
            return
        before = {layer.name: dict(layer.state) for layer in bns}
        why = None
        try:
            for layer in bns:
                layer.start_population_pass()
            for x_host, *_ in self.train.batches(np.arange(self.n), cfg.batch_size):  # all data, unshuffled
                if self.par is not None:            # this worker's rows; the moments are the whole batch's
                    lo, hi = self.par.evaluate_rows(batch_rows(x_host))
                    x_host = take_rows(x_host, lo, hi)         # a graph: every input's same rows
                x = self.graph.to_device(x_host, None)[0] if self.graph is not None else \
                    to_device(x_host, self.device, dtype=self.dtype)
                self.net.forward(x, training=False)
            for layer in bns:
                layer.finish_population_pass()                     # exact merge of the per-batch moments
            xp = get_array_module(bns[0].params["scale"])
            finite = [xp.isfinite(v).all() for layer in bns for v in layer.state.values()]
            if not bool(to_host(xp.stack(finite).all())):           # one host read
                why = "the population pass gave NaN or Inf statistics"
        except KeyboardInterrupt:                                   # a second Ctrl-C during finalization
            why = "the population pass was interrupted"
            self._stop(ev.INTERRUPT)
        if why is not None:
            for layer in bns:
                layer._collected = None
                layer.state = before[layer.name]
            note = {"statistics": f"{why}; the moving averages of the last finite iteration are kept"}
            self.state.non_finite = {**(self.state.non_finite or {}), **note}

    # ================================================================================================ checkpoints
    def checkpoint_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(manifest, arrays) holding the network and everything a resumed run needs to continue exactly."""
        from minidl.training.checkpoint import network_arrays

        net_manifest, arrays = network_arrays(self.net)
        opt = self.config.optimizer
        opt_state = opt.state_dict()
        for k, v in opt_state.items():
            if k != "t":
                arrays[f"optimizer/{k}"] = to_host(v)
        arrays["data/order"] = np.asarray(self.order, dtype=np.int64)
        if self.compositions is not None:
            arrays["data/compositions"] = np.asarray(self.compositions, dtype=np.int64)
        if self.val_order is not None:
            arrays["data/validation_order"] = np.asarray(self.val_order, dtype=np.int64)
        for k, v in self.recorder.state_arrays().items():
            arrays[f"info/{k}"] = v
        observers = {obs.state_key: obs.state_dict() for obs in self.observers
                     if getattr(obs, "state_key", None) and obs is not self.recorder}
        training = {
            "epoch": self.epoch, "next_batch": self.next_batch, "iteration": self.iteration,
            "updated": self.updated, "iterations_per_epoch": self.ipe, "n_train": self.n, "n_validation": self.n_val,
            "batch_size": self.config.batch_size, "shuffle": self.config.shuffle, "dtype": self.dtype.name,
            "elapsed": self._elapsed(), "optimizer": {"class": type(opt).__name__, "t": opt_state["t"],
                                                     "hyperparameters": opt.hyperparameters()},
            "rng": {"bit_generator": type(self.rng.bit_generator).__name__, "state": self._generator_state()},
            "observers": observers, "run": self.run_id,
        }
        if self.seq is not None:                      # the chunk position and the carried recurrent state
            self.seq.checkpoint(training, arrays)
        return {"network": net_manifest, "training": training}, arrays

    def _generator_state(self) -> dict[str, Any]:
        """The run's generator state (a background reader's draws ahead of the main thread undone)."""
        state = self._reader.generator_state() if self._reader is not None else None
        return self.rng.bit_generator.state if state is None else state

    def _restore(self, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Check every field of the checkpoint's training state against this run, then restore it."""
        from minidl.training.resume import restore_training

        restore_training(self, manifest, arrays)
