"""Properties of the statistics and of the verdict logic: exact on noiseless data, and able to
say "fails" as readily as "holds"."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memlaws.theory.law import Law, Measurement, Prediction
from memlaws.theory.statistics import (
    first_crossing,
    geometric_grid,
    log_factor_slope,
    loglog_slopes,
    t_interval,
)
from memlaws.theory.verify import FAILS, HOLDS, INCONCLUSIVE, judge

exponents = st.floats(-3.0, 3.0, allow_nan=False)


@given(exponents, st.floats(0.01, 100.0), st.integers(2, 12))
def test_slopes_are_exact_on_power_laws(exponent, constant, points):
    x = np.geomspace(10, 1000, points)
    slope = loglog_slopes(x, constant * x[None] ** exponent)[0]
    assert slope == pytest.approx(exponent, abs=1e-9)


@given(st.floats(0.2, 2.0), st.floats(1.01, 9999.0))
def test_crossing_is_exact_on_power_laws(exponent, where):
    x = np.geomspace(1, 1e4, 9)
    y = x ** (-exponent)
    crossing = first_crossing(x, y[None], where ** (-exponent))[0]
    assert crossing == pytest.approx(where, rel=1e-9)


def test_crossing_is_missing_when_the_curve_never_crosses():
    x = np.array([1.0, 2.0, 4.0])
    assert np.isnan(first_crossing(x, np.array([[0.9, 0.8, 0.7]]), 0.5)).all()
    assert np.isnan(first_crossing(x, np.array([[0.4, 0.3, 0.2]]), 0.5)).all()


def test_zero_errors_give_no_slope():
    assert np.isnan(loglog_slopes(np.array([1.0, 2.0]), np.array([[0.5, 0.0]]))).all()


@given(st.floats(2.0, 1e3), st.floats(1.5, 100.0))
def test_log_factor_slope_is_the_fitted_slope_of_log(low, ratio):
    high = low * ratio
    x = np.array([low, high])
    assert log_factor_slope(low, high) == pytest.approx(loglog_slopes(x, np.log(x)[None])[0])


def test_interval_covers_known_mean_at_its_level():
    rng = np.random.default_rng(0)
    covered = sum(
        (lambda i: i.low <= 0.0 <= i.high)(t_interval(rng.normal(0.0, 1.0, 16)))
        for _ in range(4000)
    )
    assert abs(covered / 4000 - 0.99) < 0.006  # binomial sd at 4000 draws is 0.0016


def test_geometric_grid_spans_its_ends():
    grid = geometric_grid(16, 512, 2)
    assert grid[0] == 16 and grid[-1] == 512 and grid == sorted(set(grid))


class Synthetic(Law):
    """A law whose statistic is drawn from a normal law, for testing the verdict logic."""

    spec, source, statement, statistic, variable, domain = "S", "test", "", "", "x", ""
    parameters = {}
    tolerance_reason, rival_name = "test", "rival"

    def __init__(self, predicted: Prediction, rival: Prediction) -> None:
        self._predicted, self._rival = predicted, rival

    def predicted(self, config):
        return self._predicted

    def rival(self, config):
        return self._rival

    def measure(self, config, seeds, device="cpu"):
        raise NotImplementedError


def _measurement(values: np.ndarray) -> Measurement:
    return Measurement(values, np.array([1.0, 2.0]), values[:, None], "x", "y")


@given(exponents, st.floats(0.3, 2.0), st.integers(0, 10**6))
def test_verdict_goes_either_way(truth, gap, seed):
    values = np.random.default_rng(seed).normal(truth, 0.05, 16)
    right = Prediction("point", truth, 0.1)
    wrong = Prediction("point", truth + gap, 0.1)
    assert judge(Synthetic(right, wrong), {}, _measurement(values), range(16)).verdict == HOLDS
    failed = judge(Synthetic(wrong, right), {}, _measurement(values), range(16))
    assert failed.verdict == FAILS and not failed.rival_rejected


def test_verdict_is_inconclusive_when_the_data_cannot_separate():
    values = np.random.default_rng(1).normal(0.0, 5.0, 4)
    law = Synthetic(Prediction("point", 0.0, 0.1), Prediction("point", 0.5, 0.1))
    assert judge(law, {}, _measurement(values), range(4)).verdict == INCONCLUSIVE


def test_verdict_is_inconclusive_without_finite_statistics():
    values = np.array([0.1, math.nan, 0.2])
    law = Synthetic(Prediction("point", 0.1, 0.1), Prediction("point", 5.0, 0.1))
    verdict = judge(law, {}, _measurement(values), range(3))
    assert verdict.verdict == INCONCLUSIVE and "finite" in verdict.reason


def test_ordering_predictions():
    values = np.random.default_rng(2).normal(0.5, 0.1, 16)
    above, below = Prediction("above", 0.0), Prediction("below", 0.0)
    assert judge(Synthetic(above, below), {}, _measurement(values), range(16)).verdict == HOLDS
    assert judge(Synthetic(below, above), {}, _measurement(values), range(16)).verdict == FAILS
