"""Launches per training step of the documented network, counted by the CPU stand-in (``standin_counters``).

The network of bench/test_bench_step.py (3 conv + batch norm + ReLU blocks, 2 max-pools, FC 10, softmax,
cross-entropy), float32, batch 128, one training iteration of the engine (forward, loss, backward, norm, pre-steps,
optimizer, all-finite check, the one host read), counted after two warm-up iterations, for sgdm and adam.
Run: ``PYTHONPATH=$PWD python3 bench/launches.py`` (results in docs/gpu.md#launches).
"""

from __future__ import annotations

import numpy as np

import minidl as dl
from minidl.backend import standin_counters
from minidl.optim import SGDM, Adam, ConstantSchedule
from minidl.training import ArraySource, EngineConfig, Trainer

L = dl.layers


def documented_network() -> dl.Network:
    from minidl.layers.conv import Convolution2D
    from minidl.layers.pooling import MaxPooling2D
    return dl.Network([
        L.ImageInput((1, 28, 28)),
        Convolution2D(3, 8, padding="same"), L.BatchNormalization(), L.ReLU(), MaxPooling2D(2, stride=2),
        Convolution2D(3, 16, padding="same"), L.BatchNormalization(), L.ReLU(), MaxPooling2D(2, stride=2),
        Convolution2D(3, 32, padding="same"), L.BatchNormalization(), L.ReLU(),
        L.FullyConnected(10), L.Softmax(), L.ClassificationOutput()])


def launches_per_step(optimizer, batch: int = 128, **options) -> dict[str, int]:
    """The launches of the third iteration of a stand-in training run (two warm-up iterations before it)."""
    rng = np.random.default_rng(0)
    x = rng.random((4 * batch, 1, 28, 28))
    t = rng.integers(0, 10, 4 * batch)
    config = EngineConfig(optimizer=optimizer, schedule=ConstantSchedule(0.01), max_epochs=1, batch_size=batch,
                          shuffle="never", validation_frequency=None, validate_first_iteration=False,
                          validate_at_end=False, device="standin", dtype="float32", **options)
    trainer = Trainer(documented_network(), ArraySource(x, t), config)
    iteration, counts = trainer._iteration, {}

    def counted(*args, **kwargs):
        if trainer.iteration == 2:
            with standin_counters().counting() as c:
                iteration(*args, **kwargs)
            counts.update(launches=c.launches, writes=c.writes, reads=c.reads)
        else:
            iteration(*args, **kwargs)

    trainer._iteration = counted
    trainer.run()
    return counts


def main() -> None:
    for name, opt in (("sgdm", SGDM(0.9)), ("adam", Adam())):
        c = launches_per_step(opt)
        print(f"{name}: {c['launches']} launches per step, {c['writes']} host-to-device writes, {c['reads']} reads")


if __name__ == "__main__":
    main()
