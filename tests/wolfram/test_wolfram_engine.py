"""One engine: net_train and train_network follow the same trajectory; seeding, precision, devices; the two engine
hooks the dialect added (per-example losses, the loss layer's RMSE); the input net is never mutated."""

import numpy as np
import pytest

from minidl import layers as L
from minidl import train_network, training_options
from minidl.backend import to_host
from minidl.network import Network
from minidl.optim import SGDM, ConstantSchedule
from minidl.training import ArraySource, EngineConfig, Observer, Trainer
from minidl.wolfram import MeanSquaredLoss, NetTrain, net_train

RNG = np.random.default_rng(11)
X = RNG.standard_normal((24, 3))
LABELS = RNG.integers(0, 3, 24)
W1, B1 = 0.5 * RNG.standard_normal((5, 3)), 0.1 * RNG.standard_normal(5)
W2, B2 = 0.5 * RNG.standard_normal((3, 5)), 0.1 * RNG.standard_normal(3)


def layers(output=True):
    body = [L.FeatureInput(3, normalization="none"), L.FullyConnected(5, weights=W1, bias=B1), L.ReLU(),
            L.FullyConnected(3, weights=W2, bias=B2), L.Softmax()]
    return body + [L.ClassificationOutput()] if output else body


@pytest.mark.parametrize("rounds", [1])
def test_same_trajectory_as_train_network(rounds):
    """sgdm (momentum 0.9, constant rate 0.05, no clipping, L2 0, reshuffled every epoch with seed 1234, N divisible
    by the batch size) and NetTrain's "SGD" (Momentum 0.9, no schedule): the same engine, bit for bit, for the one
    round where both use the same permutation (later rounds differ by rule: MATLAB reshuffles the examples,
    Wolfram keeps its 4 batches; docs/semantics-wolfram.md#5-batch-composition-and-rounds)."""
    options = training_options("sgdm", momentum=0.9, initial_learn_rate=0.05, l2_regularization=0.0,
                               mini_batch_size=6, max_epochs=rounds, shuffle="every-epoch", seed=1234,
                               precision="float64", verbose=False)
    net_m, info = train_network(X, LABELS, layers(), options)
    net_w, losses = net_train(layers(output=False), (X, LABELS), ["FinalNet", "BatchLossList"],
                              method=("SGD", {"Momentum": 0.9, "LearningRateSchedule": None}), learning_rate=0.05,
                              batch_size=6, max_training_rounds=rounds, random_seeding=1234,
                              working_precision="Real64", training_progress_reporting=None)
    np.testing.assert_array_equal(losses, info.training_loss)
    for name in ("fc_1.weight", "fc_1.bias", "fc_2.weight", "fc_2.bias"):
        np.testing.assert_array_equal(to_host(net_w.params[name]), to_host(net_m.params[name]))


def test_same_trajectory_without_shuffling():
    """shuffle 'never' against a generator that hands NetTrain the batches in order: still one engine."""
    options = training_options("sgdm", momentum=0.9, initial_learn_rate=0.05, l2_regularization=0.0,
                               mini_batch_size=6, max_epochs=3, shuffle="never", precision="float64", verbose=False)
    net_m, info = train_network(X, LABELS, layers(), options)

    def in_order(spec):
        k = (in_order.calls - 1) % 4                     # call 0 made the shape probe; then batches 0, 1, 2, 3, 0...
        in_order.calls += 1
        return X[6 * k:6 * k + 6], LABELS[6 * k:6 * k + 6]
    in_order.calls = 0
    net_w, losses = net_train(layers(output=False), (in_order, {"RoundLength": 24}), ["FinalNet", "BatchLossList"],
                              method=("SGD", {"Momentum": 0.9, "LearningRateSchedule": None}), learning_rate=0.05,
                              batch_size=6, max_training_rounds=3, working_precision="Real64",
                              training_progress_reporting=None)
    np.testing.assert_array_equal(losses, info.training_loss)
    np.testing.assert_array_equal(to_host(net_w.params["fc_2.weight"]), to_host(net_m.params["fc_2.weight"]))


def fresh_layers():
    return [L.FeatureInput(3, normalization="none"), L.FullyConnected(4), L.ReLU(), L.FullyConnected(3),
            L.Softmax()]


def test_random_seeding():
    def run(**kw):
        return to_host(NetTrain(fresh_layers(), (X, LABELS), MaxTrainingRounds=2, BatchSize=8,
                                TrainingProgressReporting=None, **kw).params["fc_1.weight"])
    np.testing.assert_array_equal(run(), run(RandomSeeding=1234))          # default 1234, same net twice
    np.testing.assert_array_equal(run(RandomSeeding=7), run(RandomSeeding=7))
    assert not np.array_equal(run(), run(RandomSeeding=7))
    assert not np.array_equal(run(RandomSeeding="Automatic"), run(RandomSeeding="Automatic"))


def test_working_precision():
    assert NetTrain(fresh_layers(), (X, LABELS), MaxTrainingRounds=1, TrainingProgressReporting=None,
                    BatchSize=8).dtype == np.float32                        # Automatic: Real32
    assert NetTrain(fresh_layers(), (X, LABELS), MaxTrainingRounds=1, TrainingProgressReporting=None,
                    BatchSize=8, WorkingPrecision="Real64").dtype == np.float64
    with pytest.raises(ValueError, match="WorkingPrecision: got 'Mixed', which needs TargetDevice 'GPU'"):
        NetTrain(fresh_layers(), (X, LABELS), WorkingPrecision="Mixed")


def test_target_device_gives_the_same_run(backend):
    """Device independence (stand-in: CuPy's host/device separation enforced): the CPU trajectory, float64."""
    kw = {"MaxTrainingRounds": 2, "BatchSize": 8, "WorkingPrecision": "Real64", "TrainingProgressReporting": None}
    cpu = NetTrain(layers(output=False), (X, LABELS), **kw)
    dev = NetTrain(layers(output=False), (X, LABELS), TargetDevice=backend, **kw)
    np.testing.assert_allclose(to_host(dev.params["fc_2.weight"]), to_host(cpu.params["fc_2.weight"]), rtol=1e-12)


def test_input_net_never_mutated_initialized_kept_uninitialized_initialized():
    net = Network(layers(output=False)).initialize(dtype="float64")
    before = {k: v.copy() for k, v in net.state_arrays().items()}
    ids = [id(layer) for layer in net.layers]
    frozen = NetTrain(net, (X, LABELS), MaxTrainingRounds=2, BatchSize=8, LearningRateMultipliers=0,
                      WorkingPrecision="Real64", TrainingProgressReporting=None)
    after = net.state_arrays()
    assert all(np.array_equal(before[k], after[k]) for k in before) and [id(x) for x in net.layers] == ids
    assert len(net.layers) == 5 and net.classes is None and net.layers[1].learn_rate_factors["weight"] == 1.0
    np.testing.assert_array_equal(to_host(frozen.params["fc_1.weight"]), W1)   # initialized: not re-initialized
    given = fresh_layers()
    trained = NetTrain(given, (X, LABELS), MaxTrainingRounds=1, BatchSize=8, TrainingProgressReporting=None)
    assert not any(layer.initialized for layer in given) and trained.initialized


# ------------------------------------------------------------------------------------------------ engine hooks
class Keep(Observer):
    def __init__(self):
        self.rows = []

    def on_event(self, state):
        if state.event == "iteration":
            self.rows.append((state.training_loss, state.training_rmse, state.example_losses))


def engine_run(output, record):
    keep = Keep()
    net = Network([L.FeatureInput(3, normalization="none"), L.FullyConnected(2, weights=W1[:2], bias=B1[:2]),
                   output])
    T = X[:, :2] @ np.array([[1.0, 0.5], [-1.0, 2.0]])
    cfg = EngineConfig(optimizer=SGDM(0.0), schedule=ConstantSchedule(0.01), max_epochs=1, batch_size=8,
                       shuffle="never", dtype="float64", validation_frequency=None, validate_first_iteration=False,
                       record_example_losses=record)
    Trainer(net, ArraySource(X, T), cfg, observers=[keep]).run()
    return keep.rows


def test_engine_records_example_losses_whose_mean_is_the_batch_loss():
    rows = engine_run(MeanSquaredLoss(), record=True)
    for loss, _, examples in rows:
        assert examples.shape == (8,) and examples.mean() == pytest.approx(loss, rel=1e-14)
    assert all(r[2] is None for r in engine_run(MeanSquaredLoss(), record=False))


def test_engine_rmse_follows_the_loss_layer():
    """Wolfram's mean squared loss is the mean of squared errors: RMSE = √loss; MATLAB's half-SSE: √(2·loss), the
    responses summed (issue 9 item 3; it was √(2·loss/R))."""
    for loss, rmse, _ in engine_run(MeanSquaredLoss(), record=False):
        assert rmse == pytest.approx(np.sqrt(loss), rel=1e-14)
    for loss, rmse, _ in engine_run(L.RegressionOutput(), record=False):
        assert rmse == pytest.approx(np.sqrt(2 * loss), rel=1e-14)


def test_example_losses_on_the_stand_in_device():
    from minidl.backend import get_device

    dev = get_device("standin")
    res = NetTrain(layers(output=False), (X, LABELS), "ExampleLosses", MaxTrainingRounds=1, BatchSize=8,
                   TargetDevice=dev, WorkingPrecision="Real64", TrainingProgressReporting=None)
    assert res.shape == (24,) and np.isfinite(res).all()
