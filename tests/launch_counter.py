"""Counting device launches on the CPU stand-in: one launch per device function call (docs/gpu.md#launches).

A test helper until the stand-in counts them itself: it wraps the stand-in namespace's functions and ufuncs, the
operators and methods of its arrays, assignment and advanced indexing.  Views (reshape, basic slicing, ``.T``) are
no launch, as on CuPy; host-to-device copies and device-to-host reads are counted apart.
"""

from __future__ import annotations

import collections
import contextlib
import sys

import numpy as np

from minidl import backend as B

VIEWS = frozenset({"reshape", "ravel", "view", "transpose", "swapaxes", "squeeze", "broadcast_to", "expand_dims",
                   "get"})


class Counts(collections.Counter):
    """name -> launches; ``launches`` the total, ``transfers`` host→device copies, ``reads`` device→host reads."""

    transfers = 0
    reads = 0

    @property
    def launches(self) -> int:
        return sum(self.values())


@contextlib.contextmanager
def counting():
    """``with counting() as c:`` counts the stand-in's launches inside the block into ``c`` (a :class:`Counts`)."""
    c = Counts()
    saved = {name: getattr(B, name) for name in ("_standin_function", "to_device", "to_host")}
    array_saved = {name: getattr(B.StandInArray, name) for name in ("__array_ufunc__", "__getattr__", "__setitem__",
                                                                      "__getitem__")}
    make = saved["_standin_function"]

    def standin_function(func, qualname):
        call = make(func, qualname)
        short = qualname.rpartition(".")[2] if "(" not in qualname else qualname

        def counted(*args, **kwargs):
            if short not in VIEWS:
                c[short] += 1
            return call(*args, **kwargs)

        return counted

    def array_ufunc(self, ufunc, method, *inputs, **kwargs):
        c[ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"] += 1
        return array_saved["__array_ufunc__"](self, ufunc, method, *inputs, **kwargs)

    def getattr_(self, name):
        attr = array_saved["__getattr__"](self, name)
        if not callable(attr) or name in VIEWS:
            return attr

        def counted(*args, **kwargs):
            c[f".{name}"] += 1
            return attr(*args, **kwargs)

        return counted

    def setitem(self, key, value):
        c["setitem"] += 1
        return array_saved["__setitem__"](self, key, value)

    def getitem(self, key):
        keys = key if isinstance(key, tuple) else (key,)
        if any(isinstance(k, (B.StandInArray, np.ndarray, list)) for k in keys):
            c["take"] += 1                     # advanced indexing: a gather kernel
        return array_saved["__getitem__"](self, key)

    def to_device(x, device, dtype=None):
        if B.get_device(device).name == "standin":
            c.transfers += 1
        return saved["to_device"](x, device, dtype=dtype)

    def to_host(x):
        if isinstance(x, B.StandInArray):
            c.reads += 1
        return saved["to_host"](x)

    B._standin_function = standin_function
    rebound = [(m, name, value) for m in list(sys.modules.values()) if getattr(m, "__name__", "").startswith("minidl")
               for name, value in (("to_device", saved["to_device"]), ("to_host", saved["to_host"]))
               if getattr(m, name, None) is value]          # modules that imported the functions by name
    for m, name, _ in rebound:
        setattr(m, name, to_device if name == "to_device" else to_host)
    B.StandInArray.__array_ufunc__ = array_ufunc
    B.StandInArray.__getattr__ = getattr_
    B.StandInArray.__setitem__ = setitem
    B.StandInArray.__getitem__ = getitem
    try:
        yield c
    finally:
        B._standin_function = make
        for m, name, value in rebound:
            setattr(m, name, value)
        for name, value in array_saved.items():
            setattr(B.StandInArray, name, value)
