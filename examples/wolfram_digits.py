"""NetTrain's basic example, transliterated: train a digit classifier on a named data set with its test data.

Wolfram::

    net = NetChain[{ConvolutionLayer[...], ..., LinearLayer[10], SoftmaxLayer[]}, "Input" -> NetEncoder["Image"],
                   "Output" -> NetDecoder[{"Class", Range[0, 9]}]];
    results = NetTrain[net, "MNIST", All, ValidationSet -> Automatic, MaxTrainingRounds -> 3]
    results["TrainedNet"]

minidl: "MNIST" is not embedded; "SyntheticDigits" (minidl.datasets: 5000 rendered 28x28 digits, TestData 5000
more) takes its place.  The net is minidl's documented example network ending in Softmax, so NetTrain attaches the
cross-entropy loss itself (LossFunction Automatic); the defaults are Wolfram's: ADAM, rate 0.001, BatchSize
Automatic (64 here), RandomSeeding 1234.  About 4 s of training on two CPU cores (plus 3 s to render the
digits once); the validation error rate ends near 1.4 %.  (NetTrain keeps batch-norm statistics as moving
averages, as Wolfram does: they need some dozens of batches before prediction mode is good, hence --quick's size.)

Run:  python examples/wolfram_digits.py [--quick] [--rounds R]
      (--quick or MINIDL_QUICK=1: 2048 images, 3 rounds, a few seconds)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl.__main__ import example_layers
from minidl.datasets import digit_test_data, digit_train_data
from minidl.wolfram import NetTrain


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (2048 images, 3 rounds)")
    parser.add_argument("--rounds", type=int, default=3, help="MaxTrainingRounds (default 3)")
    args = parser.parse_args(argv)

    net = example_layers()[:-1]                                   # ... FullyConnected(10), Softmax: no loss layer
    if args.quick:                                                # the same data as arrays, a slice of it
        X, labels, _ = digit_train_data()
        Xv, labels_v, _ = digit_test_data()
        data, validation, rounds = (X[:2048], labels[:2048]), (Xv[:256], labels_v[:256]), 3
    else:
        data, validation, rounds = "SyntheticDigits", "Automatic", args.rounds
    results = NetTrain(net, data, "All", ValidationSet=validation, MaxTrainingRounds=rounds)
    print(results)
    trained = results["TrainedNet"]
    Xv, labels_v, _ = digit_test_data()
    Xv, labels_v = (Xv[:256], labels_v[:256]) if args.quick else (Xv, labels_v)
    predicted = trained.classes[np.argmax(trained.predict(Xv), axis=1)]  # the class of highest probability
    accuracy = float(np.mean(predicted == labels_v))
    error = results["ValidationMeasurements"]["ErrorRate"]
    print(f"best round {results['BestValidationRound']} of {results['TotalRounds']}; validation error rate "
          f"{100 * error:.2f} %; accuracy of TrainedNet on the test digits {100 * accuracy:.2f} %")
    return {"results": results, "accuracy": accuracy}


if __name__ == "__main__":
    main()
