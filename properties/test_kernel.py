"""Properties of the kernel: exact errors, invariances, agreement of the two scoring paths,
seeded determinism, and the promised errors on bad input."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from memlaws.kernel import (
    checked_targets,
    expected_memoriser_error,
    fill_weights,
    input_embeddings,
    matrix_scores,
    memoriser_error,
    memory_matrix,
    memory_scores,
    modular_targets,
    output_embeddings,
    population_error,
    power_weights,
    readout,
    sample_counts,
    sample_tokens,
    scheme_errors,
    scheme_weights,
    threshold_counts_weights,
    threshold_weights,
    zipf_probabilities,
)
from properties.strategies import labels, memory_weights, zipf_settings


def memoriser_error_variance(p: torch.Tensor, n_samples: int) -> float:
    """Exact variance of ``Σ_x p(x)·1{n_x = 0}`` over samples of size ``T``."""
    p = p.to(torch.float64)
    unseen = (1 - p) ** n_samples
    both = (1 - p[:, None] - p[None, :]).clamp_min(0) ** n_samples  # P(x and x' unseen)
    both.fill_diagonal_(0.0)
    both += torch.diag(unseen)
    covariance = both - unseen[:, None] * unseen[None, :]
    return float(p @ covariance @ p)


@given(zipf_settings(), st.integers(0, 2000), st.integers(0, 10**6))
def test_memoriser_monte_carlo_matches_exact_expectation(setting, n_samples, base_seed):
    n_tokens, _, alpha = setting
    p = zipf_probabilities(n_tokens, alpha)
    seeds = list(range(base_seed, base_seed + 64))
    errors = memoriser_error(p, sample_counts(p, n_samples, seeds))[:, 0].numpy()
    exact = float(expected_memoriser_error(p, n_samples)[0])
    # two-sided z-test at level 1e-4 with the exact standard deviation of the mean of 64 seeds
    z = stats.norm.ppf(1 - 0.5e-4)
    assert (
        abs(errors.mean() - exact)
        <= z * math.sqrt(memoriser_error_variance(p, n_samples) / 64) + 1e-9
    )


@given(zipf_settings(max_tokens=80), st.integers(1, 40), st.integers(0, 10**6), st.data())
def test_error_is_a_probability(setting, dim, seed, data):
    n_tokens, n_classes, alpha = setting
    p = zipf_probabilities(n_tokens, alpha)
    q = data.draw(memory_weights(n_tokens))
    targets = data.draw(labels(n_tokens, n_classes))
    errors = scheme_errors(q, p, targets, n_classes, [dim], [seed])
    assert float(errors.min()) >= 0.0 and float(errors.max()) <= 1.0 + 1e-12


def _explicit(n_tokens: int, n_classes: int, dim: int, seed: int):
    inputs = input_embeddings(seed, n_tokens, dim, dtype=torch.float64)
    outputs = output_embeddings(seed, n_classes, dim, dtype=torch.float64)
    return inputs, outputs


@given(zipf_settings(max_tokens=60), st.integers(1, 40), st.integers(0, 10**6), st.data())
def test_predictions_unchanged_when_weights_scaled(setting, dim, seed, data):
    n_tokens, n_classes, _ = setting
    q = data.draw(memory_weights(n_tokens))
    scale = data.draw(st.floats(1e-3, 1e3))
    targets = data.draw(labels(n_tokens, n_classes))
    inputs, outputs = _explicit(n_tokens, n_classes, dim, seed)
    scores = memory_scores(q, inputs, outputs, targets)
    scaled = memory_scores(q * scale, inputs, outputs, targets)
    gap = _top_two_gap(scores)
    clear = gap > 1e-9 * (1 + scores.abs().amax(-1))  # ties may resolve either way
    assert torch.equal(readout(scores)[clear], readout(scaled)[clear])


def _top_two_gap(scores: torch.Tensor) -> torch.Tensor:
    if scores.shape[-1] == 1:
        return torch.full(scores.shape[:-1], math.inf, dtype=scores.dtype)
    top = scores.topk(2, dim=-1).values
    return top[..., 0] - top[..., 1]


@given(zipf_settings(max_tokens=60), st.integers(1, 40), st.integers(0, 10**6), st.data())
def test_consistent_relabelling_changes_nothing(setting, dim, seed, data):
    n_tokens, n_classes, alpha = setting
    p = zipf_probabilities(n_tokens, alpha)
    q = data.draw(memory_weights(n_tokens))
    targets = data.draw(labels(n_tokens, n_classes))
    tokens = torch.tensor(data.draw(st.permutations(range(n_tokens))))
    classes = torch.tensor(data.draw(st.permutations(range(n_classes))))
    inputs, outputs = _explicit(n_tokens, n_classes, dim, seed)
    scores = memory_scores(q, inputs, outputs, targets)
    before = population_error(readout(scores), targets, p)
    new_targets = classes[targets[tokens]]  # token tokens[i] becomes i, class c becomes classes[c]
    new_outputs = torch.empty_like(outputs)
    new_outputs[:, classes] = outputs
    after_scores = memory_scores(q[tokens], inputs[:, tokens], new_outputs, new_targets)
    after = population_error(readout(after_scores), new_targets, p[tokens])
    ties = _top_two_gap(scores[0]) <= 1e-9 * (1 + scores.abs().amax())  # argmax picks any winner
    assert abs(float(before - after)) <= float(p[ties].sum()) + 1e-12


@given(st.integers(1, 30), st.integers(0, 10**6), st.data())
def test_orthonormal_embeddings_retrieve_perfectly(dim, seed, data):
    n_tokens = data.draw(st.integers(1, dim))
    n_classes = data.draw(st.integers(1, min(n_tokens, dim)))
    targets = data.draw(labels(n_tokens, n_classes))
    q = data.draw(memory_weights(n_tokens)).clamp_min(1e-3)  # every token stored
    generator = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(dim, dim, dtype=torch.float64, generator=generator))
    inputs, outputs = basis[:n_tokens][None], basis[:n_classes][None]
    p = zipf_probabilities(n_tokens, 1.0)
    error = population_error(readout(memory_scores(q, inputs, outputs, targets)), targets, p)
    assert float(error) == 0.0


@given(zipf_settings(max_tokens=80), st.integers(1, 48), st.integers(0, 10**6), st.data())
def test_fast_scores_equal_explicit_memory_scores(setting, dim, seed, data):
    n_tokens, n_classes, _ = setting
    q = data.draw(memory_weights(n_tokens))
    targets = data.draw(labels(n_tokens, n_classes))
    inputs, outputs = _explicit(n_tokens, n_classes, dim, seed)
    fast = memory_scores(q, inputs, outputs, targets)
    explicit = matrix_scores(memory_matrix(q, inputs, outputs, targets), inputs, outputs)
    assert torch.allclose(fast, explicit, rtol=1e-9, atol=1e-9 * (1 + float(q.sum())))


@given(zipf_settings(max_tokens=120), st.integers(0, 10**6), st.data())
def test_streamed_errors_equal_explicit_path(setting, seed, data):
    n_tokens, n_classes, alpha = setting
    dims = sorted(set(data.draw(st.lists(st.integers(1, 80), min_size=1, max_size=4))))
    p = zipf_probabilities(n_tokens, alpha)
    q = data.draw(memory_weights(n_tokens))
    targets = data.draw(labels(n_tokens, n_classes))
    streamed = scheme_errors(q, p, targets, n_classes, dims, [seed], dtype=torch.float64)
    for j, dim in enumerate(dims):
        inputs, outputs = _explicit(n_tokens, n_classes, dim, seed)
        scores = memory_scores(q, inputs, outputs, targets)
        error = population_error(readout(scores), targets, p)
        near_ties = _top_two_gap(scores[0]) < 1e-9 * (1 + scores.abs().amax())
        assert abs(float(error[0]) - float(streamed[0, j])) <= float(p[near_ties].sum()) + 1e-12


@given(zipf_settings(max_tokens=120), st.integers(0, 10**6), st.data())
def test_centred_errors_equal_explicit_centred_memory(setting, seed, data):
    """``centred`` stores ``u_{f*(x)} − ū``: the explicit memory built on centred outputs, read
    out against the outputs themselves."""
    n_tokens, n_classes, alpha = setting
    dims = sorted(set(data.draw(st.lists(st.integers(1, 80), min_size=1, max_size=4))))
    p = zipf_probabilities(n_tokens, alpha)
    q = data.draw(memory_weights(n_tokens))
    targets = data.draw(labels(n_tokens, n_classes))
    streamed = scheme_errors(
        q, p, targets, n_classes, dims, [seed], centred=True, dtype=torch.float64
    )
    for j, dim in enumerate(dims):
        inputs, outputs = _explicit(n_tokens, n_classes, dim, seed)
        stored = outputs - outputs.mean(dim=-2, keepdim=True)
        scores = matrix_scores(memory_matrix(q, inputs, stored, targets), inputs, outputs)
        error = population_error(readout(scores), targets, p)
        near_ties = _top_two_gap(scores[0]) < 1e-9 * (1 + scores.abs().amax())
        assert abs(float(error[0]) - float(streamed[0, j])) <= float(p[near_ties].sum()) + 1e-12


def test_same_seed_same_numbers():
    p = zipf_probabilities(3000, 1.5)
    targets = modular_targets(3000, 7)
    run = lambda: scheme_errors(power_weights(p, 0.8), p, targets, 7, [16, 100], [3, 4])  # noqa: E731
    assert torch.equal(run(), run())
    assert torch.equal(sample_tokens(p, 5000, 9), sample_tokens(p, 5000, 9))
    assert not torch.equal(sample_tokens(p, 5000, 9), sample_tokens(p, 5000, 10))


@given(st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 200), st.integers(0, 10**6))
def test_streams_do_not_depend_on_sizes_asked_for(n_small, n_large, dim, seed):
    n_small, n_large = sorted((n_small, n_large))
    small = input_embeddings(seed, n_small, dim)[0] * math.sqrt(dim)
    large = input_embeddings(seed, n_large, dim + 37)[0] * math.sqrt(dim + 37)
    assert torch.allclose(small, large[:n_small, :dim], rtol=1e-6, atol=1e-6)
    p = zipf_probabilities(50, 1.2)
    assert torch.equal(sample_tokens(p, n_small, seed), sample_tokens(p, n_large, seed)[:n_small])


@given(zipf_settings(), st.lists(st.integers(0, 3000), min_size=1, max_size=5), st.integers(0, 99))
def test_nested_counts(setting, sizes, seed):
    p = zipf_probabilities(setting[0], setting[2])
    counts = sample_counts(p, sizes, [seed, seed + 1])
    assert counts.sum(-1).tolist() == [sizes, sizes]
    order = np.argsort(sizes, kind="stable")
    for a, b in itertools.pairwise(order):
        assert bool((counts[:, a] <= counts[:, b]).all())


def test_zipf_probabilities_are_a_decreasing_law():
    p = zipf_probabilities(1000, 2.0)
    assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-12)
    assert bool((p[1:] < p[:-1]).all())


def test_exact_memoriser_error_limits():
    p = zipf_probabilities(10, 1.0)
    assert float(expected_memoriser_error(p, 0)[0]) == pytest.approx(1.0)
    assert float(expected_memoriser_error(p, 10**6)[0]) < 1e-12


def test_threshold_of_counts_keeps_only_seen_tokens():
    counts = torch.tensor([5, 0, 3, 3, 0, 1])
    kept = threshold_counts_weights(counts, 3, seed=0)
    assert kept.tolist()[:4] == [1.0, 0.0, 1.0, 1.0] and kept.sum() == 3
    assert threshold_counts_weights(counts, 6, seed=0).tolist() == [1, 0, 1, 1, 0, 1]


p10 = zipf_probabilities(10, 1.0)
t10 = modular_targets(10, 2)

BAD_INPUTS = [
    ("alpha", lambda: zipf_probabilities(10, 0.0)),
    ("alpha", lambda: zipf_probabilities(10, -1.0)),
    ("alpha", lambda: zipf_probabilities(10, float("nan"))),
    ("N", lambda: zipf_probabilities(0, 1.0)),
    ("M", lambda: modular_targets(10, 0)),
    ("M", lambda: modular_targets(10, 11)),
    ("d", lambda: input_embeddings(0, 10, 0)),
    ("d", lambda: output_embeddings(0, 3, 0)),
    ("dims[0]", lambda: scheme_errors(fill_weights(10), p10, t10, 2, [0], [0])),
    ("P", lambda: threshold_weights(p10, 11)),
    ("P", lambda: threshold_weights(p10, -1)),
    ("weights", lambda: scheme_errors(-p10, p10, t10, 2, [4], [0])),
    ("weights", lambda: scheme_errors(p10 * math.inf, p10, t10, 2, [4], [0])),
    ("weights", lambda: scheme_errors(torch.ones(9), p10, t10, 2, [4], [0])),
    ("T", lambda: sample_tokens(p10, -1, 0)),
    ("sizes[0]", lambda: sample_counts(p10, [-5], [0])),
    ("targets", lambda: checked_targets(torch.zeros(9, dtype=torch.int64), 10, 2)),
    ("targets", lambda: checked_targets(torch.full((10,), 2), 10, 2)),
    ("targets", lambda: checked_targets(torch.zeros(10), 10, 2)),
    ("scheme", lambda: scheme_weights("overfill", probabilities=p10)),
    ("kind", lambda: output_embeddings(0, 3, 4, kind="cube")),
    ("rho", lambda: power_weights(p10, 0.0)),
    ("seeds", lambda: scheme_errors(fill_weights(10), p10, t10, 2, [4], [])),
    ("seeds[0]", lambda: scheme_errors(fill_weights(10), p10, t10, 2, [4], [-1])),
    ("counts", lambda: threshold_counts_weights(torch.tensor([1, -1]), 1, 0)),
    ("centred", lambda: scheme_errors(fill_weights(10), p10, t10, 2, [4], [0], centred="yes")),
]


@pytest.mark.parametrize(("argument", "call"), BAD_INPUTS, ids=[a for a, _ in BAD_INPUTS])
def test_bad_input_raises_naming_the_argument(argument, call):
    with pytest.raises(ValueError, match=rf"^{re.escape(argument)}\s"):
        call()
