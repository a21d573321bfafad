"""The shapes laws take, shared by the paper's sections and the conjectures: a rate in the
dimension ``d`` (``RateInDimension``, and ``SchemeRate`` for a memory built by a scheme), a
boundary in the ``(d, T)`` plane (``BoundaryInData``), and an ordering of paired runs
(``Ordering``); the named exponents of the paper's rates; and the helpers that run the paper's
training (``run``) and pair two conditions on the same seeds (``paired``, ``row_slopes``).
A section module subclasses these and holds only its laws."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from memlaws.kernel import sample_counts, scheme_errors
from memlaws.kernel.training import train
from memlaws.theory.law import Config, Law, Measurement, Parameter, Prediction
from memlaws.theory.profiles import draws
from memlaws.theory.setting import (
    ALPHA,
    CLASSES,
    PAPER_RUN,
    ZipfSetting,
    as_array,
    grid,
    seed_means,
    training_setup,
    zipf_setting,
)
from memlaws.theory.statistics import (
    curve_slope,
    first_crossing,
    geometric_grid,
    loglog_slopes,
)

Weights = torch.Tensor | Callable[[int], torch.Tensor]


# ---------------------------------------------------------------------------------------------
# The paper's exponents


def data_exponent(alpha: float) -> float:
    """``−(1 − 1/α)``: the memoriser's error in ``T`` (Proposition 1) and the data term."""
    return -(1 - 1 / alpha)


def frequency_exponent(alpha: float, rho: float = 1.0) -> float:
    """``−(α − 1)/(2ρα)``: the error in ``d`` of the memory storing ``q = p^ρ`` (Theorem 1)."""
    return -(alpha - 1) / (2 * rho * alpha)


def threshold_exponent(alpha: float) -> float:
    """``−(α − 1)``: the error in ``d`` of thresholding, the best scheme (Theorem 1)."""
    return -(alpha - 1)


def allocation_exponent(alpha: float) -> float:
    """``1/α``: the exponent in ``T`` of the boundary ``d*(T)`` (Section 4)."""
    return 1 / alpha


# ---------------------------------------------------------------------------------------------
# A rate in d


class RateInDimension(Law):
    """A law ``𝓔 ≍ d^exponent`` for one memory scheme, checked by its log-log slope in ``d``.

    A seed's statistic is the mean of the slopes of ``draws_per_seed`` independent draws
    (embeddings, and data where the scheme uses them): variance reduction for the few heavy
    tokens whose retrieval decides the error. With ``pool_draws`` it is the slope of the draws'
    mean error instead, whose expectation is close to the slope of ``E[𝓔]`` that a model of the
    mean error predicts (the mean of log-slopes differs from it by the draws' relative variance,
    about 0.01 at R3a's reference, divided by the number of draws pooled). The tolerance is the
    law's declared ``finite_allowance``, a property of the measurement's range, never of the
    claimed value."""

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
    pool_draws = (
        False  # a seed's statistic: the slope of its draws' mean error, not their mean slope
    )
    finite_allowance: float  # the declared finite-range allowance (with ``tolerance_reason``)
    claim_label = ""  # what the claimed exponent is, where it is not the bare asymptote

    @abstractmethod
    def exponent(self, config: Config) -> float:
        """The claimed exponent of ``d``."""

    @abstractmethod
    def rival_exponent(self, config: Config) -> float:
        """The rival's exponent of ``d``."""

    def tolerance(self, config: Config) -> float:
        return self.finite_allowance

    def predicted(self, config: Config) -> Prediction:
        return Prediction("point", self.exponent(config), self.tolerance(config), self.claim_label)

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
        curves = seed_means(errors, k)
        if self.pool_draws:
            slopes = loglog_slopes(as_array(dims), curves)
        else:
            slopes = seed_means(loglog_slopes(as_array(dims), errors), k)
        return Measurement(
            statistic=slopes,
            x=as_array(dims),
            curves=curves,
            xlabel="d (dimension)",
            ylabel="population error" + (f" (mean of {k} draws)" if k > 1 else ""),
            scales=("log", "log"),
            fitted_slope=True,
        )


class SchemeRate(RateInDimension):
    """A rate in ``d`` of the memory ``W_q`` built by a scheme ``q`` with random embeddings."""

    @abstractmethod
    def weights(self, config: Config, setting: ZipfSetting, seeds: Sequence[int]) -> Weights:
        """The scheme's weights for the draws ``seeds``."""

    def error_measure(self, setting: ZipfSetting) -> torch.Tensor:
        """The measure ``[N]`` the error is taken under: ``p`` unless a law says otherwise."""
        return setting.probabilities

    def draw_errors(
        self, config: Config, dims: list[int], drawn: list[int], device: str
    ) -> np.ndarray:
        setting = zipf_setting(config)
        return scheme_errors(
            self.weights(config, setting, drawn),
            self.error_measure(setting),
            setting.targets,
            setting.n_classes,
            dims,
            drawn,
            device=device,
        ).numpy()


# ---------------------------------------------------------------------------------------------
# A boundary in (d, T)


class BoundaryInData(Law):
    """A boundary ``d*(T) ∝ T^(1/α)`` in the ``(d, T)`` plane, located per seed and per ``T`` as
    the first ``d`` where the error falls to a level, and checked by the slope of ``log d*``
    against ``log T``.

    The claim is the finite-range slope of the law's model of the boundary (``modelled_boundary``,
    computed from ``p`` alone, no simulation) over the same ``T`` grid; it tends to ``1/α`` as the
    range grows (``properties/test_verdicts.py``). The tolerance is the law's declared
    ``finite_allowance``, independent of the claimed value."""

    variable = "T"
    statistic = "slope of log d*(T) against log T, per seed"
    rival_name = "linear allocation d* ∝ T"
    per_octave_in_d = 3
    sizes_per_octave = 0.5
    finite_allowance: float  # the declared allowance (with ``tolerance_reason``)
    model_name: str  # what ``modelled_boundary`` is, for the claim's label

    @abstractmethod
    def modelled_boundary(self, config: Config, sizes: Sequence[int]) -> np.ndarray:
        """The model's boundary ``d*(T)`` for each ``T`` of ``sizes`` (``[K]``, float64), from
        the token law alone."""

    def modelled_slope(self, config: Config) -> float:
        """The slope of the modelled ``log d*`` against ``log T`` over the measured ``T`` grid."""
        sizes = self.sizes(config)
        boundary = self.modelled_boundary(config, sizes)
        return curve_slope(sizes, boundary)

    @abstractmethod
    def weights(self, config: Config, counts: torch.Tensor, seeds: Sequence[int]) -> Weights:
        """The scheme's weights from counts ``[R, N]``."""

    @abstractmethod
    def levels(self, setting: ZipfSetting, counts: torch.Tensor, errors: np.ndarray) -> np.ndarray:
        """The error level ``[R]`` whose first crossing defines ``d*`` (errors ``[R, D]``)."""

    def error_measure(self, setting: ZipfSetting, counts: torch.Tensor) -> torch.Tensor:
        """The measure the boundary's error is taken under: ``p`` unless a law says otherwise."""
        return setting.probabilities

    def check_admissible(self, config: Config) -> None:
        if config["T_max"] > config["N"] ** config["alpha"] / 100:
            raise ValueError("T_max must be at most N^alpha / 100 (T ≪ N^α)")

    def sizes(self, config: Config) -> list[int]:
        return geometric_grid(config["T_min"], config["T_max"], self.sizes_per_octave)

    def tolerance(self, config: Config) -> float:
        return self.finite_allowance

    def predicted(self, config: Config) -> Prediction:
        label = f"finite-range slope of {self.model_name} (→ 1/α)"
        return Prediction("point", self.modelled_slope(config), self.tolerance(config), label)

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
            scales=("log", "log"),
            fitted_slope=True,
            exact=self.modelled_boundary(config, sizes),
            exact_label=f"model: {self.model_name} (its slope is the claim)",
        )


# ---------------------------------------------------------------------------------------------
# Orderings of paired runs

VISIBLE_ERROR = 0.005
MINIMUM_EFFECT_REASON = (
    f"an ordering with a minimum effect: an error difference of {VISIBLE_ERROR} over the "
    "compared range (half a percentage point of population error, about the p-mass of one "
    "token at the retrieval edge of the reference setting: p(x) ≈ 0.005 for x ≈ 10 at N = 100, "
    "α = 2); smaller differences are below what the paper's figures could show. The interval "
    "must lie wholly above it"
)


def run(
    config: Config,
    seeds: Sequence[int],
    lrs: Sequence[float],
    device: str,
    options: Mapping[str, Any] | None = None,
    **paper: Any,
) -> np.ndarray:
    """Final population errors ``[S, L]`` of the paper's run for a law configuration (its ``N``,
    ``M``, ``alpha``, ``d``, batch size ``B`` (default 16) and ``niter`` steps), trained for
    ``seeds`` × step sizes ``lrs``. ``paper``: fields of the run in the paper's vocabulary
    (``model``, ``optimizer``, ``batch_size``, ``ntrain``, ``layernorm``); ``options``: kernel
    setup fields beyond it (``memlaws.theory.setting.training_setup``)."""
    fields = {key: config[key] for key in ("N", "M", "alpha", "d")}
    fields["batch_size"] = config.get("B", PAPER_RUN["batch_size"])
    fields |= paper
    if "ntrain" not in fields:
        fields["ntrain"] = config["niter"] * fields["batch_size"]
    setup = training_setup(fields, **(options or {}))
    return train(setup, list(seeds), list(lrs), device=device).errors.numpy()


def paired(
    first: np.ndarray, second: np.ndarray, label: str, names: tuple[str, str]
) -> Measurement:
    """Two conditions run on the same seeds: the statistic is ``first − second`` per seed."""
    return Measurement(
        first - second, np.array([0.0, 1.0]), np.stack([first, second], axis=1), label, "error",
        series=names,
    )  # fmt: skip


def row_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of each row of ``y`` (``[S, K]``) against ``x`` (``[K]``)."""
    centred = x - x.mean()
    return (y - y.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)


class Ordering(Law):
    """A claim that a per-seed paired statistic exceeds a declared minimum effect; the rival is
    no effect or the reverse order (the statistic at most 0)."""

    tolerance_reason = MINIMUM_EFFECT_REASON
    minimum_effect = VISIBLE_ERROR  # in the statistic's units
    claim = ""
    seconds_per_seed = 0.01

    def predicted(self, config: Config) -> Prediction:
        return Prediction("above", self.minimum_effect, 0.0, self.claim)

    def rival(self, config: Config) -> Prediction:
        return Prediction("below", 0.0, 0.0, self.rival_name)
