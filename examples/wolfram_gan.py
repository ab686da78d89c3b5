"""NetTrain's TrainingUpdateSchedule example, transliterated: a NetGANOperator trained by alternating updates of
its discriminator and its generator, on a 1-D mixture of two Gaussians.

Wolfram::

    generator = NetChain[{LinearLayer[16], Tanh, LinearLayer[16], Tanh, LinearLayer[1]}, "Input" -> 1];
    discriminator = NetChain[{LinearLayer[16], Tanh, LinearLayer[16], Tanh, LinearLayer[1], LogisticSigmoid}];
    gan = NetGANOperator[{generator, discriminator}];
    trained = NetTrain[gan, <|"Sample" -> samples, "Latent" -> latent|>,
        TrainingUpdateSchedule -> {"Discriminator", "Generator"}, Method -> {"ADAM", "Beta1" -> 0.5}];
    NetExtract[trained, "Generator"]

The discriminator ends in a LogisticSigmoid, so the loss is "JensenShannon": LossReal = −log D(sample), LossFake =
−log(1 − D(G(latent))).  Odd batches update only the discriminator (descending LossReal + LossFake), even ones
only the generator (ascending LossFake, its gradient reversed).  The script prints the generated distribution's
mean and standard deviation next to the data's (≈ 0 and ≈ 2.06): after the last round, and averaged over the last
50 rounds (a TrainingProgressFunction each round).  At the equilibrium (D ≈ ½) the generator keeps circling the
data's distribution, so one round's standard deviation swings by up to ±0.7 from the next; the average is the
stable figure (mean and std within about 0.1 of the data's on every OpenBLAS kernel tried, 150 or 300 rounds).

Run:  python examples/wolfram_gan.py [--quick]   (--quick or MINIDL_QUICK=1: 150 rounds instead of 300)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from minidl import layers as L
from minidl.wolfram import NetTrain
from minidl.wolfram.gan import NetGANOperator
from minidl.wolfram.graph import NetExtract
from minidl.wolfram.layers import ElementwiseLayer, LinearLayer, NetChain

#: the generated moments are averaged over this many last rounds (the module docstring says why)
AVERAGED_ROUNDS = 50


def mixture(n: int = 2048, seed: int = 1):
    """Samples of ½ N(−2, 0.5²) + ½ N(2, 0.5²), (n, 1), and standard normal latent seeds, (n, 1)."""
    rng = np.random.default_rng(seed)
    return (np.where(rng.integers(0, 2, n) == 1, 2.0, -2.0) + 0.5 * rng.normal(size=n))[:, None], \
        rng.normal(size=(n, 1))


def gan(hidden: int = 16):
    generator = NetChain([L.FeatureInput(1, normalization="none"), LinearLayer(hidden), ElementwiseLayer("Tanh"),
                          LinearLayer(hidden), ElementwiseLayer("Tanh"), LinearLayer(1)])
    discriminator = NetChain([LinearLayer(hidden), ElementwiseLayer("Tanh"), LinearLayer(hidden),
                              ElementwiseLayer("Tanh"), LinearLayer(1), ElementwiseLayer("LogisticSigmoid")])
    return NetGANOperator([generator, discriminator])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("MINIDL_QUICK") == "1",
                        help="a seconds-long run (150 rounds)")
    parser.add_argument("--out", default=None, help="unused (no files are written)")
    args = parser.parse_args(argv)
    samples, latent = mixture()
    rounds = 150 if args.quick else 300
    seeds = np.random.default_rng(5).normal(size=(20000, 1))
    moments = []                           # (mean, std) of the generated distribution after each of the last rounds

    def record(progress) -> None:
        if progress["Round"] > rounds - AVERAGED_ROUNDS:
            fake = NetExtract(progress["Net"], "Generator").forward(seeds)
            moments.append((float(fake.mean()), float(fake.std())))

    start = time.perf_counter()
    results = NetTrain(gan(), {"Sample": samples, "Latent": latent}, "All",
                       TrainingUpdateSchedule=["Discriminator", "Generator"], MaxTrainingRounds=rounds,
                       BatchSize=64, LearningRate=0.005, Method=("ADAM", {"Beta1": 0.5}),
                       TrainingProgressReporting=None, WorkingPrecision="Real64",
                       TrainingProgressFunction=(record, {"Interval": "Round"}))
    seconds = time.perf_counter() - start
    generator = NetExtract(results["TrainedNet"], "Generator")
    fake = generator.forward(seeds)
    mean_avg, std_avg = np.mean(moments, axis=0)
    print(f"trained in {seconds:.1f} s ({results['TotalBatches']} batches, schedule "
          f"{results['TrainingUpdateSchedule']}); final round loss {results['RoundLoss']:.4f} "
          f"(2 log 2 = {2 * np.log(2):.4f} at equilibrium)")
    print(f"data:      mean {samples.mean():+.3f}  std {samples.std():.3f}")
    print(f"generated: mean {fake.mean():+.3f}  std {fake.std():.3f}  (fraction > 0: {np.mean(fake > 0):.3f})")
    print(f"generated, averaged over the last {len(moments)} rounds: mean {mean_avg:+.3f}  std {std_avg:.3f}")
    return {"mean": float(fake.mean()), "std": float(fake.std()), "mean_averaged": float(mean_avg),
            "std_averaged": float(std_avg), "fraction_positive": float(np.mean(fake > 0)),
            "data_mean": float(samples.mean()), "data_std": float(samples.std()), "seconds": seconds}


if __name__ == "__main__":
    main()
