"""The verifier: per-seed statistics → interval over seeds → verdict, with the rival checked on
the same data."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from theory.law import Config, Law, Measurement
from theory.statistics import LEVEL, t_interval

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


@dataclass
class Verdict:
    """One law checked on one configuration and one set of seeds."""

    spec: str
    source: str
    statement: str
    statistic: str
    variable: str
    config: dict[str, Any]
    range: list[float]
    predicted: float
    prediction: str
    measured: float
    ci_low: float
    ci_high: float
    level: float
    tolerance: float
    tolerance_reason: str
    verdict: str
    reason: str
    rival: float
    rival_name: str
    rival_rejected: bool
    n_seeds: int
    seeds: list[int]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(law: Law, config: Config, measurement: Measurement, seeds: Sequence[int]) -> Verdict:
    """Turn a measurement into a verdict (no simulation here)."""
    predicted, rival = law.predicted(config), law.rival(config)
    values = np.asarray(measurement.statistic, dtype=float)
    finite = values[np.isfinite(values)]
    reason = measurement.invalid
    if not reason and finite.size < values.size:
        reason = f"{values.size - finite.size} seed(s) gave no finite statistic (zero error?)"
    if finite.size >= 2:
        interval = t_interval(finite, LEVEL)
        mean, low, high = interval.mean, interval.low, interval.high
    else:
        mean = low = high = math.nan
        reason = reason or "fewer than 2 seeds"
    rival_rejected = not reason and rival.contradicted(low, high)
    if reason:
        verdict = INCONCLUSIVE
    elif predicted.consistent(low, high) and rival_rejected:
        verdict, reason = HOLDS, "prediction inside the widened interval, rival outside"
    elif predicted.contradicted(low, high):
        verdict, reason = FAILS, "prediction outside the widened interval"
    else:
        verdict = INCONCLUSIVE
        reason = "interval too wide: it does not separate the prediction from the rival"
    return Verdict(
        spec=law.spec,
        source=law.source,
        statement=law.statement,
        statistic=law.statistic,
        variable=law.variable,
        config=dict(config),
        range=[float(measurement.x[0]), float(measurement.x[-1])],
        predicted=predicted.value,
        prediction=predicted.describe(),
        measured=mean,
        ci_low=low,
        ci_high=high,
        level=LEVEL,
        tolerance=predicted.tolerance,
        tolerance_reason=law.tolerance_reason,
        verdict=verdict,
        reason=reason,
        rival=rival.value,
        rival_name=rival.label or law.rival_name,
        rival_rejected=bool(rival_rejected),
        n_seeds=int(values.size),
        seeds=[int(s) for s in seeds],
        seconds=0.0,
    )


def check(
    law: Law, config: Config, seeds: Sequence[int], device: str = "cpu"
) -> tuple[Verdict, Measurement]:
    """Simulate ``law`` on ``config`` with ``seeds`` and judge it."""
    start = time.perf_counter()
    measurement = law.measure(config, list(seeds), device)
    verdict = judge(law, config, measurement, seeds)
    verdict.seconds = time.perf_counter() - start
    return verdict, measurement
