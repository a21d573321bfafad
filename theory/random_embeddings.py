"""Section 3 of the paper: infinite data, finite memory with random embeddings (R2a–R2d).

Every law here measures the exact population error of ``W_q`` on a geometric grid of ``d`` for
each seed (embeddings of different ``d`` share their randomness within a seed) and reads off a
log-log slope per seed.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
import torch

from memlaws.kernel import fill_weights, power_weights, scheme_errors, threshold_weights
from memlaws.theory.law import Config, Law, Measurement, Parameter, Prediction
from memlaws.theory.profiles import draws
from memlaws.theory.setting import (
    ALPHA,
    CLASSES,
    ZipfSetting,
    as_array,
    grid,
    seed_means,
    zipf_setting,
)
from memlaws.theory.statistics import loglog_slopes

THRESHOLD_FRACTION = 8  # thresholding keeps P = d/8 tokens, as in the paper's figures
FREQUENCY_ALLOWANCE = 0.045
FREQUENCY_REASON = (
    "finite range, independent of the claimed exponent: the mean per-draw slope of a q = p^ρ "
    "memory over d ∈ [16, 512] is biased by discreteness (a handful of heavy tokens decide the "
    "error) and log factors; measured at 512 draws per corner of the check domain it lies in "
    "[−0.041, +0.028] (−0.041 ± 0.009 at α = 2.5, ρ = 1; −0.022 ± 0.006 at α = 2, ρ = 1; "
    f"+0.002 ± 0.005 at α = 2, ρ = 0.5): allowance {FREQUENCY_ALLOWANCE}"
)

Weights = torch.Tensor | Callable[[int], torch.Tensor]


def kept_tokens(dim: int) -> int:
    """``P = max(1, d / 8)``: how many tokens thresholding keeps at dimension ``d``."""
    return max(1, dim // THRESHOLD_FRACTION)


class RateInDimension(Law):
    """A law ``𝓔 ≍ d^exponent`` for one memory scheme, checked by its log-log slope in ``d``.

    A seed's statistic is the mean of the slopes of ``draws_per_seed`` independent draws
    (embeddings, and data where the scheme uses them): variance reduction for the few heavy
    tokens whose retrieval decides the error. The tolerance is the law's declared
    ``finite_allowance``, a property of the measurement's range, never of the claimed value."""

    variable = "d"
    statistic = "slope of log 𝓔 against log d, averaged over the seed's draws"
    parameters = {
        "alpha": ALPHA,
        "N": Parameter(2_000, 20_000, 2_000, "log_int", "number of tokens"),
        "M": CLASSES,
        "d_min": Parameter(8, 32, 16, "log_int", "smallest dimension"),
        "d_max": Parameter(256, 512, 512, "log_int", "largest dimension"),
    }
    draws_per_seed = 1
    finite_allowance = FREQUENCY_ALLOWANCE
    tolerance_reason = FREQUENCY_REASON

    @abstractmethod
    def exponent(self, config: Config) -> float:
        """The claimed exponent of ``d``."""

    @abstractmethod
    def rival_exponent(self, config: Config) -> float:
        """The rival's exponent of ``d``."""

    def tolerance(self, config: Config) -> float:
        return self.finite_allowance

    def predicted(self, config: Config) -> Prediction:
        return Prediction("point", self.exponent(config), self.tolerance(config))

    def rival(self, config: Config) -> Prediction:
        return Prediction(
            "point", self.rival_exponent(config), self.tolerance(config), self.rival_name
        )

    @abstractmethod
    def draw_errors(
        self, config: Config, dims: list[int], drawn: list[int], device: str
    ) -> np.ndarray:
        """Errors ``[R·k, D]`` of the draws ``drawn`` (``memlaws.theory.profiles.draws`` of the
        seeds) at every dimension of ``dims``."""

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        dims = grid(config, "d_min", "d_max")
        k = self.draws_per_seed
        errors = self.draw_errors(config, dims, draws(list(seeds), k), device)
        return Measurement(
            statistic=seed_means(loglog_slopes(as_array(dims), errors), k),
            x=as_array(dims),
            curves=seed_means(errors, k),
            xlabel="d (dimension)",
            ylabel="population error" + (f" (mean of {k} draws)" if k > 1 else ""),
        )


class SchemeRate(RateInDimension):
    """A rate in ``d`` of the memory ``W_q`` built by a scheme ``q`` with random embeddings."""

    @abstractmethod
    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        """The scheme's weights for the draws ``seeds``."""

    def draw_errors(
        self, config: Config, dims: list[int], drawn: list[int], device: str
    ) -> np.ndarray:
        setting = zipf_setting(config)
        return scheme_errors(
            self.weights(config, setting, drawn),
            setting.probabilities,
            setting.targets,
            setting.n_classes,
            dims,
            drawn,
            device=device,
        ).numpy()


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

    def check_admissible(self, config: Config) -> None:
        if config["rho"] < 1 / config["alpha"]:
            raise ValueError("rho must be >= 1/alpha here (prediction and rival separable)")

    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        return power_weights(setting.probabilities, config["rho"])

    def exponent(self, config: Config) -> float:
        alpha = config["alpha"]
        return -(alpha - 1) / (2 * config["rho"] * alpha)

    def rival_exponent(self, config: Config) -> float:
        return -(config["alpha"] - 1)


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
        return -(config["alpha"] - 1)

    def rival_exponent(self, config: Config) -> float:
        alpha = config["alpha"]
        return -(alpha - 1) / (2 * alpha)


class Overflow(SchemeRate):
    spec = "R2c"
    source = "Theorem 1 (q ≡ 1)"
    statement = "Storing all N ≫ d tokens with equal weight overflows: 𝓔 stays of order one in d."
    domain = "q ≡ 1, N ≫ d (checked for d ≤ N/(32M)); the error vanishes only once d ≳ N log N"
    parameters = {
        **SchemeRate.parameters,
        "N": Parameter(20_480, 80_000, 20_480, "log_int", "number of tokens"),
        "d_min": Parameter(4, 16, 8, "log_int", "smallest dimension"),
        "d_max": Parameter(64, 256, 128, "log_int", "largest dimension"),
    }
    draws_per_seed = 4
    seconds_per_seed = 0.25
    finite_allowance = 0.1
    tolerance_reason = (
        "Theorem 1 bounds the error away from zero without fixing a constant: a slope within "
        "±0.1 lets it drift by at most a factor 16^0.1 ≈ 1.3 over the 4 octaves of d while "
        "staying of order one (measured at 256 draws: −0.011 ± 0.009 at N = 20000, −0.020 ± "
        "0.011 at N = 40000)"
    )
    rival_name = "thresholding rate d^−(α−1)"

    def check_admissible(self, config: Config) -> None:
        if config["d_max"] > config["N"] / (32 * config["M"]):
            raise ValueError("d_max must be at most N/(32 M) (deep in overflow)")

    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        return fill_weights(config["N"])

    def exponent(self, config: Config) -> float:
        return 0.0

    def rival_exponent(self, config: Config) -> float:
        return -(config["alpha"] - 1)


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
        )
