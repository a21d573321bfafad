"""Slow checks (``tox -e calibrate``) that back each finite-range allowance with a measurement at
many draws: the allowance covers the bias it is declared for (the mean statistic's distance
from the prediction, upper 99% bound, at the worst corner of the check domain measured), and is
not much larger than it (at most twice that bias plus 0.02). Draws come from the exploration
seed space."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from memlaws.theory.registry import get_law

EXPLORATION = list(range(5_000, 9_000))

CORNERS = {  # law: (configurations where its bias was measured, seeds, allowance)
    "R1": ([{"alpha": 2.0}, {"alpha": 2.5}], 256),
    "R2a": ([{"alpha": 2.5, "rho": 1.0}, {"alpha": 2.0, "rho": 1.0}, {"rho": 0.5}], 128),
    "R2b": ([{"alpha": 1.5}, {"alpha": 2.0}, {"alpha": 2.5}], 64),
    "R2c": ([{}, {"N": 40_960}, {"M": 2}, {"M": 10, "N": 40_960}, {"d_min": 4, "d_max": 64}], 64),
    "R3b": (
        [
            {},
            {"M": 3},
            {"alpha": 2.5},
            {"alpha": 1.75, "N": 10_000, "M": 3},
        ],
        128,
    ),
    "R3c": (
        [
            {},
            {"M": 3},
            {"M": 10},
            {"alpha": 2.5, "M": 3},
            {"alpha": 2.5, "M": 10},
            {"alpha": 1.75, "d_max": 2048},
        ],
        128,
    ),
    "R3a": (
        [
            {},
            {"alpha": 1.5},
            {"alpha": 2.5},
            {"M": 2},
            {"M": 10},
            {"T": 1_000_000},
            {"d_min": 8},
            {"d_min": 32, "d_max": 256},
        ],
        64,
    ),
    "R4b": ([{}, {"d_max": 128}, {"alpha": 2.5}, {"M": 2}], 64),
    "K3b": (
        [
            {"error": 0.05},
            {"error": 0.2},
            {"log2_n_min": 13, "log2_n_max": 19, "error": 0.05},
            {"log2_n_min": 13, "log2_n_max": 19, "error": 0.2},
        ],
        32,
    ),
    "K1": ([{}, {"d_min": 5}, {"d_max": 13}, {"d_min": 5, "d_max": 13}], 32),
    "K4a": ([{}, {"d_max": 20}, {"d_min": 10, "d_max": 20}, {"d_min": 10}], 64),
    "K4b": ([{}, {"d_max": 18}, {"d_min": 9, "d_max": 18}], 32),
}


@pytest.mark.slow
@pytest.mark.parametrize("spec", list(CORNERS))
def test_the_allowance_covers_the_measured_bias_and_not_much_more(spec):
    law = get_law(spec)
    configs, count = CORNERS[spec]
    worst = 0.0
    for overrides in configs:
        config = law.config(**overrides)
        claim = law.predicted(config)
        values = law.measure(config, EXPLORATION[:count]).statistic
        bias = abs(values.mean() - claim.value)
        upper = bias + stats.t.ppf(0.995, count - 1) * values.std(ddof=1) / np.sqrt(count)
        print(spec, overrides, f"bias {bias:.4f}, upper {upper:.4f}, allowance {claim.tolerance}")
        assert bias <= claim.tolerance, (overrides, bias)
        worst = max(worst, bias)
    assert law.predicted(law.config()).tolerance <= 2 * worst + 0.02
