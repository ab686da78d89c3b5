"""Sequence-to-sequence classification with a BiLSTM, Pythonic: label every time step of an activity recording.

MATLAB's "Sequence-to-Sequence Classification Using Deep Learning" (HumanActivity), on minidl's embedded
activity set (3 channels, 80–160 steps, a label per step: running, sitting or walking)::

    [XTrain, YTrain] = activityTrainData;          % 60×1 cell of 3×T, 60×1 cell of 1×T categorical
    layers = [sequenceInputLayer(3)  bilstmLayer(50,'OutputMode','sequence')  fullyConnectedLayer(3)
              softmaxLayer  classificationLayer];
    options = trainingOptions('adam', 'MaxEpochs',60, 'MiniBatchSize',10, 'GradientThreshold',2, ...
        'InitialLearnRate',0.01, 'Shuffle','every-epoch');
    net = trainNetwork(XTrain, YTrain, layers, options);
    YPred = classify(net, XTest);                  % a cell of 1×T label rows, each trimmed to its sequence
    acc = sum(YPred{1} == YTest{1}) ./ numel(YTest{1})

The loss sums over each sequence's real steps only (the mini-batch is padded to its longest sequence; the padded
steps have no target: docs/sequences.md) and the accuracy is the share of real steps labelled right. The
bidirectional layer sees each step's past and future: a step just after a switch is labelled from what follows
too. The figure goes to a new temporary folder (or ``--out``).

Run:  python examples/sequence_labelling.py [--quick] [--epochs E] [--out FOLDER]
      (--quick or MINIDL_QUICK=1: 20 sequences, 3 epochs)
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from minidl import datasets as ds
from minidl import layers as L
from minidl import train_network, training_options


def layers(hidden: int = 50) -> list:
    """SequenceInput(3) → BiLSTM(hidden, sequence) → FullyConnected(3) → Softmax → ClassificationOutput."""
    return [L.SequenceInput(3), L.BiLSTM(hidden, output_mode="sequence"), L.FullyConnected(3), L.Softmax(),
            L.ClassificationOutput()]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (20 sequences, 3 epochs)")
    parser.add_argument("--epochs", type=int, default=60, help="MaxEpochs (default 60)")
    parser.add_argument("--out", default=None, help="folder for the training-progress PNG (default: a new "
                        "temporary folder)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="minidl-sequence-labelling-")

    X, Y = ds.activity_train_data()
    XTest, YTest = ds.activity_test_data()
    if args.quick:
        X, Y = X[:20], Y[:20]
    plots_file = os.path.join(args.out, "sequence-labelling.png")
    options = training_options("adam", max_epochs=3 if args.quick else args.epochs, mini_batch_size=10,
                               gradient_threshold=2, initial_learn_rate=0.01, shuffle="every-epoch",
                               verbose=False, plots_file=plots_file, seed=0)
    net, info = train_network(X, Y, layers(), options)
    predicted = net.classify(XTest)                  # a list of (Tᵢ,) label arrays
    right = sum(int(np.sum(p == y)) for p, y in zip(predicted, YTest))
    steps = sum(len(y) for y in YTest)
    accuracy = right / steps
    print(f"{info.stop_reason}; final training loss {info.training_loss[-1]:.4f}")
    print(f"test accuracy {100 * accuracy:.1f} % of {steps} time steps in {len(XTest)} sequences")
    print("first test sequence, every 5th step (true / predicted):")
    print("  " + " ".join(s[0] for s in YTest[0][::5]))
    print("  " + " ".join(s[0] for s in predicted[0][::5]))
    print(f"training-progress figure: {plots_file}")
    return {"net": net, "info": info, "accuracy": accuracy}


if __name__ == "__main__":
    main()
