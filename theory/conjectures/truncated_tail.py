"""K2, a conjecture beyond the paper: a memoriser trained on data whose tail was cut.

Training tokens are drawn from Zipf(α) on ``N`` tokens restricted to its ``k`` most frequent
ones (renormalised, ``memlaws.kernel.truncated_zipf_probabilities``); the error is measured on
the full Zipf(α) law. The memoriser errs on every unseen token, so every token beyond ``k``:
Proposition 1 gives exactly ``E[𝓔] = Σ_{x ≤ k} p(x)(1 − p̃(x))^T + Σ_{x > k} p(x)``, hence
``𝓔 ≍ T^−(1−1/α) + k^−(α−1)``: once ``T ≳ k^α`` the error stops falling with ``T`` and sits on a
plateau ``≍ k^−(α−1)``. Checked here: the plateau's slope in ``k``, at one sample size
``T = c · k_max^α`` past every crossover of the grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memlaws.kernel import (
    expected_mismatched_memoriser_error,
    memoriser_error,
    sample_counts,
    truncated_zipf_probabilities,
    zipf_probabilities,
)
from memlaws.theory.law import Config, Law, Measurement, Parameter, Prediction
from memlaws.theory.registry import registered
from memlaws.theory.setting import ALPHA, as_array, grid
from memlaws.theory.statistics import loglog_slopes

JENSEN_ALLOWANCE = 0.02  # R1's allowance for averaging log-errors rather than errors


def sample_size(config: Config) -> int:
    """The one sample size ``T = c · k_max^α`` at which every kept ``k`` is judged."""
    return round(config["c"] * config["k_max"] ** config["alpha"])


@registered
class TruncatedTailPlateau(Law):
    spec = "K2"
    source = (
        "derivation (ours, exact from Proposition 1 of Cabannes, Dohmatob, Bietti 2024); "
        "related published claim: Dohmatob, Feng, Yang, Charton, Kempe, 'A Tale of Tails' "
        "(ICML 2024, arXiv 2402.07043) on scaling laws under tail-cut data, whose exact "
        "wording was not read"
    )
    statement = (
        "A memoriser trained on T tokens from Zipf(α) cut to its k most frequent tokens has "
        "error ≍ T^−(1−1/α) + k^−(α−1): past T ≈ k^α a plateau whose height falls as k^−(α−1)"
    )
    statistic = "slope of log 𝓔 against log k at T = c · k_max^α, per seed"
    variable = "k"
    domain = (
        "α > 1, N ≥ 100 k_max (the tail mass beyond k is that of the infinite law up to "
        "(k/N)^(α−1)), T = c · k_max^α with c ≥ 4, past the crossover T ≈ k^α of every k"
    )
    parameters = {
        "alpha": ALPHA,
        "N": Parameter(10_000, 100_000, 10_000, "log_int", "number of tokens"),
        "k_min": Parameter(8, 16, 10, "log_int", "fewest kept tokens"),
        "k_max": Parameter(64, 100, 100, "log_int", "most kept tokens"),
        "c": Parameter(4.0, 8.0, 4.0, "float", "T / k_max^α"),
    }
    tolerance_reason = (
        "the gap between −(α−1) and the slope of the exact expected error over the same k grid "
        "and T (the unseen kept tokens and the finite N bend it: 0.02–0.03 at c = 4), plus "
        f"{JENSEN_ALLOWANCE}, R1's allowance for averaging log-errors rather than errors"
    )
    rival_name = "no plateau: the untruncated error T^−(1−1/α), the same for every k (slope 0)"
    seconds_per_seed = 0.01

    def check_admissible(self, config: Config) -> None:
        if config["k_max"] < 4 * config["k_min"]:
            raise ValueError("k_max must be at least 4 k_min (two octaves to fit a slope)")
        if config["N"] < 100 * config["k_max"]:
            raise ValueError("N must be at least 100 k_max (a tail far longer than the cut)")

    def exact(self, config: Config) -> np.ndarray:
        tokens, alpha = int(config["N"]), float(config["alpha"])
        p = zipf_probabilities(tokens, alpha)
        return np.array(
            [
                expected_mismatched_memoriser_error(
                    p, truncated_zipf_probabilities(tokens, alpha, kept), sample_size(config)
                ).item()
                for kept in grid(config, "k_min", "k_max")
            ]
        )

    def predicted(self, config: Config) -> Prediction:
        claim = -(config["alpha"] - 1)
        kept = as_array(grid(config, "k_min", "k_max"))
        exact_slope = float(loglog_slopes(kept, self.exact(config)[None])[0])
        return Prediction("point", claim, abs(exact_slope - claim) + JENSEN_ALLOWANCE)

    def rival(self, config: Config) -> Prediction:
        return Prediction("point", 0.0, self.predicted(config).tolerance, self.rival_name)

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        tokens, alpha = int(config["N"]), float(config["alpha"])
        p = zipf_probabilities(tokens, alpha)
        size, kept_grid = sample_size(config), grid(config, "k_min", "k_max")
        errors = np.empty((len(seeds), len(kept_grid)))
        for column, kept in enumerate(kept_grid):
            training = truncated_zipf_probabilities(tokens, alpha, kept)[:kept]
            counts = sample_counts(training, [size], list(seeds))[:, 0]  # [R, k]
            tail = float(p[kept:].sum())
            errors[:, column] = memoriser_error(p[:kept], counts).numpy() + tail
        x = as_array(kept_grid)
        return Measurement(
            statistic=loglog_slopes(x, errors),
            x=x,
            curves=errors,
            xlabel="k (kept tokens)",
            ylabel=f"memoriser error at T = {size}",
            extras={"T": size},
        )
