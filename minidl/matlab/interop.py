"""Weights that travel: MATLAB's layer array (``net.Layers``) over a minidl Network, and ``.mat`` files.

``layer_array(net)`` is MATLAB's ``net.Layers``: one view per layer whose properties (``Weights``, ``Bias``,
``Scale``, ``Offset``, ``TrainedMean``, ``TrainedVariance``, ``Mean``, ``StandardDeviation``, ``Min``, ``Max``)
read and write the network's arrays in MATLAB's layouts:

- convolution ``Weights`` h×w×c×F (minidl (F, C, KH, KW)), ``Bias`` 1×1×F;
- fully connected ``Weights`` O×I with I in MATLAB's column-major flattening of an h×w×c input (h fastest, then
  w, then c; minidl flattens C, H, W row-major), ``Bias`` O×1;
- batch normalization ``Scale``, ``Offset``, ``TrainedMean``, ``TrainedVariance`` 1×1×C after images, C×1 after
  features;
- input ``Mean`` / ``StandardDeviation`` / ``Min`` / ``Max``: h×w×c (per element), 1×1×c (per channel) or a
  scalar for images; F×1 for features.

``export_mat(net, path)`` / ``import_mat(path, net)`` write and read a ``.mat`` file holding a cell array
``Layers`` of structs (Name, Class and the layer's learnables in MATLAB's layouts; ``Classes`` of the output
layer).  docs/matlab-interop.md has the MATLAB lines that write and read the same file.  The conversions are
transpositions and reshapes only, so a round trip is bit-exact.  ``.mat`` files need scipy
(``pip install minidl[mat]``).

>>> import numpy as np
>>> from minidl import Network
>>> from minidl.matlab import convolution2dLayer, imageInputLayer, fullyConnectedLayer, softmaxLayer, \\
...     classificationLayer
>>> net = Network([imageInputLayer([4, 4, 1], 'Normalization', 'none'), convolution2dLayer(3, 2),
...                fullyConnectedLayer(3), softmaxLayer(), classificationLayer()])
>>> _ = net.initialize(rng=np.random.default_rng(0), dtype="float64")
>>> layers = layer_array(net)
>>> layers[1].Weights.shape, layers[1].Bias.shape, layers[2].Weights.shape
((3, 3, 1, 2), (1, 1, 2), (3, 8))
>>> layers["fc_1"].OutputSize
3
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from minidl import layers as L
from minidl._files import atomic_write_bytes
from minidl.backend import device_of, to_device, to_host
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import AveragePooling2D, MaxPooling2D
from minidl.matlab.layers import matlab_fc_weights_to_minidl
from minidl.network import Network

__all__ = ["layer_array", "LayerArray", "MatlabLayer", "export_mat", "import_mat", "MATLAB_CLASSES"]

#: minidl layer class → MATLAB's layer class.
MATLAB_CLASSES: dict[type, str] = {
    L.ImageInput: "nnet.cnn.layer.ImageInputLayer", L.FeatureInput: "nnet.cnn.layer.FeatureInputLayer",
    Convolution2D: "nnet.cnn.layer.Convolution2DLayer", L.BatchNormalization: "nnet.cnn.layer.BatchNormalizationLayer",
    L.ReLU: "nnet.cnn.layer.ReLULayer", MaxPooling2D: "nnet.cnn.layer.MaxPooling2DLayer",
    AveragePooling2D: "nnet.cnn.layer.AveragePooling2DLayer", L.FullyConnected: "nnet.cnn.layer.FullyConnectedLayer",
    L.Dropout: "nnet.cnn.layer.DropoutLayer", L.Softmax: "nnet.cnn.layer.SoftmaxLayer",
    L.ClassificationOutput: "nnet.cnn.layer.ClassificationOutputLayer",
    L.RegressionOutput: "nnet.cnn.layer.RegressionOutputLayer",
    L.LSTM: "nnet.cnn.layer.LSTMLayer", L.BiLSTM: "nnet.cnn.layer.BiLSTMLayer", L.GRU: "nnet.cnn.layer.GRULayer",
}

#: the merge layers of layer graphs (minidl.matlab.graph)
MATLAB_CLASSES.update({L.Addition: "nnet.cnn.layer.AdditionLayer",
                       L.DepthConcatenation: "nnet.cnn.layer.DepthConcatenationLayer",
                       L.Concatenation: "nnet.cnn.layer.ConcatenationLayer"})


# ================================================================================================ layouts
def _fc_to_matlab(w: np.ndarray, input_shape: tuple[int, ...] | None) -> np.ndarray:
    """minidl fully connected weights (O, I) → MATLAB's O×I (the inverse of matlab_fc_weights_to_minidl)."""
    if input_shape is None or len(input_shape) != 3:
        return w
    c, h, wd = input_shape
    return w.reshape(w.shape[0], c, h, wd).transpose(0, 1, 3, 2).reshape(w.shape[0], -1)


def _image_input(layer: L.Layer | None) -> bool:
    return layer is not None and layer.input_shape is not None and len(layer.input_shape) == 3


# Each learnable: MATLAB property → (table, key, to MATLAB, to minidl); the converters take (array, layer).
_Conv = Callable[[np.ndarray, L.Layer], np.ndarray]


def _per_channel_out(a: np.ndarray, layer: L.Layer) -> np.ndarray:
    return a.reshape(1, 1, -1) if _image_input(layer) else a.reshape(-1, 1)


def _vector_in(a: np.ndarray, layer: L.Layer) -> np.ndarray:
    return a.reshape(-1)


def _stat_out(a: np.ndarray, layer: L.Layer) -> np.ndarray:
    if a.ndim == 0 or a.size == 1 and a.ndim != 3:
        return a.reshape(())
    return a.transpose(1, 2, 0) if a.ndim == 3 else a.reshape(-1, 1)    # (C, H, W) → h×w×c; (F,) → F×1


def _stat_in(a: np.ndarray, layer: L.Layer) -> np.ndarray:
    if a.size == 1:
        return a.reshape(())
    if isinstance(layer, L.ImageInput):
        return a.reshape(a.shape + (1,) * (3 - a.ndim)).transpose(2, 0, 1)   # h×w×c (or 1×1×c) → (C, H, W)
    return a.reshape(-1)


_LEARNABLES: dict[type, dict[str, tuple[str, str, _Conv, _Conv]]] = {
    Convolution2D: {
        "Weights": ("params", "weight", lambda a, lay: a.transpose(2, 3, 1, 0),
                    lambda a, lay: a.reshape(a.shape + (1,) * (4 - a.ndim)).transpose(3, 2, 0, 1)),
        "Bias": ("params", "bias", lambda a, lay: a.reshape(1, 1, -1), _vector_in)},
    L.FullyConnected: {
        "Weights": ("params", "weight", lambda a, lay: _fc_to_matlab(a, lay.input_shape),
                    lambda a, lay: matlab_fc_weights_to_minidl(a.reshape(a.shape[0], -1), lay.input_shape)),
        "Bias": ("params", "bias", lambda a, lay: a.reshape(-1, 1), _vector_in)},
    L.BatchNormalization: {
        "Scale": ("params", "scale", _per_channel_out, _vector_in),
        "Offset": ("params", "offset", _per_channel_out, _vector_in),
        "TrainedMean": ("state", "mean", _per_channel_out, _vector_in),
        "TrainedVariance": ("state", "variance", _per_channel_out, _vector_in)},
    L.ImageInput: {"Mean": ("state", "mean", _stat_out, _stat_in),
                   "StandardDeviation": ("state", "std", _stat_out, _stat_in),
                   "Min": ("state", "min", _stat_out, _stat_in), "Max": ("state", "max", _stat_out, _stat_in)},
}
_LEARNABLES[L.FeatureInput] = _LEARNABLES[L.ImageInput]
# recurrent layers: MATLAB's (G·H)×C, (G·H)×H and (G·H)×1 in the same gate order are minidl's layouts as they are
_RNN_LEARNABLES = {
    "InputWeights": ("params", "input_weights", lambda a, lay: a, lambda a, lay: a),
    "RecurrentWeights": ("params", "recurrent_weights", lambda a, lay: a, lambda a, lay: a),
    "Bias": ("params", "bias", lambda a, lay: a.reshape(-1, 1), _vector_in),
    "HiddenState": ("state", "initial_hidden_state", lambda a, lay: a.reshape(-1, 1), _vector_in)}
_LEARNABLES[L.GRU] = {**_RNN_LEARNABLES,
                      "RecurrentBias": ("params", "recurrent_bias", lambda a, lay: a.reshape(-1, 1), _vector_in)}
_LEARNABLES[L.BiLSTM] = _LEARNABLES[L.LSTM] = {
    **_RNN_LEARNABLES, "CellState": ("state", "initial_cell_state", lambda a, lay: a.reshape(-1, 1), _vector_in)}


def _learnables(layer: L.Layer) -> dict[str, tuple[str, str, _Conv, _Conv]]:
    for cls, table in _LEARNABLES.items():
        if isinstance(layer, cls):
            return table
    return {}


def _hyper(layer: L.Layer) -> dict[str, Callable[[], Any]]:
    """Read-only MATLAB properties of a layer beyond its arrays."""
    out: dict[str, Callable[[], Any]] = {}
    if isinstance(layer, (L.ImageInput, L.FeatureInput)):
        out["Normalization"] = lambda: layer.normalization
        out["NormalizationDimension"] = lambda: layer.normalization_dimension
        out["InputSize"] = (lambda: [layer.size[1], layer.size[2], layer.size[0]]) \
            if isinstance(layer, L.ImageInput) else (lambda: layer.size[0])
    if isinstance(layer, Convolution2D):
        out.update(FilterSize=lambda: list(layer.filter_size), NumFilters=lambda: layer.num_filters,
                   Stride=lambda: list(layer.stride), DilationFactor=lambda: list(layer.dilation),
                   NumChannels=lambda: layer.input_shape[0] if layer.input_shape else "auto")
    if isinstance(layer, L.FullyConnected):
        out.update(OutputSize=lambda: layer.output_size,
                   InputSize=lambda: int(np.prod(layer.input_shape)) if layer.input_shape else "auto")
    if isinstance(layer, L.BatchNormalization):
        out.update(Epsilon=lambda: layer.epsilon,
                   NumChannels=lambda: layer.input_shape[0] if layer.input_shape else "auto")
    return out


# ================================================================================================ the view
class MatlabLayer:
    """One layer seen as MATLAB shows it: ``Name``, its learnables in MATLAB's layouts (settable), hyperparameters.

    Setting a learnable converts MATLAB's layout to minidl's, checks the shape and writes the array in the
    network's dtype on its device.  ``Classes`` (classification output) is the network's classes.
    """

    def __init__(self, layer: L.Layer, net: Network):
        object.__setattr__(self, "_layer", layer)
        object.__setattr__(self, "_net", net)

    @property
    def Name(self) -> str:
        return self._layer.name

    @property
    def Class(self) -> str:
        """MATLAB's class of the layer (``nnet.cnn.layer.Convolution2DLayer``, ...)."""
        return next((v for k, v in MATLAB_CLASSES.items() if type(self._layer) is k), type(self._layer).__name__)

    def properties(self) -> tuple[str, ...]:
        """The MATLAB properties this layer has (learnables first)."""
        extra = ("Classes",) if isinstance(self._layer, L.ClassificationOutput) else ()
        return ("Name",) + tuple(_learnables(self._layer)) + tuple(_hyper(self._layer)) + extra

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        layer = self._layer
        table = _learnables(layer)
        if name in table:
            kind, key, out, _ = table[name]
            arrays = getattr(layer, kind)
            if key not in arrays:
                return np.zeros((0, 0))                         # MATLAB's [] (not set yet)
            return np.array(out(np.asarray(to_host(arrays[key])), layer))
        hyper = _hyper(layer)
        if name in hyper:
            return hyper[name]()
        if name == "Classes" and isinstance(layer, L.ClassificationOutput):
            return self._net.classes
        raise AttributeError(f"{self.Class} {layer.name!r} has no property {name!r}; properties: "
                             f"{', '.join(self.properties())}")

    def __setattr__(self, name: str, value: Any) -> None:
        layer = self._layer
        table = _learnables(layer)
        if name not in table:
            raise AttributeError(f"{self.Class} {layer.name!r}: {name!r} cannot be set; settable: "
                                 f"{', '.join(table) or 'none'}")
        kind, key, _, into = table[name]
        arrays = getattr(layer, kind)
        a = np.asarray(to_host(value))
        if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
            raise TypeError(f"{layer.name}.{name}: got an array of dtype {a.dtype}; allowed: real numbers")
        new = into(a, layer)
        old = arrays.get(key)
        if old is None:
            if not layer.initialized:
                raise RuntimeError(f"{layer.name}.{name}: the network is not initialized; call net.initialize() "
                                   "first (the layouts depend on the layer's input size)")
            net = self._net                                    # e.g. normalization statistics not computed yet
            arrays[key] = to_device(np.asarray(new, dtype=np.float64), net.device or "cpu", dtype=net.dtype)
            return
        if new.shape != tuple(old.shape) and not (new.ndim == 0 and kind == "state" and old.size == 1):
            want = "x".join(map(str, out_shape(old, layer, table[name][2])))
            got = "x".join(map(str, a.shape)) or "scalar"
            raise ValueError(f"{layer.name}.{name}: got an array of size {got}; allowed: {want} (MATLAB's layout)")
        arrays[key] = to_device(np.ascontiguousarray(new).reshape(old.shape), device_of(old), dtype=old.dtype)

    def __dir__(self):
        return list(self.properties()) + ["Class", "properties"]

    def __repr__(self) -> str:
        parts = []
        for p in self.properties():
            v = getattr(self, p)
            parts.append(f"{p}: [{'x'.join(map(str, v.shape))} {v.dtype}]" if isinstance(v, np.ndarray) and v.ndim
                         else f"{p}: {v!r}")
        return f"{self.Class.rsplit('.', 1)[-1]} with properties: " + "; ".join(parts)


def out_shape(a, layer: L.Layer, out: _Conv) -> tuple[int, ...]:
    """The MATLAB-layout shape of a minidl array (for messages)."""
    return out(np.zeros(tuple(a.shape)), layer).shape


class LayerArray:
    """MATLAB's ``net.Layers``: views of the network's layers, by position (0-based, as Python sequences) or name."""

    def __init__(self, net: Network):
        if not isinstance(net, Network):
            raise TypeError(f"net: got {type(net).__name__}; allowed: a minidl Network")
        self.net = net
        self._views = [MatlabLayer(layer, net) for layer in net.layers]

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[MatlabLayer]:
        return iter(self._views)

    def __getitem__(self, key: int | str) -> MatlabLayer:
        if isinstance(key, str):
            for v in self._views:
                if v.Name == key:
                    return v
            raise KeyError(f"no layer named {key!r}; layers: {[v.Name for v in self._views]}")
        return self._views[key]

    def __repr__(self) -> str:
        return f"{len(self)}x1 Layer array:\n" + "\n".join(
            f"  {i + 1:>3}  '{v.Name}'  {v.Class.rsplit('.', 1)[-1]}" for i, v in enumerate(self._views))


def layer_array(net: Network) -> LayerArray:
    """MATLAB's ``net.Layers`` of a minidl Network (views: reading and setting go to the network's arrays)."""
    return LayerArray(net)


# ================================================================================================ .mat files
def _scipy_io():
    try:
        import scipy.io
    except ImportError as e:
        raise ImportError(f".mat files need scipy, which is not installed ({e}); install the extra: "
                          "pip install minidl[mat]") from e
    return scipy.io


def _network(net_or_path) -> Network:
    if isinstance(net_or_path, Network):
        return net_or_path
    if isinstance(net_or_path, (str, os.PathLike)):
        from minidl.training.checkpoint import load_network
        return load_network(net_or_path)
    raise TypeError(f"net: got {type(net_or_path).__name__}; allowed: a minidl Network or the folder of a "
                    "checkpoint or saved network")


def export_mat(net: Network | str | os.PathLike, path: str | os.PathLike) -> str:
    """Write the network's learnables to a ``.mat`` file (MATLAB 5 format, readable by ``load``), atomically.

    Args:
        net: a Network, or the folder of a checkpoint (``net_checkpoint__...``) or of ``save_network`` output.
        path: the ``.mat`` file to write.

    The file holds ``Layers``, a 1×L cell array of structs with ``Name``, ``Class`` and the learnables of
    :func:`layer_array` in MATLAB's layouts and dtype (single or double); the classification output's struct has
    ``Classes`` (a cell array of names).  Returns the path written.
    """
    sio = _scipy_io()
    net = _network(net)
    if not net.initialized:
        raise ValueError("net: the network is not initialized; nothing to export")
    cells = np.empty((1, len(net)), dtype=object)
    for i, view in enumerate(layer_array(net)):
        s: dict[str, Any] = {"Name": view.Name, "Class": view.Class}
        for prop in _learnables(view._layer):
            value = getattr(view, prop)
            if value.size:
                s[prop] = value
        if isinstance(view._layer, L.ClassificationOutput) and net.classes is not None:
            classes = np.empty((len(net.classes), 1), dtype=object)
            classes[:, 0] = [str(c) for c in net.classes]
            s["Classes"] = classes
        cells[0, i] = s
    buf = io.BytesIO()
    sio.savemat(buf, {"Layers": cells}, format="5", do_compression=False, oned_as="column")
    return atomic_write_bytes(path, buf.getvalue())


def _entries(path) -> list[dict[str, Any]]:
    sio = _scipy_io()
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise ValueError(f"path: {p!r} is not a file")
    data = sio.loadmat(p, squeeze_me=False, struct_as_record=False, chars_as_strings=True)
    if "Layers" not in data:
        raise ValueError(f"path: {p!r} holds no variable 'Layers' (variables: "
                         f"{', '.join(k for k in data if not k.startswith('__'))}); write it as "
                         "docs/matlab-interop.md shows")
    out = []
    for cell in np.asarray(data["Layers"], dtype=object).reshape(-1, order="F"):
        st = cell[0, 0] if isinstance(cell, np.ndarray) else cell
        entry = {}
        for f in st._fieldnames:
            v = getattr(st, f)
            if isinstance(v, np.ndarray) and v.dtype.kind == "U":
                v = str(v[0]) if v.size else ""
            entry[f] = v
        out.append(entry)
    return out


def import_mat(path: str | os.PathLike, net: Network, match: str = "order") -> Network:
    """Set an initialized network's learnables from a ``.mat`` file of :func:`export_mat`'s form (or MATLAB's,
    docs/matlab-interop.md); returns ``net``.

    Args:
        path: the ``.mat`` file (a cell array ``Layers`` of structs: Name, Class, learnables in MATLAB layouts).
        net: the network to fill (same architecture, initialized; arrays keep its dtype and device).
        match: ``'order'``: the file's layers that can hold arrays (input, convolution, fully connected, batch
            normalization, classification output) are matched in order with the network's (MATLAB's and minidl's
            automatic names differ); ``'name'``: by layer name.

    Every array's shape is checked; the layer classes must agree.  Classes of a classification output are set.
    """
    if match not in ("order", "name"):
        raise ValueError(f"match: got {match!r}; allowed: 'order', 'name'")
    if not isinstance(net, Network):
        raise TypeError(f"net: got {type(net).__name__}; allowed: a minidl Network")
    if not net.initialized:
        raise ValueError("net: the network is not initialized; call net.initialize() first")
    entries = _entries(path)
    views = list(layer_array(net))
    props = set().union(*(_learnables(v._layer) for v in views))
    if match == "name":
        by_name = {e.get("Name"): e for e in entries}
        missing = [v.Name for v in views if _learnables(v._layer) and v.Name not in by_name]
        if missing:
            raise ValueError(f"path: no layer named {missing} in the file; its layers: {list(by_name)}")
        pairs = [(v, by_name[v.Name]) for v in views if v.Name in by_name]
    else:
        mine = [v for v in views if _learnables(v._layer) or isinstance(v._layer, L.ClassificationOutput)]
        carrying = {MATLAB_CLASSES[k].rsplit(".", 1)[-1] for k in (*_LEARNABLES, L.ClassificationOutput)}
        theirs = [e for e in entries if str(e.get("Class", "")).rsplit(".", 1)[-1] in carrying
                  or (not e.get("Class") and (any(k in props for k in e) or "Classes" in e))]
        if len(mine) != len(theirs) or any(not e.get("Class", "").endswith(v.Class.rsplit(".", 1)[-1])
                                           for v, e in zip(mine, theirs)):
            raise ValueError(f"path: its layers with learnables {[e.get('Class') for e in theirs]} do not match "
                             f"the network's {[v.Class for v in mine]}")
        pairs = list(zip(mine, theirs))
    for view, entry in pairs:
        for prop in _learnables(view._layer):
            if prop in entry and np.size(entry[prop]):
                setattr(view, prop, entry[prop])
        if "Classes" in entry and isinstance(view._layer, L.ClassificationOutput):
            net.classes = np.array([str(np.asarray(c).reshape(-1)[0]) for c in
                                    np.asarray(entry["Classes"], dtype=object).reshape(-1, order="F")])
    return net
