"""The one door to the device: array modules, device selection, moves, scatter-add, synchronize.

This is the only module of minidl that imports CuPy. Everything else takes its array module from its inputs::

    xp = get_array_module(x)      # numpy, cupy, or the CPU stand-in below

Devices
-------
``"cpu"``      NumPy arrays on the host.
``"gpu"``      CuPy arrays on the current CUDA device (needs CuPy and a GPU; otherwise a clear error).
``"auto"``     ``"gpu"`` when CuPy sees a GPU, else ``"cpu"``.
``"standin"``  NumPy underneath, but with CuPy's device separation: its arrays (:class:`StandInArray`) refuse to be
               mixed with host arrays in math, and numpy functions refuse them. The test-suite runs every
               device-independent test on it, so code that passes there does not mix host and device arrays.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import numbers
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


def _import_cupy():
    """CuPy if it is installed and imports, else None (checked once)."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            _cupy = importlib.import_module("cupy")
        except Exception:  # ImportError, or a CUDA runtime that fails to load
            _cupy = None
    return _cupy


def gpu_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    cp = _import_cupy()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False



# --------------------------------------------------------------------------------------------------------------------
# Counters of the stand-in: device-to-host reads and (estimated) kernel launches
# --------------------------------------------------------------------------------------------------------------------

class StandInCounts:
    """The reads, launches and writes counted inside one ``with counters.counting() as n:`` block (live while the
    block runs, frozen when it ends)."""

    def __init__(self, counters: StandInCounters):
        self._c, self._start, self._end = counters, counters._totals(), None

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

    Math between StandInArrays, Python scalars and NumPy scalars works; a plain ``numpy.ndarray`` in the same
    expression raises ``TypeError`` (as CuPy does), and so do numpy functions and ``numpy.asarray`` applied to it.
    Move data explicitly with :func:`to_device` / :func:`to_host` or ``standin.asarray`` / ``.get()``.
    """

    __slots__ = ("_a",)
    __array_priority__ = 1000

    def __init__(self, a: np.ndarray):
        self._a = a

    # -- explicit transfer, like cupy.ndarray.get() --
    def get(self) -> np.ndarray:
        """A host copy (numpy.ndarray): one read."""
        _COUNTERS.reads += 1
        return self._a.copy()

    # -- what NumPy sees --
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion of a device (stand-in) array to a NumPy array is not allowed; "
            "use minidl.backend.to_host(x) or x.get()")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = _unwrap(inputs, ufunc.__name__)
        kw = {k: _unwrap(v, ufunc.__name__) for k, v in kwargs.items()}
        _COUNTERS.launches += 1
        return _wrap(getattr(ufunc, method)(*args, **kw))

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
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        @functools.wraps(attr)
        def method(*args, **kwargs):
            _COUNTERS.launches += 1
            return _wrap(attr(*_unwrap(args, name), **{k: _unwrap(v, name) for k, v in kwargs.items()}))

        return method

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key, "indexing")])

    def __setitem__(self, key, value):
        self._a[_unwrap(key, "indexing")] = _unwrap(value, "assignment")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __float__(self):
        _COUNTERS.reads += 1
        return float(self._a)

    def __int__(self):
        _COUNTERS.reads += 1
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __bool__(self):
        _COUNTERS.reads += 1
        return bool(self._a)

    def __repr__(self):
        return "standin." + repr(self._a)

    def __copy__(self):
        return StandInArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StandInArray(self._a.copy())


def _unwrap(obj, where: str):
    """StandInArray -> its ndarray; a host ndarray -> TypeError; containers recursively."""
    if isinstance(obj, StandInArray):
        return obj._a
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:  # a numpy scalar-array is a scalar, as CuPy treats it
            return obj
        raise TypeError(
            f"a host numpy.ndarray of shape {obj.shape} was mixed into device (stand-in) math in '{where}'; "
            "move it first with to_device(x, device)")
    if isinstance(obj, (tuple, list)):
        return type(obj)(_unwrap(o, where) for o in obj)
    return obj


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


class _StandInNamespace(types.SimpleNamespace):
    """numpy's namespace seen from the 'device': functions take and return StandInArrays, never host arrays."""

    def __init__(self, module, name):
        super().__init__()
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "__name__", name)

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if isinstance(attr, types.ModuleType):
            return _StandInNamespace(attr, f"{self.__name__}.{name}")
        if isinstance(attr, type) or not callable(attr):  # dtypes, classes, constants
            return attr
        if isinstance(attr, np.ufunc):
            return _StandInUfunc(attr)
        return _standin_function(attr, f"{self.__name__}.{name}")

    def __repr__(self):
        return f"<minidl stand-in device namespace {self.__name__}>"


def _standin_function(func, qualname):
    @functools.wraps(func)
    def call(*args, **kwargs):
        _COUNTERS.launches += 1
        return _wrap(func(*_unwrap(args, qualname), **{k: _unwrap(v, qualname) for k, v in kwargs.items()}))

    return call


class _StandInUfunc:
    """A numpy ufunc on the stand-in device (call, reduce, accumulate, at, outer)."""

    def __init__(self, ufunc):
        self._u = ufunc

    def __call__(self, *args, **kwargs):
        return _standin_function(self._u, self._u.__name__)(*args, **kwargs)

    def __getattr__(self, name):
        attr = getattr(self._u, name)
        return _standin_function(attr, f"{self._u.__name__}.{name}") if callable(attr) else attr


def _standin_asarray(a, dtype=None, order=None):
    """Host or device data -> a stand-in array (an explicit transfer, like cupy.asarray)."""
    if isinstance(a, StandInArray):
        a = a._a
    return StandInArray(np.asarray(a, dtype=dtype, order=order))


def _standin_asnumpy(a):
    return a.get() if isinstance(a, StandInArray) else np.asarray(a)


standin = _StandInNamespace(np, "standin")
"""The stand-in device's array module (``xp`` for StandInArrays)."""
object.__setattr__(standin, "asarray", _standin_asarray)
object.__setattr__(standin, "array", lambda a, dtype=None, copy=True: StandInArray(
    np.array(a._a if isinstance(a, StandInArray) else a, dtype=dtype, copy=copy)))
object.__setattr__(standin, "ascontiguousarray", lambda a, dtype=None: StandInArray(
    np.ascontiguousarray(_unwrap(a, "ascontiguousarray"), dtype=dtype)))
object.__setattr__(standin, "asnumpy", _standin_asnumpy)
object.__setattr__(standin, "ndarray", StandInArray)


# --------------------------------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------------------------------

class Device:
    """A place where arrays live: ``Device("cpu")``, ``Device("gpu")``, ``Device("standin")``.

    ``device.xp`` is its array module; ``device.asarray(x, dtype)`` moves host or device data there.
    """

    def __init__(self, name: str = "cpu"):
        if not isinstance(name, str) or name not in DEVICE_NAMES:
            raise ValueError(f"device: got {name!r}; allowed: {', '.join(map(repr, DEVICE_NAMES))}")
        if name == "auto":
            name = "gpu" if gpu_available() else "cpu"
        if name == "gpu" and not gpu_available():
            why = "CuPy is not installed" if _import_cupy() is None else "CuPy sees no CUDA device"
            raise RuntimeError(
                f"device 'gpu' was requested but {why}; install minidl[cuda12] or minidl[cuda13] on a machine "
                "with an NVIDIA GPU, or use 'cpu'")
        self.name = name

    @property
    def xp(self):
        """The array module of this device."""
        if self.name == "gpu":
            return _import_cupy()
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
    """The array module (numpy, cupy or the stand-in) of the given arrays; numpy for host data and scalars."""
    for a in arrays:
        if isinstance(a, StandInArray):
            return standin
        cp = _cupy
        if cp is not None and isinstance(a, cp.ndarray):
            return cp
    return np


def device_of(x) -> Device:
    """The Device an array lives on."""
    xp = get_array_module(x)
    return Device("standin" if xp is standin else "gpu" if xp is not np else "cpu")


def to_host(x) -> np.ndarray:
    """A numpy array holding ``x`` (a no-copy view when x is already on the host)."""
    if isinstance(x, StandInArray):
        _COUNTERS.reads += 1
        return x._a.copy()
    cp = _cupy
    if cp is not None and isinstance(x, cp.ndarray):
        return cp.asnumpy(x)
    return np.asarray(x)


def to_device(x, device: str | Device, dtype=None):
    """``x`` moved to ``device`` (and cast to ``dtype`` if given), copying only when it must."""
    device = get_device(device)
    if device.name == "cpu":
        out = to_host(x)
        return out if dtype is None else out.astype(dtype, copy=False)
    if device.name == "standin":
        if isinstance(x, StandInArray):
            return x if dtype is None or x.dtype == dtype else x.astype(dtype)
        _COUNTERS.writes += 1
        a = to_host(x)
        return StandInArray(np.array(a, dtype=dtype, copy=True))
    cp = _import_cupy()
    if isinstance(x, StandInArray):
        x = x._a
    return cp.asarray(x, dtype=dtype)


def scatter_add(target, indices, values) -> None:
    """``target[indices] += values`` with repeated indices accumulated (numpy.add.at / cupyx.scatter_add), in place."""
    xp = get_array_module(target)
    if xp is np:
        np.add.at(target, indices, values)
    elif xp is standin:
        np.add.at(target._a, _unwrap(indices, "scatter_add"), _unwrap(values, "scatter_add"))
    else:
        importlib.import_module("cupyx").scatter_add(target, indices, values)


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
    """Wait for queued device work to finish (a no-op on the host); needed before reading a clock."""
    cp = _cupy
    if cp is not None and (device is None or get_device(device).name == "gpu"):
        try:
            cp.cuda.get_current_stream().synchronize()
        except Exception:
            pass


def is_scalar(x) -> bool:
    """True for Python and NumPy scalars (not arrays)."""
    return isinstance(x, (numbers.Number, np.generic))
