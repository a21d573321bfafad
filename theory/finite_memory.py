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
    scheme_errors,
    threshold_counts_weights,
)
from memlaws.theory.law import Config, Law, Measurement, Parameter, Prediction
from memlaws.theory.random_embeddings import SchemeRate, Weights, kept_tokens
from memlaws.theory.setting import CLASSES, ZipfSetting, as_array, grid, zipf_setting
from memlaws.theory.statistics import (
    first_crossing,
    geometric_grid,
    log_factor_slope,
    loglog_slopes,
)

FINITE_ALLOWANCE = 0.05  # boundaries: the discreteness of the heaviest Zipf tokens


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

    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        counts = sample_counts(setting.probabilities, config["T"], seeds)[:, 0]
        return empirical_power_weights(counts, 1.0)

    def exponent(self, config: Config) -> float:
        alpha = config["alpha"]
        return -(alpha - 1) / (2 * alpha)

    def rival_exponent(self, config: Config) -> float:
        return -(config["alpha"] - 1)


ALPHA_ALLOCATION = Parameter(1.75, 2.5, 2.0, "float", "Zipf exponent α of the token law")


class BoundaryInData(Law):
    """A boundary ``d*(T) ∝ T^(1/α)`` in the ``(d, T)`` plane, located per seed and per ``T`` as
    the first ``d`` where the error falls to a level, and checked by the slope of ``log d*``
    against ``log T``."""

    variable = "T"
    statistic = "slope of log d*(T) against log T, per seed"
    rival_name = "linear allocation d* ∝ T"
    tolerance_reason = (
        "boundary holds up to a log factor (d/log d ∝ T^(1/α)): the slope one log T factor adds "
        f"over the T range, plus {FINITE_ALLOWANCE} for the discreteness of the heaviest tokens"
    )
    per_octave_in_d = 3
    sizes_per_octave = 0.5

    def weights(self, config: Config, counts: torch.Tensor, seeds: Sequence[int]) -> Weights:
        """The scheme's weights from counts ``[R, N]``."""
        raise NotImplementedError

    def levels(self, setting: ZipfSetting, counts: torch.Tensor, errors: np.ndarray) -> np.ndarray:
        """The error level ``[R]`` whose first crossing defines ``d*`` (errors ``[R, D]``)."""
        raise NotImplementedError

    def error_measure(self, setting: ZipfSetting, counts: torch.Tensor) -> torch.Tensor:
        """The measure the boundary's error is taken under: ``p`` unless a law says otherwise."""
        return setting.probabilities

    def check_admissible(self, config: Config) -> None:
        if config["T_max"] > config["N"] ** config["alpha"] / 100:
            raise ValueError("T_max must be at most N^alpha / 100 (T ≪ N^α)")

    def sizes(self, config: Config) -> list[int]:
        return geometric_grid(config["T_min"], config["T_max"], self.sizes_per_octave)

    def tolerance(self, config: Config) -> float:
        return log_factor_slope(config["T_min"], config["T_max"]) + FINITE_ALLOWANCE

    def predicted(self, config: Config) -> Prediction:
        return Prediction("point", 1 / config["alpha"], self.tolerance(config), "1/α")

    def rival(self, config: Config) -> Prediction:
        return Prediction("point", 1.0, self.tolerance(config), self.rival_name)

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        setting = zipf_setting(config)
        sizes = self.sizes(config)
        dims = grid(config, "d_min", "d_max", self.per_octave_in_d)
        counts = sample_counts(setting.probabilities, sizes, seeds)  # [R, K, N]
        surfaces = np.zeros((len(seeds), len(sizes), len(dims)))
        measures = [self.error_measure(setting, counts[:, k]) for k in range(len(sizes))]
        for r, seed in enumerate(seeds):  # seed by seed, so that its embeddings stay cached
            for k in range(len(sizes)):
                surfaces[r, k] = scheme_errors(
                    self.weights(config, counts[r : r + 1, k], [seed]),
                    measures[k].expand(len(seeds), -1)[r],
                    setting.targets,
                    setting.n_classes,
                    dims,
                    [seed],
                    device=device,
                ).numpy()[0]
        boundary = np.stack(
            [
                first_crossing(
                    as_array(dims),
                    surfaces[:, k],
                    self.levels(setting, counts[:, k], surfaces[:, k]),
                )
                for k in range(len(sizes))
            ],
            axis=1,
        )
        missing = int(np.isnan(boundary).any(axis=1).sum())
        return Measurement(
            statistic=loglog_slopes(as_array(sizes), boundary),
            x=as_array(sizes),
            curves=boundary,
            xlabel="T (samples)",
            ylabel="boundary d*(T)",
            invalid=(
                f"{missing} seed(s) never crossed the level inside d ∈ [{dims[0]}, {dims[-1]}]"
                if missing
                else ""
            ),
            extras={"dims": dims, "surfaces": surfaces},
        )


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
        rankings = [count_ranking(counts[r], seed) for r, seed in enumerate(seeds)]

        def kept(dim: int) -> torch.Tensor:
            return torch.stack(
                [
                    threshold_counts_weights(counts[r], kept_tokens(dim), seed, rankings[r])
                    for r, seed in enumerate(seeds)
                ]
            )

        return kept

    def levels(self, setting: ZipfSetting, counts: torch.Tensor, errors: np.ndarray) -> np.ndarray:
        chance = 1 - 1 / setting.n_classes
        return 2 * chance * memoriser_error(setting.probabilities, counts).numpy()
