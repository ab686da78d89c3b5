"""dispatch_in_background: a reader thread reads the next mini-batches; the run is the one without it, bit for bit."""

import dataclasses
import threading
import time

import numpy as np
import pytest

from minidl import layers as L
from minidl import train_network, training_options
from minidl.network import Network
from minidl.training import EngineConfig, MiniBatchSource, Observer, Trainer
from minidl.training import events as ev
from minidl.training.prefetch import BackgroundReader

RNG = np.random.default_rng(3)
IMAGES = RNG.standard_normal((44, 1, 4, 4))
LABELS = np.array(["a", "b"])[(IMAGES[:, 0, 0, 0] > 0).astype(int)]


class Noisy(MiniBatchSource):
    """A streamed source whose read draws from the run's generator (an augmentation: noise and a random flip), and
    notes which thread read each batch."""

    def __init__(self, fail_at: int | None = None, delay: float = 0.0):
        self.rng = None
        self.threads: list[str] = []
        self.reads = 0
        self.fail_at, self.delay = fail_at, delay

    def __len__(self):
        return len(IMAGES)

    def use_generator(self, rng):
        self.rng = rng

    def read(self, indices):
        self.reads += 1
        self.threads.append(threading.current_thread().name)
        if self.fail_at is not None and self.reads == self.fail_at:
            raise OSError(f"disk read failed at read {self.reads}")
        time.sleep(self.delay)
        x = IMAGES[indices]
        if self.rng is not None:
            flip = self.rng.random(len(indices)) < 0.5
            x = np.where(flip[:, None, None, None], x[..., ::-1], x) + 0.1 * self.rng.standard_normal(x.shape)
        return x, LABELS[indices]


def net(dropout: bool = False):
    layers = [L.ImageInput((1, 4, 4)), L.Convolution2D(3, 2), L.BatchNormalization(), L.ReLU()]
    if dropout:
        layers.append(L.Dropout(0.3))
    return layers + [L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()]


def opts(background: bool, **kw):
    base = {"mini_batch_size": 8, "max_epochs": 3, "shuffle": "every-epoch", "precision": "float64",
            "verbose": False, "dispatch_in_background": background}
    return training_options("sgdm", **{**base, **kw})


def run(background: bool, source=None, dropout: bool = False, observers=(), **kw):
    source = source if source is not None else Noisy()
    return (*train_network(source, net(dropout), opts(background, **kw), observers=observers), source)


def assert_same(a, b):
    (net_a, info_a, _), (net_b, info_b, _) = a, b
    assert net_a.params.keys() == net_b.params.keys()
    for k in net_a.params:
        np.testing.assert_array_equal(net_a.params[k], net_b.params[k], err_msg=k)
    for k in net_a.state_arrays():
        np.testing.assert_array_equal(net_a.state_arrays()[k], net_b.state_arrays()[k], err_msg=k)
    np.testing.assert_array_equal(info_a.training_loss, info_b.training_loss)
    np.testing.assert_array_equal(info_a.training_accuracy, info_b.training_accuracy)


def readers():
    return [t for t in threading.enumerate() if t.name == "minidl-reader"]


class StopAt(Observer):
    """Asks for a stop at iteration ``k`` (mid-epoch), and keeps the checkpoint state's generator at ``k``."""

    def __init__(self, k: int, snapshot_at: int | None = None):
        self.k, self.snapshot_at, self.generator = k, snapshot_at, None

    def on_iteration(self, state):
        if state.iteration == self.snapshot_at:
            time.sleep(0.2)               # the reader (when there is one) reads ahead meanwhile
            self.generator = state.snapshot()[0]["training"]["rng"]["state"]
        if state.iteration == self.k:
            return ev.StopRequest(ev.EARLY_STOP)
        return None


# ------------------------------------------------------------------------------------------------ the reader itself
def test_the_reader_yields_the_items_in_order_and_reads_at_most_depth_plus_one_ahead():
    taken = []

    def items():
        for k in range(10):
            taken.append(k)
            yield k

    reader = BackgroundReader(items(), depth=2)
    assert next(reader) == 0
    deadline = time.monotonic() + 10
    while len(taken) < 4 and time.monotonic() < deadline:   # the reader fills the queue (2), the next item in hand
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(taken) == 4                # and reads no further while the queue is full
    assert list(reader) == list(range(1, 10))
    reader.close()
    assert not reader.alive


def test_closing_a_reader_blocked_on_a_full_queue_joins_its_thread_and_closes_the_iterator():
    closed = []

    def items():
        try:
            yield from range(100)
        finally:
            closed.append(threading.current_thread().name)

    reader = BackgroundReader(items(), depth=2)
    assert next(reader) == 0
    reader.close()
    assert not reader.alive and closed == ["minidl-reader"]
    with pytest.raises(StopIteration):
        next(reader)


def test_a_depth_that_is_not_a_positive_int_is_an_error_naming_it():
    with pytest.raises(ValueError, match="depth: got 0; allowed: a positive int"):
        BackgroundReader(iter(()), depth=0)


# ------------------------------------------------------------------------------------------------ in the engine
def test_background_reading_gives_the_same_run_bit_for_bit_with_shuffles_and_augmentation():
    a, b = run(True), run(False)
    assert_same(a, b)
    reads = a[2].threads
    assert reads.count("minidl-reader") == 3 * 5 and set(reads) == {"minidl-reader", "MainThread"}
    assert set(b[2].threads) == {"MainThread"}   # the statistics passes (input, population) read on this thread
    assert readers() == []


def test_with_a_network_that_draws_too_the_batches_are_read_on_this_thread_in_the_runs_order_of_draws():
    a, b = run(True, dropout=True), run(False, dropout=True)
    assert_same(a, b)
    assert set(a[2].threads) == {"MainThread"}


def test_arrays_and_a_validation_set_read_in_the_background_give_the_same_run():
    X, Y = IMAGES, LABELS
    o = {"validation_data": (X[:12], Y[:12]), "validation_frequency": 2}
    a = train_network(X, Y, net(dropout=True), opts(True, **o))
    b = train_network(X, Y, net(dropout=True), opts(False, **o))
    assert_same((*a, None), (*b, None))
    np.testing.assert_array_equal(a[1].validation_loss, b[1].validation_loss)


def test_a_stop_part_way_puts_back_the_generator_and_joins_the_reader():
    # the population pass after the stop reads (and draws) again: the draws the reader made ahead must be undone
    a = run(True, observers=[StopAt(7, snapshot_at=4)])
    b = run(False, observers=[StopAt(7, snapshot_at=4)])
    assert len(a[1].training_loss) == 7
    assert_same(a, b)
    assert readers() == []


def test_a_checkpoint_taken_while_the_reader_runs_ahead_holds_the_runs_generator_state():
    ahead, plain = StopAt(99, snapshot_at=2), StopAt(99, snapshot_at=2)
    source = Noisy()
    run(True, source=source, observers=[ahead])
    run(False, observers=[plain])
    assert ahead.generator == plain.generator


def test_a_read_error_is_the_sources_own_exception_raised_at_its_iteration():
    with pytest.raises(OSError, match="disk read failed at read 11") as got:
        run(True, source=Noisy(fail_at=11))
    with pytest.raises(OSError, match="disk read failed at read 11") as want:
        run(False, source=Noisy(fail_at=11))
    # reads 1-8 come before training (shape, classes, the input-statistics pass): read 11 is iteration 3
    assert len(got.value.minidl_info.training_loss) == len(want.value.minidl_info.training_loss) == 2
    for k, v in want.value.minidl_net.params.items():
        np.testing.assert_array_equal(got.value.minidl_net.params[k], v)
    assert readers() == []


@pytest.mark.parametrize("stop", ["observer", "event", "failure", "max_epochs"])
def test_no_reader_thread_is_left_after_any_stop(stop):
    event = threading.Event()

    class Stopper(Observer):
        def on_iteration(self, state):
            if state.iteration == 3:
                if stop == "observer":
                    return ev.StopRequest(ev.EARLY_STOP)
                if stop == "event":
                    event.set()
                if stop == "failure":
                    raise RuntimeError("an observer failed")
            return None

    try:
        _, info = train_network(Noisy(), net(), opts(True), observers=[Stopper()], stop_event=event)
        assert len(info.training_loss) == (15 if stop == "max_epochs" else 3)
    except RuntimeError as e:
        assert stop == "failure" and str(e) == "an observer failed"
    assert readers() == []


# ------------------------------------------------------------------------------------------------ with workers
HAVE_WORKERS = "communicator" in {f.name for f in dataclasses.fields(EngineConfig)}


@pytest.mark.skipif(not HAVE_WORKERS, reason="EngineConfig.communicator (issue 15 item 1) is not in this checkout")
def test_background_reading_on_data_parallel_workers_gives_the_run_without_it():
    from minidl.matlab.train import engine_config
    from minidl.testing import run_workers

    def work(background):
        def on(comm):
            source = Noisy()
            cfg = dataclasses.replace(engine_config(opts(background)), communicator=comm)
            return (*Trainer(Network(net()), source, cfg).run(), source)
        return run_workers(2, on)

    with_reader, without = work(True), work(False)
    for a, b in zip(with_reader, without):
        assert_same(a, b)
    assert "minidl-reader" in with_reader[1][2].threads
    assert readers() == []


# ------------------------------------------------------------------------------------------------ MATLAB
def test_matlab_an_augmented_datastore_dispatched_in_background_trains_the_same():
    import minidl.matlab as M

    images = np.transpose(IMAGES, (2, 3, 1, 0))             # H×W×C×N
    aug = M.imageDataAugmenter("RandXReflection", True, "RandRotation", [-20, 20])
    layers = [M.imageInputLayer([4, 4, 1]), M.convolution2dLayer(2, 3), M.batchNormalizationLayer(), M.reluLayer(),
              M.fullyConnectedLayer(2), M.softmaxLayer(), M.classificationLayer()]
    o = M.trainingOptions("sgdm", "MaxEpochs", 2, "MiniBatchSize", 8, "Verbose", 0, "Precision", "double",
                          "Shuffle", "every-epoch")
    ds = M.augmentedImageDatastore([4, 4], images, LABELS, "DataAugmentation", aug, "DispatchInBackground", True)
    assert ds.DispatchInBackground is True    # the datastore's property turns background reading on (docs)
    a_net, a = M.trainNetwork(ds, layers, o)
    b_net, b = M.trainNetwork(M.augmentedImageDatastore([4, 4], images, LABELS, "DataAugmentation", aug), layers, o)
    np.testing.assert_array_equal(a.TrainingLoss, b.TrainingLoss)
    for k, v in b_net.params.items():
        np.testing.assert_array_equal(a_net.params[k], v)
    with pytest.raises(TypeError, match="'DispatchInBackground': got 'yes'; allowed: true or false"):
        M.augmentedImageDatastore([4, 4], images, LABELS, "DispatchInBackground", "yes")

