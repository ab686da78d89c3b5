"""NetTrain's loss-net example, transliterated: a "Loss" output port interpreted as the loss, then NetExtract and
NetTake of the trained evaluation net.

Wolfram::

    net = NetChain[{LinearLayer[]}, "Input" -> 2];                                   (* the evaluation net *)
    lossNet = NetGraph[<|"evaluation" -> net, "loss" -> MeanSquaredLossLayer[]|>,
        {NetPort["Input"] -> "evaluation" -> "loss", "evaluation" -> NetPort["Output"], "loss" -> NetPort["Loss"]}];
    trained = NetTrain[lossNet, <|"Input" -> inputs, "Target" -> targets|>, LossFunction -> "Loss"];
    NetExtract[trained, "evaluation"]            (* or trained[["evaluation"]] *)
    NetTake[trained, {NetPort["Input"], NetPort["Output"]}]

The loss layer's Target port is not connected: it becomes the graph's input port "Target", read from the data
port of that name.  LossFunction "Loss" says the output port "Loss" IS the loss (no loss layer is attached).  The
script checks that the extracted evaluation net recovers the synthetic data's line t = 2·x₁ − x₂ + ½ and that the
NetTake'n net (the "Output" port only) computes what the trained graph's "Output" port computes.

Run:  python examples/wolfram_loss_net.py [--quick]   (--quick or MINIDL_QUICK=1: 60 rounds instead of 200)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from minidl.layers import MeanSquaredLoss
from minidl.wolfram import NetTrain
from minidl.wolfram.graph import NetExtract, NetGraph, NetPort, NetTake, port_outputs
from minidl.wolfram.layers import LinearLayer, NetChain


def data(n: int = 500, seed: int = 0):
    """Synthetic data: x uniform in [−1, 1]², t = 2·x₁ − x₂ + ½ plus N(0, 0.01²) noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    return x, 2 * x[:, :1] - x[:, 1:] + 0.5 + 0.01 * rng.normal(size=(n, 1))


def loss_net():
    return NetGraph({"evaluation": NetChain([LinearLayer(1)]), "loss": MeanSquaredLoss()},
                    [(NetPort("Input"), "evaluation", "loss"), ("evaluation", NetPort("Output")),
                     ("loss", NetPort("Loss"))], Input=2)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long smoke run (60 rounds)")
    parser.add_argument("--out", default=None, help="unused (no files are written)")
    args = parser.parse_args(argv)
    x, t = data()
    graph = loss_net()
    print(graph.summary())
    trained = NetTrain(graph, {"Input": x, "Target": t}, LossFunction="Loss", MaxTrainingRounds=60 if args.quick
                       else 200, LearningRate=0.05, TrainingProgressReporting=None, WorkingPrecision="Real64")
    evaluation = NetExtract(trained, "evaluation")
    w, b = evaluation.params["fc_1.weight"], evaluation.params["fc_1.bias"]
    print(f"NetExtract(trained, 'evaluation'): weight {np.round(w, 4).tolist()}, bias {np.round(b, 4).tolist()} "
          "(the data: [[2, -1]], [0.5])")
    ports = port_outputs(trained, {"Input": x[:5], "Target": t[:5]})
    print(f"ports of the trained graph: {sorted(ports)}; per-example Loss {np.round(ports['Loss'], 6).tolist()}")
    taken = NetTake(trained, "Output")
    same = bool(np.allclose(taken.forward(x[:5]), ports["Output"], rtol=0, atol=1e-12))
    print(f"NetTake(trained, 'Output'): layers {[layer.name for layer in taken.layers]}, the 'Loss' output removed; "
          f"computes the 'Output' port: {same}")
    return {"weight": w, "bias": b, "same": same, "ports": sorted(ports)}


if __name__ == "__main__":
    main()
