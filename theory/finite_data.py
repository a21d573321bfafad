"""Section 2 of the paper: finite data, infinite memory (R1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kernel import expected_memoriser_error, memoriser_error, sample_counts
from theory.law import Config, Law, Measurement, Parameter, Prediction
from theory.setting import ALPHA, as_array, grid, zipf_setting
from theory.statistics import loglog_slopes

JENSEN_ALLOWANCE = 0.03


class MemoriserRate(Law):
    spec = "R1"
    source = "Proposition 1"
    statement = "The memoriser's error E[𝓔(f̂_T)] = Σ p(x)(1−p(x))^T decays as T^−(1−1/α)."
    statistic = "slope of log 𝓔(f̂_T) against log T, per seed"
    variable = "T"
    domain = "α > 1, N = ∞ (here T ≤ N^α/100, so almost no mass is exhausted)"
    parameters = {
        "alpha": ALPHA,
        "N": Parameter(10_000, 100_000, 100_000, "log_int", "number of tokens"),
        "T_min": Parameter(50, 200, 100, "log_int", "smallest sample size"),
        "T_max": Parameter(5_000, 20_000, 10_000, "log_int", "largest sample size"),
    }
    tolerance_reason = (
        "no log factor: the exact finite-N slope of Σ p(1−p)^T over the range (its gap to the "
        f"asymptote) plus {JENSEN_ALLOWANCE} for averaging log-errors rather than errors"
    )
    rival_name = "parametric rate T^−1"

    def check_admissible(self, config: Config) -> None:
        if config["T_max"] > config["N"] ** config["alpha"] / 100:
            raise ValueError("T_max must be at most N^alpha / 100 (T ≪ N^α)")

    def exact(self, config: Config) -> np.ndarray:
        setting = zipf_setting(config)
        return expected_memoriser_error(
            setting.probabilities, grid(config, "T_min", "T_max")
        ).numpy()

    def tolerance(self, config: Config) -> float:
        sizes = as_array(grid(config, "T_min", "T_max"))
        exact_slope = float(loglog_slopes(sizes, self.exact(config)[None])[0])
        return abs(exact_slope - self.asymptotic(config)) + JENSEN_ALLOWANCE

    @staticmethod
    def asymptotic(config: Config) -> float:
        return -(1 - 1 / config["alpha"])

    def predicted(self, config: Config) -> Prediction:
        return Prediction("point", self.asymptotic(config), self.tolerance(config), "−(1 − 1/α)")

    def rival(self, config: Config) -> Prediction:
        return Prediction("point", -1.0, self.tolerance(config), self.rival_name)

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        setting = zipf_setting(config)
        sizes = grid(config, "T_min", "T_max")
        errors = memoriser_error(
            setting.probabilities, sample_counts(setting.probabilities, sizes, seeds)
        )
        curves = errors.numpy()
        return Measurement(
            statistic=loglog_slopes(as_array(sizes), curves),
            x=as_array(sizes),
            curves=curves,
            xlabel="T (samples)",
            ylabel="memoriser error",
        )
