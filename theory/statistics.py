"""Statistics that turn per-seed simulations into intervals: log-log slopes, crossings,
t-intervals over seeds, exact binomial intervals, how many seeds an interval would need, and the
slope a log factor can add over a finite range."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.99  # two-sided confidence level of every interval over seeds


@dataclass(frozen=True)
class Interval:
    """Mean of a per-seed statistic and its two-sided t-interval at ``level``."""

    mean: float
    low: float
    high: float
    level: float
    n: int


def t_interval(values: np.ndarray, level: float = LEVEL) -> Interval:
    """Student-t interval for the mean of ``values`` (one per independent seed)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        raise ValueError(f"a t-interval needs at least 2 seeds, got {values.size}")
    mean = float(values.mean())
    sem = float(stats.sem(values))
    if sem == 0.0:
        return Interval(mean, mean, mean, level, values.size)
    low, high = stats.t.interval(level, values.size - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), level, values.size)


def binomial_interval(values: np.ndarray, level: float = LEVEL) -> Interval:
    """Exact (Clopper–Pearson) interval for the rate of a 0/1 statistic, one value per seed."""
    values = np.asarray(values, dtype=float)
    if values.size < 1 or not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(f"a binomial interval needs values in {{0, 1}}, got {values!r}")
    successes = int(values.sum())
    bounds = stats.binomtest(successes, values.size).proportion_ci(level, method="exact")
    return Interval(
        successes / values.size, float(bounds.low), float(bounds.high), level, values.size
    )


def seeds_to_decide(spread: float, margin: float, level: float = LEVEL) -> int | None:
    """The fewest seeds whose t-interval half-width at ``level`` falls below ``margin`` when the
    per-seed standard deviation is ``spread``; None when no number of seeds would (``margin``
    not positive) or more than 10⁶ would be needed."""
    if not margin > 0 or not math.isfinite(spread):
        return None
    if spread == 0:
        return 2
    estimate = max(2, math.ceil((stats.norm.ppf((1 + level) / 2) * spread / margin) ** 2))
    for n in range(estimate, 10**6):
        if stats.t.ppf((1 + level) / 2, n - 1) * spread / math.sqrt(n) < margin:
            return n
    return None


def loglog_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``log y`` against ``log x`` for each row of ``y`` (``[R, K]``).
    Rows with a non-positive value give NaN."""
    log_x = np.log(np.asarray(x, dtype=float))
    y = np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_y = np.where(y > 0, np.log(np.where(y > 0, y, 1.0)), np.nan)
    centred = log_x - log_x.mean()
    slopes = (log_y - log_y.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
    return slopes


def curve_slope(x: np.ndarray | Sequence[float], y: np.ndarray) -> float:
    """Least-squares slope of ``log y`` against ``log x`` for one curve ``y`` (``[K]``)."""
    return float(loglog_slopes(np.asarray(x, dtype=float), np.asarray(y, dtype=float)[None])[0])


def first_crossing(x: np.ndarray, y: np.ndarray, level: np.ndarray) -> np.ndarray:
    """For each row of ``y`` (``[R, K]``, decreasing in ``x`` on the whole), the ``x`` where ``y``
    first falls to ``level`` (``[R]`` or scalar), interpolated linearly in ``log x`` and
    ``log y``. NaN where ``y`` starts below the level or never reaches it."""
    log_x = np.log(np.asarray(x, dtype=float))
    y = np.asarray(y, dtype=float)
    levels = np.broadcast_to(np.asarray(level, dtype=float), y.shape[:1])
    out = np.full(y.shape[0], np.nan)
    for r in range(y.shape[0]):
        below = np.nonzero(y[r] <= levels[r])[0]
        if below.size == 0 or below[0] == 0:
            continue
        k = below[0]
        y0, y1 = math.log(y[r, k - 1]), math.log(max(y[r, k], 1e-300))
        fraction = (y0 - math.log(levels[r])) / (y0 - y1)
        out[r] = math.exp(log_x[k - 1] + fraction * (log_x[k] - log_x[k - 1]))
    return out


def log_factor_slope(low: float, high: float) -> float:
    """The log-log slope that one factor ``log x`` adds when fitted over ``[low, high]``:
    ``(ln ln high − ln ln low) / (ln high − ln low)``. Rates stated "up to log factors" are
    allowed this much per power of the log."""
    if not 1 < low < high:
        raise ValueError(f"need 1 < low < high, got low={low}, high={high}")
    return (math.log(math.log(high)) - math.log(math.log(low))) / (math.log(high) - math.log(low))


def geometric_grid(low: int, high: int, per_octave: float) -> list[int]:
    """Integers from ``low`` to ``high`` spaced evenly in log scale, ``per_octave`` per doubling."""
    if not 1 <= low < high:
        raise ValueError(f"need 1 <= low < high, got low={low}, high={high}")
    count = max(2, round(math.log2(high / low) * per_octave) + 1)
    points = np.unique(np.round(np.geomspace(low, high, count)).astype(int))
    return [int(v) for v in points]
