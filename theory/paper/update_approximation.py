"""Section 5 of the paper: the update approximation of one-pass SGD (R4a, R4b).

SGD from ``W₀ = 0`` with unit-norm outputs builds ``W_t ≈ Σ_x q_t(x) u_{f*(x)} e_xᵀ`` with
``q ← q + γ / (1 + e^q / (M − 1))`` per occurrence (``memlaws.kernel.update_approximation``). Both
the trainer and the approximate memory use the same seed's embeddings and data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memlaws.kernel.training import train
from memlaws.kernel.update_approximation import approximate_error_curves, approximate_weight_curves
from memlaws.theory.law import Config, Measurement, Parameter
from memlaws.theory.profiles import draws
from memlaws.theory.setting import as_array, fixed, zero_start_setup, zipf_setting
from memlaws.theory.shapes import (
    Ordering,
    RateInDimension,
    frequency_exponent,
    threshold_exponent,
)
from memlaws.theory.statistics import loglog_slopes

APPROXIMATION_DIMS = (5, 10, 20, 40, 80, 160)
RECORD_EVERY = 10
DRAWS_PER_SEED = 4  # R4a: seed s averages the gap over the draws 4s … 4s + 3 (embeddings, data)


def sgd_and_approximation(
    config: Config,
    dims: Sequence[int],
    seeds: Sequence[int],
    device: str = "cpu",
    record_every: int = RECORD_EVERY,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Error curves of real SGD from ``W₀ = 0`` (``zero_start_setup``) and of the ``q_γ`` memory
    on the same seeds' embeddings and data, every ``record_every`` steps, at each ``d`` of
    ``dims``, for a configuration's ``N, M, alpha, lr, B, niter``: ``steps`` ``[K]``, ``sgd``
    and ``approximation`` ``[S, D, K]``."""
    setting = zipf_setting(config)
    n_samples = config["niter"] * config["B"]
    steps, q = approximate_weight_curves(
        setting.probabilities, n_samples, list(seeds), config["M"], config["lr"], config["B"],
        record_every,
    )  # fmt: skip
    sgd, approximation = [], []
    for dim in dims:
        setup = zero_start_setup(config, dim, config["B"], n_samples)
        run = train(setup, list(seeds), [config["lr"]], device=device, record_every=record_every)
        sgd.append(run.curves[:, 0].numpy())
        approximation.append(
            approximate_error_curves(
                q, setting.probabilities, setting.targets, setting.n_classes, dim, list(seeds),
                device,
            ).numpy()
        )  # fmt: skip
    return np.asarray(steps, dtype=float), np.stack(sgd, axis=1), np.stack(approximation, axis=1)


class ApproximationGap(Ordering):
    spec = "R4a"
    source = "Section 5 (update approximation)"
    statement = (
        "The memory built from q_γ tracks real SGD's error over the steps, with a relative gap "
        "that shrinks as d grows (embeddings closer to orthogonal)."
    )
    statistic = (
        "−(slope of log relative gap against log d over d ∈ {5, …, 160}); relative gap = "
        "mean over steps and over the seed's 4 draws of |𝓔_SGD − 𝓔_qγ|, divided by the same "
        "mean of 𝓔_SGD, per seed"
    )
    claim = "the relative gap shrinks with d"
    rival_name = "the gap does not shrink"
    variable = "d"
    minimum_effect = 0.2
    tolerance_reason = (
        "an ordering with a minimum effect of 0.2 = ln 2 / ln 32: 'shrinking' means the relative "
        "gap at least halves over the 32-fold range of d; the interval must lie wholly above it"
    )
    seconds_per_seed = 0.13
    domain = "the paper's R4 setting: N = 100, M = 5, α = 2, γ = 1, batches of 1000, 100 steps"
    parameters = {
        "N": fixed(100, "number of tokens"),
        "M": fixed(5, "number of classes"),
        "alpha": fixed(2.0, "Zipf exponent α"),
        "lr": Parameter(0.5, 2.0, 1.0, "float", "SGD step size γ"),
        "B": fixed(1000, "batch size"),
        "niter": fixed(100, "number of steps"),
    }
    beyond = ({"lr": 10.0}, {"lr": 100.0})

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        drawn = draws(list(seeds), DRAWS_PER_SEED)
        _, sgd, approx = sgd_and_approximation(config, APPROXIMATION_DIMS, drawn, device)
        gaps = np.zeros((len(seeds), len(APPROXIMATION_DIMS)))
        for k in range(len(APPROXIMATION_DIMS)):
            shape = (len(seeds), DRAWS_PER_SEED * sgd.shape[2])  # a seed's draws, all steps
            gap = np.abs(sgd[:, k] - approx[:, k]).reshape(shape).mean(axis=1)
            gaps[:, k] = gap / sgd[:, k].reshape(shape).mean(axis=1)
        return Measurement(
            -loglog_slopes(as_array(list(APPROXIMATION_DIMS)), gaps),
            as_array(list(APPROXIMATION_DIMS)),
            gaps,
            "d (dimension)",
            "relative gap |error(SGD) − error(q_γ)| / error(SGD)",
            scales=("log", "log"),
        )


class SmallStepRate(RateInDimension):
    spec = "R4b"
    source = "Section 5 (small step size)"
    statement = (
        "SGD with a small step builds q_T ≈ γ·n_x ∝ p̂ and inherits the R3a rate 𝓔 ≍ d^−(α−1)/(2α)."
    )
    domain = (
        "small steps: γ = 10⁻³ with batches of 1000, so q stays ≈ γ·n_x/B far from saturation; "
        "W₀ = 0, T = 10⁵, N ≫ d"
    )
    parameters = {
        **RateInDimension.parameters,
        "N": Parameter(1_000, 10_000, 1_000, "log_int", "number of tokens"),
        "d_min": Parameter(16, 16, 16, "int", "smallest dimension"),
        "lr": fixed(0.001, "SGD step size γ"),
        "B": fixed(1000, "batch size"),
        "niter": fixed(100, "number of steps"),
        "d_max": Parameter(128, 256, 128, "log_int", "largest dimension"),
    }
    beyond = ({"lr": 1.0}, {"lr": 10.0})
    rival_name = "fill-like rate d^−(α−1) of a large step"
    draws_per_seed = 4
    seconds_per_seed = 0.4
    finite_allowance = 0.08
    tolerance_reason = (
        "finite range, independent of the claimed exponent: over d ∈ [16, 128] the p̂-like SGD "
        "memory's slope is steeper than its asymptote (as R2a's local slopes steepen when d "
        "falls: −0.29 over [8, 256] for q = p); measured −0.056 ± 0.032 (32 draws, N = 5000), "
        "−0.037 ± 0.022 (128 draws, N = 2000), −0.064 ± 0.018 and −0.056 ± 0.042 (64 and 16 "
        "draws, N = 1000): about −0.05 ± 0.01 pooled, allowance 0.08. Tokens beyond the 1000th "
        "carry 6·10⁻⁴ of the mass and are never retrieved here"
    )

    def exponent(self, config: Config) -> float:
        return frequency_exponent(config["alpha"])

    def rival_exponent(self, config: Config) -> float:
        return threshold_exponent(config["alpha"])

    def draw_errors(
        self, config: Config, dims: list[int], drawn: list[int], device: str
    ) -> np.ndarray:
        n_samples = config["niter"] * config["B"]
        setups = [zero_start_setup(config, dim, config["B"], n_samples) for dim in dims]
        runs = [train(setup, drawn, [config["lr"]], device=device) for setup in setups]
        return np.stack([run.errors[:, 0].numpy() for run in runs], axis=1)
