"""Bad inputs are refused with an error naming the argument; NumPy scalars count as the scalars they hold.

The named refusals of issue 11 (epsilon, given statistics, the working precision, Softmax before
ClassificationOutput, wrong argument kinds), then hypothesis fuzzing of options and of training data.  Each
outcome is clear (ValueError / TypeError / NotSupportedYetError naming the argument), unclear (another message),
crash (another exception) or silent (an invalid value accepted)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minidl as dl
from minidl import layers as L
from minidl._checks import check_bool, check_positive_int, check_real, plain_scalar
from minidl.backend import gpu_available
from minidl.errors import NotSupportedYetError
from tests.reliability.conftest import Tally, tiny_data, tiny_layers, tiny_options

CLEAR = (ValueError, TypeError, NotSupportedYetError)


@pytest.mark.parametrize("epsilon", [math.inf, math.nan, 0.0, -1e-5, "1e-5", np.array([1e-5, 1e-5])])
def test_batch_norm_epsilon_must_be_finite_and_positive(epsilon):
    with pytest.raises((ValueError, TypeError), match="epsilon: got"):
        L.BatchNormalization(epsilon=epsilon)


@pytest.mark.parametrize("kw, fragment", [
    (dict(std=np.array([1.0, 0.0, 1.0])), "std: the given statistics hold a zero or negative value"),
    (dict(std=np.array([1.0, -2.0, 1.0])), "std: the given statistics hold a zero or negative value"),
    (dict(std=np.array([1.0, np.nan, 1.0])), "std: the given statistics hold NaN or Inf"),
    (dict(mean=np.array([np.inf, 0.0, 0.0])), "mean: the given statistics hold NaN or Inf"),
])
def test_given_input_statistics_that_cannot_normalize_are_refused(kw, fragment):
    with pytest.raises(ValueError, match=fragment):
        L.FeatureInput(3, normalization="zscore", **kw)


def test_data_finite_in_float64_but_not_in_float32_is_refused():
    X, Y = tiny_data()
    X[5, 1] = 1e39
    with pytest.raises(ValueError, match="X: observation 5 holds 1e.39, finite in float64 but Inf in float32"):
        dl.train_network(X, Y, tiny_layers(), tiny_options(precision="float32"))
    net, _ = dl.train_network(X / 1e38, Y, tiny_layers(), tiny_options(precision="float64", max_epochs=1))
    assert net.initialized  # the same data in float64 trains (it is representable there)


def test_classification_output_needs_a_softmax_before_it():
    with pytest.raises(ValueError, match=r"layers\[2\]: ClassificationOutput must follow a Softmax layer"):
        dl.Network([L.FeatureInput(3), L.FullyConnected(3), L.ClassificationOutput()])


def test_numpy_scalars_and_0d_arrays_count_as_python_scalars():
    assert check_real("momentum", np.array(0.5), 0.0, 1.0) == 0.5
    assert check_positive_int("max_epochs", np.array(3)) == 3 and check_bool("verbose", np.bool_(True)) is True
    assert plain_scalar(np.str_("never")) == "never" and type(plain_scalar(np.float32(0.25))) is float
    layer = L.BatchNormalization(epsilon=np.array(1e-3), mean_decay=np.float32(0.5))
    assert (layer.epsilon, layer.mean_decay) == (1e-3, 0.5)
    opts = dl.training_options("sgdm", initial_learn_rate=np.array(0.01), max_epochs=np.int64(2),
                               momentum=np.float32(0.5))
    assert opts.initial_learn_rate == 0.01 and opts.max_epochs == 2


def test_a_gpu_request_without_cupy_names_the_argument():
    from minidl.optim import SGDM
    from minidl.optim.schedules import ConstantSchedule
    from minidl.training.data import ArraySource
    from minidl.training.trainer import EngineConfig, Trainer

    if gpu_available():
        pytest.skip("a GPU is present")
    X, Y = tiny_data()
    config = EngineConfig(SGDM(), ConstantSchedule(0.1), device="gpu", names={"device": "execution_environment"})
    with pytest.raises(RuntimeError, match="execution_environment: device 'gpu' was requested but CuPy"):
        Trainer(dl.Network(tiny_layers()), ArraySource(X, Y), config).run()


# ------------------------------------------------------------------------------------------- fuzzing
OPTION_NAMES = ["initial_learn_rate", "momentum", "max_epochs", "mini_batch_size", "l2_regularization",
                "gradient_threshold", "gradient_threshold_method", "learn_rate_schedule", "learn_rate_drop_period",
                "learn_rate_drop_factor", "shuffle", "validation_frequency", "validation_patience", "verbose",
                "verbose_frequency", "precision", "seed", "execution_environment", "batch_normalization_statistics",
                "plots", "checkpoint_path", "output_fcn"]
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20), st.floats(allow_nan=True),
                 st.text(max_size=8), st.lists(st.integers(), max_size=3), st.just(object()),
                 st.floats(-1e6, 1e6).map(np.array), st.integers(-5, 5).map(np.int64), st.just(np.bool_(True)))


def classify_option(tally, name, value):
    try:
        dl.training_options("sgdm", **{name: value})
    except CLEAR as e:
        tally.add("clear" if name in str(e) else "unclear", (name, value, str(e)[:120]))
        return
    except Exception as e:  # noqa: BLE001  (what the campaign counts)
        tally.add("crash", (name, value, repr(e)[:120]))
        return
    nan = isinstance(plain_scalar(value), float) and math.isnan(plain_scalar(value))
    tally.add("silent" if nan or type(value) is object else "accepted", (name, value))


def run_option_fuzz(examples):
    tally = Tally("fuzzed option values")

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(OPTION_NAMES), JUNK)
    def fuzz(name, value):
        classify_option(tally, name, value)

    fuzz()
    tally.report()
    assert not {"unclear", "crash", "silent"} & tally.counts.keys(), tally.examples
    return tally


def data_case(draw):
    X, Y = tiny_data()
    kind = draw(st.sampled_from(["valid", "nan", "inf", "huge32", "complex", "object", "text", "ndim", "empty",
                                 "short_y", "nan_y", "list_x", "bool_x", "int_x"]))
    X = X.copy()
    i = draw(st.integers(0, len(X) - 1))
    if kind == "nan":
        X[i, 0] = np.nan
    elif kind == "inf":
        X[i, 2] = -np.inf
    elif kind == "huge32":
        X[i, 1] = draw(st.floats(3.5e38, 1e300))
    elif kind == "complex":
        X = X + 1j
    elif kind == "object":
        X = X.astype(object)
    elif kind == "text":
        X = X.astype(str)
    elif kind == "ndim":
        X = X[:, :, None]
    elif kind == "empty":
        X, Y = X[:0], Y[:0]
    elif kind == "short_y":
        Y = Y[:-1]
    elif kind == "nan_y":
        Y = np.where(np.arange(len(Y)) == i, np.nan, 1.0)
    elif kind == "list_x":
        X = X.tolist()
    elif kind == "bool_x":
        X = X > 0
    elif kind == "int_x":
        X = np.round(X).astype(np.int64)
    return kind, X, Y


def run_data_fuzz(examples):
    tally = Tally("fuzzed training data")
    valid = ("valid", "int_x")

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data):
        kind, X, Y = data.draw(st.composite(lambda draw: data_case(draw))())
        try:
            net, _ = dl.train_network(X, Y, tiny_layers(), tiny_options(precision="float32", max_epochs=1))
        except CLEAR as e:
            named = "X" in str(e).split(":")[0] or "Y" in str(e).split(":")[0]
            tally.add("refused valid" if kind in valid else "clear" if named else "unclear", (kind, str(e)[:150]))
            return
        except Exception as e:  # noqa: BLE001
            tally.add("crash", (kind, repr(e)[:150]))
            return
        ok = np.isfinite(net.predict(np.asarray(tiny_data(5, 3)[0]))).all()
        tally.add("trained" if kind in valid and ok else "silent", kind)

    fuzz()
    tally.report()
    assert not {"unclear", "crash", "silent", "refused valid"} & tally.counts.keys(), tally.examples
    return tally


def test_fuzzed_options_a_sample():
    run_option_fuzz(60)


def test_fuzzed_data_a_sample():
    run_data_fuzz(20)


@pytest.mark.reliability
def test_fuzzed_options():
    run_option_fuzz(4000)


@pytest.mark.reliability
def test_fuzzed_data():
    run_data_fuzz(300)


def test_a_numpy_bool_for_a_boolean_option():
    assert dl.training_options("sgdm", verbose=np.bool_(False)).verbose is False
