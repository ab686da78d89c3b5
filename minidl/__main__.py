"""``python -m minidl`` (or the ``minidl`` console script): train the documented example network on the digits.

MATLAB's "Create Simple Deep Learning Network for Classification": imageInputLayer 28×28×1, three blocks of
convolution 3×3 ('same') → batch normalization → ReLU (8, 16, 32 filters; max pooling 2, stride 2 after the first
two), fullyConnectedLayer(10), softmax, classification; trained with sgdm, InitialLearnRate 0.01, Shuffle
every-epoch, the test digits as ValidationData, ValidationFrequency 30, Verbose on; MaxEpochs 8 (the issue's
proof; MATLAB's page uses 4). Prints the verbose table and the final validation accuracy.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main", "example_layers"]


def example_layers(num_classes: int = 10) -> list:
    """The documented example network (MATLAB's simple classification network) as minidl layers."""
    from minidl import layers as L
    from minidl.layers.conv import Convolution2D
    from minidl.layers.pooling import MaxPooling2D

    return [
        L.ImageInput((1, 28, 28)),
        Convolution2D(3, 8, padding="same"), L.BatchNormalization(), L.ReLU(), MaxPooling2D(2, stride=2),
        Convolution2D(3, 16, padding="same"), L.BatchNormalization(), L.ReLU(), MaxPooling2D(2, stride=2),
        Convolution2D(3, 32, padding="same"), L.BatchNormalization(), L.ReLU(),
        L.FullyConnected(num_classes), L.Softmax(), L.ClassificationOutput(),
    ]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minidl", description="Train the documented example network (MATLAB's simple "
                                "classification network) on the embedded synthetic digits.")
    p.add_argument("--max-epochs", type=int, default=8, help="epochs to train (default 8)")
    p.add_argument("--execution-environment", default="auto", choices=("auto", "cpu", "gpu"),
                   help="where to train (default auto: the GPU when CuPy sees one)")
    p.add_argument("--precision", default="float32", choices=("float32", "float64"))
    p.add_argument("--seed", type=int, default=0, help="seed of the one random generator (default 0)")
    p.add_argument("--checkpoint-path", default=None, help="an existing folder for a checkpoint after every epoch")
    p.add_argument("--plots", default="none", choices=("none", "training-progress"))
    p.add_argument("--plots-file", default=None, help="save the training-progress figure here (.png, .pdf, .svg)")
    p.add_argument("--info-json", default=None, help="write the info record (audit log) as JSON here")
    p.add_argument("--quiet", action="store_true", help="no verbose table")
    p.add_argument("--blas-threads", default=None,
                   help="BLAS threads while training: a positive int or 'keep' (the caller's setting); default: "
                        "$MINIDL_BLAS_THREADS, else minidl's measured best (1)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example; returns the exit status (0)."""
    args = _parser().parse_args(argv)
    from minidl import train_network, training_options
    from minidl._threads import resolve_blas_threads, training_threads
    from minidl.datasets import digit_test_data, digit_train_data

    X, labels, _ = digit_train_data()
    X_val, labels_val, _ = digit_test_data()
    try:
        options = training_options(
            "sgdm", initial_learn_rate=0.01, max_epochs=args.max_epochs, shuffle="every-epoch",
            validation_data=(X_val, labels_val), validation_frequency=30, verbose=not args.quiet,
            execution_environment=args.execution_environment, precision=args.precision, seed=args.seed,
            checkpoint_path=args.checkpoint_path, plots=args.plots, plots_file=args.plots_file)
        resolve_blas_threads(args.blas_threads)  # a bad value is a usage error before any training
    except (TypeError, ValueError) as e:
        print(f"minidl: {e}", file=sys.stderr)
        return 2
    print(f"Training the documented example network on {len(X)} synthetic digits "
          f"({len(X_val)} for validation), {args.max_epochs} epochs, {args.precision}.")
    with training_threads(args.blas_threads):
        net, info = train_network(X, labels, example_layers(), options)
    if args.info_json:
        info.to_json(args.info_json)
    print(f"Training stopped: {info.stop_reason} after {len(info)} iterations in {info.elapsed_time:.1f} s.")
    print(f"Final validation accuracy: {info.final_validation_accuracy:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
