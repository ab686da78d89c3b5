import json
import os
import pathlib
import re
import sys
import types

import numpy as np
import pytest

from minidl import backend as B

NAMES_FILE = pathlib.Path(__file__).with_name("cupy_names.json")


def test_standin_keeps_device_separation():
    xp = B.standin
    a = xp.arange(6.0).reshape(2, 3)
    assert B.get_array_module(a) is xp
    np.testing.assert_array_equal(B.to_host(a + 1), np.arange(6.0).reshape(2, 3) + 1)
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        a + np.ones((2, 3))
    with pytest.raises(TypeError, match="numpy.sum was called"):
        np.sum(a)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        xp.matmul(a, np.ones((3, 2)))


def test_moves_round_trip(backend):
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    d = B.to_device(x, backend)
    assert B.device_of(d) == backend
    back = B.to_host(d)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, x)
    assert B.to_device(x, backend, dtype="float32").dtype == np.float32


def test_scatter_add_accumulates_repeats(backend):
    xp = backend.xp
    t = xp.zeros(4)
    B.scatter_add(t, B.to_device(np.array([0, 0, 3]), backend), xp.ones(3))
    np.testing.assert_array_equal(B.to_host(t), [2.0, 0.0, 0.0, 1.0])


def test_device_names_are_checked():
    with pytest.raises(ValueError, match="device: got 'tpu'"):
        B.get_device("tpu")
    assert B.get_device("auto").name in ("cpu", "gpu")
    if not B.gpu_available():
        with pytest.raises(RuntimeError, match="device 'gpu' was requested"):
            B.get_device("gpu")


def test_device_description_names_the_device():
    assert B.device_description("cpu") == "cpu"
    assert B.device_description(B.get_device("standin")) == "standin"


# ------------------------------------------------------------------------------------------------ the strict stand-in
def test_standin_refuses_what_cupy_refuses_and_accepts_scalars():
    xp = B.standin
    a = xp.arange(3.0)
    with pytest.raises(TypeError, match="0-d host numpy.ndarray"):
        a + np.array(2.0)                                   # CuPy: Unsupported type numpy.ndarray
    with pytest.raises(TypeError, match="0-d host numpy.ndarray"):
        xp.maximum(a, np.array(0.0))
    with pytest.raises(TypeError, match="Python list was passed as an operand of 'add'"):
        a + [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="Python list was passed as an operand of 'cupy.exp'"):
        xp.exp([1.0, 2.0])
    with pytest.raises(TypeError, match="cupy.sum: got a Python list"):
        xp.sum([1.0, 2.0])
    with pytest.raises(TypeError, match="host numpy.ndarray of shape"):
        xp.concatenate([a, np.ones(2)])
    # Python and NumPy scalars pass (CuPy takes both); sequences of device arrays and shapes pass
    got = (a * 2 + np.float64(1.0) - xp.float32(0.5), xp.concatenate([a, a]), xp.zeros((2, 3)), xp.asarray([1, 2]))
    np.testing.assert_array_equal(B.to_host(got[0]), [0.5, 2.5, 4.5])
    assert [g.shape for g in got[1:]] == [(6,), (2, 3), (2,)]


def test_standin_exposes_only_cupys_names_and_keywords():
    xp, names = B.standin, json.loads(NAMES_FILE.read_text(encoding="utf-8"))
    assert "add" in names["modules"]["cupy"] and "ptp" in names["ndarray"]   # what the file records
    with pytest.raises(AttributeError, match="cupy has no attribute 'insert' in CuPy"):
        _ = xp.insert                                       # numpy has it, CuPy 14 does not
    with pytest.raises(TypeError, match=r"cupy.add\(\) got an unexpected keyword argument 'where'"):
        xp.add(xp.ones(2), 1.0, where=xp.ones(2, dtype=bool))
    with pytest.raises(TypeError, match=r"cupy.ndarray.sum\(\) got an unexpected keyword argument 'initial'"):
        xp.ones(2).sum(initial=1.0)
    with pytest.raises(AttributeError, match="cupy.ndarray has no attribute 'setflags'"):
        _ = xp.ones(2).setflags
    assert float(xp.ones(3).sum(axis=0, keepdims=False)) == 3.0        # CuPy's keywords pass


def test_standin_reductions_and_elements_are_0d_device_arrays():
    a = B.standin.arange(4.0)
    for v in (a.sum(), a.max(), a[1], B.standin.sum(a), (a > 1).any()):
        assert isinstance(v, B.StandInArray) and v.shape == ()
    assert float(a.sum()) == 6.0


def test_standin_transfers_copy():
    host = np.arange(3.0)
    d = B.to_device(host, "standin")
    host[0] = 99.0                                          # the device copy does not follow the host array
    back = B.to_host(d)
    back[1] = -1.0                                          # nor does the host copy write into the device array
    np.testing.assert_array_equal(B.to_host(d), [0.0, 1.0, 2.0])
    assert B.to_device(d, "standin") is d                   # already there: no transfer


def test_standin_counts_reads_launches_and_writes():
    xp, c = B.standin, B.standin_counters()
    with c.counting() as n:
        a = B.to_device(np.arange(6.0), "standin")                # 1 write
        v = a.reshape(2, 3).T[0]                                  # views: no launch
        e = xp.empty((2, 2))                                      # no kernel fills it
        s = (xp.exp(a) * 2.0).sum()                               # 3 launches
        a[0] = 1.0                                                # 1 launch
        xp.add.at(a, xp.asarray([0, 0]), 1.0)                     # 1 write (indices) + 1 launch
        assert float(s) > 0 and bool(v[0] == 3.0) and e.shape == (2, 2)   # 1 launch (==), 2 reads
        B.to_host(a)                                              # 1 read
    assert (n.reads, n.launches, n.writes) == (3, 6, 2)
    before = c.launches
    fused = xp.fuse()(lambda x, y: xp.exp(x) * y + 1.0)
    np.testing.assert_allclose(B.to_host(fused(a, 2.0)), 2.0 * np.exp(B.to_host(a)) + 1.0)
    assert c.launches - before == 1                               # one fused kernel
    with c.counting(reset=True) as m:
        pass
    assert c.reads == c.launches == 0 and (m.reads, m.launches) == (0, 0)


def test_scatter_add_on_the_standin_takes_cupys_route(monkeypatch):
    calls = []
    real = B._StandInUfunc.__getattr__

    def spy(self, name):
        calls.append((self._u.__name__, name))
        return real(self, name)

    monkeypatch.setattr(B._StandInUfunc, "__getattr__", spy)
    t = B.standin.zeros(3)
    B.scatter_add(t, B.standin.asarray([2, 2]), B.standin.ones(2))
    assert calls == [("add", "at")]                               # xp.add.at, as on CuPy (not cupyx.scatter_add)
    np.testing.assert_array_equal(B.to_host(t), [0.0, 0.0, 2.0])


def test_a_training_step_on_the_standin_reads_once(monkeypatch):
    from minidl import layers as L
    from minidl import train_network, training_options
    from minidl.training.trainer import Trainer

    reads, real = [], Trainer._iteration

    def counted(self, *args, **kwargs):
        with B.standin_counters().counting() as n:
            real(self, *args, **kwargs)
        reads.append(n.reads)

    monkeypatch.setattr(Trainer, "_iteration", counted)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    layers = [L.FeatureInput(4), L.FullyConnected(6), L.BatchNormalization(), L.ReLU(), L.Dropout(0.2),
              L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()]
    o = training_options("adam", mini_batch_size=8, max_epochs=2, verbose=False, l2_regularization=1e-3,
                         gradient_threshold=1.0, shuffle="every-epoch")
    train_network(X, Y, layers, o, device="standin")
    assert reads == [1] * 10                                      # 5 iterations per epoch, 2 epochs


# ------------------------------------------------------------------------------------------------ first contact
class _FakeCupyArray:
    """What matters of a CuPy array here: its type's module is cupy, and NumPy cannot convert it implicitly."""

    __module__ = "cupy"

    def __init__(self, a):
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` instead.")


def _fake_cupy(monkeypatch):
    fake = types.ModuleType("cupy")
    fake.ndarray = _FakeCupyArray
    fake.asnumpy = lambda x: x.a.copy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(B, "_cupy", None)                        # minidl itself has not imported CuPy
    monkeypatch.setattr(B, "_cupy_checked", False)
    return fake


def test_cupy_arrays_are_recognised_before_minidl_imports_cupy(monkeypatch):
    from minidl.training.data import check_labels, check_predictors, check_responses

    fake = _fake_cupy(monkeypatch)
    x = _FakeCupyArray(np.arange(6.0).reshape(3, 2))
    assert B.get_array_module(x) is fake
    assert B.device_of(x).name == "gpu"
    np.testing.assert_array_equal(B.to_host(x), np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(check_predictors(x), np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(check_labels(_FakeCupyArray(np.array([0, 1, 0])), 3), [0, 1, 0])
    np.testing.assert_array_equal(check_responses(_FakeCupyArray(np.ones(3)), 3), np.ones(3))
    assert B._cupy is None                                       # recognised without importing CuPy


def _failing_cupy(monkeypatch, stage):
    """A CuPy that imports but fails at ``stage`` ("count" or "kernel") with its own exception text."""
    fake = types.ModuleType("cupy")

    class CUDARuntimeError(RuntimeError):
        pass

    def count():
        if stage == "count":
            raise CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA "
                                   "runtime version")
        return 1

    def arange(*a, **k):
        raise RuntimeError("CompileException: nvrtc: error: failed to open libnvrtc-builtins.so.12")

    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count))
    fake.arange, fake.float32, fake.ndarray = arange, np.float32, _FakeCupyArray
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(B, "_cupy", fake)
    monkeypatch.setattr(B, "_cupy_checked", True)
    monkeypatch.setattr(B, "_gpu_state", None)


@pytest.mark.parametrize("stage, cause", [
    ("count", "the CUDA driver .* failed: .*CUDARuntimeError: cudaErrorInsufficientDriver"),
    ("kernel", "a tiny elementwise kernel .compiled by NVRTC. failed: .*libnvrtc-builtins")])
def test_gpu_error_and_auto_fallback_carry_the_real_cause(monkeypatch, stage, cause):
    _failing_cupy(monkeypatch, stage)
    assert not B.gpu_available()
    with pytest.raises(RuntimeError, match=f"device 'gpu' was requested but {cause}"):
        B.get_device("gpu")
    auto = B.get_device("auto")
    assert auto.name == "cpu" and re.search(cause, auto.fallback)
    assert "install" not in B.gpu_unavailable_reason()          # no advice to install what is installed


def test_gpu_error_without_cupy_names_the_extras(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)                # import cupy -> ModuleNotFoundError
    for name, value in (("_cupy", None), ("_cupy_checked", False), ("_gpu_state", None), ("_cupy_error", None)):
        monkeypatch.setattr(B, name, value)
    with pytest.raises(RuntimeError, match=r"CuPy is not installed; install minidl\[gpu-cuda12\]"):
        B.get_device("gpu")
    assert B.get_device("auto").fallback is None                  # no notice: a CPU install is the normal case


def test_gpu_probe_runs_once(monkeypatch):
    _failing_cupy(monkeypatch, "count")
    B.gpu_available()
    monkeypatch.setattr(sys.modules["cupy"].cuda.runtime, "getDeviceCount", lambda: 1 / 0)
    assert not B.gpu_available() and "cudaErrorInsufficientDriver" in B.gpu_unavailable_reason()


def test_is_device_marks_the_device_branches():
    assert B.is_device(B.standin) and not B.is_device(np)


def test_the_names_file_matches_the_installed_cupy():
    pytest.importorskip("cupy")
    import subprocess

    tool = pathlib.Path(__file__).parents[1] / "tools" / "make_cupy_names.py"
    run = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tool.parents[1])})
    assert run.returncode == 0, run.stderr


def test_auto_fallback_is_one_verbose_line_in_the_matlab_header(monkeypatch):
    import io

    from minidl import layers as L
    from minidl import train_network, training_options

    _failing_cupy(monkeypatch, "kernel")
    out = io.StringIO()
    o = training_options("sgdm", max_epochs=1, mini_batch_size=4, verbose=True, execution_environment="auto",
                         progress_bar=False)
    rng = np.random.default_rng(0)
    train_network(rng.standard_normal((8, 2)), rng.standard_normal((8, 1)),
                  [L.FeatureInput(2), L.FullyConnected(1), L.RegressionOutput()], o, stream=out)
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"ExecutionEnvironment 'auto' uses the CPU: a tiny elementwise kernel .* failed: .*"
                        r"libnvrtc-builtins.so.12", lines[0])
    assert lines[1] == "Training on single CPU."


def test_data_checks_take_device_arrays(monkeypatch):
    from minidl._checks import check_representable

    with pytest.raises(ValueError, match="X: observation 1 holds 1e.39"):
        check_representable("X", B.to_device(np.array([[1.0], [1e39]]), "standin"), "float32")
    _fake_cupy(monkeypatch)
    with pytest.raises(ValueError, match="X: observation 0 holds 1e.39"):
        check_representable("X", _FakeCupyArray(np.array([[1e39]])), "float32")


def test_class_indices_are_checked_on_the_host_before_they_travel():
    from minidl.training.data import check_class_indices

    np.testing.assert_array_equal(check_class_indices(B.to_device(np.array([0, 2]), "standin"), 3), [0, 2])
    with pytest.raises(ValueError, match=r"Y: class index -1 at position 1 is out of range; allowed: integers in "
                                         r"\[0, 3\)"):
        check_class_indices(np.array([0, -1, 2]), 3, "Y")          # CuPy would one-hot class 2 silently
    with pytest.raises(ValueError, match=r"t: class index 5 at position \(1, 0\)"):
        check_class_indices(np.array([[0, 1], [5, 0]]), 3)
    with pytest.raises(TypeError, match="t: got class indices of dtype float64"):
        check_class_indices(np.array([0.0]), 3)
