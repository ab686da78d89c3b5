"""Resuming from a checkpoint: every field of the saved training state checked against this run, then restored.

A checkpoint's ``training`` part (see :mod:`minidl.training.checkpoint`) is data from a file: nothing in it is
trusted.  Before training, :func:`restore_training` checks that the data order is a permutation of the right length,
positions and epochs are in range and agree with each other, counts are integers, the info series have consistent
lengths, optimizer arrays have their parameters' shapes, the generator is one of :data:`BIT_GENERATORS` (a fixed
list: a name from the file is never looked up on ``numpy.random``), and observer states load.  A bad field is a
ValueError naming the file and the field (docs/training.md#reliability).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from minidl.backend import to_device

__all__ = ["restore_training", "BIT_GENERATORS"]

#: The bit generators a checkpoint may name, by class name (the only ones ever constructed on resume).
BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "MT19937": np.random.MT19937,
                  "Philox": np.random.Philox, "SFC64": np.random.SFC64}


class _Field:
    """Error messages naming the file and the field."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, why: str) -> ValueError:
        return ValueError(f"resume_from: {self.where}: training field {key!r} {why}")

    def int(self, tr: dict, key: str, low: int = 0, high: float = math.inf) -> int:
        if key not in tr:
            raise self.fail(key, "is missing")
        v = tr[key]
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise self.fail(key, f"is {v!r} of type {type(v).__name__}; allowed: an integer")
        if not low <= v <= high:
            raise self.fail(key, f"is {v}; allowed: an integer in [{low}, {high}]")
        return int(v)

    def dict(self, tr: dict, key: str) -> dict:
        v = tr.get(key)
        if not isinstance(v, dict):
            raise self.fail(key, f"is {type(v).__name__}; allowed: a mapping")
        return v

    def order(self, arrays: dict, key: str, n: int) -> np.ndarray:
        if key not in arrays:
            raise self.fail(key, "is missing from the arrays")
        a = arrays[key]
        if a.dtype.kind not in "iu" or a.ndim != 1 or len(a) != n:
            raise self.fail(key, f"has dtype {a.dtype} and shape {a.shape}; allowed: {n} integers")
        if n and not np.array_equal(np.sort(a), np.arange(n)):
            raise self.fail(key, f"is not a permutation of 0..{n - 1}")
        return np.array(a, dtype=np.int64)


def restore_training(trainer, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Check the checkpoint's training state against ``trainer`` (set up for this run) and restore it there:
    optimizer state, generator, position, data order, info so far, observer states."""
    where = getattr(manifest, "path", None) or "the checkpoint"
    f = _Field(where)
    tr = manifest.get("training")
    if not tr:
        raise ValueError("resume_from: the checkpoint holds a network only (no training state); pass the "
                         "network as layers to train it anew")
    if not isinstance(tr, dict):
        raise f.fail("training", f"is {type(tr).__name__}; allowed: a mapping")
    cfg = trainer.config
    for key, now, arg in (("batch_size", cfg.batch_size, cfg.name("batch_size")),
                          ("shuffle", cfg.shuffle, cfg.name("shuffle")), ("dtype", trainer.dtype.name, "precision"),
                          ("n_train", trainer.n, cfg.name("x")),
                          ("n_validation", trainer.n_val, cfg.name("validation_x")),
                          ("iterations_per_epoch", trainer.ipe, cfg.name("batch_size"))):
        if key not in tr:
            raise f.fail(key, "is missing")
        if tr[key] != now or isinstance(tr[key], bool) != isinstance(now, bool):
            raise ValueError(f"{arg}: the checkpoint was made with {key} = {tr[key]!r}, this run has {now!r}; "
                             "an exact resume needs the same value")
    ipe = trainer.ipe
    epoch = f.int(tr, "epoch", 0, 2 ** 62)
    next_batch = f.int(tr, "next_batch", 0, ipe)
    iteration = f.int(tr, "iteration", 0, 2 ** 62)
    updated = f.int(tr, "updated", 0, iteration)
    expected = 0 if epoch == 0 else (epoch - 1) * ipe + next_batch
    if (trainer.seq is None) != ("sequence" not in tr):
        raise f.fail("sequence", "is missing (a sequence network's run)" if trainer.seq is not None else
                     "is there, but this run's network takes no sequences")
    if trainer.seq is not None:     # chunk iterations: checked against the saved order once it is read (below)
        expected = iteration
    if iteration != expected or (epoch == 0 and next_batch != ipe):
        raise f.fail("iteration", f"is {iteration} at epoch {epoch}, batch {next_batch} of {ipe}; these disagree "
                                  f"(expected iteration {expected})")
    elapsed = tr.get("elapsed")
    if isinstance(elapsed, bool) or not isinstance(elapsed, numbers.Real) or not 0 <= elapsed < math.inf:
        raise f.fail("elapsed", f"is {elapsed!r}; allowed: a finite number of seconds >= 0")
    opt_state = _optimizer_state(f, tr, arrays, trainer, iteration)
    rng = _generator(f, tr)
    compositions = None
    if "data/compositions" in arrays:  # 'fill': the run's fixed batches; the order is their rows, reordered
        c, ipe_b = arrays["data/compositions"], (trainer.ipe, cfg.batch_size)
        if c.dtype.kind not in "iu" or c.shape != ipe_b or (c.size and not (0 <= c.min() and c.max() < trainer.n)):
            raise f.fail("data/compositions", f"has dtype {c.dtype} and shape {c.shape}; allowed: {ipe_b} example "
                                              f"indices in [0, {trainer.n})")
        compositions = np.array(c, dtype=np.int64)
        a = arrays.get("data/order")
        rows = {tuple(r) for r in compositions.tolist()}
        if a is None or a.dtype.kind not in "iu" or a.shape != (c.size,) or \
                any(tuple(r) not in rows for r in np.asarray(a).reshape(ipe_b).tolist()):
            raise f.fail("data/order", "is not the batch compositions in some order")
        order = np.array(a, dtype=np.int64)
    else:
        order = f.order(arrays, "data/order", trainer.n)
    val_order = None
    if trainer.validation is not None:
        val_order = f.order(arrays, "data/validation_order", trainer.n_val)
    info = _info_arrays(f, arrays, iteration, epoch)
    observers = f.dict(tr, "observers")
    # everything checked: restore
    cfg.optimizer.load_state_dict(opt_state)
    trainer.rng = rng
    trainer.net.set_rng(rng)
    trainer.epoch, trainer.next_batch, trainer.iteration, trainer.updated = epoch, next_batch, iteration, updated
    trainer.elapsed_before = float(elapsed)
    trainer.order, trainer.val_order = order, val_order
    if compositions is not None:
        trainer.compositions = compositions
    if trainer.seq is not None:
        trainer.seq.restore(f, tr, arrays, iteration, epoch, next_batch)
    trainer.recorder.load_state_arrays(info)
    for obs in trainer.observers:
        key = getattr(obs, "state_key", None)
        if key and obs is not trainer.recorder and key in observers:
            try:
                obs.load_state_dict(observers[key])
            except (TypeError, ValueError, KeyError, AttributeError) as e:
                raise f.fail(f"observers.{key}", f"does not load ({type(e).__name__}: {e})") from None


def _optimizer_state(f: _Field, tr: dict, arrays: dict, trainer, iteration: int) -> dict[str, Any]:
    opt = trainer.config.optimizer
    saved = f.dict(tr, "optimizer")
    if saved.get("class") != type(opt).__name__:
        raise ValueError(f"resume_from: the checkpoint's optimizer is {saved.get('class')}, this run's is "
                         f"{type(opt).__name__}")
    state: dict[str, Any] = {"t": f.int(saved, "t", 0, iteration)}
    params = trainer.net.params
    slots = getattr(opt, "slots", ())
    for key, value in arrays.items():
        if not key.startswith("optimizer/"):
            continue
        slot, _, name = key[len("optimizer/"):].partition("/")
        if slot not in slots or name not in params:
            raise f.fail(key, f"names no slot of {type(opt).__name__} {tuple(slots)} and parameter of the network")
        ref = params[name]
        if value.dtype.kind != "f" or tuple(value.shape) != tuple(ref.shape) or not np.isfinite(value).all():
            raise f.fail(key, f"has dtype {value.dtype} and shape {value.shape}; allowed: finite floats of shape "
                              f"{tuple(ref.shape)}")
        state[f"{slot}/{name}"] = to_device(value, trainer.device, dtype=ref.dtype)
    names = {k.split("/", 1)[1] for k in state if k != "t"}
    for name in names:
        for slot in slots:
            if f"{slot}/{name}" not in state:
                raise f.fail(f"optimizer/{slot}/{name}", "is missing (the other slots of that parameter are there)")
    return state


def _generator(f: _Field, tr: dict) -> np.random.Generator:
    saved = f.dict(tr, "rng")
    name = saved.get("bit_generator")
    if not isinstance(name, str) or name not in BIT_GENERATORS:
        raise f.fail("rng.bit_generator", f"is {name!r}; allowed: {', '.join(sorted(BIT_GENERATORS))}")
    state = saved.get("state")
    if not isinstance(state, dict) or state.get("bit_generator") != name:
        raise f.fail("rng.state", f"is not a {name} state")
    bg = BIT_GENERATORS[name]()
    try:
        bg.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise f.fail("rng.state", f"does not load into {name} ({e})") from None
    return np.random.Generator(bg)


def _info_arrays(f: _Field, arrays: dict, iteration: int, epoch: int) -> dict[str, np.ndarray]:
    from minidl.training.info import EPOCH_SERIES, SERIES

    out = {}
    for name in SERIES + EPOCH_SERIES:
        key = f"info/{name}"
        if key not in arrays:
            raise f.fail(key, "is missing from the arrays")
        a = arrays[key]
        if a.dtype.kind not in "fiu" or a.ndim != 1:
            raise f.fail(key, f"has dtype {a.dtype} and shape {a.shape}; allowed: a 1-D float array")
        out[name] = a
    for name in SERIES:
        if len(out[name]) != iteration:
            raise f.fail(f"info/{name}", f"has {len(out[name])} values; the checkpoint is at iteration {iteration}")
    ends = out["epoch_end_iteration"]
    for name in EPOCH_SERIES:
        if len(out[name]) != len(ends) or len(ends) > epoch:
            raise f.fail(f"info/{name}", f"has {len(out[name])} values for {epoch} epochs ({len(ends)} ended)")
    if len(ends) and (not np.isfinite(ends).all() or (np.diff(ends) <= 0).any() or ends[-1] > iteration
                      or ends[0] < 1 or (ends != np.round(ends)).any()):
        raise f.fail("info/epoch_end_iteration", "is not increasing integers within the iterations run")
    epochs = out["epoch"]
    if len(epochs) and (not np.isfinite(epochs).all() or (epochs < 1).any() or (epochs > epoch).any()):
        raise f.fail("info/epoch", f"holds epochs outside 1..{epoch}")
    return out
