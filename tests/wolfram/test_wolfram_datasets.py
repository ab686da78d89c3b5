"""Named data sets "MNIST" and "FashionMNIST": the real download code against a local HTTP server on 127.0.0.1
serving a tiny IDX fixture made here; once into the cache folder ($MINIDL_DATA), checksummed, errors that name the
file to place there."""

import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from functools import partial

import numpy as np
import pytest

from minidl import layers as L
from minidl.wolfram import NetTrain
from minidl.wolfram import datasets as D
from minidl.wolfram.data import named_dataset


def idx_bytes(a: np.ndarray) -> bytes:
    """IDX: magic (0, 0, 0x08 unsigned byte, rank), the sizes as big-endian int32, then the bytes."""
    return struct.pack(">BBBB", 0, 0, 8, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(np.uint8).tobytes()


@pytest.fixture
def fixture_files(tmp_path):
    """Four gzipped IDX files (6 training and 4 test images of 28x28) in a served folder, and their MD5s."""
    rng = np.random.default_rng(0)
    served = tmp_path / "served"
    served.mkdir()
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
              "train-labels-idx1-ubyte.gz": np.array([0, 1, 2, 0, 1, 2]),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": np.array([2, 1, 0, 1])}
    md5 = {}
    for name, a in arrays.items():
        data = gzip.compress(idx_bytes(a), mtime=0)
        (served / name).write_bytes(data)
        md5[name] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return served, md5, arrays


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):      # no lines on stderr
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(fixture_files):
    """An HTTP server on 127.0.0.1 (a free port) serving the fixture folder; stopped after the test."""
    served = fixture_files[0]
    _Quiet.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(D.CACHE_ENV, str(folder))
    D._arrays.cache_clear()
    yield folder
    D._arrays.cache_clear()


def use_mirror(monkeypatch, mirror, md5, name="MNIST"):
    monkeypatch.setitem(D.REMOTE, name, D.RemoteDataSet(name, (mirror,), md5, D.REMOTE[name].description))


def test_cache_folder_default_and_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(D.CACHE_ENV, raising=False)
    assert D.cache_folder() == os.path.join(os.path.expanduser("~"), ".cache", "minidl")
    monkeypatch.setenv(D.CACHE_ENV, str(tmp_path))
    assert D.cache_folder() == str(tmp_path)


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
def test_download_once_verify_and_load_splits(name, server, fixture_files, cache, monkeypatch):
    _, md5, arrays = fixture_files
    use_mirror(monkeypatch, server, md5, name)
    X, y = named_dataset(name, "train")
    assert sorted(_Quiet.requests) == sorted(f"/{f}" for f in md5)          # each file fetched once
    assert sorted(os.listdir(cache / name)) == sorted(md5)                  # no temporary files left
    np.testing.assert_allclose(X[:, 0] * 255, arrays["train-images-idx3-ubyte.gz"], atol=1e-4)
    assert X.shape == (6, 1, 28, 28) and y.tolist() == [0, 1, 2, 0, 1, 2]
    Xt, yt = named_dataset(name, "test")                                     # TestData
    assert Xt.shape == (4, 1, 28, 28) and yt.tolist() == [2, 1, 0, 1]
    D._arrays.cache_clear()
    named_dataset(name, "train")                                             # read again: from the cache folder
    assert len(_Quiet.requests) == 4


def test_nettrain_on_a_named_set_with_automatic_validation(server, fixture_files, cache, monkeypatch):
    use_mirror(monkeypatch, server, fixture_files[1])
    net = [L.Flatten(), L.FullyConnected(3), L.Softmax()]
    n_val, rounds = NetTrain(net, "MNIST", ["ValidationExamples", "TotalRounds"], ValidationSet="Automatic",
                             MaxTrainingRounds=2, BatchSize=3, TrainingProgressReporting=None)
    assert (n_val, rounds) == (4, 2)


def test_a_wrong_checksum_names_the_file_and_keeps_nothing(server, fixture_files, cache, monkeypatch):
    md5 = dict(fixture_files[1], **{"t10k-labels-idx1-ubyte.gz": "0" * 32})
    use_mirror(monkeypatch, server, md5)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.gz: downloaded from .* expected 0{32}"):
        D.fetch("MNIST")
    assert "t10k-labels-idx1-ubyte.gz" not in os.listdir(cache / "MNIST")
    assert not [f for f in os.listdir(cache / "MNIST") if f.startswith(".")]


def test_a_corrupted_cached_file_is_an_error(server, fixture_files, cache, monkeypatch):
    use_mirror(monkeypatch, server, fixture_files[1])
    folder = D.fetch("MNIST")
    with open(os.path.join(folder, "train-labels-idx1-ubyte.gz"), "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz has MD5 .*; expected"):
        D.fetch("MNIST")


def test_no_network_names_the_file_to_place_in_the_cache(fixture_files, cache, monkeypatch):
    with socket.socket() as s:        # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_mirror(monkeypatch, f"http://127.0.0.1:{port}/", fixture_files[1])
    expected = os.path.join(str(cache), "MNIST")
    with pytest.raises(ConnectionError, match=r"place the file train-images-idx3-ubyte.gz \(MD5 [0-9a-f]{32}\) in "
                                              + expected.replace("\\", "\\\\")):
        named_dataset("MNIST", "train")


def test_files_placed_by_hand_are_used_without_a_network(fixture_files, cache, monkeypatch):
    served, md5, _ = fixture_files
    use_mirror(monkeypatch, "http://127.0.0.1:9/", md5)       # never reached
    (cache / "MNIST").mkdir(parents=True)
    for f in md5:
        (cache / "MNIST" / f).write_bytes((served / f).read_bytes())
    X, y = named_dataset("MNIST", "train")
    assert X.shape == (6, 1, 28, 28) and not X.flags.writeable
