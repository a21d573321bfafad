"""How much simulation a run spends, and which seeds each use of a law may draw.

A profile fixes the seeds of a law's first look and the budget for adding seeds in stages when
that look is inconclusive (``memlaws.theory.verify.check``): up to ``max_seeds`` seeds in all, and
only while the law's declared cost of the next stage stays within ``stage_seconds``.

Seeds are disjoint by construction between the four uses of a law (``SEED_SPACES``):

- ``exploration`` ``[0, 10⁴)``: free for choosing regions and designs by hand (the regions of
  R4–R6 were chosen on seeds 0–9);
- ``report`` ``[10⁴, 10⁴ + budget)``: the report, the tests' reference checks;
- ``calibration`` repeat ``i``: ``[(i + 1)·10⁶, (i + 1)·10⁶ + budget)``, ``i < 1000``;
- ``tuning`` (R5c's step sizes): ``s + 10¹⁰`` for a measured seed ``s``, above every other space;
- ``property`` ``[3·10¹⁰, 3·10¹⁰ + 10⁶)``: the seeds the Hypothesis properties draw.

A law that averages several draws per seed (``draws(seeds, k)``) maps seed ``s`` to draws
``k·s … k·s + k − 1``: distinct seeds give distinct draws, so the spaces stay disjoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from memlaws.kernel.validation import choice, int_in_range


@dataclass(frozen=True)
class Profile:
    """Seeds of a first look, the largest number of seeds stages may reach, and the declared
    seconds (on 2 CPU cores) that one stage may cost."""

    seeds: int
    max_seeds: int
    stage_seconds: float


PROFILE_TABLE = {
    "ci": Profile(seeds=16, max_seeds=64, stage_seconds=3.0),
    "quick": Profile(seeds=16, max_seeds=256, stage_seconds=10.0),
    "standard": Profile(seeds=32, max_seeds=512, stage_seconds=30.0),
    "thorough": Profile(seeds=64, max_seeds=1024, stage_seconds=120.0),
}
PROFILES = tuple(PROFILE_TABLE)
STAGE_GROWTH = 4  # each stage has 4 times the seeds of the one before

EXPLORATION_SEEDS = range(0, 10_000)
REPORT_START = 10_000
CALIBRATION_STRIDE = 1_000_000  # seed sets of calibration repeat i start at (i + 1) * stride
MAX_CALIBRATION_REPEATS = 999
TUNING_OFFSET = 10_000_000_000  # R5c tunes seed s's step sizes on seed s + this offset
PROPERTY_START = 30_000_000_000
SEED_SPACES = {
    "exploration": (EXPLORATION_SEEDS.start, EXPLORATION_SEEDS.stop),
    "report": (REPORT_START, REPORT_START + max(p.max_seeds for p in PROFILE_TABLE.values())),
    "calibration": (CALIBRATION_STRIDE, (MAX_CALIBRATION_REPEATS + 2) * CALIBRATION_STRIDE),
    "tuning": (TUNING_OFFSET, 2 * TUNING_OFFSET),
    "property": (PROPERTY_START, PROPERTY_START + 1_000_000),
}


@dataclass(frozen=True)
class PropertyProfile:
    """How hard the Hypothesis properties search, chosen by the environment variable
    ``MEMLAWS_PROFILE``: examples of a cheap (kernel) property, configurations drawn for each
    law's property (a law check costs seconds), whether draws are derandomized (reproducible)
    and whether a failing configuration is shrunk (each shrink step is a full simulation)."""

    examples: int
    law_examples: int
    derandomize: bool
    shrink: bool


PROPERTY_PROFILE_TABLE = {
    "ci": PropertyProfile(examples=25, law_examples=2, derandomize=True, shrink=False),
    "dev": PropertyProfile(examples=100, law_examples=6, derandomize=False, shrink=True),
    "thorough": PropertyProfile(examples=500, law_examples=30, derandomize=False, shrink=True),
}
PROPERTY_PROFILE_VARIABLE = "MEMLAWS_PROFILE"


def property_profile_name() -> str:
    """The Hypothesis profile named by ``MEMLAWS_PROFILE`` (default ``ci``)."""
    name = os.environ.get(PROPERTY_PROFILE_VARIABLE, "ci")
    return choice(PROPERTY_PROFILE_VARIABLE, name, tuple(PROPERTY_PROFILE_TABLE))


def profile(name: str) -> Profile:
    """The profile called ``name`` (one of ``PROFILES``)."""
    choice("profile", name, PROFILES)
    return PROFILE_TABLE[name]


def seed_block(name: str, repeat: int = -1) -> list[int]:
    """Every seed a check at profile ``name`` may use, in the order stages take them: the
    report's block for ``repeat = -1``, calibration repeat ``repeat``'s block otherwise."""
    int_in_range("repeat", repeat, -1, MAX_CALIBRATION_REPEATS)
    start = REPORT_START if repeat < 0 else (repeat + 1) * CALIBRATION_STRIDE
    return list(range(start, start + profile(name).max_seeds))


def seeds_for(name: str, repeat: int = -1) -> list[int]:
    """The seeds of the first look at profile ``name`` (report or calibration ``repeat``)."""
    return seed_block(name, repeat)[: profile(name).seeds]


def stage_sizes(name: str) -> list[int]:
    """Cumulative seed counts of the looks a profile allows: ``seeds``, then ×4 up to
    ``max_seeds``."""
    chosen = profile(name)
    sizes = [chosen.seeds]
    while sizes[-1] * STAGE_GROWTH <= chosen.max_seeds:
        sizes.append(sizes[-1] * STAGE_GROWTH)
    return sizes


def draws(seeds: list[int], per_seed: int) -> list[int]:
    """The draws that stand for ``seeds`` when a law averages ``per_seed`` draws per seed."""
    return [per_seed * seed + k for seed in seeds for k in range(per_seed)]


def tuning_seeds(seeds: list[int]) -> list[int]:
    """The seeds R5c tunes on for measured ``seeds``: disjoint from every other space."""
    return [seed + TUNING_OFFSET for seed in seeds]
