"""The modelled mean error of frequency-weighted memories (``memlaws.theory.frequency_model``)
against the kernel's simulation, its asymptote, and SGD's small-step memory (R3a, R4b)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memlaws.kernel import sample_counts, scheme_errors, zipf_probabilities
from memlaws.kernel.training import train
from memlaws.theory.frequency_model import expected_memory_errors
from memlaws.theory.setting import zero_start_setup
from memlaws.theory.shapes import frequency_exponent
from memlaws.theory.statistics import loglog_slopes

DRAWS = list(range(4_000, 4_512))  # exploration seeds


@pytest.mark.parametrize(
    ("n_samples", "centred"), [(None, False), (2_000, False), (2_000, True)], ids=str
)
def test_model_matches_the_kernels_mean_error(n_samples, centred):
    """Within four standard errors of 512 simulated draws at every d (and 0.003 for the model's
    own draws)."""
    p = zipf_probabilities(300, 2.0)
    targets = torch.arange(300) % 3
    dims = [4, 8, 16, 32]
    weights = p if n_samples is None else sample_counts(p, n_samples, DRAWS)[:, 0].double()
    simulated = scheme_errors(weights, p, targets, 3, dims, DRAWS, centred=centred).numpy()
    mean = simulated.mean(axis=0)
    error = simulated.std(axis=0, ddof=1) / np.sqrt(len(DRAWS))
    model = expected_memory_errors(p.numpy(), 3, dims, n_samples, centred)
    assert np.all(np.abs(model - mean) <= 4 * error + 0.003), (model, mean, error)


def test_modelled_local_slopes_tend_to_the_exponent():
    """R3a's claim is the model's finite-range slope; as d grows its local slopes approach
    −(α − 1)/(2α) (measured: −0.306, −0.258, −0.254, −0.252 at α = 2)."""
    dims = [16, 64, 256, 1024, 4096]
    errors = expected_memory_errors(zipf_probabilities(10_000, 2.0).numpy(), 5, dims)
    local = np.diff(np.log(errors)) / np.diff(np.log(dims))
    gaps = np.abs(local - frequency_exponent(2.0))
    assert np.all(np.diff(gaps) < 0), local
    assert gaps[-1] < 0.005, local


def test_model_slope_is_the_fit_of_its_errors():
    dims = [16, 32, 64]
    p = zipf_probabilities(500, 1.5).numpy()
    errors = expected_memory_errors(p, 4, dims)
    assert np.all(np.diff(errors) < 0)
    assert loglog_slopes(np.array(dims, float), errors[None])[0] < 0


def test_sgd_with_a_small_step_builds_the_centred_memory():
    """R4b's control variate: SGD from W₀ = 0 with γ = 10⁻³ and the centred p̂ memory on the
    same embeddings and data give the same errors (here to 10⁻³ of population error)."""
    config = {"N": 200, "M": 4, "alpha": 2.0}
    seeds = [4_600, 4_601, 4_602]
    n_samples, batch = 20_000, 1_000
    p = zipf_probabilities(200, 2.0)
    counts = sample_counts(p, n_samples, seeds)[:, 0].double()
    for dim in (8, 32):
        run = train(zero_start_setup(config, dim, batch, n_samples), seeds, [1e-3])
        memory = scheme_errors(counts, p, torch.arange(200) % 4, 4, [dim], seeds, centred=True)
        np.testing.assert_allclose(run.errors[:, 0].numpy(), memory[:, 0].numpy(), atol=1e-3)


@pytest.mark.parametrize(
    ("argument", "call"),
    [
        ("probabilities", lambda: expected_memory_errors(np.array([0.5, 0.6]), 2, [4])),
        ("n_classes", lambda: expected_memory_errors(np.array([0.5, 0.5]), 3, [4])),
        ("dims", lambda: expected_memory_errors(np.array([0.5, 0.5]), 2, [0])),
        ("n_samples", lambda: expected_memory_errors(np.array([0.5, 0.5]), 2, [4], 0)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bad_input_raises_naming_the_argument(argument, call):
    with pytest.raises(ValueError, match=rf"^{argument}\s"):
        call()
