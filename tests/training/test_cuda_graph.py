"""The graph-ready step (EngineConfig cuda_graphs): on the stand-in the same restructured step runs eagerly on its
static buffers ("replay = run the step function again"), and must equal the trainer's ordinary step exactly in
float64: that is the buffer plumbing (inputs, device scalars, layer state in place, one packed read) the captured
graph relies on.  The capture itself needs CuPy on a GPU (the last test, marked gpu)."""

import math
import types
import warnings

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_device, to_host
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
    """[lr, *optimizer.scalars()]: the values FlatStep's pass takes as numbers in the ordinary step."""
    sgdm = SGDM(0.9)
    sgdm.t = 3
    np.testing.assert_array_equal(scalars_for(sgdm, 0.1), [0.1, 0.9])
    adam = Adam(beta1=0.9, beta2=0.999)
    adam.t = 2
    np.testing.assert_allclose(scalars_for(adam, 0.01), [0.01, 0.9, 0.999, 1e-8, 1.0, math.sqrt(1 - 0.999 ** 2),
                                                         1 - 0.9 ** 2], rtol=1e-15)
    paper = Adam(form="paper")
    paper.t = 2
    np.testing.assert_allclose(scalars_for(paper, 0.01), [0.01, 0.9, 0.999, 1e-8, 1 - 0.999 ** 2, 1.0, 1 - 0.81],
                               rtol=1e-15)


def test_the_graph_step_runs_flatsteps_pass_with_device_scalars(monkeypatch):
    """One copy of the maths: the graph step's update is FlatStep's fused pass, its rate and optimizer scalars 0-d
    views of the one device vector (not numbers baked into a captured kernel); the step count is the host's."""
    from minidl.optim import flat
    seen = []
    call = flat.FlatStep.__call__

    def spy(self, layout, w, g, learning_rate, lr_factors=None, skip=(), scalars=None):
        seen.append((learning_rate, scalars))
        return call(self, layout, w, g, learning_rate, lr_factors, skip, scalars)

    monkeypatch.setattr(flat.FlatStep, "__call__", spy)
    opt = Adam()
    trainer = Trainer(classifier(), ArraySource(X, Y), config("on", opt, max_epochs=1))
    with pytest.warns(CudaGraphNotice):
        trainer.run()
    step = trainer._graph_step
    assert len(seen) == 5 and opt.t == 5
    for lr, scalars in seen:
        assert lr is step.c[0] and lr.ndim == 0 and list(scalars) == step.c[1:] and len(scalars) == 6
    np.testing.assert_array_equal(to_host(step.scalars), scalars_for(opt, 0.05))   # the last step's values


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


class _FakeCupy:
    """The stand-in's namespace seen as 'cupy', with a fake ``cupy.cuda`` whose graph "replays" by running the
    captured step again: it drives GraphStep's CuPy branch (streams, events, pool, capture, launch, the arrays
    re-pointed after capture) on the CPU.  Its capture runs the step (the stand-in computes eagerly), so its first
    launch does not.  The real capture is the gpu test below."""

    __name__ = "cupy"

    def __init__(self, fail_capture: bool = False):
        from minidl.backend import standin
        self._standin, self.log = standin, []
        fake = self

        class Stream:
            def __init__(self, non_blocking=False):
                assert non_blocking
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return False
            def wait_event(self, event):
                fake.log.append("wait")
            def begin_capture(self):
                fake.log.append("begin_capture")
                if fail_capture:
                    raise RuntimeError("cudaErrorStreamCaptureUnsupported")
                fake.capturing = True
            def end_capture(self):
                fake.log.append("end_capture")
                return Graph()

        class Graph:
            def upload(self, stream):
                fake.log.append("upload")
            def launch(self, stream):
                fake.log.append("launch")
                if fake.log.count("launch") > 1:   # the first launch: the capture's run (the fake capture ran
                    fake.step.body()               # the step, where CUDA only records it)

        class Event:
            def record(self, stream=None):
                pass

        class Pool:
            def malloc(self, size):
                raise AssertionError("not called by the fake")

        import contextlib
        self.cuda = types.SimpleNamespace(Stream=Stream, Event=Event, MemoryPool=Pool,
                                          get_current_stream=lambda: Stream(True),
                                          using_allocator=lambda malloc: contextlib.nullcontext())

    def __getattr__(self, name):
        return getattr(self._standin, name)


@pytest.mark.parametrize("fail", [False, True], ids=["captured", "capture-fails"])
def test_the_cupy_branch_with_a_fake_cupy(monkeypatch, fail):
    from minidl.training import cuda_graph
    fake = _FakeCupy(fail_capture=fail)
    allocate = GraphStep._allocate

    def allocate_as_cupy(self, x, t):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CudaGraphNotice)     # the stand-in's own notice: it is 'cupy' now
            allocate(self, x, t)
        self.xp, self.cupy = fake, True
        self.stream, self.pool = fake.cuda.Stream(non_blocking=True), fake.cuda.MemoryPool()
        fake.step = self

    monkeypatch.setattr(GraphStep, "_allocate", allocate_as_cupy)
    monkeypatch.setattr(cuda_graph, "_upload", lambda dst, host, stream: dst.__setitem__(
        slice(None), to_device(host, "standin")))
    eager = run("off", OPTIMIZERS["adam"], max_epochs=2)
    trainer = Trainer(classifier(), ArraySource(X, Y), config("on", Adam(), max_epochs=2))
    if fail:
        with pytest.warns(CudaGraphNotice, match="capture failed .RuntimeError: cudaErrorStreamCaptureUnsupported.; "
                                                 "the step runs eagerly"):
            graph = trainer.run()
    else:
        graph = trainer.run()      # captured: no notice (filterwarnings = error)
    assert_same(eager, graph)
    step = trainer._graph_step
    assert fake.log.count("begin_capture") == 1
    if fail:
        assert step.graph is None and "cudaErrorStreamCaptureUnsupported" in step.failed
        assert "launch" not in fake.log
    else:                          # 3 eager warm-up steps, the capture, then 10 − 3 launches
        assert step.graph is not None and fake.log.count("launch") == 10 - 3
        assert fake.log.index("end_capture") < fake.log.index("upload") < fake.log.index("launch")


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


def test_the_training_options_spell_cuda_graphs_and_reach_the_engine():
    """`cuda_graphs` / 'CudaGraphs' (a minidl extension) reach EngineConfig; a bad value names the option; 'on' on
    the CPU trains eagerly with the notice."""
    import minidl
    from minidl.matlab import train as mtrain
    o = minidl.training_options("sgdm", cuda_graphs="on", max_epochs=1, verbose=False)
    assert mtrain.engine_config(o).cuda_graphs == "on"
    assert mtrain.engine_config(minidl.training_options("sgdm")).cuda_graphs == "off"
    assert minidl.matlab.trainingOptions("sgdm", "CudaGraphs", "auto").CudaGraphs == "auto"
    with pytest.raises(ValueError, match="cuda_graphs.*'sometimes'.*'off'"):
        minidl.training_options("sgdm", cuda_graphs="sometimes")
    with pytest.raises(ValueError, match="CudaGraphs"):
        minidl.matlab.trainingOptions("sgdm", "CudaGraphs", "sometimes")
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    layers = [minidl.layers.FeatureInput(3, normalization="none"), minidl.layers.FullyConnected(2),
              minidl.layers.Softmax(), minidl.layers.ClassificationOutput()]
    with pytest.warns(CudaGraphNotice, match="cuda_graphs 'on'"):
        net, info = minidl.train_network(X, Y, layers, minidl.training_options(
            "sgdm", cuda_graphs="on", max_epochs=1, mini_batch_size=8, verbose=False, execution_environment="cpu"))
    assert len(info.training_loss) == 2
