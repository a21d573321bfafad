"""pytest-benchmark timings of the kernel's hot paths (``tox -e bench``; saved under .benchmarks,
compare runs with ``pytest-benchmark compare``). Speed is measured here, never asserted."""

from __future__ import annotations

import pytest

from memlaws.kernel import (
    modular_targets,
    power_weights,
    sample_counts,
    scheme_errors,
    zipf_probabilities,
)
from memlaws.theory.profiles import seeds_for
from memlaws.theory.registry import get_law
from memlaws.theory.statistics import geometric_grid


@pytest.mark.parametrize("n_tokens", [10_000, 100_000])
def test_scheme_errors_over_a_grid_of_d(benchmark, n_tokens):
    """The R2 workload: q = p on d ∈ [16, 512], 16 seeds; costs O(R·N·Σd·M)."""
    p = zipf_probabilities(n_tokens, 2.0)
    targets = modular_targets(n_tokens, 5)
    dims = geometric_grid(16, 512, 2)
    benchmark.pedantic(
        scheme_errors, (power_weights(p, 1.0), p, targets, 5, dims, seeds_for("ci")), rounds=3
    )


def test_scheme_errors_one_million_tokens(benchmark):
    """N = 10⁶ tokens at d = 1024, one seed: streamed in chunks, never holding E."""
    p = zipf_probabilities(1_000_000, 2.0)
    targets = modular_targets(1_000_000, 5)
    benchmark.pedantic(scheme_errors, (power_weights(p, 1.0), p, targets, 5, [1024], [0]), rounds=1)


def test_sample_counts(benchmark):
    p = zipf_probabilities(10_000, 2.0)
    benchmark(sample_counts, p, [10_000, 100_000, 1_000_000], seeds_for("ci"))


@pytest.mark.parametrize("spec", ["R1", "R2a", "R2b", "R2c", "R2d", "R3a", "R3b", "R3c"])
def test_law_check(benchmark, spec):
    """One law's measurement at its reference configuration with the ci seeds."""
    law = get_law(spec)
    benchmark.pedantic(law.measure, (law.config(), seeds_for("ci")), rounds=1)
