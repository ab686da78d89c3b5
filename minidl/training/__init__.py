"""The neutral training engine: the config and the loop, mini-batch sources, events, the info record, checkpoints,
serialization and the generic observers.  It knows no dialect: :mod:`minidl.matlab` and :mod:`minidl.wolfram`
configure it (docs/training.md).
"""

from minidl.errors import NotSupportedYetError
from minidl.training.checkpoint import load_network, read_checkpoint, save_network
from minidl.training.data import ArraySource, MiniBatchSource
from minidl.training.events import Observer, StopRequest, TrainingState
from minidl.training.info import InfoRecorder, TrainingInfo
from minidl.training.observers import Checkpointer, EarlyStopping, FileLog, KeepBest, UserFunction
from minidl.training.trainer import EngineConfig, Trainer

__all__ = [
    "NotSupportedYetError", "load_network", "save_network", "read_checkpoint", "TrainingInfo", "InfoRecorder",
    "MiniBatchSource", "ArraySource", "Trainer", "EngineConfig", "Observer", "StopRequest", "TrainingState",
    "EarlyStopping", "KeepBest", "UserFunction", "Checkpointer", "FileLog",
]
