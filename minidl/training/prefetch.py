"""Background reading of mini-batches (``EngineConfig.dispatch_in_background``, MATLAB's DispatchInBackground).

A reader thread takes the next items of one epoch's batch iterator (the source's ``read`` and its checks, any
augmentation) while the main thread runs the current step, and keeps them in a bounded queue of :data:`DEPTH`
items, in the iterator's order.  The main thread takes them one by one, so the run is the one without the
reader, bit for bit (docs/parallel-performance.md#background-reading):

- The reader serves one epoch segment only: the trainer makes a new reader after each epoch's shuffle (drawn on
  the main thread), so it never reads past an epoch boundary.
- An error in the reader (the source's ``read`` raised) travels as an item: the main thread raises that very
  exception (type, message, traceback) when it reaches the batch it belongs to, i.e. at the iteration where the
  error would have happened without the reader.
- :meth:`BackgroundReader.close` (at the end of the epoch, or at any stop) stops the reader and joins its thread;
  no thread is left behind.
- A source that draws with the run's generator (augmentation): the reader draws ahead of the main thread, so it
  notes the generator's state before each read; after a stop part-way, :meth:`close` puts back the state from
  before the first batch the main thread did not take, and :meth:`generator_state` is that state while the reader
  runs (checkpoints).  The trainer lets such a reader run only when nothing else draws from the generator during
  an epoch (no dropout, no validation draws); otherwise the batches are read on the main thread, in the run's
  order of draws.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

__all__ = ["DEPTH", "BackgroundReader"]

#: Batches the reader keeps ready ahead of the main thread (a bounded queue: the memory of DEPTH batches).
DEPTH = 2

_END = object()          # the iterator is exhausted
_POLL = 0.05             # seconds between the reader's checks of the stop flag while the queue is full


class _Raised:
    """An exception of the reader, carried to the main thread in its place in the order."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


class BackgroundReader(Iterator):
    """Iterates ``batches`` on a reader thread, up to ``depth`` items ahead of the consumer, in the same order.

    ``generator``: the run's generator when the source draws from it (its state is noted before each read, see the
    module docstring); None otherwise.  Use as an iterator and call :meth:`close` when done (or ``with``).
    """

    def __init__(self, batches: Iterable, depth: int = DEPTH, generator: np.random.Generator | None = None,
                 name: str = "minidl-reader"):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth: got {depth!r}; allowed: a positive int (batches read ahead)")
        self._source = iter(batches)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._generator = generator
        self._lock = threading.Lock()
        self._states: list[dict[str, Any]] = []   # the generator's state before read k (drawing sources)
        self._taken = 0                           # items the consumer has taken
        self._done = False
        self._thread = threading.Thread(target=self._read_all, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------------ reader thread
    def _read_all(self) -> None:
        source = self._source
        try:
            while not self._stop.is_set():
                try:
                    if self._generator is not None:
                        with self._lock:     # noted before the read starts: generator_state() sees no half read
                            self._states.append(dict(self._generator.bit_generator.state))
                    item = next(source)
                except StopIteration:
                    self._put(_END)
                    return
                except BaseException as e:  # the source's own error, raised on the main thread in its place
                    self._put(_Raised(e))
                    return
                if not self._put(item):
                    return
        finally:
            close = getattr(source, "close", None)   # a generator: its own clean-up runs on the thread that ran it
            if close is not None:
                try:
                    close()
                except Exception:   # noqa: S110 - the consumer has stopped; nothing is left to report it to
                    pass

    def _put(self, item: Any) -> bool:
        """Put ``item`` in the queue, waiting while it is full; False when the consumer asked to stop."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    # ------------------------------------------------------------------------------------------------ consumer side
    def __iter__(self) -> BackgroundReader:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._done = True
            raise StopIteration
        if isinstance(item, _Raised):
            self._done = True
            raise item.error
        with self._lock:
            self._taken += 1
        return item

    def generator_state(self) -> dict[str, Any] | None:
        """The generator's state as the main thread sees the run: from before the first batch it has not taken
        (the reader's draws ahead undone); None without a generator."""
        if self._generator is None:
            return None
        with self._lock:
            if len(self._states) > self._taken:
                return self._states[self._taken]
            return dict(self._generator.bit_generator.state)   # no read under way: the live state is the run's

    def close(self) -> None:
        """Stop the reader, join its thread, and put back the generator's state of the batches not taken."""
        self._stop.set()
        while self._thread.is_alive():
            try:                         # unblock a reader waiting on a full queue
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=_POLL)
        self._done = True
        if self._generator is not None and len(self._states) > self._taken:
            self._generator.bit_generator.state = self._states[self._taken]

    @property
    def alive(self) -> bool:
        """True while the reader thread runs."""
        return self._thread.is_alive()

    def __enter__(self) -> BackgroundReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
