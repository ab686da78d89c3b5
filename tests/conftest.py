"""Shared fixtures: the `backend` fixture runs device-independent tests on NumPy, the stand-in, and CuPy if present."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import numpy as np
import pytest

from minidl import backend as B

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_GPU = B.gpu_available()
if not HAVE_GPU and B._cupy is not None:
    # a CuPy that cannot run here (no driver): the suite runs as without CuPy, so 'auto' adds no fallback notice to
    # the verbose outputs the dialect tests compare (tests/test_backend.py checks the notice with a fake CuPy)
    B._cupy, B._cupy_error = None, f"CuPy cannot run here: {B.gpu_unavailable_reason()}"
    B._gpu_state = (False, B._cupy_error)

# the strict stand-in: only the names and keywords of CuPy (tests/cupy_names.json, tools/make_cupy_names.py)
B.set_standin_names(json.loads(pathlib.Path(__file__).with_name("cupy_names.json").read_text(encoding="utf-8")))


def pytest_configure(config):
    config.addinivalue_line("markers", "reliability: the long reliability campaign (pytest -m reliability "
                                       "tests/reliability); its unmarked tests are the fast subset")


def pytest_collection_modifyitems(config, items):
    skip_oracle = pytest.mark.skip(reason="PyTorch is not installed (oracle cross-checks)")
    skip_gpu = pytest.mark.skip(reason="CuPy with a CUDA GPU is not available")
    for item in items:
        if "oracle" in item.keywords and not HAVE_TORCH:
            item.add_marker(skip_oracle)
        if "gpu" in item.keywords and not HAVE_GPU:
            item.add_marker(skip_gpu)


@pytest.fixture(params=["cpu", "standin", pytest.param("gpu", marks=pytest.mark.gpu)])
def backend(request) -> B.Device:
    """A Device to run on: NumPy, the CPU stand-in with CuPy's device separation, and a real GPU when present."""
    return B.get_device(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed host generator (every test is deterministic)."""
    return np.random.default_rng(1234)
