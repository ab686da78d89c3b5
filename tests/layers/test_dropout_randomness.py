"""The documented randomness of dropout (docs/gpu.md#launches): masks from the host generator, copied to the device
once per forward, never read back; so the same seed gives the same masks on every device."""

from __future__ import annotations

import numpy as np

from minidl import backend as B
from minidl import layers as L


def masks_of(device: str, seed: int, steps: int = 3) -> list[np.ndarray]:
    layer = L.Dropout(0.4)
    layer.initialize((5, 6), dtype="float64", device=device)
    layer.rng = np.random.default_rng(seed)
    x = B.to_device(np.ones((4, 5, 6)), device)
    return [B.to_host(layer.forward(x, training=True)) for _ in range(steps)]


def test_the_same_seed_gives_the_same_masks_on_the_host_and_on_a_device():
    for cpu, dev in zip(masks_of("cpu", 11), masks_of("standin", 11)):
        np.testing.assert_array_equal(cpu, dev)              # bit-identical: the host generator drew both
    assert not np.array_equal(masks_of("cpu", 11)[0], masks_of("cpu", 12)[0])


def test_a_dropout_forward_writes_its_mask_once_and_reads_nothing_back():
    layer = L.Dropout(0.4)
    layer.initialize((5, 6), dtype="float32", device="standin")
    layer.rng = np.random.default_rng(0)
    x = B.to_device(np.ones((4, 5, 6), dtype=np.float32), "standin")
    with B.standin_counters().counting() as n:
        y = layer.forward(x, training=True)
    assert (n.writes, n.reads, n.launches) == (1, 0, 1)      # the mask's transfer, no read, the product
    assert B.device_of(y).name == "standin"
