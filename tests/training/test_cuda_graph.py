"""The graph-ready step (EngineConfig cuda_graphs): on the stand-in the same restructured step runs eagerly on its
static buffers ("replay = run the step function again"), and must equal the trainer's ordinary step exactly in
float64: that is the buffer plumbing (inputs, device scalars, layer state in place, one packed read) the captured
graph relies on.  The capture itself needs CuPy on a GPU (the last test, marked gpu)."""

import math

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.network import Network
from minidl.optim import SGD, SGDM, Adam, ConstantSchedule, RMSProp
from minidl.training import ArraySource, EngineConfig, Trainer
from minidl.training.cuda_graph import CudaGraphNotice, GraphStep, scalars_for

RNG = np.random.default_rng(7)
X = RNG.standard_normal((80, 4))
Y = np.array(["ant", "bee", "cat"])[RNG.integers(0, 3, 80)]
XR = RNG.standard_normal((40, 3))
TR = XR @ np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 1.5]])


def classifier(dropout: bool = False):
    return Network([L.FeatureInput(4), L.FullyConnected(6), L.BatchNormalization(), L.ReLU()]
                   + ([L.Dropout(0.2)] if dropout else []) + [L.FullyConnected(3), L.Softmax(),
                                                              L.ClassificationOutput()])


def regressor():
    return Network([L.FeatureInput(3, normalization="none"), L.FullyConnected(5), L.BatchNormalization(), L.Tanh(),
                    L.FullyConnected(2), L.RegressionOutput()])


def config(mode, optimizer, **kw):
    base = dict(optimizer=optimizer, schedule=ConstantSchedule(0.05), max_epochs=4, batch_size=16, dtype="float64",
                device="standin", cuda_graphs=mode, validation_frequency=None, validate_first_iteration=False,
                batch_norm_statistics="moving")
    return EngineConfig(**{**base, **kw})


def run(mode, optimizer, net=classifier, data=(X, Y), **kw):
    if mode == "on":
        with pytest.warns(CudaGraphNotice, match="no capture on standin arrays"):
            trained, info = Trainer(net(), ArraySource(*data), config(mode, optimizer(), **kw)).run()
    else:
        trained, info = Trainer(net(), ArraySource(*data), config(mode, optimizer(), **kw)).run()
    return trained, info


def assert_same(a, b):
    (net_a, info_a), (net_b, info_b) = a, b
    arrays_a, arrays_b = net_a.state_arrays(), net_b.state_arrays()
    assert arrays_a.keys() == arrays_b.keys()
    for k in arrays_a:                                          # parameters and batch-norm statistics
        np.testing.assert_array_equal(arrays_a[k], arrays_b[k], err_msg=k)
    for column in ("training_loss", "gradient_norm"):
        np.testing.assert_array_equal(getattr(info_a, column), getattr(info_b, column))
    assert len(info_a) == len(info_b)


OPTIMIZERS = {"sgdm": lambda: SGDM(0.9), "sgd": lambda: SGD(), "adam": lambda: Adam(),
              "adam-paper": lambda: Adam(form="paper")}


@pytest.mark.parametrize("method", sorted(OPTIMIZERS))
def test_graph_ready_step_equals_the_ordinary_step_float64(method):
    """20 iterations (4 epochs of 5 batches), batch norm: parameters, moving statistics, losses and gradient norms
    bit-identical; the optimizer state too."""
    eager = run("off", OPTIMIZERS[method])
    graph = run("on", OPTIMIZERS[method])
    assert len(eager[1]) == 20
    assert_same(eager, graph)


def test_optimizer_state_and_step_count_are_the_ordinary_ones():
    opt_a, opt_b = Adam(), Adam()
    Trainer(classifier(), ArraySource(X, Y), config("off", opt_a)).run()
    with pytest.warns(CudaGraphNotice):
        Trainer(classifier(), ArraySource(X, Y), config("on", opt_b)).run()
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["t"] == sb["t"] == 20 and sa.keys() == sb.keys()
    for k in sa:
        if k != "t":
            np.testing.assert_array_equal(to_host(sa[k]), to_host(sb[k]), err_msg=k)


def test_regression_with_l2_global_clipping_weight_clip_and_example_losses():
    kw = dict(l2=0.01, gradient_threshold=0.5, gradient_threshold_method="global-l2norm", weight_clip=0.8,
              record_example_losses=True, batch_size=8, max_epochs=3)
    assert_same(run("off", lambda: SGDM(0.5), regressor, (XR, TR), **kw),
                run("on", lambda: SGDM(0.5), regressor, (XR, TR), **kw))


def test_learn_rate_factors_and_a_schedule_reach_the_device_scalars():
    from minidl.optim import PiecewiseSchedule

    def net():
        return Network([L.FeatureInput(4), L.FullyConnected(6, weight_learn_rate_factor=2.0),
                        L.BatchNormalization(), L.ReLU(), L.FullyConnected(3, bias_learn_rate_factor=0.0),
                        L.Softmax(), L.ClassificationOutput()])
    kw = dict(schedule=PiecewiseSchedule(0.05, 0.5, 1))
    assert_same(run("off", OPTIMIZERS["adam"], net, **kw), run("on", OPTIMIZERS["adam"], net, **kw))


def test_a_partial_last_batch_runs_the_ordinary_step_and_the_buffers_follow():
    """partial_batch 'keep': 80 = 5·16 + 0 … batch 12 leaves a partial batch of 8 each epoch: that iteration runs the
    ordinary step (a notice), and the next full batch copies the layer state it replaced into the fixed buffers."""
    kw = dict(batch_size=12, partial_batch="keep")
    eager = run("off", OPTIMIZERS["sgdm"], **kw)
    with pytest.warns(CudaGraphNotice, match=r"differs from the captured \(12, 4\) \(a partial batch\)"):
        graph = run("on", OPTIMIZERS["sgdm"], **kw)
    assert eager[1].iterations_per_epoch == 7
    assert_same(eager, graph)


def test_a_non_finite_step_rolls_back_to_the_same_network():
    """A rate that blows up: the stop, the iteration and the returned (rolled back) network and batch-norm
    statistics are those of the ordinary step (the backups the graph-ready step fills)."""
    kw = dict(schedule=ConstantSchedule(1e6), batch_size=8, max_epochs=10)
    eager = run("off", OPTIMIZERS["sgdm"], regressor, (XR, TR), **kw)
    graph = run("on", OPTIMIZERS["sgdm"], regressor, (XR, TR), **kw)
    assert eager[1].non_finite == {"iteration": 25, "parameter": "fc_1.weight", "what": "loss"}
    assert graph[1].non_finite == eager[1].non_finite
    assert_same(eager, graph)


def test_the_layers_hold_the_static_buffers_and_one_read_carries_the_values():
    net = classifier()
    trainer = Trainer(net, ArraySource(X, Y), config("on", SGDM(0.9), max_epochs=1))
    with pytest.warns(CudaGraphNotice):
        trainer.run()
    step = trainer._graph_step
    assert isinstance(step, GraphStep) and step.iterations == 5
    bn = net.layers[2]
    assert bn.state["mean"] is next(s for layer, k, s, _ in step.state if layer is bn and k == "mean")
    loss, gnorm, hits, ok = (float(to_host(v)) for v in step.reported)   # the packed buffer's views
    assert loss == trainer.state.training_loss and ok == 1.0
    assert trainer.state.training_accuracy == pytest.approx(100.0 * hits / 16)


def test_scalars_for_by_hand():
    sgdm = SGDM(0.9)
    sgdm.t = 3
    np.testing.assert_array_equal(scalars_for(sgdm, 0.1), [0.1])
    adam = Adam(beta1=0.9, beta2=0.999)
    adam.t = 2
    np.testing.assert_allclose(scalars_for(adam, 0.01), [0.01 * math.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2)],
                               rtol=1e-15)
    paper = Adam(form="paper")
    paper.t = 2
    np.testing.assert_allclose(scalars_for(paper, 0.01), [0.01 / (1 - 0.81), 1 - 0.999 ** 2], rtol=1e-15)


def test_auto_off_the_gpu_is_the_ordinary_step_silently():
    trainer = Trainer(classifier(), ArraySource(X, Y), config("auto", SGDM(0.9), max_epochs=1))
    trainer.run()                                   # filterwarnings = error: no notice
    assert trainer._graph_step is None


@pytest.mark.parametrize("why, kw, net", [
    ("dropout", {}, lambda: classifier(dropout=True)),
    ("the optimizer RMSProp", {"optimizer": RMSProp()}, classifier),
])
def test_on_where_the_step_cannot_take_the_form_is_a_notice_and_the_ordinary_step(why, kw, net):
    cfg = config("on", kw.pop("optimizer", SGDM(0.9)), max_epochs=1, **kw)
    trainer = Trainer(net(), ArraySource(X, Y), cfg)
    with pytest.warns(CudaGraphNotice, match=f"cuda_graphs 'on': not for {why}"):
        trainer.run()
    assert trainer._graph_step is None


def test_a_mode_not_built_names_the_option():
    with pytest.raises(ValueError, match=r"cuda_graphs: got 'yes'; allowed: 'off', 'on', 'auto'"):
        Trainer(classifier(), ArraySource(X, Y), config("yes", SGDM(0.9))).run()


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["sgdm", "adam"])
def test_replay_equals_eager_on_the_gpu(method):
    """CuPy: warm-up, capture, replay; the replayed run equals the eager one to float64 rounding."""
    def gpu_run(mode):
        cfg = config(mode, OPTIMIZERS[method](), device="gpu", max_epochs=8)
        trainer = Trainer(classifier(), ArraySource(X, Y), cfg)
        trained, info = trainer.run()
        return trainer, trained, info
    _, eager, info_e = gpu_run("off")
    trainer, graph, info_g = gpu_run("on")
    assert trainer._graph_step.graph is not None, trainer._graph_step.failed   # it did capture
    a, b = eager.state_arrays(), graph.state_arrays()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(info_e.training_loss, info_g.training_loss, rtol=1e-12)
