"""A law's fingerprint: what its stored calibration was measured on, by behaviour.

It hashes what decides a calibration's outcome, each as the numbers it produces:

1. the law's declaration at its reference configuration: the configuration, claim, rival,
   resolution goal, statistic kind, open-claim flag and declared cost per seed;
2. its measurement: the statistic its simulation returns on two fixed probe seeds from the
   exploration space (rounded to 9 significant digits), so a kernel or law change that alters
   any number alters the fingerprint;
3. the verdict rule as applied to this law: the verdict, interval, resolution and seeds-to-decide
   that ``judge`` gives on a fixed panel of synthetic per-seed statistics placed around the
   claim's and the rival's bands, the looks each profile plans for the law (seed counts and
   levels) and its seed blocks.

Source text is not hashed, so moving, renaming or reformatting code keeps every fingerprint,
while any change in what the code computes on these probes changes it. A different platform
(torch build, BLAS) may round differently; its fingerprint then differs and the calibration shows
as stale there.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np

from memlaws.theory.law import Law, Measurement
from memlaws.theory.profiles import PROFILES, seed_block
from memlaws.theory.verify import judge, look_levels, planned_looks

PROBE_SEEDS = [9_000, 9_001]  # from the exploration space of memlaws.theory.profiles
PANEL_SIZES = (2, 8, 64)  # seeds per synthetic statistic
PANEL_SPREADS = (0.25, 1.0, 4.0)  # standard deviations, in units of the resolution goal


def law_fingerprint(law: Law) -> str:
    """A short hex digest of the law's declaration, probe measurement and verdict rule
    (computed once per law object: it costs a two-seed simulation)."""
    key = id(law)
    if key not in _COMPUTED:
        _COMPUTED[key] = (law, _digest(law))
    return _COMPUTED[key][1]


_COMPUTED: dict[int, tuple[Law, str]] = {}  # keeps the law alive, so its id stays its own


def _numbers(values: object) -> list[str]:
    return [f"{float(v):.9g}" for v in np.ravel(np.asarray(values, dtype=float))]


def _panel(law: Law) -> list[list[str]]:
    """Verdicts ``judge`` gives on synthetic statistics around the claim and the rival."""
    config = law.config()
    claim, rival = law.predicted(config), law.rival(config)
    unit = law.resolution_goal(config) or 1.0
    centres = {claim.value, rival.value}
    for prediction in (claim, rival):
        centres |= {edge for edge in prediction.band() if math.isfinite(edge)}
    centres |= {claim.value + unit, claim.value - unit}
    outcomes = []
    for n in PANEL_SIZES:
        scores = np.linspace(-1.5, 1.5, n)
        for centre in sorted(centres):
            for spread in PANEL_SPREADS:
                if law.statistic_kind == "binary":
                    values = (np.arange(n) < round(n * min(max(centre, 0.0), 1.0))).astype(float)
                else:
                    values = centre + spread * unit * scores
                measured = Measurement(values, np.arange(2.0), np.zeros((n, 2)), "x", "y")
                verdict = judge(law, config, measured, range(n))
                numbers = _numbers([verdict.ci_low, verdict.ci_high, verdict.resolution])
                decided = [
                    verdict.verdict,
                    str(verdict.seeds_to_decide),
                    str(verdict.rival_rejected),
                ]
                outcomes.append(decided + numbers)
    return outcomes


def _looks(law: Law) -> dict[str, list[str]]:
    """Seed counts, levels and seed blocks of the looks each profile plans for the law."""
    plans = {}
    for name in PROFILES:
        sizes = planned_looks(law, name)
        block = seed_block(name, -1), seed_block(name, 0)
        plans[name] = _numbers(sizes + look_levels(len(sizes)) + [b[0] for b in block])
    return plans


def _digest(law: Law) -> str:
    config = law.config()
    claim, rival = law.predicted(config), law.rival(config)
    probe = law.measure(config, PROBE_SEEDS)
    declared = {
        "config": config,
        "claim": [claim.kind, claim.value, claim.tolerance],
        "rival": [rival.kind, rival.value, rival.tolerance],
        "resolution_goal": law.resolution_goal(config),
        "statistic_kind": law.statistic_kind,
        "open_claim": law.open_claim,
        "seconds_per_seed": law.seconds_per_seed,
        "probe": _numbers(probe.statistic),
        "panel": _panel(law),
        "looks": _looks(law),
    }
    text = json.dumps(declared, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
