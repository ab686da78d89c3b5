"""minidl's BLAS thread count while training: set, restored, overridden by the argument and the environment."""

import numpy as np  # noqa: F401  (loads the BLAS that threadpoolctl controls)
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from minidl import _threads as T  # noqa: E402


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def caller_two_threads(monkeypatch):
    """The caller runs BLAS with 2 threads (set for the test, the process's own setting restored after)."""
    monkeypatch.delenv(T.ENV_VAR, raising=False)
    if not _blas_threads():
        pytest.fail("threadpoolctl sees no BLAS library in NumPy: the declared threadpoolctl minimum is too old")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert set(_blas_threads()) == {2}
        yield


def test_default_pins_the_measured_count_and_restores_the_callers(caller_two_threads):
    with T.training_threads() as n:
        assert n == T.DEFAULT_BLAS_THREADS == 1
        assert set(_blas_threads()) == {1}
    assert set(_blas_threads()) == {2}


def test_restored_after_an_error_in_the_block(caller_two_threads):
    with pytest.raises(KeyError), T.training_threads(1):
        raise KeyError("stop")
    assert set(_blas_threads()) == {2}


def test_environment_overrides_the_default_and_the_argument_overrides_both(caller_two_threads, monkeypatch):
    monkeypatch.setenv(T.ENV_VAR, "2")
    with T.training_threads() as n:
        assert n == 2 and set(_blas_threads()) == {2}
    monkeypatch.setenv(T.ENV_VAR, " 1 ")
    with T.training_threads() as n:
        assert n == 1 and set(_blas_threads()) == {1}
    with T.training_threads(2) as n:
        assert n == 2 and set(_blas_threads()) == {2}
    monkeypatch.setenv(T.ENV_VAR, "")  # empty means unset
    assert T.resolve_blas_threads() == T.DEFAULT_BLAS_THREADS
    assert set(_blas_threads()) == {2}


def test_keep_leaves_the_callers_setting(caller_two_threads, monkeypatch):
    with T.training_threads("keep") as n:
        assert n is None and set(_blas_threads()) == {2}
    monkeypatch.setenv(T.ENV_VAR, "KEEP")
    with T.training_threads() as n:
        assert n is None and set(_blas_threads()) == {2}


@pytest.mark.parametrize("value, error, message", [
    (0, ValueError, "threads must be a positive int or 'keep', got 0"),
    (-2, ValueError, "got -2"),
    (1.5, TypeError, "got float 1.5"),
    (True, TypeError, "got bool True"),
    ("two", ValueError, "got 'two'"),
])  # fmt: skip
def test_bad_arguments_are_clear_errors(caller_two_threads, value, error, message):
    with pytest.raises(error, match=message), T.training_threads(value):
        pass
    assert set(_blas_threads()) == {2}


@pytest.mark.parametrize("value", ["0", "many", "1.5"])
def test_bad_environment_values_name_the_variable(caller_two_threads, monkeypatch, value):
    monkeypatch.setenv(T.ENV_VAR, value)
    with pytest.raises(ValueError, match=f"environment variable MINIDL_BLAS_THREADS .*got '{value}'.*allowed"):
        T.resolve_blas_threads()
    assert T.resolve_blas_threads(1) == 1  # the argument wins without reading the variable
