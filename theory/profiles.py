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

import math
import os
from dataclasses import dataclass

from memlaws.kernel.validation import choice, int_in_range


@dataclass(frozen=True)
class FigureBudget:
    """What a profile simulates. ``seeds``: replicas of the figures built from schemes, the update
    approximation and the schedule; ``training_seeds``: of the optimisation grid and the learned
    embeddings. ``per_octave``: grid points per doubling of d and T (schemes, phase diagram).
    ``training_dims``, ``training_samples`` (T): the optimisation grid. ``embedding_classes``:
    the values of M of the learned embeddings. ``record_every``: the schedule's curve step."""

    seeds: int
    training_seeds: int
    per_octave: float
    training_dims: tuple[int, ...]
    training_samples: int
    embedding_classes: tuple[int, ...]
    record_every: int


@dataclass(frozen=True)
class Profile:
    """One row of the profile table. The report's checks: the seeds of a first look, the largest
    number of seeds stages may reach, and the declared seconds (on 2 CPU cores) that one stage
    may cost. The Hypothesis suite (``MEMLAWS_PROFILE``): ``examples`` per property, of which
    ``law_examples`` for a law's property over its domain (a law check costs seconds), as many
    as fit in ``law_property_seconds`` of the law's declared cost (at least one:
    ``law_property_examples``), and whether a failing example is ``shrink``-ed to the smallest
    (each shrink step is a full simulation; the ``ci`` profile is also derandomized). The
    paper's figures: ``figures``."""

    seeds: int
    max_seeds: int
    stage_seconds: float
    examples: int
    law_examples: int
    law_property_seconds: float
    shrink: bool
    figures: FigureBudget

    def law_property_examples(self, seconds_per_seed: float) -> int:
        """Examples of a law's property: ``law_examples``, fewer where that many first looks
        (``seeds`` each, at the law's declared ``seconds_per_seed``) would cost more than
        ``law_property_seconds``, and never fewer than one."""
        first_look = self.seeds * seconds_per_seed
        if first_look <= 0 or math.isinf(self.law_property_seconds):
            return self.law_examples
        return max(1, min(self.law_examples, int(self.law_property_seconds // first_look)))

    @property
    def derandomize(self) -> bool:
        """Whether the properties' draws are fixed (reproducible): under ``ci`` only."""
        return not self.shrink


PROFILE_TABLE = {
    "ci": Profile(
        seeds=16,
        max_seeds=64,
        stage_seconds=3.0,
        examples=25,
        law_examples=2,
        law_property_seconds=40.0,  # two examples of every law but K1 (25.6 s a first look)
        shrink=False,
        figures=FigureBudget(
            seeds=2,
            training_seeds=2,
            per_octave=0.5,
            training_dims=(10, 50, 200),
            training_samples=1024,
            embedding_classes=(1, 5, 25),
            record_every=50,
        ),
    ),
    "quick": Profile(
        seeds=16,
        max_seeds=256,
        stage_seconds=10.0,
        examples=100,
        law_examples=6,
        law_property_seconds=math.inf,
        shrink=True,
        figures=FigureBudget(
            seeds=8,
            training_seeds=4,
            per_octave=1.0,
            training_dims=(10, 20, 50, 100, 200),
            training_samples=10_240,
            embedding_classes=(1, 2, 5, 10, 20, 50, 100),
            record_every=10,
        ),
    ),
    "standard": Profile(
        seeds=32,
        max_seeds=512,
        stage_seconds=30.0,
        examples=200,
        law_examples=12,
        law_property_seconds=math.inf,
        shrink=True,
        figures=FigureBudget(
            seeds=32,
            training_seeds=10,
            per_octave=2.0,
            training_dims=(10, 20, 50, 100, 200, 500),
            training_samples=10_240,
            embedding_classes=(1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100),
            record_every=5,
        ),
    ),
    "thorough": Profile(
        seeds=64,
        max_seeds=1024,
        stage_seconds=120.0,
        examples=500,
        law_examples=30,
        law_property_seconds=math.inf,
        shrink=True,
        figures=FigureBudget(
            seeds=100,
            training_seeds=10,
            per_octave=3.0,
            training_dims=(10, 20, 50, 100, 200, 500, 1000),
            training_samples=10_240,
            embedding_classes=tuple(range(1, 101)),
            record_every=5,
        ),
    ),
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


PROPERTY_PROFILE_VARIABLE = "MEMLAWS_PROFILE"


def property_profile_name() -> str:
    """The Hypothesis profile named by ``MEMLAWS_PROFILE`` (default ``ci``)."""
    name = os.environ.get(PROPERTY_PROFILE_VARIABLE, "ci")
    return choice(PROPERTY_PROFILE_VARIABLE, name, PROFILES)


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
