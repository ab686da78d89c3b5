"""Sequence-to-label classification with an LSTM, Pythonic: tell four noisy waveform shapes apart (12 channels).

MATLAB's "Sequence Classification Using Deep Learning" (Japanese Vowels), on minidl's embedded waveforms::

    [XTrain, YTrain] = waveformTrainData;          % 240 sequences, 12×(20…60), labels chirp/sawtooth/sine/square
    layers = [sequenceInputLayer(12)  lstmLayer(50,'OutputMode','last')  fullyConnectedLayer(4)
              softmaxLayer  classificationLayer];
    options = trainingOptions('adam', 'MaxEpochs',30, 'MiniBatchSize',24, 'GradientThreshold',1, ...
        'InitialLearnRate',0.005, 'SequencePaddingDirection','left', 'Shuffle','every-epoch');
    net = trainNetwork(XTrain, YTrain, layers, options);
    YPred = classify(net, XTest, 'SequencePaddingDirection','left');

Left padding (MATLAB's advice for ``output_mode="last"``): the padded steps come first, so the last step the LSTM
sees is each sequence's own last one. The training-progress figure goes to a new temporary folder (or ``--out``).

Run:  python examples/sequence_classification.py [--quick] [--epochs E] [--out FOLDER]
      (--quick or MINIDL_QUICK=1: 96 sequences, 3 epochs)
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
    """SequenceInput(12) → LSTM(hidden, last) → FullyConnected(4) → Softmax → ClassificationOutput."""
    return [L.SequenceInput(12), L.LSTM(hidden, output_mode="last"), L.FullyConnected(4), L.Softmax(),
            L.ClassificationOutput()]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (96 sequences, 3 epochs)")
    parser.add_argument("--epochs", type=int, default=30, help="MaxEpochs (default 30)")
    parser.add_argument("--out", default=None, help="folder for the training-progress PNG (default: a new "
                        "temporary folder)")
    args = parser.parse_args(argv)
    if args.out is None:  # never write into the repository or the current folder unasked
        args.out = tempfile.mkdtemp(prefix="minidl-sequence-classification-")

    X, labels = ds.waveform_train_data()
    XTest, labelsTest = ds.waveform_test_data()
    epochs = 3 if args.quick else args.epochs
    if args.quick:
        X, labels = X[:96], labels[:96]
    plots_file = os.path.join(args.out, "sequence-classification.png")
    options = training_options("adam", max_epochs=epochs, mini_batch_size=24, gradient_threshold=1,
                               initial_learn_rate=0.005, sequence_padding_direction="left", shuffle="every-epoch",
                               verbose=False, plots_file=plots_file, seed=0)
    net, info = train_network(X, labels, layers(), options)
    predicted = net.classify(XTest, sequence_padding_direction="left")
    accuracy = float(np.mean(predicted == labelsTest))
    print(f"{info.stop_reason}; final training loss {info.training_loss[-1]:.4f}")
    print(f"test accuracy {100 * accuracy:.1f} % on {len(XTest)} sequences of 20 to 60 steps")
    for c in ds.WAVEFORM_CLASSES:
        mine = labelsTest == c
        print(f"  {c:9s} {100 * np.mean(predicted[mine] == c):5.1f} %")
    print(f"training-progress figure: {plots_file}")
    return {"net": net, "info": info, "accuracy": accuracy}


if __name__ == "__main__":
    main()
