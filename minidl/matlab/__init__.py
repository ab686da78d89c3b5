"""The MATLAB dialect: MATLAB names, 'Name', Value pairs, HWCN arrays and MATLAB result shapes, over the one engine.

This package translates and configures; no training logic lives here (docs/matlab.md, rules in
docs/semantics-matlab.md).  Its modules, the same shape as :mod:`minidl.wolfram`'s:

- :mod:`~minidl.matlab.options`: the trainingOptions rules under snake_case names (``training_options``, the
  Pythonic face exported as ``minidl.training_options``); :mod:`~minidl.matlab.names`: MATLAB's spelling of them
  (``trainingOptions('sgdm', 'MaxEpochs', 20)``);
- :mod:`~minidl.matlab.train`: the engine and its observers configured as trainNetwork (``train_network``,
  ``trainNetwork``); :mod:`~minidl.matlab.predict`: ``predict``, ``classify`` (with scores), ``activations``;
- :mod:`~minidl.matlab.interop`: ``net.Layers`` (``layer_array``) and ``.mat`` files;
  :mod:`~minidl.matlab.datastore`: image folders and augmentation (docs/matlab-interop.md);
- :mod:`~minidl.matlab.records`: the OutputFcn record, trainNetwork's info fields, the stop wording;
- :mod:`~minidl.matlab.layers`: the layer constructors and MATLAB's weight layouts;
- :mod:`~minidl.matlab.arrays`, :mod:`~minidl.matlab.display`: H×W×C×N arrays, MATLAB's display and name-value
  parsing; :mod:`~minidl.matlab.data`: ``digitTrain4DArrayData`` and the sequence sets.

>>> import numpy as np
>>> from minidl.matlab import trainingOptions, convolution2dLayer, hwcn_to_nchw
>>> conv = convolution2dLayer(3, 8, 'Padding', 'same', 'Stride', 2)
>>> conv.filter_size, conv.num_filters, conv.padding, conv.stride
((3, 3), 8, 'same', (2, 2))
>>> hwcn_to_nchw(np.zeros((28, 28, 1, 5))).shape
(5, 1, 28, 28)

What maps to what
-----------------
- ``trainingOptions(solverName, 'Name', Value, ...)`` → ``training_options(solver, **snake)``; names are matched
  case-insensitively (``'maxepochs'`` is ``'MaxEpochs'``); MATLAB's ``Name=Value`` syntax works as Python keywords
  (``trainingOptions('sgdm', MaxEpochs=20)``).
- ``trainNetwork(X, Y, layers, options)`` → ``train_network``: X as H×W×C×N images (or N×F features), Y as labels
  (N,) or responses (N,) / (N, R) / H×W×C×N; returns ``(net, info)``, info with MATLAB field names.
- ``classify(net, X)``, ``predict(net, X)`` with H×W×C×N arrays (:mod:`~minidl.matlab.predict`);
  ``[YPred, scores] = classify(net, X)`` → ``YPred, scores = classify(net, X, return_scores=True)``;
  ``activations(net, X, layer)`` (a name or 1-based index) in MATLAB's layout.
- Layer constructors ``imageInputLayer([28 28 1])`` → ``ImageInput((1, 28, 28))`` etc.; MATLAB weight layouts
  (convolution weights h×w×c×F, fully connected weights O×I over MATLAB's H, W, C flattening) converted.
- ``net.Layers`` → ``layer_array(net)`` (Weights, Bias, Scale, Offset, TrainedMean, TrainedVariance, Mean,
  StandardDeviation in MATLAB's layouts, readable and settable); ``export_mat`` / ``import_mat`` for ``.mat``
  files (:mod:`~minidl.matlab.interop`, needs scipy: ``pip install minidl[mat]``).
- ``imageDatastore``, ``splitEachLabel``, ``augmentedImageDatastore``, ``imageDataAugmenter``
  (:mod:`~minidl.matlab.datastore`): image folders as mini-batch sources, ``trainNetwork(ds, layers, options)``.
- ``layerGraph``, ``addLayers``, ``removeLayers``, ``connectLayers``, ``disconnectLayers``, ``replaceLayer``,
  ``plot`` (``minidl.matlab.graph.plot``: not exported by name, it would shadow matplotlib's) and the merge layers
  ``additionLayer``, ``concatenationLayer``, ``depthConcatenationLayer`` (:mod:`~minidl.matlab.graph`); a
  LayerGraph trains as a DAG network (``trainNetwork(X, Y, lgraph, options)``).
- ``digitTrain4DArrayData()`` / ``digitTest4DArrayData()`` over ``minidl.datasets``; the sequence sets
  ``waveformTrainData()``, ``activityTrainData()``, ``seasonalTrainData()`` (and their ``...TestData``) as lists
  of C×T matrices for MATLAB's cell arrays (docs/sequences.md).
"""

from minidl.matlab.arrays import hwcn_to_nchw, nchw_to_hwcn
from minidl.matlab.data import (
    activityTestData,
    activityTrainData,
    digitTest4DArrayData,
    digitTrain4DArrayData,
    seasonalTestData,
    seasonalTrainData,
    waveformTestData,
    waveformTrainData,
)
from minidl.matlab.datastore import (
    AugmentedImageDatastore,
    ImageDataAugmenter,
    ImageDatastore,
    augmentedImageDatastore,
    imageDataAugmenter,
    imageDatastore,
    splitEachLabel,
)
from minidl.matlab.display import MatlabStruct, format_value
from minidl.matlab.graph import (
    ConnectionTable,
    LayerGraph,
    additionLayer,
    addLayers,
    concatenationLayer,
    connectLayers,
    depthConcatenationLayer,
    disconnectLayers,
    layerGraph,
    removeLayers,
    replaceLayer,
)
from minidl.matlab.interop import LayerArray, export_mat, import_mat, layer_array
from minidl.matlab.layers import (
    averagePooling2dLayer,
    batchNormalizationLayer,
    bilstmLayer,
    classificationLayer,
    clippedReluLayer,
    convolution2dLayer,
    crossChannelNormalizationLayer,
    dropoutLayer,
    eluLayer,
    featureInputLayer,
    flattenLayer,
    fullyConnectedLayer,
    globalAveragePooling2dLayer,
    globalMaxPooling2dLayer,
    groupedConvolution2dLayer,
    gruLayer,
    imageInputLayer,
    leakyReluLayer,
    lstmLayer,
    matlab_fc_weights_to_minidl,
    maxPooling2dLayer,
    maxUnpooling2dLayer,
    regressionLayer,
    reluLayer,
    sequenceInputLayer,
    sigmoidLayer,
    softmaxLayer,
    tanhLayer,
    transposedConv2dLayer,
)
from minidl.matlab.names import (
    OPTION_NAMES,
    TrainingOptions,
    TrainingOptionsADAM,
    TrainingOptionsRMSProp,
    TrainingOptionsSGDM,
    trainingOptions,
)
from minidl.matlab.options import training_options
from minidl.matlab.predict import (
    activations,
    classify,
    classifyAndUpdateState,
    predict,
    predictAndUpdateState,
    resetState,
)
from minidl.matlab.records import INFO_FIELDS, TrainingInfoStruct
from minidl.matlab.train import train_network, trainNetwork

__all__ = [
    "MatlabStruct", "TrainingInfoStruct", "TrainingOptions", "TrainingOptionsSGDM", "TrainingOptionsRMSProp",
    "TrainingOptionsADAM",
    "trainingOptions", "trainNetwork", "classify", "predict", "activations",
    "imageInputLayer", "featureInputLayer", "convolution2dLayer", "batchNormalizationLayer", "reluLayer",
    "maxPooling2dLayer", "averagePooling2dLayer", "fullyConnectedLayer", "dropoutLayer", "softmaxLayer",
    "classificationLayer", "regressionLayer", "lstmLayer", "bilstmLayer", "gruLayer", "digitTrain4DArrayData",
    "digitTest4DArrayData",
    "hwcn_to_nchw", "nchw_to_hwcn", "matlab_fc_weights_to_minidl", "format_value", "OPTION_NAMES", "INFO_FIELDS",
    "imageDatastore", "splitEachLabel", "augmentedImageDatastore", "imageDataAugmenter", "ImageDatastore",
    "AugmentedImageDatastore", "ImageDataAugmenter",
    "training_options", "train_network", "layer_array", "LayerArray", "export_mat", "import_mat",
    "sequenceInputLayer", "predictAndUpdateState", "classifyAndUpdateState", "resetState",
    "waveformTrainData", "waveformTestData", "activityTrainData", "activityTestData", "seasonalTrainData",
    "seasonalTestData",
    "LayerGraph", "ConnectionTable", "layerGraph", "addLayers", "removeLayers", "connectLayers", "disconnectLayers",
    "replaceLayer", "additionLayer", "concatenationLayer", "depthConcatenationLayer",
    "leakyReluLayer", "clippedReluLayer", "eluLayer", "tanhLayer", "sigmoidLayer", "globalAveragePooling2dLayer",
    "globalMaxPooling2dLayer", "crossChannelNormalizationLayer", "groupedConvolution2dLayer", "transposedConv2dLayer",
    "maxUnpooling2dLayer", "flattenLayer",
]
