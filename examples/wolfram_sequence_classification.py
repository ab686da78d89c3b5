"""NetTrain on sequences of varying length: a LongShortTermMemoryLayer and a SequenceLastLayer classify the
embedded waveforms (12 channels, 20–60 steps), Wolfram's way.

Wolfram::

    net = NetChain[{LongShortTermMemoryLayer[50], SequenceLastLayer[], LinearLayer[4], SoftmaxLayer[]},
                   "Input" -> {"Varying", 12},
                   "Output" -> NetDecoder[{"Class", {"chirp", "sawtooth", "sine", "square"}}]];
    results = NetTrain[net, trainData, All, ValidationSet -> testData, MaxTrainingRounds -> 30,
                       BatchSize -> 24, LearningRate -> 0.005];
    results["TrainedNet"][testInputs]

Wolfram's sequence is a list of vectors, one per time step: each example here is a (T, 12) array, time first
(``x.T`` of minidl's channels-first (12, T) sequences). NetTrain pads each batch to its longest sequence; the
recurrent layer leaves its state unchanged at the padded steps and SequenceLastLayer takes each sequence's own last
real step, so every sequence is computed exactly, whatever the padding (docs/sequences.md).

Run:  python examples/wolfram_sequence_classification.py [--quick] [--rounds R]
      (--quick or MINIDL_QUICK=1: 96 sequences, 3 rounds)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl.datasets import WAVEFORM_CLASSES, waveform_test_data, waveform_train_data
from minidl.wolfram import NetTrain
from minidl.wolfram.layers import (
    LinearLayer,
    LongShortTermMemoryLayer,
    NetChain,
    NetDecoder,
    SequenceLastLayer,
    SoftmaxLayer,
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (96 sequences, 3 rounds)")
    parser.add_argument("--rounds", type=int, default=30, help="MaxTrainingRounds (default 30)")
    args = parser.parse_args(argv)

    X, labels = waveform_train_data()
    XTest, labelsTest = waveform_test_data()
    if args.quick:
        X, labels = X[:96], labels[:96]
    train = ([x.T for x in X], labels)                       # lists of vectors: (T, 12) per example
    test = ([x.T for x in XTest], labelsTest)
    net = NetChain([LongShortTermMemoryLayer(50), SequenceLastLayer(), LinearLayer(4), SoftmaxLayer()],
                   input=("Varying", 12), output=NetDecoder("Class", list(WAVEFORM_CLASSES)))
    results = NetTrain(net, train, "All", ValidationSet=test, MaxTrainingRounds=3 if args.quick else args.rounds,
                       BatchSize=24, LearningRate=0.005, TrainingProgressReporting=None)
    print(results)
    trained = results["TrainedNet"]
    predicted = np.asarray(trained(test[0]))                 # trained[x]: Wolfram's (T, 12) sequences → class labels
    accuracy = float(np.mean(predicted == labelsTest))
    print(f"best round {results['BestValidationRound']} of {results['TotalRounds']}; validation error rate "
          f"{100 * results['ValidationMeasurements']['ErrorRate']:.1f} %; TrainedNet on the test sequences: "
          f"{100 * accuracy:.1f} % right")
    return {"results": results, "accuracy": accuracy}


if __name__ == "__main__":
    main()
