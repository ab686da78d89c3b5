"""Learning-rate schedules: a schedule maps (epoch, iteration, total iterations), all 1-based, to the rate.

A schedule is a pure function of its arguments (no state), so a resumed run only needs its position.
The rules side by side: docs/optimizers.md.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable

from minidl._checks import check_positive_int, check_real


class Schedule:
    """Base class: ``schedule(epoch, iteration, total_iterations) -> learning rate`` (a host float)."""

    def __init__(self, initial: float) -> None:
        self.initial = check_real("initial", initial, 0.0, math.inf, low_open=True, high_open=True)

    def __call__(self, epoch: int, iteration: int, total_iterations: int | None = None) -> float:
        raise NotImplementedError


class ConstantSchedule(Schedule):
    """The same rate at every iteration (MATLAB LearnRateSchedule ``none``; Wolfram's default except for SGD).

    >>> ConstantSchedule(0.01)(epoch=3, iteration=250)
    0.01
    """

    def __call__(self, epoch: int, iteration: int, total_iterations: int | None = None) -> float:
        return self.initial

    def __repr__(self) -> str:
        return f"ConstantSchedule(rate={self.initial!r})"


class PiecewiseSchedule(Schedule):
    """MATLAB ``piecewise``: rate of epoch e = initial·drop_factor^floor((e−1)/drop_period), constant within an epoch.

    >>> s = PiecewiseSchedule(0.01, drop_factor=0.2, drop_period=10)
    >>> s(epoch=10, iteration=1), s(epoch=11, iteration=1)
    (0.01, 0.002)
    """

    def __init__(self, initial: float, drop_factor: float = 0.1, drop_period: int = 10) -> None:
        super().__init__(initial)
        self.drop_factor = check_real("drop_factor", drop_factor, 0.0, 1.0)
        self.drop_period = check_positive_int("drop_period", drop_period)

    def __call__(self, epoch: int, iteration: int, total_iterations: int | None = None) -> float:
        e = check_positive_int("epoch", epoch)
        return self.initial * self.drop_factor ** ((e - 1) // self.drop_period)  # initial·factor^⌊(e−1)/period⌋

    def __repr__(self) -> str:
        return (f"PiecewiseSchedule(initial={self.initial!r}, drop_factor={self.drop_factor!r}, "
                f"drop_period={self.drop_period!r})")


class PolynomialSchedule(Schedule):
    """Wolfram SGD's automatic schedule: rate at batch t of T = initial·√(1 − min(t, T)/(T + 1)).

    >>> PolynomialSchedule(0.01)(epoch=1, iteration=3, total_iterations=3)
    0.005
    """

    def __call__(self, epoch: int, iteration: int, total_iterations: int | None = None) -> float:
        t = check_positive_int("iteration", iteration)
        T = check_positive_int("total_iterations", total_iterations)
        return self.initial * math.sqrt(1 - min(t, T) / (T + 1))  # initial·√(1 − min(t, T)/(T + 1))

    def __repr__(self) -> str:
        return f"PolynomialSchedule(initial={self.initial!r})"


class ScheduleValueWarning(UserWarning):
    """A schedule function returned a factor outside [0, 1]; it was clipped (Wolfram's rule)."""


class FunctionSchedule(Schedule):
    """Wolfram ``"LearningRateSchedule" -> f``: rate = initial·f(batch, total), f returning a value in (0, 1].

    ``first_batch``: the batch number f gets at the first iteration (1 here; Wolfram counts from 0, so NetTrain
    passes 0 and f sees 0 … total − 1).  ``clip=True`` (Wolfram): a real value outside [0, 1] is clipped to it with
    a :class:`ScheduleValueWarning` (once per schedule) instead of an error; a value that is not a finite real is
    an error either way.

    >>> FunctionSchedule(0.1, lambda batch, total: 0.5 ** batch)(epoch=1, iteration=2, total_iterations=10)
    0.025
    >>> FunctionSchedule(0.1, lambda batch, total: 1 - batch / total, first_batch=0)(1, 6, 10)   # batch 5
    0.05
    """

    def __init__(self, initial: float, f: Callable[[int, int], float], first_batch: int = 1,
                 clip: bool = False) -> None:
        super().__init__(initial)
        if not callable(f):
            raise TypeError(f"f: got {f!r}; allowed: a callable f(batch, total) returning a number in (0, 1]")
        if first_batch not in (0, 1):
            raise ValueError(f"first_batch: got {first_batch!r}; allowed: 0 or 1")
        self.f, self.first_batch, self.clip = f, first_batch, bool(clip)
        self._warned = False

    def __call__(self, epoch: int, iteration: int, total_iterations: int | None = None) -> float:
        t = check_positive_int("iteration", iteration)
        T = check_positive_int("total_iterations", total_iterations)
        batch = t - 1 + self.first_batch
        value = self.f(batch, T)
        if self.clip:
            ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
            if not ok:
                raise ValueError(f"{self!r}: f({batch}, {T}) returned {value!r}; allowed: a real number in [0, 1]")
            if not 0 <= value <= 1:
                if not self._warned:
                    warnings.warn(f"{self!r}: f({batch}, {T}) returned {value!r}, outside [0, 1]; clipped to "
                                  f"{min(max(value, 0.0), 1.0)} (and likewise for later batches)",
                                  ScheduleValueWarning, stacklevel=2)
                    self._warned = True
                value = min(max(value, 0.0), 1.0)                    # clip(f, 0, 1)
            return self.initial * float(value)
        try:
            factor = check_real("f(batch, total)", value, 0.0, 1.0, low_open=True)
        except (TypeError, ValueError):
            raise ValueError(f"{self!r}: f({batch}, {T}) returned {value!r}; allowed: a real number in "
                             "(0, 1]") from None
        return self.initial * factor  # initial·f(batch, total)

    def __repr__(self) -> str:
        name = getattr(self.f, "__qualname__", None) or repr(self.f)
        return f"FunctionSchedule(initial={self.initial!r}, f={name})"


class EpochIterationSchedule(Schedule):
    """``learn_rate_schedule=f``: rate = initial_learn_rate·f(epoch, iteration), epoch and iteration 1-based (the
    iteration counted over the whole run), f returning a finite real factor ≥ 0
    (MATLAB dialect extension: docs/your-data.md#learning-rate-as-a-function).

    >>> EpochIterationSchedule(0.1, lambda epoch, iteration: 0.5 ** (epoch - 1))(epoch=3, iteration=7)
    0.025
    """

    def __init__(self, initial: float, f: Callable[[int, int], float]) -> None:
        super().__init__(initial)
        self.f = f

    def __call__(self, epoch: int, iteration: int, total_iterations: int | None = None) -> float:
        value = self.f(epoch, iteration)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"learn_rate_schedule: f({epoch}, {iteration}) returned {value!r}; allowed: a finite "
                             "real factor >= 0 (the rate is initial_learn_rate times it)")
        return self.initial * float(value)

    def __repr__(self) -> str:
        return f"EpochIterationSchedule(initial={self.initial!r}, f={getattr(self.f, '__qualname__', self.f)!r})"
