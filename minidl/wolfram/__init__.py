"""The Wolfram dialect: ``NetTrain`` with Wolfram's option names, data forms and results, on the one engine.

This package translates and does nothing else (docs/wolfram.md; rules in docs/semantics-wolfram.md):

- :class:`Quantity` for intervals (``Quantity(2, "Rounds")``, ``Quantity(30, "Seconds")``);
- :func:`NetTrain` (Wolfram names: ``MaxTrainingRounds=5``, ``Method=("SGD", {"Momentum": 0.9})``) and
  :func:`net_train` (snake_case: ``max_training_rounds=5``), exported as ``minidl.net_train``;
- data forms (:mod:`minidl.wolfram.data`): pairs, (inputs, outputs), {"Input": ..., "Output": ...}, named data
  sets (:data:`DATASETS`), generator functions, :class:`Scaled` validation holds;
- Wolfram's mean squared loss (:class:`MeanSquaredLoss`: mean over elements) and the LossFunction rule;
- bookkeeping, stopping and reporting as engine observers (:mod:`minidl.wolfram.observers`);
- every property of the reference page and the :class:`NetTrainResultsObject` (:mod:`minidl.wolfram.results`);
- Wolfram's layer spellings and decoders (:mod:`minidl.wolfram.layers`: ``LinearLayer``, ``ElementwiseLayer``,
  ``FlattenLayer``, ``ReshapeLayer``, ``CrossEntropyLossLayer``, ``NetDecoder``, ``NetChain``, ...), measurements
  from each example's output (:mod:`minidl.wolfram.measurements`) and the downloaded named data sets "MNIST" and
  "FashionMNIST" (:mod:`minidl.wolfram.datasets`; docs/wolfram-layers.md).

>>> import numpy as np
>>> from minidl import layers as L
>>> net = [L.FeatureInput(1, normalization="none"), L.FullyConnected(1)]
>>> x = np.linspace(-1, 1, 32)
>>> rounds = NetTrain(net, (x, 2 * x + 1), "RoundLossList", MaxTrainingRounds=3, BatchSize=8,
...                   TrainingProgressReporting=None)
>>> rounds.shape
(3,)
"""

from minidl.layers.output import MeanSquaredLoss
from minidl.wolfram import datasets, layers, measurements
from minidl.wolfram.data import DATASETS, GeneratorSource, Scaled
from minidl.wolfram.layers import (
    BasicRecurrentLayer,
    CatenateLayer,
    CrossEntropyLossLayer,
    DeconvolutionLayer,
    DropoutLayer,
    ElementwiseLayer,
    FlattenLayer,
    GatedRecurrentLayer,
    LinearLayer,
    LongShortTermMemoryLayer,
    MeanAbsoluteLossLayer,
    MeanSquaredLossLayer,
    NetChain,
    NetDecoder,
    PoolingLayer,
    ReshapeLayer,
    SequenceLastLayer,
    SoftmaxLayer,
    ThreadingLayer,
    TotalLayer,
)
from minidl.wolfram.observers import ProgressInfo
from minidl.wolfram.options import All, Automatic, Quantity, Span
from minidl.wolfram.results import PROPERTIES, NetTrainResultsObject
from minidl.wolfram.train import NetTrain, net_train

__all__ = ["NetTrain", "net_train", "Scaled", "All", "Automatic", "DATASETS", "PROPERTIES",
           "NetTrainResultsObject", "MeanSquaredLoss", "GeneratorSource", "ProgressInfo", "Quantity", "Span",
           "datasets", "layers", "measurements", "LinearLayer", "ElementwiseLayer", "SoftmaxLayer", "DropoutLayer",
           "FlattenLayer", "ReshapeLayer", "CrossEntropyLossLayer", "MeanSquaredLossLayer", "MeanAbsoluteLossLayer",
           "NetDecoder", "NetChain", "LongShortTermMemoryLayer", "GatedRecurrentLayer", "BasicRecurrentLayer",
           "SequenceLastLayer", "CatenateLayer", "TotalLayer", "ThreadingLayer", "PoolingLayer", "DeconvolutionLayer"]
