"""The smoothed training curve: local linear fit over the last 15 iterations, NaNs dropped, clipped
(docs/semantics-matlab.md#14-training-progress-plot)."""

import numpy as np
import pytest

from minidl.reporting.smoothing import WINDOW, Smoother, smooth


def naive_smooth(y, window=WINDOW):
    """Reference: one least-squares fit per point with np.polyfit (a loop over points, for tests only)."""
    y = np.asarray(y, dtype=np.float64)
    out = np.full(y.size, np.nan)
    for i in range(y.size):
        if not np.isfinite(y[i]):
            continue
        x = np.arange(max(0, i - window + 1), i + 1)
        keep = np.isfinite(y[x])
        xs, ys = x[keep], y[x][keep]
        fit = ys[0] if xs.size == 1 else np.polyval(np.polyfit(xs - i, ys, 1), 0.0)
        seen = y[: i + 1][np.isfinite(y[: i + 1])]
        out[i] = min(max(fit, seen.min()), seen.max())
    return out


def test_five_points_by_hand():
    # i=1: the line through (−1, 1), (0, 3) → 3;  i=2: x̄=−1, ȳ=2, b=1/2 → 2.5;
    # i=3: x̄=−1.5, ȳ=2.75, b=5.5/5 → 2.75+1.1·1.5 = 4.4;  i=4: x̄=−2, ȳ=3, b=8/10 → 3+0.8·2 = 4.6
    np.testing.assert_allclose(smooth([1.0, 3.0, 2.0, 5.0, 4.0]), [1.0, 3.0, 2.5, 4.4, 4.6], rtol=1e-14)


def test_clipped_to_the_range_of_the_values_seen_so_far():
    # at i=2 the fit through (−2,0), (−1,10), (0,10) is 35/3 > 10 = max so far: clipped to 10.  At i=3 the fit is
    # 19 (inside [0, 20]).  Clipping to the whole series' max (20) would have left 35/3 at i=2.
    np.testing.assert_allclose(smooth([0.0, 10.0, 10.0, 20.0]), [0.0, 10.0, 10.0, 19.0], rtol=1e-14)
    falling = smooth([10.0, 0.0, 0.0])  # the fit is −5/3 at the end: clipped to the minimum 0
    np.testing.assert_allclose(falling, [10.0, 0.0, 0.0], atol=1e-15)


def test_twenty_points_with_nans():
    y = np.array([(7 * i) % 11 for i in range(20)], dtype=np.float64)  # 0 7 3 10 6 2 9 5 1 8 4 0 7 3 10 6 2 9 5 1
    y[[3, 9, 10, 17]] = np.nan
    s = smooth(y)
    # NaN in, NaN out (a gap in the raw line is a gap in the smoothed line)
    assert np.isnan(s[[3, 9, 10, 17]]).all() and np.isfinite(np.delete(s, [3, 9, 10, 17])).all()
    # i=4 by hand: points (−4,0), (−3,7), (−2,3), (0,6); x̄=−9/4, ȳ=4, Σdx·dy=9, Σdx²=35/4 → 4 + (36/35)(9/4) = 221/35
    assert s[4] == pytest.approx(221 / 35, rel=1e-14)
    np.testing.assert_allclose(s, naive_smooth(y), rtol=1e-12, atol=1e-12)


def test_window_counts_iterations_not_valid_values():
    y = np.r_[np.full(20, np.nan), 5.0, np.full(14, np.nan), 9.0]  # two values 15 iterations apart
    s = smooth(y)
    assert s[20] == 5.0
    assert s[35] == 9.0  # the window of i=35 is 21..35: 5.0 at i=20 is outside it, 9 alone is its own fit


def test_matches_the_reference_on_long_noisy_series():
    rng = np.random.default_rng(7)
    y = np.cumsum(rng.normal(size=400)) + 50
    y[rng.random(400) < 0.15] = np.nan
    np.testing.assert_allclose(smooth(y), naive_smooth(y), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(smooth(y, window=4), naive_smooth(y, window=4), rtol=1e-10, atol=1e-10)


def test_edge_cases():
    assert smooth([3.5]).tolist() == [3.5]  # one value: itself
    assert smooth([]).shape == (0,)
    assert np.isnan(smooth([np.nan, np.nan])).all()
    assert smooth([1.0, 4.0, 2.0], window=1).tolist() == [1.0, 4.0, 2.0]  # window 1: the raw series
    s = smooth([1.0, np.inf, 2.0, 3.0])  # ±Inf counts as missing (non-finite loss before a stop)
    # i=3: points (−3,1), (−1,2), (0,3): x̄=−4/3, ȳ=2, b=3/(42/9)=9/14 → 2 + (9/14)(4/3) = 20/7
    assert np.isnan(s[1]) and s[2] == 2.0 and s[3] == pytest.approx(20 / 7, rel=1e-14)
    assert smooth(np.arange(5, dtype=np.float32)).dtype == np.float64  # host bookkeeping in float64


@pytest.mark.parametrize("window", [0, -3, 2.5, True, "15"])
def test_bad_window_is_rejected(window):
    with pytest.raises(ValueError, match="window"):
        smooth([1.0, 2.0], window=window)


def test_two_dimensional_series_is_rejected():
    with pytest.raises(ValueError, match="series must be one-dimensional"):
        smooth(np.ones((3, 2)))


def test_incremental_smoother_is_bit_identical_to_smooth():
    rng = np.random.default_rng(3)
    y = rng.normal(size=600)
    y[rng.random(600) < 0.1] = np.nan
    sm, parts, i = Smoother(), [], 0
    while i < y.size:
        k = int(rng.integers(1, 40))
        parts.append(sm.extend(y[i:i + k]))
        i += k
    assert np.array_equal(np.concatenate(parts), smooth(y), equal_nan=True)
    assert sm.count == 600
    one = Smoother()
    assert [one.append(v) for v in (1.0, 3.0, 2.0)] == [1.0, 3.0, 2.5]
    assert one.extend([]).shape == (0,)
