"""NetTrain's TrainingProgressFunction example, transliterated: a function that appends the round and its loss to a
log file once per round (the function's default Interval), readable while training runs.

Wolfram::

    NetTrain[net, data, TrainingProgressFunction ->
        (PutAppend[{#Round, #RoundLoss}, "log.m"] &)]

The progress function gets the progress association (``p["Round"]``, ``p["RoundLoss"]``, ...) at the end of every
round; returning "StopTraining" would stop training.  Here it appends one line per round, so the file holds
MaxTrainingRounds lines, each with the loss NetTrain reports in RoundLossList.

Run:  python examples/wolfram_progress_log.py [--quick] [--out FOLDER]   (a second or less)
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from minidl import layers as L
from minidl.wolfram import NetTrain


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--out", default=None, help="folder for log.txt (default: a new temporary folder)")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="minidl-progress-log-")
    path = os.path.join(out, "log.txt")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (200, 1))
    y = np.sin(3 * x) + 0.05 * rng.standard_normal((200, 1))
    net = [L.FeatureInput(1, normalization="none"), L.FullyConnected(16), L.ReLU(), L.FullyConnected(1)]

    def log(p):  # PutAppend[{#Round, #RoundLoss}, "log.m"]
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{p['Round']} {p['RoundLoss']!r}\n")

    rounds = 5 if args.quick else 50
    res = NetTrain(net, (x, y), "All", MaxTrainingRounds=rounds, BatchSize=20, TrainingProgressFunction=log,
                   TrainingProgressReporting=None)
    with open(path, encoding="utf-8") as f:
        lines = [line.split() for line in f]
    print(f"{len(lines)} lines in {path}; the last: round {lines[-1][0]}, loss {float(lines[-1][1]):.4g}")
    return {"path": path, "lines": lines, "results": res}


if __name__ == "__main__":
    main()
