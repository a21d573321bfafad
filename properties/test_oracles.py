"""Independent oracles written from reference-setting.md and model-and-laws.md, not through the
kernel's own helpers: the memory schemes' weights, and Adam's step scaling (γ/d on W, γ/√d on E
and U). A mutation such as q = p² for q = p, or Adam stepping γ on W, fails here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from memlaws.kernel import (
    empirical_power_weights,
    fill_seen_weights,
    fill_weights,
    power_weights,
    threshold_counts_weights,
    threshold_weights,
    zipf_probabilities,
)
from memlaws.kernel.data import sample_tokens
from memlaws.kernel.setup import TrainingSetup, initial_parameters
from memlaws.kernel.training import train

N, ALPHA = 50, 2.0


def zipf_by_hand(n: int, alpha: float) -> np.ndarray:
    """p(x) ∝ (x + 1)^−α for x = 0 … N−1 (reference-setting.md)."""
    weights = np.array([(x + 1) ** -alpha for x in range(n)])
    return weights / weights.sum()


def test_zipf_probabilities_match_the_definition():
    np.testing.assert_allclose(zipf_probabilities(N, ALPHA).numpy(), zipf_by_hand(N, ALPHA))


@pytest.mark.parametrize("rho", [0.5, 1.0, 2.0])
def test_power_weights_are_p_to_the_rho(rho):
    p = zipf_by_hand(N, ALPHA)
    q = power_weights(torch.tensor(p), rho).numpy()
    np.testing.assert_allclose(q, [px**rho for px in p], rtol=1e-12)
    if rho == 1.0:  # q = p, not p² nor √p
        np.testing.assert_allclose(q, p, rtol=1e-12)


def test_threshold_weights_keep_the_p_most_probable():
    p = zipf_by_hand(N, ALPHA)
    for kept in (0, 1, 7, N):
        q = threshold_weights(torch.tensor(p), kept).numpy()
        np.testing.assert_array_equal(q, [1.0 if x < kept else 0.0 for x in range(N)])


def test_fill_weights_are_all_ones():
    np.testing.assert_array_equal(fill_weights(N).numpy(), np.ones(N))


def test_empirical_weights_are_counts_over_the_sample_size():
    counts = torch.tensor([[5, 0, 3, 2, 0, 0]])
    q = empirical_power_weights(counts, 1.0).numpy()[0]
    np.testing.assert_allclose(q, [0.5, 0.0, 0.3, 0.2, 0.0, 0.0])  # p̂ = n_x / T, T = 10
    np.testing.assert_array_equal(fill_seen_weights(counts).numpy()[0], [1, 0, 1, 1, 0, 0])


def test_threshold_counts_keep_the_most_frequent_seen_tokens():
    counts = torch.tensor([9, 0, 7, 1, 4, 0])
    kept = threshold_counts_weights(counts, 3, seed=0).numpy()
    np.testing.assert_array_equal(kept, [1, 0, 1, 0, 1, 0])  # counts 9, 7, 4; unseen never kept
    assert threshold_counts_weights(counts, 6, seed=0).numpy().tolist() == [1, 0, 1, 1, 1, 0]


def _one_adam_step_by_hand(model: str, dim: int, lr: float) -> dict[str, torch.Tensor]:
    """The parameters after one Adam step (β₁ = β₂ = 0: ``g / (|g| + ε)``, ε = 1e-8) from the
    forward pass of reference-setting.md, differentiated by autograd: ``logits = E[x] W U`` and
    the mean cross-entropy over the batch; steps γ/d on W, γ/√d on E and U."""
    setup = TrainingSetup(model, "adam", 20, 5, dim, ALPHA, 8, 8)
    start = initial_parameters(setup, [3], dtype=torch.float64)
    params = {name: value[0].clone().requires_grad_(True) for name, value in start.items()}
    tokens = sample_tokens(zipf_probabilities(20, ALPHA), 8, 3)
    labels = tokens % 5
    logits = params["E"][tokens] @ params["W"] @ params["U"]
    torch.nn.functional.cross_entropy(logits, labels).backward()
    scale = {"W": lr / dim, "E": lr / math.sqrt(dim), "U": lr / math.sqrt(dim)}
    learned = ("W",) if model == "matrix" else ("E", "W", "U")
    after = {}
    for name, value in params.items():
        step = value.grad / (value.grad.abs() + 1e-8) if name in learned else 0.0
        after[name] = (value - scale[name] * step).detach()
    return after


@pytest.mark.parametrize("model", ["matrix", "learnable"])
def test_adam_steps_scale_with_the_dimension(model):
    dim, lr = 16, 0.7
    expected = _one_adam_step_by_hand(model, dim, lr)
    setup = TrainingSetup(model, "adam", 20, 5, dim, ALPHA, 8, 8)
    result = train(setup, [3], [lr], dtype=torch.float64, return_params=True)
    for name, value in expected.items():
        got = result.params[name][0, 0].to(torch.float64)
        np.testing.assert_allclose(got.numpy(), value.numpy(), atol=1e-9, err_msg=name)
