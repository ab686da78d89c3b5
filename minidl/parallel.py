"""Data-parallel training's public face (docs/parallel-launch.md): the local pool of worker processes that
``execution_environment='parallel'`` (MATLAB) and ``TargetDevice -> {"CPU", n}`` (Wolfram) open and keep.

>>> import minidl
>>> minidl.parallel.pool_size()      # no pool is open until a parallel run opens one
0
>>> minidl.parallel.close_pool()     # nothing to close: nothing happens
"""

from minidl.training.launch import close_pool, pool_size
from minidl.training.parallel import WorkerFailed, WorkerLost

__all__ = ["close_pool", "pool_size", "WorkerFailed", "WorkerLost"]
