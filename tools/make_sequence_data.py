"""Regenerate ``minidl/data/sequences.npz``, the embedded sequence data sets, from fixed seeds (NumPy only).

Three data sets, each a train and a test split drawn from its own ``numpy.random.Generator`` (PCG64) seed; the
recipe of each is in ``minidl/datasets.py``'s module docstring, the code here:

- **waveforms** (sequence-to-label): 12-channel noisy waveforms of four shapes (chirp, sawtooth, sine, square),
  20–60 steps; 240 training and 160 test sequences, balanced.
- **activity** (sequence-to-sequence labelling): 3-channel "accelerometer" signals whose regime switches among
  sitting / walking / running at random times, 80–160 steps, one label per step; 60 training and 30 test sequences.
- **seasonal** (forecasting): one univariate series of 600 monthly steps (trend + a yearly and a slower cycle +
  noise); the first 540 steps are the training split, the last 60 the test split.

The signals are computed in float64 and stored **quantized**: the waveform and activity values as int8 codes k
(value k/32, so the loaders' float32 values are exact multiples of 1/32 in [−4, 3.97]), the seasonal series as
int16 codes k (value k/256). Rounding to the 1/32 grid adds a uniform error of variance (1/32)²/12 = 8.1e-5 to
a noise of variance at least 0.15² = 0.0225 (0.4 % more), which no network can tell, and the 8-bit codes keep the
file at 186 KB where unquantized float32 values would take about 820 KB (LZMA does not compress noise bits).
Sequences of a split are stored concatenated along time with their lengths
(``<set>_<split>_x`` (C, ΣT), ``<set>_<split>_lengths`` (N,)), labels as uint8 class indices.

The file is a zip of ``.npy`` members with fixed timestamps and LZMA compression (as ``tools/make_digit_data.py``
writes ``digits.npz``), so the same arrays give the same bytes. This script prints the file's SHA-256, which
``minidl/datasets.py`` records (``_SEQUENCE_SHA256``) and checks on load.

    python tools/make_sequence_data.py            # rewrite the file, print its checksum
    python tools/make_sequence_data.py --check    # rebuild in memory, fail unless it equals the stored bytes

Needs NumPy >= 1.17 (``Generator`` with PCG64: ``random``, ``integers``, ``standard_normal``, ``permutation``).
Checked: NumPy 1.23.0 on Python 3.10.13 (setup.cfg's oldest versions) and NumPy 2.4.6 on Python 3.11.7 build the
same bytes. The float64 maths before quantization uses only +, ·, sin, floor and sqrt; a last-bit difference of a
platform's sin moves a code only when a value lies within about 1e-15 of a rounding boundary (the check would then
report the file as different).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile

import numpy as np

from minidl._files import write_or_check_stored

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "minidl", "data", "sequences.npz")

# Class names, sorted (MATLAB's categorical order); the stored labels are indices into these. minidl/datasets.py
# holds the same tuples (WAVEFORM_CLASSES, ACTIVITY_CLASSES); the test suite checks that they agree.
WAVEFORM_CLASSES = ("chirp", "sawtooth", "sine", "square")
ACTIVITY_CLASSES = ("running", "sitting", "walking")

SEEDS = {"waveforms_sensors": 13_000, "waveforms_train": 13_001, "waveforms_test": 13_002,
         "activity_train": 13_003, "activity_test": 13_004, "seasonal": 13_005}
WAVEFORM_CHANNELS, WAVEFORM_LENGTHS = 12, (20, 60)
ACTIVITY_CHANNELS, ACTIVITY_LENGTHS = 3, (80, 160)
SEASONAL_STEPS, SEASONAL_TEST_STEPS = 600, 60
CODE_SCALE = 32  # waveform and activity values are stored as int8 k, value k / 32
SERIES_SCALE = 256  # the seasonal series is stored as int16 k, value k / 256


def quantize(x: np.ndarray, scale: int, dtype) -> np.ndarray:
    """Codes round(x·scale), clipped to dtype's range (round half to even, as np.rint)."""
    info = np.iinfo(dtype)
    return np.clip(np.rint(x * scale), info.min, info.max).astype(dtype)


def _shape(kind: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Unit waveforms (N, T) of each kind (class index) at cycle positions phase (N, T) (in cycles)."""
    frac = phase - np.floor(phase)
    sine = np.sin(2 * np.pi * phase)
    square = np.where(frac < 0.5, 1.0, -1.0)
    sawtooth = 2.0 * frac - 1.0
    k = kind[:, None]
    # chirp (0) and sine (2) share the sine; the chirp differs by its phase (a swept frequency, below)
    return np.where(k == 1, sawtooth, np.where(k == 3, square, sine))


def waveforms(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes (12, ΣT) int8, lengths (N,) uint8, labels (N,) uint8) of N = 4·n_per_class shuffled sequences.

    Each sequence: a class (chirp, sawtooth, sine, square), a length T ~ U{20..60}, amplitude A ~ U[0.5, 1.5],
    period P ~ U[6, 16] steps, phase φ ~ U[0, 1) cycles; the chirp's frequency sweeps linearly from 1/P to
    r/P (r ~ U[2, 3]) or back (half of them) over the sequence. Channel c = g_c·A·w(t) + b_c + 0.3·noise: 12
    "sensors" with gains G_c (|G_c| ~ U[0.5, 1.5], random sign) and offsets B_c ~ U[−0.5, 0.5] drawn once (the
    same in both splits), jittered per sequence: g_c = G_c + 0.2·noise, b_c = B_c + 0.1·noise.
    """
    rng = np.random.default_rng(seed)
    n = 4 * n_per_class
    labels = rng.permutation(np.repeat(np.arange(4), n_per_class))
    lo, hi = WAVEFORM_LENGTHS
    lengths = rng.integers(lo, hi + 1, size=n)
    amp = 0.5 + rng.random(n)
    period = 6.0 + 10.0 * rng.random(n)
    phase0 = rng.random(n)
    ratio = 2.0 + rng.random(n)
    down = rng.random(n) < 0.5
    sensor = np.random.default_rng(SEEDS["waveforms_sensors"])  # the 12 "sensors", the same in both splits
    g_sensor = (0.5 + sensor.random(WAVEFORM_CHANNELS)) * np.where(sensor.random(WAVEFORM_CHANNELS) < 0.5, -1, 1)
    b_sensor = sensor.random(WAVEFORM_CHANNELS) - 0.5
    gains = g_sensor + 0.2 * rng.standard_normal((n, WAVEFORM_CHANNELS))
    offsets = b_sensor + 0.1 * rng.standard_normal((n, WAVEFORM_CHANNELS))
    t_max = hi
    t = np.arange(t_max, dtype=np.float64)[None, :]  # (1, T) steps
    # phase(t) = φ + t/P, or for the chirp φ + ∫ f: f(t) = (1 + (r−1)·t/L)/P swept up (or the reverse, down)
    L = (lengths - 1).astype(np.float64)[:, None]
    up_phase = (t + (ratio[:, None] - 1) * t**2 / (2 * L)) / period[:, None]
    down_phase = (ratio[:, None] * t - (ratio[:, None] - 1) * t**2 / (2 * L)) / period[:, None]
    chirp_phase = np.where(down[:, None], down_phase, up_phase)
    phase = phase0[:, None] + np.where(labels[:, None] == 0, chirp_phase, t / period[:, None])
    w = amp[:, None] * _shape(labels, phase)  # (N, T)
    noise = rng.standard_normal((n, WAVEFORM_CHANNELS, t_max))
    x = gains[:, :, None] * w[:, None, :] + offsets[:, :, None] + 0.3 * noise  # (N, 12, T)
    codes = quantize(x, CODE_SCALE, np.int8)
    stacked = np.concatenate([codes[i, :, : lengths[i]] for i in range(n)], axis=1)
    return stacked, lengths.astype(np.uint8), labels.astype(np.uint8)


def activity(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes (3, ΣT) int8, lengths (N,) uint16, labels (ΣT,) uint8) of n sequences with regime switches.

    Each sequence: length T ~ U{80..160}; regimes follow each other in segments of U{15..40} steps, each a random
    activity different from the one before. Per step, with a per-sequence gravity direction (unit vector u,
    offset 1 along it):
    sitting: no oscillation; walking: period U[9, 13] steps, amplitude U[0.4, 1.0]; running: period U[4, 6],
    amplitude U[0.6, 1.4] (the amplitudes overlap: the period tells walking from running). The oscillation is
    a sine plus a half-amplitude second harmonic on three random channel gains (U[0.3, 1]·±1), its phase
    continuous across switches; noise 0.15 on every channel and a slow drift (a sine of period U[60, 120] and
    amplitude 0.3 on channel 0).
    """
    rng = np.random.default_rng(seed)
    lo, hi = ACTIVITY_LENGTHS
    lengths = rng.integers(lo, hi + 1, size=n)
    xs, ys = [], []
    for T in lengths:  # the generator is a script: a loop over sequences is fine here
        bounds, regimes, prev = [0], [], -1
        while bounds[-1] < T:
            r = int(rng.integers(0, 3))
            while r == prev:
                r = int(rng.integers(0, 3))
            regimes.append(r)
            prev = r
            bounds.append(min(T, bounds[-1] + int(rng.integers(15, 41))))
        label = np.repeat(np.array(regimes), np.diff(bounds))  # (T,) index into ACTIVITY_CLASSES
        freq = np.zeros(T)
        amp = np.zeros(T)
        for r, a, b in zip(regimes, bounds[:-1], bounds[1:]):
            name = ACTIVITY_CLASSES[r]
            if name == "walking":
                freq[a:b], amp[a:b] = 1.0 / (9.0 + 4.0 * rng.random()), 0.4 + 0.6 * rng.random()
            elif name == "running":
                freq[a:b], amp[a:b] = 1.0 / (4.0 + 2.0 * rng.random()), 0.6 + 0.8 * rng.random()
        phase = rng.random() + np.cumsum(freq)  # continuous across switches
        osc = amp * (np.sin(2 * np.pi * phase) + 0.5 * np.sin(4 * np.pi * phase))  # (T,)
        u = rng.standard_normal(ACTIVITY_CHANNELS)
        u /= np.sqrt((u**2).sum())
        g = (0.3 + 0.7 * rng.random(ACTIVITY_CHANNELS)) * np.where(rng.random(ACTIVITY_CHANNELS) < 0.5, -1.0, 1.0)
        drift_period, drift_phase = 60.0 + 60.0 * rng.random(), rng.random()
        drift = 0.3 * np.sin(2 * np.pi * (np.arange(T) / drift_period + drift_phase))
        x = u[:, None] + g[:, None] * osc[None, :] + 0.15 * rng.standard_normal((ACTIVITY_CHANNELS, T))
        x[0] += drift
        xs.append(quantize(x, CODE_SCALE, np.int8))
        ys.append(label.astype(np.uint8))
    return np.concatenate(xs, axis=1), lengths.astype(np.uint16), np.concatenate(ys)


def seasonal(seed: int) -> np.ndarray:
    """Codes (1, 600) int16 of the series x_t = 10 + 0.01·t + 2·sin(2πt/12 + φ1) + sin(2πt/40 + φ2)
    + 0.7·sin(4πt/12 + φ3) + 0.2·noise (a monthly series with a yearly cycle, its harmonic, a slower cycle and a
    trend); φ ~ U[0, 2π)."""
    rng = np.random.default_rng(seed)
    t = np.arange(SEASONAL_STEPS, dtype=np.float64)
    phi = 2 * np.pi * rng.random(3)
    x = (10.0 + 0.01 * t + 2.0 * np.sin(2 * np.pi * t / 12 + phi[0]) + np.sin(2 * np.pi * t / 40 + phi[1])
         + 0.7 * np.sin(4 * np.pi * t / 12 + phi[2]) + 0.2 * rng.standard_normal(SEASONAL_STEPS))
    return quantize(x[None, :], SERIES_SCALE, np.int16)


def build() -> dict[str, np.ndarray]:
    """Every array of the file, in the order written."""
    arrays: dict[str, np.ndarray] = {}
    for split, n_per_class in (("train", 60), ("test", 40)):
        x, lengths, labels = waveforms(n_per_class, SEEDS[f"waveforms_{split}"])
        arrays.update({f"waveforms_{split}_x": x, f"waveforms_{split}_lengths": lengths,
                       f"waveforms_{split}_labels": labels})
    for split, n in (("train", 60), ("test", 30)):
        x, lengths, labels = activity(n, SEEDS[f"activity_{split}"])
        arrays.update({f"activity_{split}_x": x, f"activity_{split}_lengths": lengths,
                       f"activity_{split}_labels": labels})
    series = seasonal(SEEDS["seasonal"])
    cut = SEASONAL_STEPS - SEASONAL_TEST_STEPS
    arrays.update({"seasonal_train_x": series[:, :cut], "seasonal_test_x": series[:, cut:]})
    return arrays


def encode(arrays: dict[str, np.ndarray]) -> bytes:
    """A deterministic .npz: one .npy member per array, fixed timestamp, LZMA compression (make_digit_data's)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with the stored file instead of writing it")
    p.add_argument("--output", default=OUTPUT, help="where to write (default: minidl/data/sequences.npz)")
    args = p.parse_args(argv)
    return write_or_check_stored(args.output, encode(build()), args.check)


if __name__ == "__main__":
    sys.exit(main())
