"""Section 4 of the paper: finite data and finite memory, schemes built from counts (R3a–R3c)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from memlaws.kernel import (
    count_ranking,
    empirical_power_weights,
    fill_seen_weights,
    memoriser_error,
    sample_counts,
    threshold_counts_weights,
)
from memlaws.theory.law import Config, Parameter
from memlaws.theory.paper.random_embeddings import FREQUENCY_ALLOWANCE, FREQUENCY_REASON
from memlaws.theory.setting import CLASSES, ZipfSetting, kept_tokens
from memlaws.theory.shapes import (
    BoundaryInData,
    SchemeRate,
    Weights,
    frequency_exponent,
    threshold_exponent,
)


class EmpiricalFrequency(SchemeRate):
    spec = "R3a"
    source = "Section 4 (q = p̂)"
    statement = "Storing q = p̂ gives 𝓔 ≍ d^−(α−1)/(2α) + T^−(1−1/α); checked in d at large T."
    domain = "α > 1, T ≫ d^(α−1)·… so that the d-term dominates (here T ≥ 10⁵ ≫ d_max)"
    parameters = {
        **SchemeRate.parameters,
        "T": Parameter(100_000, 1_000_000, 100_000, "log_int", "number of samples"),
    }
    rival_name = "thresholding rate d^−(α−1)"
    draws_per_seed = 8
    seconds_per_seed = 0.2
    finite_allowance = FREQUENCY_ALLOWANCE
    tolerance_reason = FREQUENCY_REASON

    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        counts = sample_counts(setting.probabilities, config["T"], seeds)[:, 0]
        return empirical_power_weights(counts, 1.0)

    def exponent(self, config: Config) -> float:
        return frequency_exponent(config["alpha"])

    def rival_exponent(self, config: Config) -> float:
        return threshold_exponent(config["alpha"])


ALPHA_ALLOCATION = Parameter(1.75, 2.5, 2.0, "float", "Zipf exponent α of the token law")


def seen_threshold_weights(counts: torch.Tensor, seeds: Sequence[int]) -> Weights:
    """Weights ``d ↦ [R, N]`` keeping the ``P = d/8`` most frequent seen tokens of each seed's
    counts ``[R, N]`` (ties broken by the seed's ranking)."""
    rankings = [count_ranking(counts[r], seed) for r, seed in enumerate(seeds)]

    def kept(dim: int) -> torch.Tensor:
        return torch.stack(
            [
                threshold_counts_weights(counts[r], kept_tokens(dim), seed, rankings[r])
                for r, seed in enumerate(seeds)
            ]
        )

    return kept


class FillBoundary(BoundaryInData):
    spec = "R3b"
    source = "Section 4 (fill, q = 1{n_x > 0})"
    statement = (
        "Storing every seen token overflows below the phase boundary d ∝ T^(1/α) "
        "(the number of seen tokens); above it 𝓔 ≍ T^−(1−1/α)."
    )
    domain = (
        "α > 1, T ≪ N^α; d*(T) is where the error over seen tokens, counted uniformly, first falls "
        "to half its chance level (1 − 1/M)/2"
    )
    parameters = {
        "alpha": ALPHA_ALLOCATION,
        "N": Parameter(4_000, 10_000, 4_000, "log_int", "number of tokens"),
        "M": CLASSES,
        "T_min": Parameter(1_000, 1_000, 1_000, "int", "smallest sample size"),
        "T_max": Parameter(10_000, 100_000, 100_000, "log_int", "largest sample size"),
        "d_min": Parameter(2, 2, 2, "int", "smallest dimension"),
        "d_max": Parameter(512, 1_024, 512, "log_int", "largest dimension"),
    }

    def weights(self, config: Config, counts: torch.Tensor, seeds: Sequence[int]) -> Weights:
        return fill_seen_weights(counts)

    def error_measure(self, setting: ZipfSetting, counts: torch.Tensor) -> torch.Tensor:
        # The overflow is a capacity effect: it is located on the uniform error over seen tokens.
        # The p-weighted error at α ≥ 2 is dominated by token 0 (61% of the mass at α = 2),
        # whose single coin flip per seed would decide a per-seed crossing on its own.
        seen = (counts > 0).to(torch.float64)
        return seen / seen.sum(-1, keepdim=True)

    def levels(self, setting: ZipfSetting, counts: torch.Tensor, errors: np.ndarray) -> np.ndarray:
        return np.full(errors.shape[0], (1 - 1 / setting.n_classes) / 2)


class ThresholdAllocation(BoundaryInData):
    spec = "R3c"
    source = "Section 4 (thresholding seen tokens)"
    statement = (
        "Keeping the P = d/8 most frequent seen tokens gives 𝓔 ≍ d^−(α−1) + T^−(1−1/α); "
        "the two terms balance at d ≍ T^(1/α), the compute-optimal allocation."
    )
    domain = (
        "α > 1, T ≪ N^α; d*(T) is where 𝓔 first falls to twice its data-limited floor "
        "(1 − 1/M)·Σ p·1{n_x = 0}: unseen tokens of the same sample, guessed right 1/M of the time"
    )
    parameters = {
        "alpha": ALPHA_ALLOCATION,
        "N": Parameter(4_000, 10_000, 4_000, "log_int", "number of tokens"),
        "M": CLASSES,
        "T_min": Parameter(100, 100, 100, "int", "smallest sample size"),
        "T_max": Parameter(10_000, 10_000, 10_000, "int", "largest sample size"),
        "d_min": Parameter(8, 8, 8, "int", "smallest dimension"),
        "d_max": Parameter(1_024, 2_048, 1_024, "log_int", "largest dimension"),
    }

    def weights(self, config: Config, counts: torch.Tensor, seeds: Sequence[int]) -> Weights:
        return seen_threshold_weights(counts, seeds)

    def levels(self, setting: ZipfSetting, counts: torch.Tensor, errors: np.ndarray) -> np.ndarray:
        chance = 1 - 1 / setting.n_classes
        return 2 * chance * memoriser_error(setting.probabilities, counts).numpy()
