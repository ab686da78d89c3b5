"""Network.predict takes arrays, lists of arrays and mini-batch sources; summary shows as HTML (issue 12 item 12)."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import layers as L
from minidl.network import Network, Summary
from minidl.training.data import ArraySource, MiniBatchSource


def _net():
    net = Network([L.ImageInput((2, 3, 3), normalization="none"), L.Convolution2D(2, 4, name="conv"),
                   L.ReLU(), L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()])
    return net.initialize(dtype="float64")


class Squares(MiniBatchSource):
    """A source that makes its observations on demand (as a datastore reads them from disk)."""

    def __init__(self, X):
        self.X = X

    def __len__(self):
        return len(self.X)

    def read(self, indices):
        return self.X[indices], np.zeros(len(indices))


@pytest.fixture
def data():
    return np.random.default_rng(0).standard_normal((7, 3, 3, 2)).transpose(0, 3, 1, 2)  # (N, C, H, W)


def test_predict_list_of_observations_chunks_and_sources(data):
    net = _net()
    want = net.predict(data)
    np.testing.assert_array_equal(net.predict(list(data), batch_size=3), want)
    np.testing.assert_array_equal(net.predict([data[:2], data[2:]], batch_size=3), want)
    np.testing.assert_array_equal(net.predict(ArraySource(data), batch_size=3), want)
    np.testing.assert_array_equal(net.predict(Squares(data), batch_size=2), want)
    np.testing.assert_array_equal(net.classify(Squares(data)), net.classify(data))
    np.testing.assert_array_equal(net.activations(list(data), "conv"), net.activations(data, "conv"))


def test_predict_input_errors(data):
    net = _net()
    with pytest.raises(ValueError, match=r"x: a list of arrays of shapes .*allowed: a non-empty list"):
        net.predict([data[0], data[:2]])
    with pytest.raises(ValueError, match="allowed"):
        net.predict([])
    with pytest.raises(ValueError, match=r"source's batch 0 has shape \(7, 3, 3, 2\); expected \(N, 2, 3, 3\)"):
        net.predict(ArraySource(data.transpose(0, 2, 3, 1)), batch_size=8)
    with pytest.raises(TypeError, match="x: got str"):
        net.predict("images")


def test_summary_is_text_and_html():
    s = _net().summary()
    assert isinstance(s, Summary) and isinstance(s, str) and repr(s) == str(s)
    html = s._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == 1 + 6
    assert "<th>Output size</th>" in html and "<td>conv</td>" in html and f"Total learnables: {s.total}" in html
    assert str(s).splitlines()[-1] == f"Total learnables: {s.total}"
