"""Stateful layers (MATLAB names without the 'Layer' suffix); the math lives in minidl.functional."""

from minidl.layers.base import InputLayer, Layer, OutputLayer
from minidl.layers.core import Dropout, FullyConnected, ReLU, Softmax
from minidl.layers.input import FeatureInput, ImageInput
from minidl.layers.normalization import BatchNormalization
from minidl.layers.output import ClassificationOutput, RegressionOutput

__all__ = [
    "Layer", "InputLayer", "OutputLayer", "ImageInput", "FeatureInput", "BatchNormalization",
    "ReLU", "FullyConnected", "Dropout", "Softmax", "ClassificationOutput", "RegressionOutput",
]
