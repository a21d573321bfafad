"""Section 3 of the paper: infinite data, finite memory with random embeddings (R2a–R2d).

Every law here measures the exact population error of ``W_q`` on a geometric grid of ``d`` for
each seed (embeddings of different ``d`` share their randomness within a seed) and reads off a
log-log slope per seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from scipy import integrate, stats

from memlaws.kernel import fill_weights, power_weights, threshold_weights
from memlaws.theory.law import Config, Law, Measurement, Parameter, Prediction
from memlaws.theory.setting import ZipfSetting, grid, kept_tokens
from memlaws.theory.shapes import (
    RateInDimension,
    SchemeRate,
    Weights,
    frequency_exponent,
    threshold_exponent,
)
from memlaws.theory.statistics import curve_slope

FREQUENCY_ALLOWANCE = 0.045
FREQUENCY_REASON = (
    "finite range, independent of the claimed exponent: the mean per-draw slope of a q = p^ρ "
    "memory over d ∈ [16, 512] is biased by discreteness (a handful of heavy tokens decide the "
    "error) and log factors; measured at 512 draws per corner of the check domain it lies in "
    "[−0.041, +0.028] (−0.041 ± 0.009 at α = 2.5, ρ = 1; −0.022 ± 0.006 at α = 2, ρ = 1; "
    f"+0.002 ± 0.005 at α = 2, ρ = 0.5): allowance {FREQUENCY_ALLOWANCE}"
)


class FrequencyWeighting(SchemeRate):
    spec = "R2a"
    source = "Theorem 1 (q = p^ρ)"
    statement = "Storing q = p^ρ gives 𝓔 ≍ d^−(α−1)/(2ρα) up to log factors."
    domain = (
        "α > 1, ρ > 1/(2α); checked where ρ ≥ 1/α so that the rival is separable. N ≥ 2000: "
        "tokens beyond the 2000th are never retrieved by q = p^ρ at these d (N = 10⁴ gives the "
        "same slopes). Reference ρ = 1/2, where the retrieved tokens grow like d^(1/α) and the "
        "slope is sharp; at ρ = 1 (q = p) a few heavy tokens decide the error"
    )
    parameters = {**RateInDimension.parameters, "rho": Parameter(0.5, 1.0, 0.5, "float", "ρ")}
    rival_name = "thresholding rate d^−(α−1)"
    draws_per_seed = 4
    seconds_per_seed = 0.12
    finite_allowance = FREQUENCY_ALLOWANCE
    tolerance_reason = FREQUENCY_REASON

    def check_admissible(self, config: Config) -> None:
        if config["rho"] < 1 / config["alpha"]:
            raise ValueError("rho must be >= 1/alpha here (prediction and rival separable)")

    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        return power_weights(setting.probabilities, config["rho"])

    def exponent(self, config: Config) -> float:
        return frequency_exponent(config["alpha"], config["rho"])

    def rival_exponent(self, config: Config) -> float:
        return threshold_exponent(config["alpha"])


class Thresholding(SchemeRate):
    spec = "R2b"
    source = "Theorem 1 (q = 1{x ≤ P})"
    statement = "Keeping the P = d/8 most frequent tokens gives 𝓔 ≍ d^−(α−1) up to log factors."
    domain = "α > 1, P ≍ d/log d or a fixed fraction of d, N ≫ P"
    rival_name = "frequency-weighting rate d^−(α−1)/(2α) (q = p)"
    draws_per_seed = 4  # the same draws as R2a's, so that R2d pairs them
    seconds_per_seed = 0.1
    finite_allowance = 0.04
    tolerance_reason = (
        "finite range, independent of the claimed exponent: the mean slope of thresholding "
        "(P = d/8) over d ∈ [16, 512] measured at 256 draws is −0.013 ± 0.002 off at α = 1.5, "
        "+0.014 ± 0.002 at α = 2 and +0.027 ± 0.003 at α = 2.5 (the kept set grows in steps of "
        "one token): allowance 0.04"
    )

    def check_admissible(self, config: Config) -> None:
        if kept_tokens(config["d_max"]) > config["N"] / 20:
            raise ValueError("d_max/8 must be at most N/20 (N ≫ P)")

    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        return lambda dim: threshold_weights(setting.probabilities, kept_tokens(dim))

    def exponent(self, config: Config) -> float:
        return threshold_exponent(config["alpha"])

    def rival_exponent(self, config: Config) -> float:
        return frequency_exponent(config["alpha"])


OVERFLOW_MODEL = "(1 − 1/M) − κ_M √(M d / N)"


def overflow_signal_slope(n_classes: int) -> float:
    """``κ_M = E[max of M standard normals] / M``: the rate at which the chance of picking the
    right class among ``M`` grows with a small signal-to-noise ratio ``s``
    (``d/ds P(s + Z₀ > max_{j<M} Z_j)`` at ``s = 0``)."""

    def integrand(z: float) -> float:
        return z * stats.norm.pdf(z) * stats.norm.cdf(z) ** (n_classes - 1)

    return float(integrate.quad(integrand, -12, 12)[0])


def overflow_error(n_classes: int, n_tokens: int, dims: Sequence[int]) -> np.ndarray:
    """The model's error of ``q ≡ 1`` in overflow, ``(1 − 1/M) − κ_M √(M d / N)`` for each ``d``
    (``[D]``): the score of class ``m`` on a token sums ``N/M`` stored pairs of class ``m``, each
    with an inner product of variance ``1/d``, against a signal of 1, so ``s = √(M d / N)``."""
    dims_array = np.asarray(dims, dtype=float)
    return (1 - 1 / n_classes) - overflow_signal_slope(n_classes) * np.sqrt(
        n_classes * dims_array / n_tokens
    )


class Overflow(SchemeRate):
    spec = "R2c"
    source = "Theorem 1 (q ≡ 1)"
    statement = "Storing all N ≫ d tokens with equal weight overflows: 𝓔 stays of order one in d."
    statistic = (
        "slope of log 𝓔 against log d, 𝓔 taken under the uniform measure on tokens (with q ≡ 1 "
        "every token is exchangeable, so its expectation is that of 𝓔 under p)"
    )
    domain = (
        "q ≡ 1, N ≫ d (checked for d ≤ N/(32M)); the error vanishes only once d ≳ N log N. α does "
        "not enter the measured statistic (exchangeability)"
    )
    parameters = {
        **SchemeRate.parameters,
        "N": Parameter(20_480, 80_000, 20_480, "log_int", "number of tokens"),
        "d_min": Parameter(4, 16, 8, "log_int", "smallest dimension"),
        "d_max": Parameter(64, 256, 128, "log_int", "largest dimension"),
    }
    seconds_per_seed = 0.1
    finite_allowance = 0.005
    tolerance_reason = (
        f"the claim is the finite-range slope of the overflow model {OVERFLOW_MODEL}, "
        "which tends to 0 (order one) as N/d grows; allowance 0.005 for the model's first-order "
        "Gaussian approximation: measured at 128 draws the mean slope is 0.0006–0.0016 below the "
        "model's (reference −0.0155 against −0.0140; N = 40960: −0.0109 against −0.0098; M = 2: "
        "−0.0179 against −0.0173; M = 10: −0.0097 against −0.0081). Measuring under the uniform "
        "measure takes the per-seed spread from about 0.16 (p-weighted: token 0's single coin "
        "flip decides) to 0.002"
    )
    rival_name = "thresholding rate d^−(α−1)"
    claim_label = f"finite-range slope of {OVERFLOW_MODEL} (→ 0: order one)"

    def check_admissible(self, config: Config) -> None:
        if config["d_max"] > config["N"] / (32 * config["M"]):
            raise ValueError("d_max must be at most N/(32 M) (deep in overflow)")

    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        return fill_weights(config["N"])

    def error_measure(self, setting: ZipfSetting) -> torch.Tensor:
        return torch.full_like(setting.probabilities, 1 / setting.probabilities.numel())

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        measured = super().measure(config, seeds, device)
        return replace(
            measured,
            ylabel="error under the uniform measure on tokens",
            exact=overflow_error(config["M"], config["N"], measured.x),
            exact_label=f"model: {OVERFLOW_MODEL}",
        )

    def exponent(self, config: Config) -> float:
        dims = grid(config, "d_min", "d_max")
        model = overflow_error(config["M"], config["N"], dims)
        return curve_slope(dims, model)

    def rival_exponent(self, config: Config) -> float:
        return threshold_exponent(config["alpha"])


class ThresholdingOptimal(Law):
    spec = "R2d"
    source = "Theorem 1 and its lower bound (Section 3)"
    statement = (
        "Thresholding is optimal up to logs: its exponent in d is steeper than that of any p^ρ."
    )
    statistic = "slope(q = p^ρ) − slope(thresholding P = d/8), paired on the same embeddings"
    variable = "d"
    domain = "α > 1, ρ > 1/(2α), N ≫ d; worst-case targets for the lower bound"
    parameters = {**RateInDimension.parameters, "rho": Parameter(0.5, 1.0, 1.0, "float", "ρ")}
    minimum_effect = 0.1
    tolerance_reason = (
        f"an ordering with a minimum effect of {minimum_effect}: exponents closer than that are "
        "within the finite-range allowances of the two rates (0.045 and 0.04), so 'steeper' "
        "must mean by more than their sum"
    )
    rival_name = "p^ρ at least as steep as thresholding"
    seconds_per_seed = 0.25

    check_admissible = Thresholding.check_admissible

    def predicted(self, config: Config) -> Prediction:
        return Prediction("above", self.minimum_effect, 0.0, "thresholding steeper")

    def rival(self, config: Config) -> Prediction:
        return Prediction("below", 0.0, 0.0, self.rival_name)

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        power = FrequencyWeighting().measure(config, seeds, device)
        threshold = Thresholding().measure(config, seeds, device)
        return Measurement(
            statistic=power.statistic - threshold.statistic,
            x=power.x,
            curves=np.stack([power.curves, threshold.curves], axis=1),
            xlabel=power.xlabel,
            ylabel=power.ylabel,
            series=(f"q = p^{config['rho']:.2f}", "q = 1{x ≤ d/8}"),
            scales=("log", "log"),
        )
