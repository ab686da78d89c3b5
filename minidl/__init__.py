"""minidl: from-scratch deep-learning training with the exact semantics of MATLAB trainNetwork and Wolfram NetTrain.

Hand-written layers and textbook optimizer equations on NumPy (CPU) or CuPy (NVIDIA GPU), the same code.
"""

from minidl import backend, functional, layers, testing
from minidl.network import Network

__version__ = "0.1.0"

__all__ = ["Network", "backend", "functional", "layers", "testing"]
