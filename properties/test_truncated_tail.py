"""Tail-cut Zipf data (``truncated_zipf_probabilities``) and the exact error of a memoriser
trained on one law and tested on another (``expected_mismatched_memoriser_error``), against
independent oracles: the renormalised law written out by hand, a Monte Carlo average of the
memoriser's error on seeded samples, and Proposition 1's formula when both laws agree; and K2b's
crossover against the exact formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from memlaws.kernel import (
    expected_memoriser_error,
    expected_mismatched_memoriser_error,
    memoriser_error,
    sample_counts,
    truncated_zipf_probabilities,
    zipf_probabilities,
)
from memlaws.theory.conjectures.truncated_tail import expected_crossover, first_fall


@given(n=st.integers(1, 200), alpha=st.floats(0.5, 3.0), kept=st.integers(1, 200))
def test_the_cut_law_is_zipf_renormalised_on_its_head(n, alpha, kept):
    kept = min(kept, n)
    cut = truncated_zipf_probabilities(n, alpha, kept).numpy()
    head = np.array([(x + 1.0) ** -alpha for x in range(kept)])
    assert cut.shape == (n,) and np.all(cut[kept:] == 0)
    assert np.allclose(cut[:kept], head / head.sum(), rtol=1e-12)


@settings(max_examples=10)
@given(alpha=st.floats(1.2, 2.5), kept=st.integers(3, 40), size=st.integers(1, 400))
def test_exact_error_matches_a_monte_carlo_memoriser(alpha, kept, size):
    n = 50
    kept = min(kept, n)
    p = zipf_probabilities(n, alpha)
    cut = truncated_zipf_probabilities(n, alpha, kept)
    exact = expected_mismatched_memoriser_error(p, cut, size).item()
    counts = sample_counts(cut[:kept], [size], list(range(400)))[:, 0]
    tail = float(p[kept:].sum())
    simulated = memoriser_error(p[:kept], counts).numpy() + tail
    # the kept tokens' error lies in [0, 1 − tail]: its variance is at most (1 − tail)·its mean
    spread = np.sqrt((1 - tail) * (exact - tail) / simulated.size)
    assert abs(simulated.mean() - exact) <= 5 * spread + 1e-12


def test_without_a_cut_it_is_proposition_1():
    p = zipf_probabilities(300, 1.7)
    sizes = [0, 1, 10, 1000]
    assert torch.allclose(
        expected_mismatched_memoriser_error(p, p, sizes), expected_memoriser_error(p, sizes)
    )


def test_the_plateau_is_the_cut_mass():
    p = zipf_probabilities(1000, 2.0)
    cut = truncated_zipf_probabilities(1000, 2.0, 10)
    far = expected_mismatched_memoriser_error(p, cut, 10**7).item()
    assert far == pytest.approx(float(p[10:].sum()), rel=1e-12)
    assert expected_mismatched_memoriser_error(p, cut, 0).item() == pytest.approx(1.0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="kept"):
        truncated_zipf_probabilities(10, 2.0, 11)
    with pytest.raises(ValueError, match="kept"):
        truncated_zipf_probabilities(10, 2.0, 0)
    with pytest.raises(ValueError, match="alpha"):
        truncated_zipf_probabilities(10, -1.0, 5)
    p = zipf_probabilities(10, 2.0)
    with pytest.raises(ValueError, match="shape"):
        expected_mismatched_memoriser_error(p, p[:5], 3)
    with pytest.raises(ValueError, match="n_samples"):
        expected_mismatched_memoriser_error(p, p, -1)


@pytest.mark.parametrize(("alpha", "kept"), [(2.0, 8), (2.0, 50), (2.5, 20)])
def test_the_expected_crossover_doubles_the_cut_mass(alpha, kept):
    """At ``T*`` the kept tokens' expected error equals the cut mass: the whole expected error
    (the kernel's exact formula, an independent route) is twice the cut mass."""
    n = 10_000
    size = expected_crossover(n, alpha, kept)
    p = zipf_probabilities(n, alpha)
    cut = truncated_zipf_probabilities(n, alpha, kept)
    tail = float(p[kept:].sum())
    below, above = expected_mismatched_memoriser_error(
        p, cut, [int(np.floor(size)), int(np.ceil(size))]
    ).numpy()
    assert above <= 2 * tail <= below


def test_first_fall_interpolates_in_error_against_log_size():
    sizes = [1, 10, 100, 1000]
    errors = np.array([[0.9, 0.5, 0.1, 0.0], [0.9, 0.8, 0.7, 0.6], [0.2, 0.1, 0.0, 0.0]])
    found = first_fall(sizes, errors, 0.3)
    assert found[0] == pytest.approx(10**1.5)  # halfway from 0.5 to 0.1, halfway in log T
    assert np.isnan(found[1]) and np.isnan(found[2])  # never reached; reached at once
