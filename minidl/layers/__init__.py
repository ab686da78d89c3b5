"""Stateful layers (MATLAB names without the 'Layer' suffix); the math lives in minidl.functional."""

from minidl.layers.base import InputLayer, Layer, OutputLayer, register_layer, registered_layers
from minidl.layers.conv import Convolution2D, GroupedConvolution2D, TransposedConvolution2D
from minidl.layers.core import Dropout, FullyConnected, ReLU, Softmax
from minidl.layers.elementwise import ELU, ClippedReLU, Elementwise, LeakyReLU, Sigmoid, Tanh
from minidl.layers.input import FeatureInput, ImageInput, SequenceInput
from minidl.layers.merge import Addition, Concatenation, DepthConcatenation, MergeLayer, MultiInputLayer, Threading
from minidl.layers.normalization import BatchNormalization, CrossChannelNormalization
from minidl.layers.output import (
    BinaryCrossEntropyLoss,
    BooleanDecoder,
    ClassDecoder,
    ClassificationOutput,
    MeanAbsoluteLoss,
    MeanSquaredLoss,
    ProbabilitiesCrossEntropyLoss,
    RegressionOutput,
)
from minidl.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
    MaxUnpooling2D,
)
from minidl.layers.recurrent import GRU, LSTM, BasicRecurrent, BiLSTM, RecurrentLayer, SequenceLast
from minidl.layers.shape import Flatten, Reshape

__all__ = [
    "Layer", "InputLayer", "OutputLayer", "ImageInput", "FeatureInput", "SequenceInput", "Convolution2D",
    "BatchNormalization",
    "MaxPooling2D", "AveragePooling2D",
    "ReLU", "FullyConnected", "Dropout", "Softmax", "ClassificationOutput", "RegressionOutput",
    "MeanSquaredLoss", "MeanAbsoluteLoss", "BinaryCrossEntropyLoss", "ProbabilitiesCrossEntropyLoss",
    "Elementwise", "Flatten", "Reshape", "ClassDecoder", "BooleanDecoder", "register_layer", "registered_layers",
    "RecurrentLayer", "LSTM", "BiLSTM", "GRU", "BasicRecurrent", "SequenceLast",
    "MergeLayer", "MultiInputLayer", "Addition", "Concatenation", "DepthConcatenation", "Threading",
    "LeakyReLU", "ClippedReLU", "ELU", "Tanh", "Sigmoid", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "MaxUnpooling2D", "CrossChannelNormalization", "GroupedConvolution2D", "TransposedConvolution2D",
]
