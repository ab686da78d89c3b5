"""An inception-style block in the MATLAB dialect: four parallel branches joined by depthConcatenationLayer.

GoogLeNet's inception module, small: from one feature map, a 1×1 convolution; a 1×1 reduction then a 3×3
convolution; a 1×1 reduction then a 5×5 convolution; a 3×3 max pooling (stride 1, 'same') then a 1×1 convolution.
The four outputs have the same height and width and are joined along the channels.  MATLAB::

    lgraph = layerGraph(stem);                                  % input, conv, BN, relu ('stem_relu')
    lgraph = addLayers(lgraph, [convolution2dLayer(1,4,'Name','b1_conv') reluLayer('Name','b1_relu')]);
    lgraph = addLayers(lgraph, [convolution2dLayer(1,4,'Name','b2_reduce') reluLayer('Name','b2_rrelu') ...
                                convolution2dLayer(3,8,'Padding','same','Name','b2_conv') reluLayer('Name','b2_relu')]);
    ...
    lgraph = addLayers(lgraph, [depthConcatenationLayer(4,'Name','inception') head]);
    lgraph = connectLayers(lgraph,'stem_relu','b1_conv');       % ... each branch from the stem
    lgraph = connectLayers(lgraph,'b1_relu','inception/in1');   % ... each branch into the concatenation

Trained on the digits with trainNetwork; classify and activations read the DAG network.

Run:  python examples/inception_block.py [--quick]    (--quick: 1000 images, 3 epochs, a few seconds)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl.matlab import (
    activations,
    addLayers,
    batchNormalizationLayer,
    classificationLayer,
    classify,
    connectLayers,
    convolution2dLayer,
    depthConcatenationLayer,
    digitTest4DArrayData,
    digitTrain4DArrayData,
    fullyConnectedLayer,
    imageInputLayer,
    layerGraph,
    maxPooling2dLayer,
    reluLayer,
    softmaxLayer,
    trainingOptions,
    trainNetwork,
)


def inception_graph(width: int = 4):
    """A stem, one inception block (branches of width, 2·width, width and width channels) and a classifier."""
    w = width
    stem = [imageInputLayer([28, 28, 1], 'Name', 'input'),
            convolution2dLayer(3, 2 * w, 'Padding', 'same', 'Stride', 2, 'Name', 'stem_conv'),
            batchNormalizationLayer('Name', 'stem_bn'),
            reluLayer('Name', 'stem_relu')]
    branches = {
        'b1': [convolution2dLayer(1, w, 'Name', 'b1_conv'), reluLayer('Name', 'b1_relu')],
        'b2': [convolution2dLayer(1, w, 'Name', 'b2_reduce'), reluLayer('Name', 'b2_rrelu'),
               convolution2dLayer(3, 2 * w, 'Padding', 'same', 'Name', 'b2_conv'), reluLayer('Name', 'b2_relu')],
        'b3': [convolution2dLayer(1, max(w // 2, 1), 'Name', 'b3_reduce'), reluLayer('Name', 'b3_rrelu'),
               convolution2dLayer(5, w, 'Padding', 'same', 'Name', 'b3_conv'), reluLayer('Name', 'b3_relu')],
        'b4': [maxPooling2dLayer(3, 'Stride', 1, 'Padding', 'same', 'Name', 'b4_pool'),
               convolution2dLayer(1, w, 'Name', 'b4_conv'), reluLayer('Name', 'b4_relu')],
    }
    head = [depthConcatenationLayer(4, 'Name', 'inception'),
            maxPooling2dLayer(2, 'Stride', 2, 'Name', 'pool'),
            fullyConnectedLayer(10, 'Name', 'fc'),
            softmaxLayer('Name', 'softmax'),
            classificationLayer('Name', 'output')]
    lgraph = layerGraph(stem)
    for layers in branches.values():
        lgraph = addLayers(lgraph, layers)
    lgraph = addLayers(lgraph, head)
    for i, layers in enumerate(branches.values(), 1):
        lgraph = connectLayers(lgraph, 'stem_relu', layers[0].name)
        lgraph = connectLayers(lgraph, layers[-1].name, f'inception/in{i}')
    return lgraph


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long run (1000 images, 3 epochs)")
    parser.add_argument("--out", default=None, help="unused (the example writes nothing); kept for the test runner")
    args = parser.parse_args(argv)

    XTrain, YTrain, _ = digitTrain4DArrayData()
    if args.quick:
        XTrain, YTrain = XTrain[:, :, :, :1000], YTrain[:1000]
    lgraph = inception_graph()
    options = trainingOptions('adam', 'MaxEpochs', 3 if args.quick else 6, 'MiniBatchSize', 32,
                              'InitialLearnRate', 0.01, 'Shuffle', 'every-epoch', 'Verbose', False)
    net, info = trainNetwork(XTrain, YTrain, lgraph, options)

    XTest, YTest, _ = digitTest4DArrayData()
    if args.quick:
        XTest, YTest = XTest[:, :, :, :500], YTest[:500]
    accuracy = float(np.mean(classify(net, XTest) == YTest))
    joined = activations(net, XTest[:, :, :, :2], 'inception')     # 14×14×(4+8+4+4)×2
    print(f"test accuracy on {YTest.size} digits: {100 * accuracy:.2f}%; the block's output "
          f"{'x'.join(map(str, joined.shape))}")
    return {"test_accuracy": accuracy, "inception_shape": joined.shape, "net": net}


if __name__ == "__main__":
    main()
