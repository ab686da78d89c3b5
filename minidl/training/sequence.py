"""The engine's sequence side: what the trainer does differently when the network's input is a SequenceInput.

The trainer owns one :class:`SequencePart` for a sequence network and calls it at a few points (set-up, each
mini-batch, each step's mask and metrics, validation, checkpoints).  The rules (docs/training.md#sequences):

- mini-batches come from a :class:`~minidl.training.data.SequenceSource`, padded by
  :func:`minidl.sequences.pad_batch`; x (B, C, T), targets, mask (B, T) move to the device; the mask goes to
  ``net.forward(x, training=True, mask=mask)`` and, for sequence-to-sequence outputs only, to the loss and backward;
- an integer SequenceLength S splits each mini-batch into ceil(T/S) chunks, each ONE iteration (update, table row,
  output function call), the recurrent state carried from chunk to chunk (``net.carrying_state()``: truncated
  back-propagation, no gradient into the previous chunk) and reset (``net.reset_state()``) at the next mini-batch;
- iterations per epoch count the chunks, from the sequence lengths of the epoch's mini-batches (the order is known
  before the epoch); with shuffle 'every-epoch' that count changes from epoch to epoch: ``iterations_per_epoch``
  is then 0 (unknown: the figure draws epoch bands at the EPOCH_END events) and ``max_iterations`` is restated at
  each epoch start as the iterations done + this epoch's count × the epochs left (exact in the last epoch);
- accuracy counts the real time steps of sequence-to-sequence outputs, RMSE is over real steps
  (√(Σₙₜ mₙₜ Σᵣ (yₙᵣₜ − tₙᵣₜ)² / Σₙₜ mₙₜ): the squared errors summed over R, as the image rule);
  ``sequence_loss_mask=False`` counts padded steps as real ones (an all-ones mask in the loss and metrics; the
  recurrence still sees the true mask);
- validation runs on whole sequences (chunked with carried state for an integer S: the same numbers as one pass
  over the padded sequence), the training's carried state kept aside meanwhile;
- a checkpoint between chunks holds the chunk position and the carried state (``net.recurrent_state()``), so a
  resumed run continues exactly.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from minidl.backend import get_array_module, to_device, to_host
from minidl.errors import NotSupportedYetError
from minidl.training.data import (
    SequenceSource,
    as_sequence_source,
    check_sequence_options,
    sequence_chunk_counts,
    sorted_classes,
)

__all__ = ["SequencePart"]


class SequencePart:
    """The trainer's sequence bookkeeping: chunk position, per-epoch iteration counts, masks, metrics, checkpoints."""

    def __init__(self, trainer):
        self.tr = trainer
        self.chunk = 0                  # the next chunk of the current mini-batch (0: at a mini-batch boundary)
        self.epoch_start = 0            # iterations done before the current epoch
        self.counts: np.ndarray | None = None  # iterations of each mini-batch of the current epoch's order
        self.per_step = False           # sequence-to-sequence outputs (targets per time step)
        self.chunked = False            # an integer sequence length
        self._real = 0.0                # the loss mask's sum this iteration (real steps of sequence-to-sequence)

    # ------------------------------------------------------------------------------------------ set-up
    def _source(self, raw, ax: str, ay: str) -> SequenceSource:
        cfg, layer = self.tr.config, self.tr.net.input_layer
        src = as_sequence_source(raw, None, cfg.name(ax), cfg.name(ay)) if not isinstance(raw, SequenceSource) \
            else raw
        src.arg_x, src.arg_y = cfg.name(ax), cfg.name(ay)
        src.setup(self.tr.classifier, layer.size[0], layer.min_length, self.length, self.value, self.direction)
        return src

    def setup(self, resume) -> None:
        """Sequence data checked against the network, classes, input statistics (real steps only), the network
        initialized, targets encoded per sequence or per time step; validation data likewise."""
        tr = self.tr
        cfg, net = tr.config, tr.net
        self.length, self.value, self.direction = check_sequence_options(
            cfg.sequence_length, cfg.sequence_padding_value, cfg.sequence_padding_direction, cfg.name)
        self.chunked = isinstance(self.length, int)
        layer = net.input_layer
        tr.train = self._source(tr.raw_data, "x", "y")
        classes = None
        if tr.classifier:
            classes = net.classes if net.classes is not None else sorted_classes(tr.train.labels(), cfg.name("y"))
        if cfg.normalize_inputs and cfg.reset_input_normalization and resume is None:
            layer.reset_statistics()
        if cfg.normalize_inputs and layer.needs_statistics:          # per channel, from the real steps only
            layer.set_statistics(tr.train.sequences(np.arange(tr.n), cfg.batch_size))
        if not net.initialized:
            net.initialize(tuple(layer.size), rng=tr.rng, dtype=tr.dtype, device=tr.device)
        net.to(tr.device, tr.dtype)
        net.set_rng(tr.rng)
        out = tuple(net.output_shape)
        self.per_step = None in out
        size = [d for d in out if d is not None]
        if tr.classifier:
            assert classes is not None
            if size != [len(classes)]:
                raise ValueError(f"{cfg.name('y')}: the labels have {len(classes)} classes {classes[:10].tolist()}"
                                 f"{' ...' if len(classes) > 10 else ''} but the network outputs {out}; allowed: "
                                 f"a last FullyConnected layer of output size {len(classes)}")
            r = None
        else:
            r = int(np.prod(size))
        if cfg.record_outputs and self.per_step:
            raise NotSupportedYetError("record_outputs: got True for a sequence-to-sequence network; not supported "
                                       "yet (measurements over the outputs of every time step)")
        tr.train.prepare(self.per_step, classes, r)
        self._check_finite(tr.train, "x", "y")
        net.classes = classes
        tr.validation = None
        if tr.raw_validation is not None:
            tr.validation = self._source(tr.raw_validation, "validation_x", "validation_y")
            tr.validation.prepare(self.per_step, classes, r)
            self._check_finite(tr.validation, "validation_x", "validation_y")
        tr.n_val = 0 if tr.validation is None else len(tr.validation)

    def _check_finite(self, src: SequenceSource, ax: str, ay: str) -> None:
        """In-memory sequences and responses must stay finite in the working precision."""
        from minidl._checks import check_representable

        if src.seqs is not None:
            check_representable(self.tr.config.name(ax), np.concatenate([s.reshape(-1) for s in src.seqs]),
                                self.tr.dtype)
            if not self.tr.classifier:
                t = src._t if not isinstance(src._t, list) else np.concatenate([a.reshape(-1) for a in src._t])
                check_representable(self.tr.config.name(ay), t, self.tr.dtype)

    def carrying(self):
        """While training with an integer sequence length: every recurrent layer carries its state."""
        return self.tr.net.carrying_state() if self.chunked else contextlib.nullcontext()

    # ------------------------------------------------------------------------------------------ counting
    def _epoch_counts(self) -> np.ndarray:
        tr, cfg = self.tr, self.tr.config
        end = tr.n if cfg.partial_batch == "keep" else tr.ipe * cfg.batch_size
        return sequence_chunk_counts(tr.train.lengths(), tr.order[:end], cfg.batch_size, self.length)

    def _restate(self, s, at_boundary: bool) -> None:
        """iterations_per_epoch and max_iterations from the current epoch's count (see the module docstring)."""
        tr, cfg = self.tr, self.tr.config
        assert self.counts is not None
        per_epoch = int(self.counts.sum())
        varies = cfg.shuffle == "every-epoch" and tr.compositions is None
        s.iterations_per_epoch = 0 if varies else per_epoch
        s.iterations_this_epoch = per_epoch
        if at_boundary:                             # the epoch `tr.epoch` is complete (or none has started)
            s.max_iterations = tr.iteration + per_epoch * (cfg.max_epochs - tr.epoch)
        else:
            s.max_iterations = self.epoch_start + per_epoch * (cfg.max_epochs - tr.epoch + 1)

    def fill_state(self, s) -> None:
        """START: the counts of the current order (restored on resume)."""
        if not self.chunked:
            return
        self.counts = self._epoch_counts()
        self._restate(s, at_boundary=self.tr.next_batch >= self.tr.ipe and self.chunk == 0)

    def start_epoch(self) -> None:
        """A new epoch (its order drawn): its chunk counts, and the state restated."""
        self.epoch_start, self.chunk = self.tr.iteration, 0
        if self.chunked:
            self.counts = self._epoch_counts()
            self._restate(self.tr.state, at_boundary=False)

    # ------------------------------------------------------------------------------------------ iterations
    def iterations(self, order: np.ndarray, batch_size: int):
        """(x, t, mask, last) per iteration: each padded mini-batch, or each chunk of it for an integer S (from
        the saved chunk when resumed mid-mini-batch); the recurrent state reset at each new mini-batch."""
        from minidl.sequences import chunks

        for x, t, mask in self.tr.train.batches(order, batch_size):
            if not self.chunked:
                yield x, t, mask, True
                continue
            parts = chunks(x.shape[2], self.length)
            if self.chunk == 0:
                self.tr.net.reset_state()
            for k in range(self.chunk, len(parts)):
                sl = parts[k]
                yield (np.ascontiguousarray(x[:, :, sl]), np.ascontiguousarray(t[..., sl]) if self.per_step else t,
                       np.ascontiguousarray(mask[:, sl]), k == len(parts) - 1)

    def advance(self, mask_host: np.ndarray, last: bool):
        """Position after this iteration; the mask on the device (the real-step count kept for the metrics)."""
        self.chunk = 0 if last else self.chunk + 1
        self._real = float(mask_host.sum()) if self.tr.config.sequence_loss_mask else float(mask_host.size)
        self._steps = float(mask_host.size)
        return to_device(mask_host, self.tr.device, dtype=self.tr.dtype)

    def loss_mask(self, mask) -> dict[str, Any]:
        """``mask=`` for the loss methods: sequence-to-sequence only; all ones when ``sequence_loss_mask`` is off."""
        if not self.per_step or mask is None:
            return {}
        return {"mask": mask if self.tr.config.sequence_loss_mask else get_array_module(mask).ones_like(mask)}

    def metrics(self, y, t, kw: dict) -> list:
        """Device values for the report: hits (classification; over the real steps of sequence-to-sequence
        outputs), nothing for regression (its RMSE follows from the loss: the output layer's ``rmse_from_loss``)."""
        if not self.tr.classifier:
            return []
        xp = get_array_module(y)
        if not self.per_step:
            return [(xp.argmax(y, axis=1) == t).sum().astype(y.dtype)]
        return [((xp.argmax(y, axis=1) == t) * kw["mask"]).sum().astype(y.dtype)]   # y (B, K, T), t (B, T)

    def report(self, s, loss_h: float, metric_h, indices: np.ndarray) -> None:
        """Accuracy / RMSE of the iteration; the position in the epoch counted in iterations (chunks)."""
        tr = self.tr
        if self.chunked:
            s.batch_in_epoch = tr.iteration - self.epoch_start
        count = self._real if self.per_step else len(indices)
        if tr.classifier:
            s.training_accuracy, s.training_rmse = 100.0 * metric_h / count, None
            return
        s.training_accuracy = None
        s.training_rmse = self._rmse(loss_h, self._real / self._steps if self.per_step else 1.0) \
            if math.isfinite(loss_h) else loss_h

    def _rmse(self, loss: float, real_fraction: float) -> float:
        """The output layer's RMSE of a loss value; sequence-to-sequence: over the real steps (``real_fraction``:
        their share of the padded batch's N·S steps)."""
        out = self.tr.net.output_layer
        if not self.per_step:
            return self.tr._rmse(loss)
        return float(out.rmse_from_loss(loss, self.tr.train.n_responses, real_fraction=real_fraction))

    # ------------------------------------------------------------------------------------------ validation
    def evaluate(self, source: SequenceSource, order: np.ndarray) -> tuple[float, float]:
        """(loss, accuracy % | RMSE) over whole validation sequences (chunked with carried state for an integer S,
        the training's carried state kept aside and put back); one host read."""
        from minidl.sequences import chunks

        tr = self.tr
        net, out, cfg = tr.net, tr.net.output_layer, tr.config
        B = cfg.validation_batch_size or cfg.batch_size
        saved = net.recurrent_state() if self.chunked else None
        totals: list | None = None
        count = 0.0
        kept: list = []
        batch_losses, shares, weights = [], [], []            # sequence-to-sequence regression, per mini-batch
        try:
            for x_h, t_h, m_h in source.batches(order, B):
                x = to_device(x_h, tr.device, dtype=tr.dtype)
                t = to_device(t_h, tr.device, dtype=None if tr.classifier else tr.dtype)
                m = to_device(m_h, tr.device, dtype=tr.dtype)
                if self.chunked:
                    net.reset_state()
                    ys = [net.forward(x[:, :, sl], training=False, mask=m[:, sl]) for sl in chunks(x.shape[2],
                                                                                                  self.length)]
                    y = get_array_module(x).concatenate(ys, axis=-1) if self.per_step else ys[-1]
                else:
                    y = net.forward(x, training=False, mask=m)
                kw = self.loss_mask(m)
                if cfg.record_outputs:
                    kept.append((to_host(y), t_h))
                parts = [out.example_losses(y, t, **kw).sum(), *self.metrics(y, t, kw)]   # Σₙ ℓₙ, metric
                totals = parts if totals is None else [a + b for a, b in zip(totals, parts)]
                real = (float(m_h.sum()) if cfg.sequence_loss_mask else float(m_h.size)) if self.per_step \
                    else len(x_h)
                count += real
                if self.per_step and not tr.classifier:
                    batch_losses.append(parts[0] / y.dtype.type(len(x_h)))
                    shares.append(real / m_h.size)
                    weights.append(real)
        finally:
            if self.chunked:
                net.reset_state()
                if saved:
                    net.set_recurrent_state(saved)
        if kept:
            tr._validation_outputs = tuple(np.concatenate(a) for a in zip(*kept))
        assert totals is not None                                  # at least one validation batch
        values = [float(v) for v in to_host(get_array_module(totals[0]).stack(totals + batch_losses))]
        loss = values[0] / len(order)
        if tr.classifier:
            return loss, 100.0 * values[1] / count
        if self.per_step:     # each mini-batch's RMSE² over its real steps, weighted by its real steps
            squares = [self._rmse(b, f) ** 2 for b, f in zip(values[1:], shares)]
            return loss, math.sqrt(sum(q * w for q, w in zip(squares, weights)) / sum(weights))
        return loss, tr._rmse(loss)

    # ------------------------------------------------------------------------------------------ checkpoints
    def checkpoint(self, training: dict, arrays: dict) -> None:
        """The chunk position, the epoch's first iteration and (between chunks) the carried recurrent state."""
        training["sequence"] = {"chunk": self.chunk, "epoch_start_iteration": self.epoch_start}
        if self.chunk:
            for k, v in self.tr.net.recurrent_state().items():
                arrays[f"sequence/{k}"] = np.asarray(to_host(v))

    def restore(self, f, tr_state: dict, arrays: dict, iteration: int, epoch: int, next_batch: int) -> None:
        """Check the sequence fields of a checkpoint against the restored order, then restore them (``f``: the
        resume module's field checker, errors naming the file and the field)."""
        seq = f.dict(tr_state, "sequence")
        chunk = f.int(seq, "chunk", 0, 2 ** 62)
        start = f.int(seq, "epoch_start_iteration", 0, iteration)
        trainer = self.tr
        self.counts = self._epoch_counts() if self.chunked else np.ones(trainer.ipe, dtype=np.int64)
        expected = 0 if epoch == 0 else start + int(self.counts[:next_batch].sum()) + chunk
        if iteration != expected or (chunk and (next_batch >= trainer.ipe or chunk >= self.counts[next_batch])):
            raise f.fail("sequence", f"is chunk {chunk} from iteration {start} at epoch {epoch}, batch "
                                     f"{next_batch}; with the saved order that is iteration {expected}, the "
                                     f"checkpoint says {iteration}")
        carried = {k[len("sequence/"):]: v for k, v in arrays.items() if k.startswith("sequence/")}
        if chunk and not carried:
            raise f.fail("sequence", "is between chunks but the arrays hold no carried recurrent state")
        self.chunk, self.epoch_start = chunk, start
        if chunk:
            trainer.net.set_recurrent_state(carried)
