"""NetTrain's ExampleLosses example, transliterated: find the hardest training examples by their mean loss.

Wolfram::

    {net, losses} = NetTrain[net, data, {"TrainedNet", "ExampleLosses"}, MaxTrainingRounds -> 5];
    hardest = TakeLargestBy[Range[Length[data]], Mean[losses[[#]]] &, 20]

"ExampleLosses" is each example's latest loss (the loss of the batch it was last in, before that batch's update),
a vector of length N; its history, one vector per round, is the custom property
{"Property": "ExampleLosses", "Interval": "Round"}: stacked, an array (examples, rounds).  Its mean over the
rounds ranks the examples;
the hardest ones are often badly drawn, rotated far, or look like another digit.  Here: 2000 synthetic digits,
a small conv net, 5 rounds.

Run:  python examples/wolfram_hardest_examples.py [--quick] [--out FOLDER]
      (--quick or MINIDL_QUICK=1: 1000 digits, 3 rounds; --out: hardest_examples.png with the 20 images)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl.__main__ import example_layers
from minidl.datasets import digit_train_data
from minidl.wolfram import NetTrain


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (1000 digits, 3 rounds)")
    parser.add_argument("--out", default=None, help="folder for hardest_examples.png (default: no file)")
    args = parser.parse_args(argv)
    n, rounds = (1000, 3) if args.quick else (2000, 5)
    X, labels, angles = digit_train_data()
    X, labels, angles = X[:n], labels[:n], angles[:n]
    net, latest, history = NetTrain(example_layers()[:-1], (X, labels),
                                    ["TrainedNet", "ExampleLosses", {"Property": "ExampleLosses", "Interval": "Round"}],
                                    MaxTrainingRounds=rounds, TrainingProgressReporting=None)
    losses = np.stack(history, axis=1)                            # (examples, rounds)
    assert np.array_equal(losses[:, -1], latest, equal_nan=True)  # the last round's vector is ExampleLosses
    mean_loss = losses.mean(axis=1)                               # Mean over the rounds, per example
    hardest = np.argsort(-mean_loss, kind="stable")[:20]          # TakeLargestBy[..., 20]
    predicted = net.classes[np.argmax(net.predict(X[hardest]), axis=1)]
    print(f"ExampleLosses: {losses.shape[0]} examples x {losses.shape[1]} rounds; mean loss of all examples "
          f"{mean_loss.mean():.3f}, of the 20 hardest {mean_loss[hardest].mean():.3f}")
    print(" index  label  predicted  rotation  mean loss")
    for i, p in zip(hardest, predicted):
        print(f"{i:6d}  {labels[i]:5d}  {p:9d}  {angles[i]:7.1f}°  {mean_loss[i]:9.3f}")
    if args.out:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 2.6), layout="constrained")
        for k, i in enumerate(hardest):
            ax = fig.add_subplot(2, 10, k + 1)
            ax.imshow(X[i, 0], cmap="gray")
            ax.set_title(f"{labels[i]}→{predicted[k]}", fontsize=8)
            ax.axis("off")
        fig.savefig(os.path.join(args.out, "hardest_examples.png"))
    return {"losses": losses, "hardest": hardest, "mean_loss": mean_loss}


if __name__ == "__main__":
    main()
