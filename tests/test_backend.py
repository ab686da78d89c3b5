import numpy as np
import pytest

from minidl import backend as B


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
