"""The best linear memory by linear programming (``memlaws.kernel.linear_programme``) against
independent checks: the returned memory's margins recomputed directly, the two HiGHS solvers
(simplex and interior point) and the unbounded feasibility programme agreeing on whether pairs
are stored, an explicit memory when ``n ≤ d``, a perceptron that finds a storing memory, and
the capacity against a scan of every load."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlaws.kernel.linear_programme import (
    MARGIN_FLOOR,
    linear_capacity,
    margin_rows,
    margins,
    max_margin,
    separating_memory,
    stores,
)


def _pairs(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) / np.sqrt(d), rng.normal(size=(n, d)) / np.sqrt(d)


def _perceptron(keys: np.ndarray, values: np.ndarray, sweeps: int = 2000) -> np.ndarray | None:
    """A memory retrieving every pair, by perceptron updates ``W += (v_i − v_j) k_iᵀ`` on the
    worst distractor ``j`` of each missed pair, or ``None`` after ``sweeps`` passes."""
    memory = np.zeros((keys.shape[1], keys.shape[1]))
    for _ in range(sweeps):
        missed = False
        for i in range(keys.shape[0]):
            scores = values @ (memory @ keys[i])
            scores[i] = -np.inf
            j = int(scores.argmax())
            if values[i] @ memory @ keys[i] <= scores[j]:
                memory += np.outer(values[i] - values[j], keys[i])
                missed = True
        if not missed:
            return memory
    return None


def test_margin_rows_are_the_margins_of_a_memory():
    keys, values = _pairs(0, 5, 3)
    memory = np.random.default_rng(1).normal(size=(3, 3))
    direct = margins(memory, keys, values)
    expected = direct[~np.eye(5, dtype=bool)]
    assert np.allclose(margin_rows(keys, values) @ memory.ravel(), expected)
    pairs = [(i, j) for i in range(5) for j in range(5) if i != j]
    brute = [(values[i] - values[j]) @ memory @ keys[i] for i, j in pairs]
    assert np.allclose(expected, brute)


@settings(max_examples=15)
@given(seed=st.integers(0, 10**6), d=st.integers(2, 5), extra=st.integers(0, 20))
def test_max_margin_memory_attains_its_margin_and_the_solvers_agree(seed, d, extra):
    keys, values = _pairs(seed, d + extra, d)
    simplex, memory = max_margin(keys, values, "highs-ds")
    interior, _ = max_margin(keys, values, "highs-ipm")
    assert simplex == pytest.approx(interior, abs=1e-6)
    assert np.abs(memory).max() <= 1 + 1e-9
    scale = d  # margins of √d-scaled keys and values: d times the unscaled ones
    assert (margins(memory, keys, values) * scale).min() == pytest.approx(simplex, abs=1e-6)
    feasible = separating_memory(keys, values, "highs-ds")
    if simplex > 1e-4:  # clearly stored: the unbounded programme finds a memory of margin 1
        assert feasible is not None and margins(feasible, keys, values).min() >= 1 - 1e-6
    if simplex <= MARGIN_FLOOR:  # not stored: no memory at all, whatever its size
        assert feasible is None and separating_memory(keys, values, "highs-ipm") is None


@settings(max_examples=10)
@given(seed=st.integers(0, 10**6), d=st.integers(2, 6), n=st.integers(2, 6))
def test_up_to_d_pairs_are_stored_by_an_explicit_memory(seed, d, n):
    n = min(n, d)
    keys, values = _pairs(seed, n, d)
    # W k_i = v_i − mean of the others' directions is reachable when keys are independent:
    targets = values - (values.sum(0) - values) / max(n - 1, 1)
    memory = np.linalg.lstsq(keys, targets, rcond=None)[0].T
    if margins(memory, keys, values).min() > 0:
        assert stores(keys, values)


@pytest.mark.parametrize("seed", range(4))
def test_a_perceptron_certificate_implies_stored(seed):
    keys, values = _pairs(seed, 14, 4)
    certified = 0
    for n in (6, 8, 10, 12, 14):
        found = _perceptron(keys[:n], values[:n])
        if found is not None:
            assert margins(found, keys[:n], values[:n]).min() > 0
            assert stores(keys[:n], values[:n])
            certified += 1
    assert certified  # the check is not vacuous


@pytest.mark.parametrize("d", [4, 6, 8])
def test_the_lifted_programme_decides_as_the_whole_one(d):
    """``stores`` (lifted, sparse) against ``max_margin`` (dense rows of ``d²`` entries) on loads
    from well below to well above the capacity (≈ d²/2.6 here), where both decisions occur."""
    keys, values = _pairs(d, 3 * d * d, d)
    decisions = []
    for load in sorted({max(2, round(d * d / ratio)) for ratio in (1.5, 2.2, 2.6, 3.0, 4.0)}):
        whole = max_margin(keys[:load], values[:load])[0] > MARGIN_FLOOR
        assert stores(keys[:load], values[:load]) == whole, load
        decisions.append(whole)
    assert True in decisions and False in decisions  # both sides are exercised


@pytest.mark.parametrize("seed", range(3))
def test_capacity_is_the_last_stored_load_of_a_full_scan(seed):
    keys, values = _pairs(seed, 60, 4)
    scan = [n for n in range(2, 61) if stores(keys[:n], values[:n])]
    assert scan == list(range(2, len(scan) + 2))  # storing is monotone in the load
    for guess in (2, 5, len(scan) + 1, 40):
        assert linear_capacity(keys, values, guess) == scan[-1]


def test_bad_inputs_are_named():
    keys, values = _pairs(0, 5, 3)
    with pytest.raises(ValueError, match="keys and values"):
        margin_rows(keys, values[:4])
    with pytest.raises(ValueError, match="method"):
        max_margin(keys, values, "simplex")
    with pytest.raises(ValueError, match="guess"):
        linear_capacity(keys, values, 6)
    with pytest.raises(ValueError, match="draw more"):
        linear_capacity(keys, values, 2)  # 5 pairs in dimension 3 are all stored
