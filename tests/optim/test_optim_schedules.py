"""Learning-rate schedules: values by hand, validation, reprs."""

from __future__ import annotations

import math

import pytest

from minidl.optim import ConstantSchedule, FunctionSchedule, PiecewiseSchedule, PolynomialSchedule


def test_piecewise_rate_per_epoch_over_25_epochs():
    s = PiecewiseSchedule(0.01, drop_factor=0.2, drop_period=10)
    rates = [s(epoch=e, iteration=1 + 7 * (e - 1)) for e in range(1, 26)]
    expected = [0.01] * 10 + [0.002] * 10 + [0.0004] * 5  # 0.01·0.2^⌊(e−1)/10⌋
    assert rates == pytest.approx(expected, rel=1e-15, abs=0)
    assert {s(epoch=3, iteration=i) for i in (15, 16, 21)} == {0.01}  # constant within an epoch


def test_piecewise_defaults_are_matlabs():
    s = PiecewiseSchedule(0.1)
    assert (s.drop_factor, s.drop_period) == (0.1, 10)
    assert s(11, 1) == pytest.approx(0.01, rel=1e-15)


def test_polynomial_values_by_hand():
    s = PolynomialSchedule(0.01)
    T = 3  # rate·√(1 − min(t, T)/(T + 1)) = rate·√(1 − t/4)
    got = [s(epoch=1, iteration=t, total_iterations=T) for t in (1, 2, 3, 4, 9)]
    expected = [0.01 * math.sqrt(0.75), 0.01 * math.sqrt(0.5), 0.005, 0.005, 0.005]
    assert got == pytest.approx(expected, rel=1e-15, abs=0)


def test_constant_schedule():
    s = ConstantSchedule(0.001)
    assert [s(e, i, 100) for e, i in ((1, 1), (5, 40), (30, 100))] == [0.001] * 3


def test_function_schedule_multiplies_the_rate():
    s = FunctionSchedule(0.1, lambda batch, total: 1 - (batch - 1) / total)
    assert [s(1, t, 4) for t in (1, 2, 3, 4)] == pytest.approx([0.1, 0.075, 0.05, 0.025], rel=1e-15)


@pytest.mark.parametrize("value", [0, 0.0, 1.5, -0.2, float("nan"), "half", None])
def test_function_schedule_rejects_multipliers_outside_0_1(value):
    s = FunctionSchedule(0.1, lambda batch, total: value)
    with pytest.raises(ValueError, match=r"FunctionSchedule\(initial=0.1, f=.*\): f\(2, 5\) returned .*; "
                                         r"allowed: a real number in \(0, 1\]"):
        s(1, 2, 5)


def test_reprs():
    def decay(batch, total):
        return 0.5

    assert repr(ConstantSchedule(0.01)) == "ConstantSchedule(rate=0.01)"
    assert repr(PiecewiseSchedule(0.01, 0.2, 5)) == "PiecewiseSchedule(initial=0.01, drop_factor=0.2, drop_period=5)"
    assert repr(PolynomialSchedule(0.01)) == "PolynomialSchedule(initial=0.01)"
    assert repr(FunctionSchedule(0.01, decay)) == (
        "FunctionSchedule(initial=0.01, f=test_reprs.<locals>.decay)")


@pytest.mark.parametrize("make, match", [
    (lambda: ConstantSchedule(0.0), r"initial: got 0.0; allowed: a real number in \(0, inf\)"),
    (lambda: ConstantSchedule(math.inf), r"initial: got inf"),
    (lambda: PiecewiseSchedule(-0.1), r"initial: got -0.1"),
    (lambda: PiecewiseSchedule(0.1, drop_factor=1.5), r"drop_factor: got 1.5; allowed: a real number in \[0, 1\]"),
    (lambda: PiecewiseSchedule(0.1, drop_period=0), r"drop_period: got 0; allowed: a positive integer"),
    (lambda: PolynomialSchedule(0.0), r"initial: got 0.0"),
    (lambda: FunctionSchedule(-1.0, lambda b, t: 1.0), r"initial: got -1.0"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_types_and_positions():
    with pytest.raises(TypeError, match=r"drop_period: got 2.5 of type float; allowed: a positive integer"):
        PiecewiseSchedule(0.1, drop_period=2.5)
    with pytest.raises(TypeError, match=r"f: got 0.5; allowed: a callable"):
        FunctionSchedule(0.1, 0.5)
    with pytest.raises(ValueError, match=r"epoch: got 0; allowed: a positive integer"):
        PiecewiseSchedule(0.1)(0, 1)
    with pytest.raises(TypeError, match=r"total_iterations: got None"):
        PolynomialSchedule(0.1)(1, 1)
    with pytest.raises(ValueError, match=r"iteration: got 0"):
        PolynomialSchedule(0.1)(1, 0, 10)
