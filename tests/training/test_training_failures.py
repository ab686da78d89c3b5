"""A failed run returns what it trained (issue 11 item 1): the user's exception is re-raised as it was (type, message,
traceback) and carries ``minidl_net`` (the network of the last completed iteration) and ``minidl_info`` (the record
so far, stop kind "failed"); a figure or a log that cannot be written is a warning, never a lost run."""

import os
import shutil

import numpy as np
import pytest

import minidl
from minidl import layers as L
from minidl.backend import to_host
from minidl.training import MiniBatchSource
from minidl.training import events as ev
from minidl.wolfram import NetTrain

RNG = np.random.default_rng(4)
X = RNG.standard_normal((48, 3))
LABELS = np.where(X[:, 0] > 0, "pos", "neg")


def layers():
    return [L.FeatureInput(3), L.FullyConnected(4), L.BatchNormalization(), L.ReLU(), L.FullyConnected(2),
            L.Softmax(), L.ClassificationOutput()]


def opts(**kw):
    return minidl.training_options("sgdm", max_epochs=4, mini_batch_size=8, verbose=False, shuffle="never",
                                   precision="float64", **kw)


def stopped_cleanly_at(k):
    """The same run stopped (cleanly) after iteration k: what a failure at k + 1 must give back."""
    return minidl.train_network(X, LABELS, layers(), opts(output_fcn=lambda i: i["Iteration"] == k))


def same_weights(a, b):
    for k in a.params:
        np.testing.assert_array_equal(to_host(a.params[k]), to_host(b.params[k]), err_msg=k)


def test_an_output_function_that_raises_keeps_its_exception_and_returns_the_network():
    def crash(info):
        if info["Iteration"] == 10:
            raise ZeroDivisionError("the user's bug")
        return False

    with pytest.raises(ZeroDivisionError, match="the user's bug") as e:
        minidl.train_network(X, LABELS, layers(), opts(output_fcn=crash))
    net, info = e.value.minidl_net, e.value.minidl_info
    assert e.value.__traceback__ is not None
    assert info.stop_kind == ev.FAILED and info.stop_reason == "Stopped by an error"
    assert len(info) == 10 and info.output_network_iteration == 10    # iteration 10's update was complete
    clean, clean_info = stopped_cleanly_at(10)
    same_weights(net, clean)                                          # finalized like any stop
    np.testing.assert_array_equal(net["batchnorm_1"].state["variance"], clean["batchnorm_1"].state["variance"])
    np.testing.assert_array_equal(info.training_loss, clean_info.training_loss)


class Breaking(MiniBatchSource):
    """Serves the data, then fails (an exception, or NaN) from the ``at``-th read on."""

    def __init__(self, at, how):
        self.at, self.how, self.reads = at, how, 0

    def __len__(self):
        return len(X)

    def read(self, indices):
        self.reads += 1
        if self.reads >= self.at:
            if self.how == "raise":
                raise OSError("the disk went away")
            return np.full((len(indices), 3), np.nan), LABELS[indices]
        return X[indices], LABELS[indices]


@pytest.mark.parametrize("how, error", [("raise", OSError), ("nan", ValueError)])
def test_a_source_that_breaks_late_returns_the_network_of_the_last_good_iteration(how, error):
    src = Breaking(at=1 + 6 + 7, how=how)  # the shape probe, the input-statistics pass (6), then 6 good batches
    src.classes = np.array(["neg", "pos"])
    with pytest.raises(error) as e:
        minidl.train_network(src, layers(), opts())
    net, info = e.value.minidl_net, e.value.minidl_info
    assert len(info) == 6 and info.output_network_iteration == 6 and info.stop_kind == ev.FAILED
    # the population pass reads the broken source again: skipped, said, and the moving averages are kept
    assert "population pass skipped" in " ".join(info.non_finite["finalization"])
    assert np.isfinite(net.predict(X)).all()


def test_a_figure_or_log_folder_that_disappears_is_a_warning_and_training_goes_on(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()

    def remove_at_5(info):
        if info["Iteration"] == 5:
            shutil.rmtree(folder)
        return False

    with pytest.warns(RuntimeWarning, match="could not be written"):
        net, info = minidl.train_network(X, LABELS, layers(), opts(
            output_fcn=remove_at_5, plots="training-progress", plots_file=str(folder / "p.png"),
            log_file=str(folder / "log.csv")))
    assert len(info) == 24 and info.stop_kind == ev.MAX_EPOCHS and net.initialized


def test_nettrain_failure_carries_the_net_as_nettrain_returns_it():
    def crash(p):
        raise RuntimeError("progress function failed")

    with pytest.raises(RuntimeError, match="progress function failed") as e:
        NetTrain([L.FeatureInput(3), L.FullyConnected(2), L.Softmax()], (X, LABELS), MaxTrainingRounds=3,
                 BatchSize=8, TrainingProgressFunction=crash, TrainingProgressReporting=None)
    net = e.value.minidl_net
    assert not isinstance(net.layers[-1], L.ClassificationOutput)   # the attached loss is not part of it
    assert net.initialized and e.value.minidl_info.stop_kind == ev.FAILED


def test_a_failure_before_the_first_update_is_the_error_as_it_is():
    src = Breaking(at=2, how="raise")
    src.classes = np.array(["neg", "pos"])
    with pytest.raises(OSError, match="the disk went away") as e:
        minidl.train_network(src, layers(), opts())
    assert not hasattr(e.value, "minidl_net")
    assert os.path.exists(os.getcwd())
