"""Mixed precision (dtype 'mixed'): float16 step, float32 master weights, dynamic loss scaling; on the stand-in,
which counts as a device (a GPU run is the same code on CuPy)."""

import math

import numpy as np
import pytest

import minidl
import minidl.matlab as M
from minidl import layers as L
from minidl.network import Network
from minidl.optim import SGDM, Adam, ConstantSchedule
from minidl.training import ArraySource, EngineConfig, Trainer, mixed
from minidl.training.mixed import LossScaler

RNG = np.random.default_rng(11)
CENTRES = RNG.standard_normal((3, 4)) * 2.0
IDX = RNG.integers(0, 3, 96)
X = CENTRES[IDX] + 0.5 * RNG.standard_normal((96, 4))
Y = np.array(["ant", "bee", "cat"])[IDX]


def net():
    return Network([L.FeatureInput(4), L.FullyConnected(8), L.BatchNormalization(), L.ReLU(), L.FullyConnected(3),
                    L.Softmax(), L.ClassificationOutput()])


def config(dtype="mixed", **kw):
    base = dict(optimizer=Adam(), schedule=ConstantSchedule(0.01), max_epochs=10, batch_size=16, dtype=dtype,
                device="standin", validation_frequency=None, validate_first_iteration=False)
    return EngineConfig(**{**base, **kw})


# ------------------------------------------------------------------------------------------------ the scale rule
def test_scale_starts_at_2_to_15_doubles_after_2000_finite_steps_and_halves_on_overflow():
    s = LossScaler()
    assert s.scale == 2.0 ** 15
    for _ in range(1999):
        s.update(True)
    assert s.scale == 2.0 ** 15
    s.update(True)
    assert s.scale == 2.0 ** 16 and s.good_steps == 0
    for _ in range(1500):
        s.update(True)
    s.update(False)                           # an overflow: S/2 and the count restarts
    assert s.scale == 2.0 ** 15 and s.good_steps == 0 and s.skipped == 1
    for _ in range(1999):
        s.update(True)
    assert s.scale == 2.0 ** 15


def test_scaler_arguments_are_checked():
    with pytest.raises(ValueError, match="interval"):
        LossScaler(interval=0)
    with pytest.raises(ValueError, match="init_scale"):
        LossScaler(init_scale=math.inf)


# ------------------------------------------------------------------------------------------------ the step
def test_master_weights_stay_float32_and_the_layers_compute_in_float16():
    network = net()
    seen = []
    fc = network.layers[1]
    forward = fc.forward

    def spy(x, training=False):
        y = forward(x, training)
        seen.append((x.dtype.name, fc.params["weight"].dtype.name, y.dtype.name))
        return y

    fc.forward = spy
    trained, info = Trainer(network, ArraySource(X, Y), config(max_epochs=1)).run()
    assert seen[0] == ("float16", "float16", "float16")        # a training step: half copies, half compute
    assert all(p.dtype.name == "float32" for p in trained.params.values())   # the masters
    assert all(v.dtype.name == "float32" for v in trained.state.values())    # batch-norm statistics
    assert seen[-1] == ("float32", "float32", "float32")       # prediction (the population pass): float32


def test_first_step_matches_float32_to_half_precision():
    _, m = Trainer(net(), ArraySource(X, Y), config(max_epochs=1)).run()
    _, f = Trainer(net(), ArraySource(X, Y), config("float32", max_epochs=1)).run()
    assert m.training_loss[0] == pytest.approx(f.training_loss[0], rel=2e-3)
    assert m.gradient_norm[0] == pytest.approx(f.gradient_norm[0], rel=2e-2)


def test_overflow_skips_the_update_halves_the_scale_and_training_goes_on(monkeypatch):
    """A scale of 2⁴⁰ overflows float16 (max 65504): those steps are skipped (parameters, optimizer state and its
    count untouched, gradient norm inf in the record) until the halved scale fits; then training proceeds."""
    made = []

    def huge():
        made.append(LossScaler(init_scale=2.0 ** 40))
        return made[-1]

    monkeypatch.setattr(mixed, "LossScaler", huge)
    opt = SGDM(0.9)
    network = net()
    trained, info = Trainer(network, ArraySource(X, Y), config(optimizer=opt, max_epochs=8)).run()   # 48 steps
    scaler = made[0]
    k = scaler.skipped
    assert 10 < k < 40                                          # halvings until S·|∂L/∂y| fits in float16
    assert scaler.scale == 2.0 ** (40 - k) and scaler.good_steps == 48 - k
    assert np.all(np.isinf(info.gradient_norm[:k])) and np.all(np.isfinite(info.gradient_norm[k:]))
    assert info.non_finite is None and len(info) == 48 and info.stop_reason == "max_epochs"
    assert opt.t == 48 - k                                      # skipped steps do not count


def test_overflow_steps_leave_parameters_untouched(monkeypatch):
    monkeypatch.setattr(mixed, "LossScaler", lambda: LossScaler(init_scale=2.0 ** 40))
    opt = SGDM(0.9)
    network = net()
    network.initialize((4,), rng=np.random.default_rng(0), dtype="float32")
    before = {k: np.array(v) for k, v in network.params.items()}
    trained, info = Trainer(network, ArraySource(X, Y), config(optimizer=opt, max_epochs=3, batch_size=96)).run()
    assert opt.t == 0 and opt.state == {}                       # three skipped steps: no update, no state
    for k, v in trained.params.items():
        np.testing.assert_array_equal(minidl.backend.to_host(v), before[k], err_msg=k)


def test_a_short_run_converges_like_float32():
    _, m = Trainer(net(), ArraySource(X, Y), config(max_epochs=15)).run()
    _, f = Trainer(net(), ArraySource(X, Y), config("float32", max_epochs=15)).run()
    last_m, last_f = np.mean(m.training_loss[-6:]), np.mean(f.training_loss[-6:])
    assert last_m < 0.5 * m.training_loss[0]                    # it learns
    assert last_m == pytest.approx(last_f, abs=0.02)           # as float32 does
    assert np.mean(m.training_accuracy[-6:]) >= 90.0


# ------------------------------------------------------------------------------------------------ refused on the CPU
def test_mixed_on_the_cpu_names_the_option_and_gpu():
    with pytest.raises(ValueError, match=r"precision: got 'mixed', which needs the device 'gpu' \(this run is on "
                                         r"'cpu' through device\); allowed on the CPU: 'float32', 'float64'"):
        Trainer(net(), ArraySource(X, Y), config(device="cpu")).run()


def test_matlab_spelling_precision_mixed_refused_on_the_cpu():
    opts = M.trainingOptions("adam", "Precision", "mixed", "ExecutionEnvironment", "cpu", "Verbose", 0,
                             "MaxEpochs", 1, "MiniBatchSize", 16)
    assert opts.Precision == "mixed"
    with pytest.raises(ValueError, match=r"'Precision': got 'mixed', which needs the device 'gpu' \(this run is on "
                                         r"'cpu' through 'ExecutionEnvironment'\)"):
        M.trainNetwork(X, Y, net().layers, opts)


def test_wolfram_working_precision_mixed_trains_on_a_device(monkeypatch):
    from minidl.backend import Device
    from minidl.wolfram import NetTrain
    steps = []
    step = mixed.MixedStep.step
    monkeypatch.setattr(mixed.MixedStep, "step", lambda self, *a: steps.append(1) or step(self, *a))
    layers = [L.FeatureInput(4), L.FullyConnected(8), L.ReLU(), L.FullyConnected(3), L.Softmax()]
    trained = NetTrain(layers, (X, Y), MaxTrainingRounds=3, BatchSize=16, TrainingProgressReporting=None,
                       WorkingPrecision="Mixed", TargetDevice=Device("standin"))
    assert all(p.dtype.name == "float32" for p in trained.params.values())
    assert len(steps) == 18                                     # 3 rounds of 96/16 batches, each a mixed step


def test_pythonic_precision_mixed_trains_on_the_standin():
    opts = minidl.training_options("adam", precision="mixed", max_epochs=2, mini_batch_size=16, verbose=False,
                                   initial_learn_rate=0.01)
    trained, info = minidl.train_network(X, Y, net().layers, opts, device="standin")
    assert len(info.training_loss) == 12 and all(p.dtype.name == "float32" for p in trained.params.values())


def test_a_mixed_step_reads_twice_the_packed_values_and_the_skip_flag(monkeypatch):
    """The ordinary step reads once per iteration (tests/test_backend.py); the mixed step reads twice: the finite-
    gradient flag that decides the skip before the update, then the trainer's packed read (docs/gpu.md#mixed-
    precision says why the flag is not decided on the device)."""
    from minidl import backend as B
    reads, real = [], Trainer._iteration

    def counted(self, *args, **kwargs):
        with B.standin_counters().counting() as n:
            real(self, *args, **kwargs)
        reads.append(n.reads)

    monkeypatch.setattr(Trainer, "_iteration", counted)
    Trainer(net(), ArraySource(X, Y), config(max_epochs=1)).run()
    assert reads == [2] * 6                                      # 96 / 16 iterations
