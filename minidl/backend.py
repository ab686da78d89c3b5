"""The one door to the device: array modules, device selection, moves, scatter-add, synchronize.

This is the only module of minidl that imports CuPy. Everything else takes its array module from its inputs::

    xp = get_array_module(x)      # numpy, cupy, or the CPU stand-in below

Devices
-------
``"cpu"``      NumPy arrays on the host.
``"gpu"``      CuPy arrays on the current CUDA device (needs CuPy and a GPU; otherwise an error with the cause).
``"auto"``     ``"gpu"`` when CuPy runs a kernel on a GPU, else ``"cpu"`` (``Device.fallback`` then says why, when
               CuPy is installed: the dialects print it in their verbose header).
``"standin"``  NumPy underneath, but with CuPy's device separation: its arrays (:class:`StandInArray`) refuse to be
               mixed with host arrays in math, and numpy functions refuse them; it counts reads and launches
               (:func:`standin_counters`). The test-suite runs every device-independent test on it with CuPy's
               names (:func:`set_standin_names`), so code that passes there does not mix host and device arrays
               and calls only what CuPy has (docs/gpu.md).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import numbers
import sys
import types
from typing import Any

import numpy as np

__all__ = [
    "Device",
    "StandInArray",
    "get_device",
    "get_array_module",
    "device_of",
    "gpu_available",
    "gpu_unavailable_reason",
    "is_device",
    "set_standin_names",
    "to_device",
    "to_host",
    "scatter_add",
    "synchronize",
    "device_description",
    "standin",
    "standin_counters",
    "StandInCounters",
]

DEVICE_NAMES = ("cpu", "gpu", "auto", "standin")

_cupy: Any = None
_cupy_checked = False
_cupy_error: str | None = None    # why CuPy did not import (the exception's text), None when it did or was not tried
_gpu_state: tuple[bool, str | None] | None = None  # (usable, the cause when not), decided once by _gpu_probe

EXTRAS = "minidl[gpu-cuda12] (CUDA 12) or minidl[gpu-cuda13] (CUDA 13)"


def _import_cupy():
    """CuPy if it is installed and imports, else None (checked once; the failure's text kept for the 'gpu' error)."""
    global _cupy, _cupy_checked, _cupy_error
    if not _cupy_checked:
        _cupy_checked = True
        try:
            _cupy = importlib.import_module("cupy")
        except ModuleNotFoundError as e:
            _cupy, _cupy_error = None, (f"CuPy is not installed; install {EXTRAS}" if e.name == "cupy" else
                                        f"CuPy failed to import: {type(e).__name__}: {e}")
        except Exception as e:  # a CUDA library that fails to load
            _cupy, _cupy_error = None, f"CuPy failed to import: {type(e).__name__}: {e}"
    return _cupy


def _cupy_of(x):
    """cupy when ``x`` is a CuPy array, else None.  Recognised by its type's module (``cupy``) without importing
    CuPy: a CuPy array exists only once its user imported CuPy, so the module is then taken from ``sys.modules``."""
    if _cupy is not None and isinstance(x, _cupy.ndarray):
        return _cupy
    if type(x).__module__.partition(".")[0] != "cupy":
        return None
    cp = sys.modules.get("cupy")
    return cp if cp is not None and isinstance(x, cp.ndarray) else None


def _gpu_probe() -> tuple[bool, str | None]:
    """(True, None) when CuPy runs a tiny elementwise kernel (compiled by NVRTC) and a small matrix product (cuBLAS)
    and reads both back right; else (False, the cause: the step that failed and the exception's own text).  Run
    once and cached: the first call costs a kernel compilation."""
    global _gpu_state
    if _gpu_state is not None:
        return _gpu_state
    cp = _import_cupy()
    if cp is None:
        _gpu_state = (False, _cupy_error)
        return _gpu_state
    stage = "the CUDA driver (cupy.cuda.runtime.getDeviceCount)"
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            _gpu_state = (False, "CuPy sees no CUDA device (cupy.cuda.runtime.getDeviceCount() is 0)")
            return _gpu_state
        stage = "a tiny elementwise kernel (compiled by NVRTC)"
        y = cp.arange(4, dtype=cp.float32) * 2 + 1
        ok_kernel = y.get().tolist() == [1.0, 3.0, 5.0, 7.0]
        stage = "a small matrix product (cuBLAS)"
        m = cp.ones((8, 8), dtype=cp.float32) @ cp.ones((8, 8), dtype=cp.float32)
        ok_matmul = float(m[0, 0].get()) == 8.0
        cp.cuda.get_current_stream().synchronize()
    except Exception as e:
        _gpu_state = (False, f"{stage} failed: {type(e).__module__}.{type(e).__name__}: {e}")
        return _gpu_state
    if not (ok_kernel and ok_matmul):
        _gpu_state = (False, f"{'a tiny elementwise kernel' if not ok_kernel else 'a small matrix product'} ran but "
                             "returned wrong values")
        return _gpu_state
    _gpu_state = (True, None)
    return _gpu_state


def gpu_available() -> bool:
    """True when CuPy is installed and a tiny kernel and a small matrix product run right on the GPU (cached)."""
    return _gpu_probe()[0]


def gpu_unavailable_reason() -> str | None:
    """Why the GPU cannot be used (CuPy missing or failing to import, no device, a driver, toolkit or NVRTC
    failure: the exception's text), or None when it can."""
    return _gpu_probe()[1]


# --------------------------------------------------------------------------------------------------------------------
# Counters of the stand-in: device-to-host reads and (estimated) kernel launches
# --------------------------------------------------------------------------------------------------------------------

class StandInCounts:
    """The reads, launches and writes counted inside one ``with counters.counting() as n:`` block (live while the
    block runs, frozen when it ends)."""

    def __init__(self, counters: StandInCounters):
        self._c, self._start = counters, counters._totals()
        self._end: tuple[int, int, int] | None = None

    def _now(self) -> tuple[int, int, int]:
        end = self._end if self._end is not None else self._c._totals()
        return tuple(e - s for e, s in zip(end, self._start))  # type: ignore[return-value]

    @property
    def reads(self) -> int:
        """Device-to-host reads (``to_host``, ``.get()``, ``float()``, ``int()``, ``bool()``, ``.item()``, ...)."""
        return self._now()[0]

    @property
    def launches(self) -> int:
        """Kernel launches: one per elementwise operation, reduction, matrix product, copy or fused call."""
        return self._now()[1]

    @property
    def writes(self) -> int:
        """Host-to-device transfers (``to_device`` / ``xp.asarray`` of host data)."""
        return self._now()[2]

    def __repr__(self):
        return f"StandInCounts(reads={self.reads}, launches={self.launches}, writes={self.writes})"


class StandInCounters:
    """Totals of what the stand-in device did since the last :meth:`reset` (one process-wide object:
    :func:`standin_counters`).

    ``reads``: device-to-host reads, each a synchronisation on a real GPU; ``launches``: kernel launches as CuPy
    would issue them (one per ufunc call, reduction, product, copy, creation that fills memory, fused call; views,
    ``empty`` and transfers launch none); ``writes``: host-to-device transfers.

    >>> import numpy as np
    >>> with standin_counters().counting() as n:
    ...     x = to_device(np.ones(3), "standin")
    ...     total = float((x * 2).sum())
    >>> (n.reads, n.launches, n.writes)
    (1, 2, 1)
    """

    def __init__(self):
        self.reads = 0
        self.launches = 0
        self.writes = 0

    def _totals(self) -> tuple[int, int, int]:
        return self.reads, self.launches, self.writes

    def reset(self) -> None:
        """Set every total to 0."""
        self.reads = self.launches = self.writes = 0

    @contextlib.contextmanager
    def counting(self, reset: bool = False):
        """A block whose counts are read from the yielded :class:`StandInCounts` (``reset=True`` zeroes the totals
        first)."""
        if reset:
            self.reset()
        counts = StandInCounts(self)
        try:
            yield counts
        finally:
            counts._end = self._totals()

    def __repr__(self):
        return f"StandInCounters(reads={self.reads}, launches={self.launches}, writes={self.writes})"


_COUNTERS = StandInCounters()


def standin_counters() -> StandInCounters:
    """The stand-in device's counters of reads, launches and writes (see :class:`StandInCounters`)."""
    return _COUNTERS


# --------------------------------------------------------------------------------------------------------------------
# The CPU stand-in: NumPy storage with CuPy's device separation
# --------------------------------------------------------------------------------------------------------------------

class StandInArray(np.lib.mixins.NDArrayOperatorsMixin):
    """A 'device' array held in host memory that behaves like a CuPy array towards NumPy.

    Math between StandInArrays, Python scalars and NumPy scalars works; a ``numpy.ndarray`` (0-d ones too) or a
    Python list as an operand raises ``TypeError`` (as CuPy does), and so do numpy functions and ``numpy.asarray``
    applied to it. Reductions and elements (``x.sum()``, ``x[0]``) are 0-d device arrays, as in CuPy; reading one
    on the host (``float()``, ``int()``, ``bool()``, ``.item()``, ``.get()``, ``to_host``) counts a read
    (:func:`standin_counters`). Move data explicitly with :func:`to_device` / :func:`to_host` or ``standin.asarray``
    / ``.get()``; both copy.
    """

    __slots__ = ("_a",)
    __array_priority__ = 1000

    def __init__(self, a: np.ndarray):
        self._a = a

    # -- explicit transfer, like cupy.ndarray.get() --
    def get(self, stream=None, order="C", out=None, blocking=True) -> np.ndarray:
        """A host copy (numpy.ndarray): one read."""
        _read()
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    # -- what NumPy sees --
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion of a device (stand-in) array to a NumPy array is not allowed; "
            "use minidl.backend.to_host(x) or x.get()")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        args = _operands(inputs, where) if method in ("__call__", "outer") else _unwrap(inputs, where)
        kw = {k: _unwrap(v, where) for k, v in kwargs.items()}
        _launch()
        out = getattr(ufunc, method)(*args, **kw)
        given = kwargs.get("out")
        if given is not None:  # an in-place operation (x += y, out=): the caller's arrays, not new wrappers
            given = given if isinstance(given, tuple) else (given,)
            return given[0] if len(given) == 1 else given
        return _wrap(out)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(
            f"numpy.{func.__name__} was called on a device (stand-in) array; use xp = get_array_module(x) "
            f"and xp.{func.__name__}")

    # -- ndarray attributes and methods, results kept on the device --
    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def strides(self):
        return self._a.strides

    @property
    def T(self):
        return StandInArray(self._a.T)

    @property
    def flags(self):
        return self._a.flags

    def __getattr__(self, name):
        if name.startswith("__"):  # __array_interface__, __array_struct__, ...: no implicit door to the host
            raise AttributeError(name)
        entry = _name_entry("ndarray", name, "cupy.ndarray")
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)
        keywords = None if entry is None else entry.get("keywords")
        reads = name in _READING_METHODS

        @functools.wraps(attr)
        def method(*args, **kwargs):
            _check_keywords(f"cupy.ndarray.{name}", kwargs, keywords)
            if reads:
                _read()
                return attr(*args, **kwargs)
            result = attr(*_unwrap(args, name), **{k: _unwrap(v, name) for k, v in kwargs.items()})
            _count_result(result, (self._a,), name)
            return _wrap(result)

        return method

    def __getitem__(self, key):
        result = self._a[_unwrap(key, "indexing")]
        if not isinstance(result, np.generic):  # an element is a 0-d view in CuPy: no kernel
            _count_result(result, (self._a,), "indexing")
        return _wrap(result)

    def __setitem__(self, key, value):
        self._a[_unwrap(key, "indexing")] = _unwrap(value, "assignment")
        _launch()

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __float__(self):
        _read()
        return float(self._a)

    def __int__(self):
        _read()
        return int(self._a)

    def __complex__(self):
        _read()
        return complex(self._a)

    def __index__(self):
        _read()
        return self._a.__index__()

    def __bool__(self):
        _read()
        return bool(self._a)

    def __format__(self, spec):
        _read()
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    def __repr__(self):
        _read()
        return "standin." + repr(self._a)

    def __copy__(self):
        _launch()
        return StandInArray(self._a.copy())

    def __deepcopy__(self, memo):
        _launch()
        return StandInArray(self._a.copy())


# methods of an array that copy its data to the host (cupy.ndarray's own: get above)
_READING_METHODS = frozenset({"item", "tolist", "tobytes", "tofile", "dump", "dumps"})


def _unwrap(obj, where: str):
    """StandInArray -> its ndarray; a host ndarray (0-d included: CuPy refuses it too) -> TypeError; containers
    recursively; scalars as they are."""
    if isinstance(obj, StandInArray):
        return obj._a
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            raise TypeError(
                f"a 0-d host numpy.ndarray ({obj!r}) was mixed into device (stand-in) math in '{where}'; CuPy refuses "
                "it (Unsupported type numpy.ndarray): pass a Python or NumPy scalar (x[()] or float(x)) or move it "
                "with to_device(x, device)")
        raise TypeError(
            f"a host numpy.ndarray of shape {obj.shape} was mixed into device (stand-in) math in '{where}'; "
            "move it first with to_device(x, device)")
    if isinstance(obj, (tuple, list)):
        return type(obj)(_unwrap(o, where) for o in obj)
    if isinstance(obj, slice):
        return slice(_unwrap(obj.start, where), _unwrap(obj.stop, where), _unwrap(obj.step, where))
    return obj


def _operands(args, where: str):
    """The operands of an elementwise operation: device arrays and scalars; a Python list or tuple is refused (CuPy:
    "Unsupported type list"), as is a host array."""
    for a in args:
        if isinstance(a, (list, tuple)):
            raise TypeError(
                f"a Python {type(a).__name__} was passed as an operand of '{where}'; CuPy refuses it (Unsupported type "
                f"{type(a).__name__}): make it a device array first (xp.asarray(...))")
    return _unwrap(args, where)


def _wrap(obj):
    if isinstance(obj, np.ndarray):
        return StandInArray(obj)
    if isinstance(obj, np.generic):  # a reduction or an element: a 0-d device array, as CuPy returns
        return StandInArray(np.asarray(obj))
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    return obj


# -------------------------------------------------------------------------------------------------- counting
_FUSING = [0]  # depth of fused calls now running: their inner operations are one launch, counted by the call


def _launch(n: int = 1) -> None:
    if not _FUSING[0]:
        _COUNTERS.launches += n


def _read() -> None:
    _COUNTERS.reads += 1


def _root(a):
    while isinstance(getattr(a, "base", None), np.ndarray):
        a = a.base
    return a


def _count_result(result, inputs, name: str) -> None:
    """One launch for an operation that filled new memory or wrote in place (returned None); none for a view of an
    input (reshape, transpose, basic slicing), a scalar fact (shape, dtype) or a buffer left unfilled (empty)."""
    if name in _NO_KERNEL:
        return
    if result is None:
        _launch()
        return
    arrays = [r for r in (result if isinstance(result, (tuple, list)) else (result,)) if isinstance(r, np.ndarray)]
    if not arrays:
        if isinstance(result, np.generic):  # numpy gives a scalar where CuPy reduces into a 0-d array
            _launch()
        return
    roots = {id(_root(a)) for a in inputs if isinstance(a, np.ndarray)}
    if any(id(_root(r)) not in roots for r in arrays):
        _launch()


_NO_KERNEL = frozenset({"empty", "empty_like", "shape", "ndim", "size", "result_type", "can_cast", "isscalar",
                        "may_share_memory", "shares_memory", "iscomplexobj", "isrealobj"})

# functions whose first argument is a shape or a sequence of arrays (Python lists and tuples allowed there)
_SEQUENCE_FIRST = frozenset({
    "array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "concatenate", "stack", "hstack",
    "vstack", "dstack", "column_stack", "row_stack", "block", "broadcast_arrays", "meshgrid", "ix_",
    "ravel_multi_index", "zeros", "ones", "empty", "full", "indices", "result_type", "einsum", "broadcast_shapes",
    "lexsort", "choose", "select", "piecewise", "eye", "identity", "tri", "fromiter", "dtype"})


# -------------------------------------------------------------------------------------------------- CuPy's names
_NAMES: dict | None = None  # set by set_standin_names: CuPy's names and keywords; None exposes all of numpy's


def set_standin_names(names: dict | None) -> None:
    """Restrict the stand-in to the names and keywords of a CuPy (the record ``tools/make_cupy_names.py`` writes
    to ``tests/cupy_names.json``: namespaces, ``cupy.ndarray``'s members, a ufunc's members); None lifts the
    restriction. The test suite sets it, so code that passes there uses only what the installed CuPy has."""
    global _NAMES
    _NAMES = names
    standin._cache.clear()


def _name_entry(section: str, name: str, where: str) -> dict | None:
    """The record of ``name`` in ``section`` ("cupy", "cupy.linalg", ..., "ndarray", "ufunc"), None when
    unrestricted; AttributeError naming the CuPy version when CuPy has no such name."""
    if _NAMES is None:
        return None
    table = _NAMES["modules"].get(section) if section.startswith("cupy") else _NAMES.get(section)
    entry = None if table is None else table.get(name)
    if entry is None:
        raise AttributeError(
            f"{where} has no attribute {name!r} in CuPy {_NAMES.get('cupy_version', '?')} (the strict stand-in "
            "exposes only the installed CuPy's names: tests/cupy_names.json)")
    return entry


def _check_keywords(qualname: str, kwargs, keywords) -> None:
    if keywords is None or not kwargs:
        return
    bad = sorted(set(kwargs) - set(keywords))
    if bad:
        raise TypeError(
            f"{qualname}() got an unexpected keyword argument {bad[0]!r} in CuPy "
            f"{(_NAMES or {}).get('cupy_version', '?')}; allowed: {', '.join(keywords) or 'none'}")


class _StandInNamespace(types.SimpleNamespace):
    """numpy's namespace seen from the 'device': functions take and return StandInArrays, never host arrays; with
    CuPy's names set (:func:`set_standin_names`), only what CuPy has, with CuPy's keywords."""

    def __init__(self, module, name, section):
        super().__init__()
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "__name__", name)
        object.__setattr__(self, "_section", section)
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "_own", {})

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cache = self._cache
        if name in cache:
            return cache[name]
        entry = _name_entry(self._section, name, self._section)
        if name in self._own:
            attr = self._own[name]
        else:
            attr = getattr(self._module, name)
            keywords = None if entry is None else entry.get("keywords")
            if isinstance(attr, types.ModuleType):
                attr = _StandInNamespace(attr, f"{self.__name__}.{name}", f"{self._section}.{name}")
            elif isinstance(attr, type) or not callable(attr):  # dtypes, classes, constants
                pass
            elif isinstance(attr, np.ufunc):
                attr = _StandInUfunc(attr, keywords)
            else:
                attr = _standin_function(attr, f"{self._section}.{name}", name, keywords)
        cache[name] = attr
        return attr

    def __dir__(self):
        names = set(self._own) | ({n for n in dir(self._module) if not n.startswith("_")} if _NAMES is None else
                                  set(_NAMES["modules"].get(self._section, ())))
        return sorted(names)

    def __repr__(self):
        return f"<minidl stand-in device namespace {self.__name__}>"


def _standin_function(func, qualname: str, name: str, keywords=None):
    sequence_first = name in _SEQUENCE_FIRST

    @functools.wraps(func)
    def call(*args, **kwargs):
        _check_keywords(qualname, kwargs, keywords)
        if args and not sequence_first and isinstance(args[0], (list, tuple)):
            raise TypeError(
                f"{qualname}: got a Python {type(args[0]).__name__} as its array argument; CuPy refuses it: make it a "
                "device array first (xp.asarray(...))")
        uargs = _unwrap(args, qualname)
        ukw = {k: _unwrap(v, qualname) for k, v in kwargs.items()}
        result = func(*uargs, **ukw)
        _count_result(result, [a for a in (*uargs, *ukw.values()) if isinstance(a, np.ndarray)] +
                      [b for a in uargs if isinstance(a, (list, tuple)) for b in a], name)
        return _wrap(result)

    return call


class _StandInUfunc:
    """A numpy ufunc on the stand-in device (call, reduce, accumulate, at, outer): one launch each."""

    def __init__(self, ufunc, keywords=None):
        self._u, self._keywords = ufunc, keywords
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        qualname = f"cupy.{self._u.__name__}"
        _check_keywords(qualname, kwargs, self._keywords)
        result = self._u(*_operands(args, qualname), **{k: _unwrap(v, qualname) for k, v in kwargs.items()})
        _launch()
        given = kwargs.get("out")
        if given is not None:
            return given[0] if isinstance(given, tuple) and len(given) == 1 else given
        return _wrap(result)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        entry = _name_entry("ufunc", name, f"cupy.{self._u.__name__}")
        attr = getattr(self._u, name)
        if not callable(attr):
            return attr
        qualname = f"cupy.{self._u.__name__}.{name}"
        keywords = None if entry is None else entry.get("keywords")

        def method(*args, **kwargs):
            _check_keywords(qualname, kwargs, keywords)
            result = attr(*_unwrap(args, qualname), **{k: _unwrap(v, qualname) for k, v in kwargs.items()})
            _launch()
            return _wrap(result)

        return method


def _standin_asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """Host or device data -> a stand-in array (like cupy.asarray: host data is copied over, one write)."""
    if isinstance(a, StandInArray):
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a
        _launch()
        return StandInArray(a._a.astype(dtype, order=order or "K"))
    _COUNTERS.writes += 1
    return StandInArray(np.array(a, dtype=dtype, order=order or "K", copy=True))


def _standin_array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """Like cupy.array: a copy on the device of host or device data (one write from the host, one launch on it)."""
    if isinstance(obj, StandInArray):
        _launch()
        return StandInArray(np.array(obj._a, dtype=dtype, copy=bool(copy) or None, order=order, ndmin=ndmin))
    _COUNTERS.writes += 1
    return StandInArray(np.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def _standin_asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """Like cupy.asnumpy: a host copy (a read for device data)."""
    return a.get(order=order, out=out) if isinstance(a, StandInArray) else np.asarray(a, order=order)


class _Fused:
    """A function fused into one kernel (``xp.fuse``): on the stand-in, it runs its NumPy operations as written and
    counts one launch per call."""

    def __init__(self, func, kernel_name=None):
        self._func, self.__name__ = func, kernel_name or getattr(func, "__name__", "fused")
        functools.update_wrapper(self, func)

    def __call__(self, *args):
        _operands(args, f"fuse({self.__name__})")  # CuPy's fused kernels take device arrays and scalars only
        _launch()
        _FUSING[0] += 1
        try:
            return self._func(*args)
        finally:
            _FUSING[0] -= 1


def _standin_fuse(*args, **kwargs):
    """Like cupy.fuse: ``@xp.fuse()``, ``@xp.fuse`` or ``xp.fuse(kernel_name=...)(f)``."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return _Fused(args[0])
    return lambda f: _Fused(f, kwargs.get("kernel_name"))


standin = _StandInNamespace(np, "standin", "cupy")
"""The stand-in device's array module (``xp`` for StandInArrays)."""
standin._own.update(asarray=_standin_asarray, array=_standin_array, asnumpy=_standin_asnumpy, ndarray=StandInArray,
                    fuse=_standin_fuse)


# --------------------------------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------------------------------

class Device:
    """A place where arrays live: ``Device("cpu")``, ``Device("gpu")``, ``Device("standin")``.

    ``device.xp`` is its array module; ``device.asarray(x, dtype)`` moves host or device data there.
    ``device.fallback``: for ``Device("auto")`` that chose the CPU although CuPy is installed, the cause (one line
    for a verbose notice); else None.
    """

    def __init__(self, name: str = "cpu"):
        if not isinstance(name, str) or name not in DEVICE_NAMES:
            raise ValueError(f"device: got {name!r}; allowed: {', '.join(map(repr, DEVICE_NAMES))}")
        self.fallback: str | None = None
        if name == "auto":
            usable, why = _gpu_probe()
            name = "gpu" if usable else "cpu"
            if not usable and _import_cupy() is not None:
                self.fallback = why
        if name == "gpu" and not gpu_available():
            raise RuntimeError(f"device 'gpu' was requested but {gpu_unavailable_reason()}; or use 'cpu'")
        self.name = name

    @classmethod
    def _named(cls, name: str) -> Device:
        """The Device ``name`` without the availability check (for arrays that already live there)."""
        d = cls.__new__(cls)
        d.name, d.fallback = name, None
        return d

    @property
    def xp(self):
        """The array module of this device."""
        if self.name == "gpu":
            return _cupy if _cupy is not None else _import_cupy()
        if self.name == "standin":
            return standin
        return np

    def asarray(self, x, dtype=None):
        """``x`` (host or any device) as an array of this device, copying only when it must."""
        return to_device(x, self, dtype=dtype)

    def __eq__(self, other):
        return isinstance(other, Device) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"Device({self.name!r})"


def get_device(device: str | Device | None = "cpu") -> Device:
    """A :class:`Device` from a name (``cpu``, ``gpu``, ``auto``, ``standin``) or a Device; None means cpu."""
    if isinstance(device, Device):
        return device
    return Device("cpu" if device is None else device)


def get_array_module(*arrays):
    """The array module (numpy, cupy or the stand-in) of the given arrays; numpy for host data and scalars.  CuPy
    arrays are recognised even when minidl has not imported CuPy itself."""
    for a in arrays:
        if type(a) is np.ndarray:  # the common case first
            continue
        if isinstance(a, StandInArray):
            return standin
        if isinstance(a, (np.ndarray, np.generic, numbers.Number)):
            continue
        cp = _cupy_of(a)
        if cp is not None:
            return cp
    return np


def nccl_binding():
    """CuPy's NCCL binding (``cupy.cuda.nccl``) when CuPy imports and finds the NCCL library, else None (the
    multi-gpu sums, minidl/training/nccl.py)."""
    cp = _import_cupy()
    if cp is None:
        return None
    try:
        nccl = importlib.import_module("cupy.cuda.nccl")
    except Exception:  # noqa: BLE001 - CuPy without its NCCL library: ImportError, or a loader error
        return None
    return nccl if getattr(nccl, "available", True) else None


def is_device(xp) -> bool:
    """True for a device array module (CuPy, or the stand-in that plays it in the tests); False for numpy.  Code
    that must differ on a device tests this, never ``xp is cupy``, so the stand-in runs the device branch."""
    return xp is not np


def device_of(x) -> Device:
    """The Device an array lives on."""
    xp = get_array_module(x)
    return Device._named("standin" if xp is standin else "gpu" if xp is not np else "cpu")


def to_host(x) -> np.ndarray:
    """A numpy array holding ``x``: a copy of device data (one read), a no-copy view of host data."""
    if isinstance(x, StandInArray):
        _read()
        return x._a.copy()
    cp = _cupy_of(x) if not isinstance(x, np.ndarray) else None
    if cp is not None:
        return cp.asnumpy(x)
    return np.asarray(x)


def to_device(x, device: str | Device, dtype=None):
    """``x`` moved to ``device`` (and cast to ``dtype`` if given): host data is copied to a device; data already
    there is returned as it is (or cast)."""
    device = get_device(device)
    if device.name == "cpu":
        out = to_host(x)
        return out if dtype is None else out.astype(dtype, copy=False)
    if device.name == "standin":
        if isinstance(x, StandInArray):
            return _standin_asarray(x, dtype=dtype)
        return _standin_asarray(to_host(x), dtype=dtype)
    cp = device.xp
    if isinstance(x, StandInArray):
        x = x._a
    return cp.asarray(x, dtype=dtype)


def scatter_add(target, indices, values) -> None:
    """``target[indices] += values`` with repeated indices accumulated (``xp.add.at``: numpy's, or CuPy's ufunc
    method, which the stand-in runs too), in place."""
    xp = get_array_module(target)
    xp.add.at(target, indices, values)


def device_description(device: str | Device) -> str:
    """A short human name of a device: ``cpu``, ``standin``, or ``gpu (<CUDA device name>)``."""
    device = get_device(device)
    if device.name != "gpu":
        return device.name
    try:
        cp = _import_cupy()
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        return f"gpu ({name})"
    except Exception:  # a driver that cannot describe itself still trains
        return "gpu"


def synchronize(device: str | Device | None = None) -> None:
    """Wait for queued device work to finish (a no-op on the host and the stand-in); needed before reading a
    clock."""
    cp = _cupy if _cupy is not None else sys.modules.get("cupy")
    if cp is not None and (device is None or get_device(device).name == "gpu"):
        try:
            cp.cuda.get_current_stream().synchronize()
        except Exception:
            pass


def is_scalar(x) -> bool:
    """True for Python and NumPy scalars (not arrays)."""
    return isinstance(x, (numbers.Number, np.generic))
