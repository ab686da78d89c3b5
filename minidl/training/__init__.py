"""The training engine: options, mini-batch sources, the loop, events, the info record, checkpoints.

``training_options`` and ``train_network`` give MATLAB ``trainingOptions`` / ``trainNetwork`` semantics under
snake_case names; :class:`Trainer` with an :class:`EngineConfig` is the neutral engine both dialects run on.
"""

from minidl.training.api import engine_config, make_observers, train_network
from minidl.training.checkpoint import load_network, read_checkpoint, save_network
from minidl.training.data import ArraySource, MiniBatchSource
from minidl.training.events import Observer, TrainingState
from minidl.training.info import TrainingInfo
from minidl.training.observers import Checkpointer, OutputFcnInfo, OutputFunctions, ValidationPatience
from minidl.training.options import NotSupportedYetError, TrainingOptions, training_options
from minidl.training.trainer import EngineConfig, Trainer

__all__ = [
    "training_options", "TrainingOptions", "NotSupportedYetError", "train_network", "load_network", "save_network",
    "read_checkpoint", "TrainingInfo", "MiniBatchSource", "ArraySource", "Trainer", "EngineConfig", "Observer",
    "TrainingState", "OutputFcnInfo", "OutputFunctions", "ValidationPatience", "Checkpointer", "engine_config",
    "make_observers",
]
