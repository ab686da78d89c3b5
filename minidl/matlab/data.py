"""MATLAB's example data: ``digitTrain4DArrayData`` / ``digitTest4DArrayData`` over ``minidl.datasets``."""

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
