"""The verifier: per-seed statistics → interval over seeds → verdict, with the rival checked on
the same data, and seeds added in stages while the data cannot decide.

A claim **holds** when its interval lies wholly inside the claim's band (positive evidence: two
one-sided tests) and the rival's band is wholly outside the interval; it **fails** when the
interval lies wholly outside the claim's band; otherwise it is **inconclusive**, and the verdict
says how many seeds would likely decide it. The **resolution** is the smallest shift of the
claim that the same interval contradicts.

Looks. A profile may add seeds in stages (``memlaws.theory.profiles``): ×4 per stage, up to its seed
budget, while the law's declared cost per stage stays within the profile's. The error rate is
spent across the looks (Bonferroni): the first look at ``1 − 0.008``, each later one at
``1 − 0.002 / (looks − 1)``, so that over all looks the chance of a wrong verdict stays below
``1 − LEVEL = 0.01``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from memlaws.theory.law import Config, Law, Measurement
from memlaws.theory.profiles import profile, seed_block, stage_sizes
from memlaws.theory.statistics import LEVEL, binomial_interval, seeds_to_decide, t_interval

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
FIRST_LOOK_SHARE = 0.8  # of the error rate 1 − LEVEL, spent on the first look


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
    claim_band: list[float]
    measured: float
    ci_low: float
    ci_high: float
    level: float
    tolerance: float
    tolerance_reason: str
    verdict: str
    reason: str
    resolution: float
    resolution_goal: float
    rival: float
    rival_name: str
    rival_rejected: bool
    open_claim: bool
    n_seeds: int
    looks: int
    seeds_to_decide: int | None
    seeds: list[int]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def look_levels(looks: int) -> list[float]:
    """Confidence level of each of ``looks`` looks, spending ``1 − LEVEL`` across them."""
    total = 1 - LEVEL
    if looks == 1:
        return [LEVEL]
    later = (1 - FIRST_LOOK_SHARE) * total / (looks - 1)
    return [1 - FIRST_LOOK_SHARE * total] + [1 - later] * (looks - 1)


def _interval(law: Law, values: np.ndarray, level: float) -> tuple[float, float, float, str]:
    """Mean and interval of the finite per-seed ``values``, and why they cannot be judged."""
    if law.statistic_kind == "binary":
        interval = binomial_interval(values, level)
        return interval.mean, interval.low, interval.high, ""
    if values.size < 2:
        return math.nan, math.nan, math.nan, "fewer than 2 seeds"
    interval = t_interval(values, level)
    if interval.low == interval.high:
        return (
            interval.mean,
            interval.low,
            interval.high,
            (
                f"all {values.size} seeds gave the same value {interval.mean:+.6g}: a continuous "
                "statistic without spread means shared randomness (do the seeds draw different "
                "embeddings and data?)"
            ),
        )
    return interval.mean, interval.low, interval.high, ""


def _seeds_needed(law: Law, config: Config, values: np.ndarray, level: float) -> int | None:
    """How many seeds would likely decide: the interval must shrink inside the claim's band and
    away from the rival's, or wholly outside the claim's band (from the observed spread)."""
    if law.statistic_kind == "binary" or values.size < 2:
        return None
    mean, spread = float(values.mean()), float(values.std(ddof=1))
    claim_low, claim_high = law.predicted(config).band()
    rival_low, rival_high = law.rival(config).band()
    if claim_low <= mean <= claim_high:
        outside_rival = max(rival_low - mean, mean - rival_high)
        margin = min(mean - claim_low, claim_high - mean, outside_rival)
    else:
        margin = max(claim_low - mean, mean - claim_high)
    return seeds_to_decide(spread, margin, level)


def judge(
    law: Law,
    config: Config,
    measurement: Measurement,
    seeds: Sequence[int],
    level: float = LEVEL,
    looks: int = 1,
) -> Verdict:
    """Turn a measurement into a verdict at confidence ``level`` (no simulation here)."""
    predicted, rival = law.predicted(config), law.rival(config)
    values = np.asarray(measurement.statistic, dtype=float)
    finite = values[np.isfinite(values)]
    reason = measurement.invalid
    if not reason and finite.size < values.size:
        reason = f"{values.size - finite.size} seed(s) gave no finite statistic (zero error?)"
    mean = low = high = math.nan
    if not reason:
        mean, low, high, reason = _interval(law, finite, level)
    needed = None
    if reason:
        verdict = INCONCLUSIVE
    else:
        rival_rejected = rival.contradicted(low, high)
        if predicted.supported(low, high) and rival_rejected:
            verdict, reason = HOLDS, "interval inside the claim's band, rival's band outside it"
        elif predicted.contradicted(low, high):
            verdict, reason = FAILS, "interval wholly outside the claim's band"
        else:
            verdict = INCONCLUSIVE
            needed = _seeds_needed(law, config, finite, level)
            reason = (
                "interval inside the claim's band but the rival not rejected"
                if predicted.supported(low, high)
                else "interval straddles the edge of the claim's band"
            ) + (f"; about {needed} seeds would likely decide" if needed else "")
    decided = math.isfinite(low)
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
        claim_band=list(predicted.band()),
        measured=mean,
        ci_low=low,
        ci_high=high,
        level=level,
        tolerance=predicted.tolerance,
        tolerance_reason=law.tolerance_reason,
        verdict=verdict,
        reason=reason,
        resolution=predicted.resolution(low, high) if decided else math.nan,
        resolution_goal=law.resolution_goal(config),
        rival=rival.value,
        rival_name=rival.label or law.rival_name,
        rival_rejected=bool(decided and rival.contradicted(low, high)),
        open_claim=law.open_claim,
        n_seeds=int(values.size),
        looks=looks,
        seeds_to_decide=needed,
        seeds=[int(s) for s in seeds],
        seconds=0.0,
    )


def joined(first: Measurement, second: Measurement) -> Measurement:
    """Two measurements of the same configuration on disjoint seeds, as one (``extras`` are
    those of the first look)."""
    return replace(
        first,
        statistic=np.concatenate([first.statistic, second.statistic]),
        curves=np.concatenate([first.curves, second.curves]),
        invalid="; ".join(part for part in (first.invalid, second.invalid) if part),
    )


def check(
    law: Law,
    config: Config,
    seeds: Sequence[int],
    device: str = "cpu",
    level: float = LEVEL,
) -> tuple[Verdict, Measurement]:
    """Simulate ``law`` on ``config`` with ``seeds`` and judge it in one look."""
    start = time.perf_counter()
    measurement = law.measure(config, list(seeds), device)
    verdict = judge(law, config, measurement, seeds, level)
    verdict.seconds = time.perf_counter() - start
    return verdict, measurement


def planned_looks(law: Law, profile_name: str) -> list[int]:
    """Cumulative seed counts of the looks ``law`` may take at a profile: the first look, then
    each later stage whose new seeds' declared cost fits the profile's ``stage_seconds``."""
    sizes = stage_sizes(profile_name)
    budget = profile(profile_name).stage_seconds
    return sizes[:1] + [n for n in sizes[1:] if (n - n // 4) * law.seconds_per_seed <= budget]


def check_in_stages(
    law: Law, config: Config, profile_name: str, repeat: int = -1, device: str = "cpu"
) -> tuple[Verdict, Measurement]:
    """Check ``law`` at a profile: its first look, then, while inconclusive, stages of 4 times
    as many seeds, up to the profile's seed budget and as long as the law's declared cost of a
    stage fits the profile's (``repeat``: the report's seeds for -1, else a calibration set)."""
    start = time.perf_counter()
    block, sizes = seed_block(profile_name, repeat), planned_looks(law, profile_name)
    levels = look_levels(len(sizes))
    measurement, done = None, 0
    for look, size in enumerate(sizes):
        new = law.measure(config, block[done:size], device)
        measurement = new if measurement is None else joined(measurement, new)
        done = size
        verdict = judge(law, config, measurement, block[:size], levels[look], look + 1)
        hopeless = law.statistic_kind == "continuous" and verdict.seeds_to_decide is None
        if verdict.verdict != INCONCLUSIVE or hopeless:
            break
    verdict.seconds = time.perf_counter() - start
    return verdict, measurement
