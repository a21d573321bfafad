"""The grid projection's estimator (``properties/benchmarks/grid_projection.py``) on synthetic
times: exact when times are proportional to the work, and an interval that stays positive and
covers the truth when they are noisy."""

from __future__ import annotations

import random

import pytest

from memlaws.theory.simulate import longest_group
from properties.benchmarks.grid_projection import (
    kind,
    paper_families,
    paper_groups,
    project,
    sample,
    work,
)

GROUPS = paper_groups()
SECONDS_PER_WORK = 1e-9


def _timed(noise: float, seed: int) -> dict:
    generator = random.Random(seed)
    drawn = sample(GROUPS, 2, seed)
    return {
        key: [(g, work(g) * SECONDS_PER_WORK * generator.lognormvariate(0, noise)) for g in members]
        for key, members in drawn.items()
    }


def test_times_proportional_to_the_work_are_projected_exactly():
    result = project(_timed(0.0, 0), GROUPS, 0.95)
    truth = sum(work(g) for g in GROUPS) * SECONDS_PER_WORK
    assert result["seconds"] == pytest.approx(truth, rel=1e-9)
    assert result["low"] == pytest.approx(truth, rel=1e-9)
    assert result["high"] == pytest.approx(truth, rel=1e-9)


def test_noisy_times_give_a_positive_interval_around_the_estimate():
    for seed in range(5):
        result = project(_timed(1.5, seed), GROUPS, 0.95)
        assert 0 < result["low"] < result["seconds"] < result["high"]


def _group(**fields) -> list:
    return next(g for g in GROUPS if all(g[0][k] == v for k, v in fields.items()))


def test_matrix_adam_is_dense_work_whatever_the_spelling():
    """The grid spells optimizers ``SGD`` and ``Adam``: matrix Adam keeps a dense ``d × d``
    memory (it was counted as light, with rank-M SGD's work, before)."""
    fields = {"model": "matrix", "d": 1000, "layernorm": False, "ntrain": 102400, "batch_size": 16}
    adam, sgd = _group(optimizer="Adam", **fields), _group(optimizer="SGD", **fields)
    assert kind(adam[0]) == "dense"
    assert kind(sgd[0]) == "light"
    assert work(adam) > 50 * work(sgd)


def test_simulate_trains_the_grid_in_336_families_led_by_t_102400():
    """Each family is a group at T = 1024, 10240 and 102400 sharing everything else: simulate
    trains the longest, and the projection's units are those."""
    families = paper_families()
    assert len(families) == 336 and sum(len(family) for family in families) == len(GROUPS)
    for family in families:
        assert sorted(group[0]["ntrain"] for group in family) == [1024, 10240, 102400]
        assert longest_group(family)[0]["ntrain"] == 102400
