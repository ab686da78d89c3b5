"""training_options: the documented defaults per solver, solver-specific options, read-only display, not-yet errors."""

import math

import numpy as np
import pytest

from minidl import TrainingOptions, training_options
from minidl.matlab.options import OPTION_NAMES
from minidl.training import NotSupportedYetError

COMMON = {
    "l2_regularization": 1e-4, "mini_batch_size": 128, "max_epochs": 30, "shuffle": "once",
    "learn_rate_schedule": "none", "learn_rate_drop_period": 10, "learn_rate_drop_factor": 0.1,
    "gradient_threshold": math.inf, "gradient_threshold_method": "l2norm", "verbose": True,
    "verbose_frequency": 50, "validation_data": None, "validation_frequency": 50, "validation_patience": math.inf,
    "checkpoint_path": None, "output_fcn": (), "plots": "none", "execution_environment": "auto",
    "worker_load": None, "dispatch_in_background": False, "sequence_length": "longest",
    "sequence_padding_value": 0, "precision": "float32", "seed": 0, "batch_normalization_statistics": "population",
}


@pytest.mark.parametrize("solver, specific", [
    ("sgdm", {"initial_learn_rate": 0.01, "momentum": 0.9}),
    ("rmsprop", {"initial_learn_rate": 0.001, "squared_gradient_decay_factor": 0.9, "epsilon": 1e-8}),
    ("adam", {"initial_learn_rate": 0.001, "gradient_decay_factor": 0.9, "squared_gradient_decay_factor": 0.999,
              "epsilon": 1e-8, "adam_form": "matlab"}),
])
def test_defaults_follow_semantics_table(solver, specific):
    opts = training_options(solver)
    assert opts.solver == solver
    for name, value in {**COMMON, **specific}.items():
        assert getattr(opts, name) == value, name
    others = {"momentum", "gradient_decay_factor", "squared_gradient_decay_factor", "epsilon", "adam_form"} - \
        set(specific)
    for name in others:  # another solver's option is not a property of this one
        assert getattr(opts, name) is None
        assert name not in opts.properties


@pytest.mark.parametrize("solver, option, value", [
    ("adam", "momentum", 0.9), ("rmsprop", "momentum", 0.5), ("sgdm", "gradient_decay_factor", 0.9),
    ("rmsprop", "gradient_decay_factor", 0.8), ("sgdm", "squared_gradient_decay_factor", 0.99),
    ("sgdm", "epsilon", 1e-6), ("sgdm", "adam_form", "paper"), ("rmsprop", "adam_form", "matlab"),
])
def test_solver_specific_option_with_another_solver_is_an_error(solver, option, value):
    with pytest.raises(ValueError, match=f"{option}: given with solver '{solver}'"):
        training_options(solver, **{option: value})


def test_given_values_are_kept_and_checked_types_normalized():
    opts = training_options("adam", initial_learn_rate=np.float32(0.5), max_epochs=np.int64(3), verbose=0,
                            validation_patience=4, gradient_threshold=2, epsilon=1e-6)
    assert opts.initial_learn_rate == 0.5 and isinstance(opts.initial_learn_rate, float)
    assert opts.max_epochs == 3 and type(opts.max_epochs) is int
    assert opts.verbose is False and opts.validation_patience == 4 and opts.gradient_threshold == 2.0


def test_repr_lists_every_property_like_matlab_display():
    text = repr(training_options("sgdm", max_epochs=20, mini_batch_size=64, plots="training-progress"))
    lines = text.splitlines()
    assert lines[0] == "TrainingOptions(solver='sgdm') with properties:"
    shown = [line.split(":", 1)[0].strip() for line in lines[2:]]
    assert shown == [n for n in OPTION_NAMES if n not in
                     ("gradient_decay_factor", "squared_gradient_decay_factor", "epsilon", "adam_form")]
    assert [line.strip() for line in lines if line.strip().startswith("max_epochs")] == ["max_epochs: 20"]
    assert len({line.index(":") for line in lines[2:]}) == 1  # names right-aligned on the colon
    assert "plots: 'training-progress'" in text and "gradient_threshold: inf" in text


def test_options_are_read_only_and_replace_checks_again():
    opts = training_options("sgdm", max_epochs=5)
    with pytest.raises(AttributeError, match="read-only"):
        opts.max_epochs = 6
    changed = opts.replace(max_epochs=6, momentum=0.5)
    assert (opts.max_epochs, changed.max_epochs, changed.momentum) == (5, 6, 0.5)
    with pytest.raises(ValueError, match="momentum: given with solver 'adam'"):
        changed.replace(solver="adam")
    assert isinstance(training_options("sgdm").replace(solver="adam"), TrainingOptions)


def test_to_dict_and_settings_are_plain():
    opts = training_options("rmsprop", output_fcn=[print], validation_data=(np.zeros((3, 2)), [1, 2, 1]))
    d = opts.to_dict()
    assert d["solver"] == "rmsprop" and d["epsilon"] == 1e-8 and "momentum" not in d
    s = opts.settings()
    assert s["gradient_threshold"] == "inf" and s["output_fcn"] == "[print]"
    assert s["validation_data"] == "(X: 3x2 float64, Y: 3 values)"


@pytest.mark.parametrize("value", ["multi-gpu", "parallel"])
def test_parallel_environments_are_built(value):    # issue 15: no longer NotSupportedYetError (docs/parallel-launch.md)
    assert training_options("sgdm", execution_environment=value).execution_environment == value
    assert issubclass(NotSupportedYetError, NotImplementedError) and issubclass(NotSupportedYetError, ValueError)


@pytest.mark.parametrize("option, value, stored", [
    ("sequence_length", "shortest", "shortest"), ("sequence_length", 20, 20), ("sequence_length", 20.0, 20),
    ("sequence_padding_value", -1, -1.0), ("sequence_padding_direction", "left", "left"),
])
def test_sequence_options_are_built(option, value, stored):    # issue 13: no longer NotSupportedYetError
    assert getattr(training_options("sgdm", **{option: value}), option) == stored


def test_checkpoint_path_must_exist(tmp_path):
    assert training_options("sgdm", checkpoint_path=tmp_path).checkpoint_path == str(tmp_path)
    assert training_options("sgdm", checkpoint_path="").checkpoint_path is None
    with pytest.raises(ValueError, match="checkpoint_path: got .*not an existing folder"):
        training_options("sgdm", checkpoint_path=tmp_path / "missing")


def test_output_fcn_forms():
    def f(info):
        return False

    assert training_options("sgdm", output_fcn=f).output_fcn == (f,)
    assert training_options("sgdm", output_fcn=[f, print]).output_fcn == (f, print)
    assert training_options("sgdm", output_fcn=None).output_fcn == ()
