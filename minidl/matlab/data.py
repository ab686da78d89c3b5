"""MATLAB's example data: ``digitTrain4DArrayData`` / ``digitTest4DArrayData`` and the sequence sets over
``minidl.datasets``."""

from __future__ import annotations

import numpy as np

from minidl.matlab.arrays import nchw_to_hwcn


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


# ------------------------------------------------------------------ sequences: cell arrays of C×T matrices as lists


def _cell(seqs) -> list[np.ndarray]:
    return [np.array(x) for x in seqs]  # fresh writable copies, as MATLAB's value semantics


def waveformTrainData() -> tuple[list[np.ndarray], np.ndarray]:
    """``[XTrain, YTrain] = waveformTrainData`` (like ``japaneseVowelsTrainData``), from
    ``minidl.datasets.waveform_train_data``.

    Returns:
        XTrain: a list of 240 float32 12×Tᵢ matrices (MATLAB's 240×1 cell array of C×T sequences; Tᵢ 20–60).
        YTrain: (240,) labels 'chirp', 'sawtooth', 'sine', 'square' (the categories of MATLAB's categorical).
    """
    from minidl.datasets import waveform_train_data

    X, labels = waveform_train_data()
    return _cell(X), np.array(labels)


def waveformTestData() -> tuple[list[np.ndarray], np.ndarray]:
    """``[XTest, YTest] = waveformTestData``: as :func:`waveformTrainData`, the 160 test sequences."""
    from minidl.datasets import waveform_test_data

    X, labels = waveform_test_data()
    return _cell(X), np.array(labels)


def activityTrainData() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``[XTrain, YTrain] = activityTrainData`` (like MATLAB's HumanActivity data), from
    ``minidl.datasets.activity_train_data``.

    Returns:
        XTrain: a list of 60 float32 3×Tᵢ matrices (Tᵢ 80–160). YTrain: a list of 60 (Tᵢ,) label rows (MATLAB's
        1×Tᵢ categorical sequences), each step one of 'running', 'sitting', 'walking'.
    """
    from minidl.datasets import activity_train_data

    X, Y = activity_train_data()
    return _cell(X), _cell(Y)


def activityTestData() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``[XTest, YTest] = activityTestData``: as :func:`activityTrainData`, the 30 test sequences."""
    from minidl.datasets import activity_test_data

    X, Y = activity_test_data()
    return _cell(X), _cell(Y)


def seasonalTrainData() -> np.ndarray:
    """``data = seasonalTrainData`` (like ``chickenpox_dataset``): the 1×540 float32 row of the seasonal series'
    first 540 steps, from ``minidl.datasets.seasonal_train_data`` (a fresh writable copy)."""
    from minidl.datasets import seasonal_train_data

    return np.array(seasonal_train_data())


def seasonalTestData() -> np.ndarray:
    """``data = seasonalTestData``: the 1×60 float32 row of the series' last 60 steps (its continuation)."""
    from minidl.datasets import seasonal_test_data

    return np.array(seasonal_test_data())
