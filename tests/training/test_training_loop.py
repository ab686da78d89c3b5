"""The loop of docs/semantics-matlab.md computed by hand: L2 → clipping → solver step with per-array factors, schedules,
shuffle modes and the dropped partial batch, validation timing, patience, batch-norm and input statistics."""

import math

import numpy as np
import pytest

from minidl import layers as L
from minidl import train_network, training_options
from minidl.backend import Device, to_host
from minidl.matlab import records as reasons  # the stop reasons in MATLAB's wording
from minidl.training import MiniBatchSource, Observer
from minidl.training import events as ev

RNG = np.random.default_rng(7)
X = RNG.standard_normal((50, 3))
T = X @ np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 1.5]]) + np.array([0.1, -0.3])
W0 = 0.1 * RNG.standard_normal((2, 3))
B0 = np.array([0.05, -0.02])


def linreg(**fc):
    return [L.FeatureInput(3, normalization="none"), L.FullyConnected(2, weights=W0, bias=B0, **fc),
            L.RegressionOutput()]


def opts(solver="sgdm", **kw):
    base = {"shuffle": "never", "mini_batch_size": 16, "max_epochs": 2, "precision": "float64", "verbose": False,
            "l2_regularization": 0.0}
    return training_options(solver, **{**base, **kw})


def reference(steps, batch=16, epochs=2, n=50, lr=lambda e: 0.01, l2=0.0, l2f=(1.0, 0.0), lrf=(1.0, 1.0),
              clip=None, l2_after_clip=False):
    """Hand-written MATLAB loop for y = x Wᵀ + b with half-MSE; ``steps(name, w, g, lr, state)`` updates w."""
    W, b = W0.copy(), B0.copy()
    state = {"w": {}, "b": {}}
    t = 0
    for e in range(1, epochs + 1):
        for k in range(n // batch):  # floor(N/B) iterations: the partial batch is dropped
            x, tt = X[k * batch:(k + 1) * batch], T[k * batch:(k + 1) * batch]
            d = (x @ W.T + b - tt) / batch
            g = {"w": d.T @ x, "b": d.sum(0)}
            p = {"w": W, "b": b}
            frozen = {k for k, f in zip("wb", lrf) if f == 0}
            for name, f in zip("wb", l2f):  # L2 on arrays with a non-zero learn-rate factor
                if name not in frozen and not l2_after_clip:
                    g[name] = g[name] + l2 * f * p[name]
            if clip is not None:
                method, thr = clip
                live = [nm for nm in "wb" if nm not in frozen]
                if method == "l2norm":
                    for nm in live:
                        norm = np.linalg.norm(g[nm])
                        g[nm] = g[nm] * thr / norm if norm > thr else g[nm]
                elif method == "global-l2norm":
                    norm = math.sqrt(sum(np.sum(g[nm] ** 2) for nm in live))
                    for nm in live:
                        g[nm] = g[nm] * thr / norm if norm > thr else g[nm]
                else:
                    for nm in live:
                        g[nm] = np.clip(g[nm], -thr, thr)
            for name, f in zip("wb", l2f):
                if name not in frozen and l2_after_clip:
                    g[name] = g[name] + l2 * f * p[name]
            t += 1
            for name, f in zip("wb", lrf):
                if f != 0:
                    p[name] = steps(p[name], g[name], lr(e) * f, state[name], t)
            W, b = p["w"], p["b"]
    return W, b


def sgdm(gamma):
    def step(w, g, lr, s, t):
        s["v"] = gamma * s.get("v", 0.0) - lr * g   # v ← γ·v − lr·g
        return w + s["v"]                            # θ ← θ + v
    return step


def rmsprop(beta2, eps):
    def step(w, g, lr, s, t):
        s["s"] = beta2 * s.get("s", 0.0) + (1 - beta2) * g * g
        return w - lr * g / (np.sqrt(s["s"]) + eps)
    return step


def adam(beta1, beta2, eps, form):
    def step(w, g, lr, s, t):
        s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
        s["s"] = beta2 * s.get("s", 0.0) + (1 - beta2) * g * g
        if form == "matlab":
            return w - lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * s["m"] / (np.sqrt(s["s"]) + eps)
        return w - lr * (s["m"] / (1 - beta1 ** t)) / (np.sqrt(s["s"] / (1 - beta2 ** t)) + eps)
    return step


def params(net):
    return to_host(net.params["fc_1.weight"]), to_host(net.params["fc_1.bias"])


@pytest.mark.parametrize("method, thr", [("l2norm", 0.05), ("global-l2norm", 0.05), ("absolute-value", 0.2)])
def test_sgdm_with_l2_then_clipping_matches_hand_computation(method, thr):
    net, info = train_network(X, T, linreg(), opts(momentum=0.8, l2_regularization=0.3, initial_learn_rate=0.1,
                                                   gradient_threshold=thr, gradient_threshold_method=method))
    W, b = reference(sgdm(0.8), lr=lambda e: 0.1, l2=0.3, clip=(method, thr))
    np.testing.assert_allclose(params(net)[0], W, rtol=1e-12)
    np.testing.assert_allclose(params(net)[1], b, rtol=1e-12)
    # the order matters: clipping before L2 gives another result
    W_other, _ = reference(sgdm(0.8), lr=lambda e: 0.1, l2=0.3, clip=(method, thr), l2_after_clip=True)
    assert np.max(np.abs(W_other - W)) > 1e-6


@pytest.mark.parametrize("solver, kw, step", [
    ("rmsprop", {"squared_gradient_decay_factor": 0.8, "epsilon": 0.1}, rmsprop(0.8, 0.1)),
    ("adam", {"gradient_decay_factor": 0.7, "squared_gradient_decay_factor": 0.9, "epsilon": 0.05},
     adam(0.7, 0.9, 0.05, "matlab")),
    ("adam", {"gradient_decay_factor": 0.7, "squared_gradient_decay_factor": 0.9, "epsilon": 0.05,
              "adam_form": "paper"}, adam(0.7, 0.9, 0.05, "paper")),
    ("sgdm", {"momentum": 0.0}, sgdm(0.0)),
])
def test_solvers_and_their_hyperparameters_match_hand_computation(solver, kw, step):
    net, _ = train_network(X, T, linreg(), opts(solver, initial_learn_rate=0.05, **kw))
    W, b = reference(step, lr=lambda e: 0.05)
    np.testing.assert_allclose(params(net)[0], W, rtol=1e-12)
    np.testing.assert_allclose(params(net)[1], b, rtol=1e-12)


def test_adam_forms_differ_when_epsilon_matters():
    a, _ = train_network(X, T, linreg(), opts("adam", epsilon=0.05))
    p, _ = train_network(X, T, linreg(), opts("adam", epsilon=0.05, adam_form="paper"))
    assert np.max(np.abs(params(a)[0] - params(p)[0])) > 1e-6


def test_learn_rate_and_l2_factors_per_array_and_frozen_bias():
    net, _ = train_network(X, T, linreg(weight_learn_rate_factor=2.0, weight_l2_factor=3.0, bias_learn_rate_factor=0),
                           opts(momentum=0.5, l2_regularization=0.1, gradient_threshold=0.01))
    W, b = reference(sgdm(0.5), l2=0.1, l2f=(3.0, 0.0), lrf=(2.0, 0.0), clip=("l2norm", 0.01))
    np.testing.assert_allclose(params(net)[0], W, rtol=1e-12)
    np.testing.assert_array_equal(params(net)[1], B0)  # frozen: no L2, no clipping, no update


def test_piecewise_schedule_rate_per_epoch_and_its_effect():
    o = opts(max_epochs=5, learn_rate_schedule="piecewise", learn_rate_drop_factor=0.5, learn_rate_drop_period=2,
             initial_learn_rate=0.2)
    net, info = train_network(X, T, linreg(), o)
    expected = [0.2 * 0.5 ** ((e - 1) // 2) for e in range(1, 6) for _ in range(3)]
    np.testing.assert_array_equal(info.base_learn_rate, expected)
    np.testing.assert_array_equal(info.epoch, np.repeat(np.arange(1, 6), 3))
    W, _ = reference(sgdm(0.9), epochs=5, lr=lambda e: 0.2 * 0.5 ** ((e - 1) // 2))
    np.testing.assert_allclose(params(net)[0], W, rtol=1e-12)
    _, flat = train_network(X, T, linreg(), opts(max_epochs=5, initial_learn_rate=0.2))
    assert set(flat.base_learn_rate) == {0.2}  # 'none': the initial rate throughout


class RecordingSource(MiniBatchSource):
    """A streaming source that records the index orders it is asked to read."""

    def __init__(self, X, Y):
        self.X, self.Y, self.reads = X, Y, []

    def __len__(self):
        return len(self.X)

    def read(self, indices):
        self.reads.append(np.array(indices))
        return self.X[indices], self.Y[indices]


def _epochs(reads, per_epoch=3):
    return [np.concatenate(reads[i:i + per_epoch]) for i in range(0, len(reads), per_epoch)]


@pytest.mark.parametrize("shuffle", ["never", "once", "every-epoch"])
def test_shuffle_modes_batch_order_and_dropped_partial_batch(shuffle):
    train, val = RecordingSource(X, T), RecordingSource(X[:20], T[:20])
    _, info = train_network(train, linreg(), opts(shuffle=shuffle, max_epochs=3, validation_data=val,
                                                  validation_frequency=3, mini_batch_size=16))
    assert len(info) == 9 and info.iterations_per_epoch == 3  # floor(50/16) = 3
    reads = train.reads[1:]  # the first read is a one-observation peek at the input shape
    assert [len(r) for r in reads] == [16] * 9
    epochs = _epochs(reads)
    for order in epochs:
        assert len(set(order.tolist())) == 48
    vreads = [r for r in val.reads[1:]]
    vorders = [np.concatenate(vreads[i:i + 2]) for i in range(0, len(vreads), 2)]  # 20 rows in batches of 16 + 4
    assert len(vorders) == 5  # iterations 1, 3, 6, 9 and the final validation
    np.testing.assert_array_equal(vorders[-1], np.arange(20))  # the final validation reads in the stored order
    if shuffle == "never":
        for order in epochs:
            np.testing.assert_array_equal(order, np.arange(48))
        for order in vorders[:-1]:
            np.testing.assert_array_equal(order, np.arange(20))
    elif shuffle == "once":
        assert not np.array_equal(epochs[0], np.arange(48))
        for order in epochs[1:]:
            np.testing.assert_array_equal(order, epochs[0])  # one shuffle before training
        for order in vorders[1:-1]:
            np.testing.assert_array_equal(order, vorders[0])
        assert sorted(vorders[0].tolist()) == list(range(20)) and not np.array_equal(vorders[0], np.arange(20))
    else:
        assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
        assert not np.array_equal(vorders[0], vorders[1])  # validation data reshuffled before each validation
        for order in vorders[:-1]:
            assert sorted(order.tolist()) == list(range(20))


def test_streaming_source_equals_arrays_bit_for_bit():
    a, ia = train_network(X, T, linreg(), opts(shuffle="every-epoch", max_epochs=3))
    b, ib = train_network(RecordingSource(X, T), linreg(), opts(shuffle="every-epoch", max_epochs=3))
    np.testing.assert_array_equal(params(a)[0], params(b)[0])
    np.testing.assert_array_equal(ia.training_loss, ib.training_loss)


def test_mini_batch_larger_than_in_memory_data_is_clamped_to_n():
    # docs/semantics-matlab.md#5: MiniBatchSize > N trains on mini-batches of all N observations (MATLAB)
    a, ia = train_network(X, T, linreg(), opts(mini_batch_size=64, max_epochs=3, shuffle="every-epoch"))
    b, ib = train_network(X, T, linreg(), opts(mini_batch_size=50, max_epochs=3, shuffle="every-epoch"))
    assert len(ia) == 3 and ia.iterations_per_epoch == 1
    np.testing.assert_array_equal(ia.training_loss, ib.training_loss)
    np.testing.assert_array_equal(a.layers[1].params["weight"], b.layers[1].params["weight"])
    w = W0 - 0.01 * ((X @ W0.T + B0 - T).T @ X) / 50  # one full-batch step of sgdm from the given weights
    _, ic = train_network(X, T, linreg(), opts(mini_batch_size=1000, max_epochs=1))
    c, _ = train_network(X, T, linreg(), opts(mini_batch_size=1000, max_epochs=1))
    np.testing.assert_allclose(c.layers[1].params["weight"], w, rtol=1e-12)
    assert ic.training_loss[0] == pytest.approx(np.sum(0.5 * (X @ W0.T + B0 - T) ** 2) / 50, rel=1e-12)


def test_validation_at_iteration_1_every_frequency_and_after_training():
    Xv, Tv = X[:13], T[:13] + 0.5
    net, info = train_network(X, T, linreg(), opts(max_epochs=4, validation_data=(Xv, Tv), validation_frequency=5,
                                                   mini_batch_size=8))
    validated = np.flatnonzero(~np.isnan(info.validation_loss)) + 1
    np.testing.assert_array_equal(validated, [1, 5, 10, 15, 20, 24])  # 24 iterations, frequency 5, and the last
    assert np.all(np.isnan(info.validation_rmse) == np.isnan(info.validation_loss))
    y = net.predict(Xv)
    loss = np.sum(0.5 * (y - Tv) ** 2) / len(Xv)  # half-MSE divided by observations
    assert info.final_validation_loss == pytest.approx(loss, rel=1e-12)
    # RMSE = √(Σₙ Σᵣ (yₙᵣ − tₙᵣ)² / N): the sum over the 2 responses is not divided by 2 (§9)
    assert info.final_validation_rmse == pytest.approx(math.sqrt(np.sum((y - Tv) ** 2) / len(Xv)), rel=1e-12)
    assert info.training_accuracy is None and info["TrainingRMSE"] is info.training_rmse


def test_validation_patience_stops_at_the_right_validation():
    anti = (X[:20], -T[:20])  # validation targets opposite to training: the validation loss goes up
    o = opts(max_epochs=20, validation_data=anti, validation_frequency=2, validation_patience=3,
             initial_learn_rate=0.02)
    _, info = train_network(X, T, linreg(), o)
    losses = info.validation_loss[~np.isnan(info.validation_loss)]
    best, count, stop = math.inf, 0, None
    for k, v in enumerate(losses):  # the documented rule, replayed on the recorded values
        best, count = (v, 0) if v < best else (best, count + 1)
        if count >= 3:
            stop = k
            break
    assert stop is not None and info.stop_reason == reasons.VALIDATION_PATIENCE
    iterations = np.flatnonzero(~np.isnan(info.validation_loss)) + 1
    assert len(info) == iterations[stop] < 20 * 3 and info.output_network_iteration == len(info)
    _, no_stop = train_network(X, T, linreg(), o.replace(validation_patience=math.inf))
    assert no_stop.stop_reason == reasons.MAX_EPOCHS and len(no_stop) == 60


class Capture(Observer):
    """Keeps copies of the network's state arrays at the last ITERATION event."""

    def on_event(self, state):
        if state.event == ev.ITERATION:  # the host copies the state record offers (no reach into the trainer)
            self.state = {k[len("state/"):]: v for k, v in state.weights().items() if k.startswith("state/")}


@pytest.mark.parametrize("mode", ["population", "moving"])
def test_batch_norm_statistics_population_pass_or_moving_averages(problem, mode):
    cap = Capture()
    net, _ = train_network(problem.X, problem.Y, problem.mlp(), opts(
        batch_normalization_statistics=mode, max_epochs=3, initial_learn_rate=0.1), observers=[cap])
    bn = net["batchnorm_1"]
    if mode == "population":  # one unshuffled pass over all 60 observations with the final weights
        h = net["fc_1"].forward(net["featureinput_1"].forward(problem.X))
        np.testing.assert_allclose(bn.state["mean"], h.mean(axis=0), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(bn.state["variance"], h.var(axis=0), rtol=1e-10)
        assert np.max(np.abs(bn.state["mean"] - cap.state["batchnorm_1.mean"])) > 1e-6
    else:  # the running averages of the last iteration are kept
        np.testing.assert_array_equal(bn.state["mean"], cap.state["batchnorm_1.mean"])
        np.testing.assert_array_equal(bn.state["variance"], cap.state["batchnorm_1.variance"])


@pytest.mark.parametrize("norm", ["zerocenter", "zscore"])
def test_input_normalization_statistics_from_one_pass_over_all_training_data(problem, norm):
    net, _ = train_network(problem.X, problem.Y, problem.mlp(norm=norm), opts(mini_batch_size=16))
    layer = net.input_layer
    np.testing.assert_allclose(layer.state["mean"], problem.X.mean(axis=0), rtol=1e-12)  # all 60, not 48
    if norm == "zscore":
        np.testing.assert_allclose(layer.state["std"], problem.X.std(axis=0), rtol=1e-12)


def test_seed_reproduces_bit_for_bit_and_another_seed_differs(problem):
    o = opts(shuffle="every-epoch", max_epochs=3, seed=11)
    runs = [train_network(problem.X, problem.Y, problem.mlp(dropout=0.3), o) for _ in range(2)]
    for k in runs[0][0].params:
        np.testing.assert_array_equal(runs[0][0].params[k], runs[1][0].params[k])
    np.testing.assert_array_equal(runs[0][1].training_loss, runs[1][1].training_loss)
    other, _ = train_network(problem.X, problem.Y, problem.mlp(dropout=0.3), o.replace(seed=12))
    assert np.max(np.abs(other.params["fc_1.weight"] - runs[0][0].params["fc_1.weight"])) > 1e-6


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_precision_sets_every_array_dtype(problem, precision):
    net, _ = train_network(problem.X, problem.Y, problem.mlp(), opts(precision=precision))
    assert {v.dtype.name for v in list(net.params.values()) + list(net.state.values())} == {precision}


def test_whole_loop_on_the_standin_device_equals_cpu_bit_for_bit(problem):
    o = opts(shuffle="every-epoch", max_epochs=2, validation_data=(problem.Xv, problem.Yv), validation_frequency=2,
             gradient_threshold=0.5, gradient_threshold_method="global-l2norm", l2_regularization=1e-3)
    cpu, ic = train_network(problem.X, problem.Y, problem.mlp(dropout=0.2), o, device=Device("cpu"))
    dev, idv = train_network(problem.X, problem.Y, problem.mlp(dropout=0.2), o, device=Device("standin"))
    assert idv.settings["hardware"] == "standin" and ic.settings["hardware"] == "cpu"
    assert type(dev.params["fc_1.weight"]).__name__ == "StandInArray"
    for k in cpu.params:
        np.testing.assert_array_equal(to_host(dev.params[k]), cpu.params[k])
    np.testing.assert_array_equal(ic.training_loss, idv.training_loss)
    np.testing.assert_array_equal(ic.validation_accuracy, idv.validation_accuracy)
    np.testing.assert_array_equal(dev.classify(problem.Xv), cpu.classify(problem.Xv))


def test_inputs_are_not_modified(problem):
    layers = problem.mlp()
    X0, Y0 = problem.X.copy(), problem.Y.copy()
    net, _ = train_network(problem.X, problem.Y, layers, opts())
    assert all(layer.name is None and not layer.params for layer in layers)
    np.testing.assert_array_equal(problem.X, X0)
    np.testing.assert_array_equal(problem.Y, Y0)
    assert net.layers[1] is not layers[1]


def test_classes_are_sorted_labels_and_classify_returns_them(problem):
    net, info = train_network(problem.X, problem.Y, problem.mlp(), opts(max_epochs=30, initial_learn_rate=0.1,
                                                                        mini_batch_size=20))
    np.testing.assert_array_equal(net.classes, ["ant", "bee", "cat"])
    predicted = net.classify(problem.Xv)
    assert predicted.dtype.kind == "U" and np.mean(predicted == problem.Yv) > 0.9
    assert info.training_rmse is None and info.training_accuracy.shape == (90,)


def test_gpu_execution_environment_without_gpu_is_a_clear_error():
    from minidl.backend import gpu_available
    if gpu_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="device 'gpu' was requested"):
        train_network(X, T, linreg(), opts(execution_environment="gpu"))


def test_inert_option_combinations_are_accepted_like_matlab():
    # drop period/factor without 'piecewise', patience/frequency without validation data: no effect, no error
    _, info = train_network(X, T, linreg(), opts(learn_rate_drop_period=1, learn_rate_drop_factor=0.5,
                                                 validation_patience=1, validation_frequency=1, max_epochs=3))
    assert set(info.base_learn_rate) == {0.01} and len(info) == 9 and np.all(np.isnan(info.validation_loss))


def test_given_input_statistics_are_kept(problem):
    mean = np.arange(4.0)
    layers = problem.mlp()
    layers[0] = L.FeatureInput(4, mean=mean)
    net, _ = train_network(problem.X, problem.Y, layers, opts(reset_input_normalization=False))
    np.testing.assert_array_equal(net.input_layer.state["mean"], mean)


def test_a_trained_network_keeps_its_classes_when_trained_again(problem):
    net, _ = train_network(problem.X, problem.Y, problem.mlp(), opts())
    subset = problem.Y != "cat"
    again, _ = train_network(problem.X[subset], problem.Y[subset], net, opts())
    np.testing.assert_array_equal(again.classes, ["ant", "bee", "cat"])
    with pytest.raises(ValueError, match=r"Y\[\d+\]: label 'dog' is not one of the classes"):
        train_network(problem.X[:3], np.array(["ant", "dog", "bee"]), net, opts(mini_batch_size=2))


def test_stops_still_finalize_batch_norm_with_the_returned_weights(problem):
    def interrupt(info):
        if info["Iteration"] == 4 and info["State"] == "iteration":
            raise KeyboardInterrupt

    net, info = train_network(problem.X, problem.Y, problem.mlp(), opts(output_fcn=interrupt))
    assert info.stop_reason == reasons.STOPPED_BY_USER
    h = net["fc_1"].forward(net["featureinput_1"].forward(problem.X))
    np.testing.assert_allclose(net["batchnorm_1"].state["variance"], h.var(axis=0), rtol=1e-10)


class Memmapped(MiniBatchSource):
    """The docs' example: observations read from .npy files on disk, only the rows asked for."""

    def __init__(self, x_path, y_path):
        self.X, self.Y = np.load(x_path, mmap_mode="r"), np.load(y_path)

    def __len__(self):
        return len(self.Y)

    def read(self, indices):
        return np.asarray(self.X[indices]), self.Y[indices]


def test_data_streamed_from_disk_trains_like_arrays(problem, tmp_path):
    np.save(tmp_path / "x.npy", problem.X)
    np.save(tmp_path / "y.npy", problem.Y)
    o = opts(shuffle="every-epoch", validation_data=(problem.Xv, problem.Yv), validation_frequency=3)
    disk, info_disk = train_network(Memmapped(tmp_path / "x.npy", tmp_path / "y.npy"), problem.mlp(), o)
    mem, info_mem = train_network(problem.X, problem.Y, problem.mlp(), o)
    np.testing.assert_array_equal(disk.classes, mem.classes)  # found by one pass over the labels
    for k in mem.params:
        np.testing.assert_array_equal(disk.params[k], mem.params[k])
    np.testing.assert_array_equal(info_disk.validation_loss, info_mem.validation_loss)


@pytest.mark.gpu
def test_gpu_run_matches_the_cpu_run(problem):
    o = opts(shuffle="every-epoch", max_epochs=3, validation_data=(problem.Xv, problem.Yv), validation_frequency=2)
    cpu, ic = train_network(problem.X, problem.Y, problem.mlp(dropout=0.2), o.replace(execution_environment="cpu"))
    gpu, ig = train_network(problem.X, problem.Y, problem.mlp(dropout=0.2), o.replace(execution_environment="gpu"))
    assert ig.settings["hardware"].startswith("gpu") and gpu.device.name == "gpu"
    for k in cpu.params:
        np.testing.assert_allclose(to_host(gpu.params[k]), cpu.params[k], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ig.training_loss, ic.training_loss, rtol=1e-9)
    np.testing.assert_array_equal(gpu.classify(problem.Xv), cpu.classify(problem.Xv))
