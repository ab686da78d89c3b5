"""NetTrain's TrainingStoppingCriterion example, transliterated: stop training once the validation loss stopped
improving, instead of running all rounds and picking the best one afterwards.

Wolfram::

    NetTrain[net, data, All, ValidationSet -> Scaled[0.2], MaxTrainingRounds -> 1500,
             TrainingStoppingCriterion -> <|"Criterion" -> "Loss", "Patience" -> 20|>]
    NetTrain[net, data, All, ValidationSet -> Scaled[0.2], MaxTrainingRounds -> 1500,
             TrainingStoppingCriterion -> <|"Criterion" -> "Loss", "AbsoluteChange" -> 0.001, "Patience" -> 5|>]

The data and net are those of examples/wolfram_validation_set.py (noisy Gaussian mixture, a net that overfits).
The criterion is checked after every validation (every round here): a check that does not beat the best validation
loss so far (by more than AbsoluteChange) is a failure; after Patience failures in a row the next one stops
training, with ReasonTrainingStopped "StoppingCriterion".  TrainedNet is still the best round's net.

Run:  python examples/wolfram_stopping.py [--quick]   (both runs take well under a second; --quick is the same)
"""

from __future__ import annotations

import argparse
import importlib.util
import os

from minidl import layers as L
from minidl.wolfram import NetTrain, Scaled


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="accepted for uniformity: the runs are short anyway")
    parser.parse_args(argv)
    data = _sibling("wolfram_validation_set")
    x, y = data.noisy_data()
    runs = {}
    for label, criterion in (("Patience 20", {"Criterion": "Loss", "Patience": 20}),
                             ("AbsoluteChange 0.001, Patience 5",
                              {"Criterion": "Loss", "AbsoluteChange": 0.001, "Patience": 5})):
        net = [L.FeatureInput(2 * data.HARMONICS + 1, normalization="none"), L.FullyConnected(64), L.ReLU(),
               L.FullyConnected(1, weights_initializer="he")]
        res = NetTrain(net, (data.features(x), y), "All", ValidationSet=Scaled(0.2), LearningRate=0.01,
                       MaxTrainingRounds=1500, TrainingStoppingCriterion=criterion, TrainingProgressReporting=None)
        runs[label] = res
        print(f"{label}: {res['ReasonTrainingStopped']} after {res['TotalRounds']} of 1500 rounds "
              f"({res['TotalTrainingTime']:.2f} s); TrainedNet = round {res['BestValidationRound']}, validation loss "
              f"{res['ValidationLossList'][res['BestValidationRound'] - 1]:.4f}")
    return runs


if __name__ == "__main__":
    main()
