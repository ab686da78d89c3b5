"""MATLAB's "simple DAG network" example in the MATLAB dialect: a residual network on the digits, built with
layerGraph, addLayers and connectLayers, trained with trainNetwork, used with classify and activations.

MATLAB::

    layers = [
        imageInputLayer([28 28 1],'Name','input')
        convolution2dLayer(5,16,'Padding','same','Name','conv_1')
        batchNormalizationLayer('Name','BN_1')
        reluLayer('Name','relu_1')
        convolution2dLayer(3,32,'Padding','same','Stride',2,'Name','conv_2')
        batchNormalizationLayer('Name','BN_2')
        reluLayer('Name','relu_2')
        convolution2dLayer(3,32,'Padding','same','Name','conv_3')
        batchNormalizationLayer('Name','BN_3')
        reluLayer('Name','relu_3')
        additionLayer(2,'Name','add')
        averagePooling2dLayer(2,'Stride',2,'Name','avpool')
        fullyConnectedLayer(10,'Name','fc')
        softmaxLayer('Name','softmax')
        classificationLayer('Name','classOutput')];
    lgraph = layerGraph(layers);
    skipConv = convolution2dLayer(1,32,'Stride',2,'Name','skipConv');
    lgraph = addLayers(lgraph,skipConv);
    lgraph = connectLayers(lgraph,'relu_1','skipConv');
    lgraph = connectLayers(lgraph,'skipConv','add/in2');
    plot(lgraph)
    options = trainingOptions('sgdm','MaxEpochs',8,'Shuffle','every-epoch', ...
        'ValidationData',{XValidation,YValidation},'ValidationFrequency',30,'Verbose',false);
    net = trainNetwork(XTrain,YTrain,lgraph,options);

The same code here, line for line (the plot goes to a PNG).  ``--quick`` (the CI run): 1000 images, a quarter of
the filters (4, 8, 8), 3 epochs of mini-batches of 32.

Run:  python examples/matlab_residual_digits.py [--quick] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from minidl.matlab import (
    activations,
    additionLayer,
    addLayers,
    averagePooling2dLayer,
    batchNormalizationLayer,
    classificationLayer,
    classify,
    connectLayers,
    convolution2dLayer,
    digitTest4DArrayData,
    digitTrain4DArrayData,
    fullyConnectedLayer,
    imageInputLayer,
    layerGraph,
    reluLayer,
    softmaxLayer,
    trainingOptions,
    trainNetwork,
)
from minidl.matlab.graph import plot


def residual_graph(width: int = 16):
    """The example's layer graph; ``width`` filters in conv_1, twice that in conv_2, conv_3 and skipConv."""
    w1, w2 = width, 2 * width
    layers = [
        imageInputLayer([28, 28, 1], 'Name', 'input'),
        convolution2dLayer(5, w1, 'Padding', 'same', 'Name', 'conv_1'),
        batchNormalizationLayer('Name', 'BN_1'),
        reluLayer('Name', 'relu_1'),
        convolution2dLayer(3, w2, 'Padding', 'same', 'Stride', 2, 'Name', 'conv_2'),
        batchNormalizationLayer('Name', 'BN_2'),
        reluLayer('Name', 'relu_2'),
        convolution2dLayer(3, w2, 'Padding', 'same', 'Name', 'conv_3'),
        batchNormalizationLayer('Name', 'BN_3'),
        reluLayer('Name', 'relu_3'),
        additionLayer(2, 'Name', 'add'),
        averagePooling2dLayer(2, 'Stride', 2, 'Name', 'avpool'),
        fullyConnectedLayer(10, 'Name', 'fc'),
        softmaxLayer('Name', 'softmax'),
        classificationLayer('Name', 'classOutput'),
    ]
    lgraph = layerGraph(layers)
    skipConv = convolution2dLayer(1, w2, 'Stride', 2, 'Name', 'skipConv')
    lgraph = addLayers(lgraph, skipConv)
    lgraph = connectLayers(lgraph, 'relu_1', 'skipConv')
    lgraph = connectLayers(lgraph, 'skipConv', 'add/in2')
    return lgraph


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long run (1000 images, 4/8 filters, 3 epochs)")
    parser.add_argument("--out", default=None, help="folder for the graph's PNG (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.out is None:  # never write into the repository or the current folder unasked
        args.out = tempfile.mkdtemp(prefix="minidl-residual-")

    XTrain, YTrain, _ = digitTrain4DArrayData()
    if args.quick:
        XTrain, YTrain = XTrain[:, :, :, :1000], YTrain[:1000]
    idx = np.random.default_rng(0).permutation(XTrain.shape[3])[:200 if args.quick else 1000]
    XValidation, YValidation = XTrain[:, :, :, idx], YTrain[idx]
    XTrain, YTrain = np.delete(XTrain, idx, axis=3), np.delete(YTrain, idx)

    lgraph = residual_graph(4 if args.quick else 16)
    print(lgraph.Connections)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 9))
        plot(lgraph, ax=ax)
        graph_png = os.path.join(args.out, "residual-graph.png")
        fig.savefig(graph_png, dpi=80)
        plt.close(fig)
    except ImportError:                       # matplotlib is optional: the network trains without the picture
        graph_png = None

    options = trainingOptions('sgdm',
                              'MaxEpochs', 3 if args.quick else 8,
                              'MiniBatchSize', 32 if args.quick else 128,   # --quick: more, smaller steps
                              'Shuffle', 'every-epoch',
                              'ValidationData', (XValidation, YValidation),
                              'ValidationFrequency', 30,
                              'Verbose', False)
    net, info = trainNetwork(XTrain, YTrain, lgraph, options)

    XTest, YTest, _ = digitTest4DArrayData()
    if args.quick:
        XTest, YTest = XTest[:, :, :, :500], YTest[:500]
    YPred = classify(net, XTest)
    accuracy = float(np.mean(YPred == YTest))
    skip = activations(net, XTest[:, :, :, :2], 'skipConv')      # any layer of the graph, by name
    print(f"Final validation accuracy: {info.FinalValidationAccuracy:.2f}%; test accuracy on {YTest.size} digits: "
          f"{100 * accuracy:.2f}%; skipConv activations {'x'.join(map(str, skip.shape))}")
    return {"final_validation_accuracy": info.FinalValidationAccuracy, "test_accuracy": accuracy,
            "skip_shape": skip.shape, "graph_png": graph_png, "net": net}


if __name__ == "__main__":
    main()
