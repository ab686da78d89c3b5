"""Fixture for the optimizer tests: a stand-in device that refuses every read of a device value by the host."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import backend as B


@pytest.fixture
def no_host_reads(monkeypatch):
    """While active, float()/int()/bool()/.item()/.get() of a stand-in array raise, and reductions on the stand-in
    return 0-d device arrays (as CuPy's do) instead of host scalars, so a hidden host round trip cannot slip by."""
    def refuse(*args, **kwargs):
        raise AssertionError("a device value was read back to the host")

    wrap, getattr_ = B._wrap, B.StandInArray.__getattr__

    def wrap_scalars_too(obj):
        return B.StandInArray(np.asarray(obj)) if isinstance(obj, np.generic) else wrap(obj)

    def guarded_getattr(self, name):
        if name in ("item", "tolist"):
            refuse()
        return getattr_(self, name)

    for name in ("__float__", "__int__", "__bool__", "__index__", "get", "__array__"):
        monkeypatch.setattr(B.StandInArray, name, refuse)
    monkeypatch.setattr(B.StandInArray, "__getattr__", guarded_getattr)
    monkeypatch.setattr(B, "_wrap", wrap_scalars_too)
    yield monkeypatch
