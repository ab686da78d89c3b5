"""minidl: from-scratch deep-learning training with the exact semantics of MATLAB trainNetwork and Wolfram NetTrain.

Hand-written layers and textbook optimizer equations on NumPy (CPU) or CuPy (NVIDIA GPU), the same code.

- ``minidl.Network`` and ``minidl.layers``: the network and its layers (math in ``minidl.functional``);
- ``minidl.optim``: the optimizers, gradient pre-steps and rate schedules of both documented systems;
- ``minidl.training_options`` / ``minidl.train_network``: the engine with MATLAB trainingOptions semantics;
- ``minidl.net_train`` / ``minidl.wolfram``: Wolfram NetTrain on the same engine (``NetTrain``, results object);
- ``minidl.matlab``: MATLAB spellings (``trainingOptions('sgdm', 'MaxEpochs', 20)``, H×W×C×N arrays);
- ``minidl.parallel``: the local pool of data-parallel workers (``close_pool``, ``pool_size``);
- ``minidl.datasets``: embedded synthetic digits; ``minidl.testing``: gradient checks for your own audits.
"""

from minidl import backend, datasets, functional, layers, network, optim, parallel, testing, training
from minidl.errors import NotSupportedYetError
from minidl.matlab.options import TrainingOptions, training_options
from minidl.matlab.train import train_network
from minidl.network import Network
from minidl.training import (
    ArraySource,
    EngineConfig,
    MiniBatchSource,
    Trainer,
    TrainingInfo,
    load_network,
    save_network,
)
from minidl.wolfram import net_train


def _plot_info(info, **kwargs):
    from minidl.reporting.figure import plot_info  # matplotlib is imported only when a figure is drawn
    return plot_info(info, **kwargs)


def _save_info_figure(info, path, **kwargs):
    from minidl.reporting.figure import save_info_figure
    return save_info_figure(info, path, **kwargs)


def _plot_network(net, **kwargs):
    from minidl.reporting.graph_plot import plot_network  # matplotlib is imported only when a graph is drawn
    return plot_network(net, **kwargs)


training.info.PLOTTERS.update(plot=_plot_info, save=_save_info_figure)  # the engine's record draws through these
network.PLOTTERS["network"] = _plot_network                               # Network.plot() draws through this

__version__ = "0.1.0"

__all__ = [
    "Network", "backend", "datasets", "functional", "layers", "optim", "parallel", "testing",
    "training_options", "TrainingOptions", "train_network", "load_network", "save_network", "TrainingInfo",
    "MiniBatchSource", "ArraySource", "NotSupportedYetError", "Trainer", "EngineConfig", "net_train",
]
