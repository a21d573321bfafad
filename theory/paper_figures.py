"""The paper's figures (reference-setting.md), drawn from the kernel as PNG through matplotlib's
Agg backend.

Each figure is a pure data function of a profile's ``Budget`` (seeds ``0 … k−1``, grid sizes)
returning named numpy arrays, and a drawing function of those arrays. The paper's N, M, α and
d, T ranges are kept; profiles cut seeds and grid points first, and each caption says what was
used and where it departs from the paper. Bands are two-sided t-intervals over seeds at the
report's level.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from kernel import (
    empirical_power_weights,
    fill_seen_weights,
    fill_weights,
    input_embeddings,
    memory_scores,
    modular_targets,
    output_embeddings,
    population_error,
    power_weights,
    readout,
    sample_counts,
    scheme_errors,
    threshold_weights,
    zipf_probabilities,
)
from kernel.training import TrainingSetup, train
from kernel.update_approximation import approximate_error_curves, approximate_weight_curves
from kernel.validation import choice
from theory.figures import mean_and_band
from theory.finite_memory import ThresholdAllocation
from theory.optimisation import PAPER_BATCHES, PAPER_STEPS, TwoDimensions, run
from theory.profiles import PROFILES
from theory.progress import Progress
from theory.random_embeddings import THRESHOLD_FRACTION, kept_tokens
from theory.statistics import LEVEL, first_crossing, geometric_grid
from theory.update_approximation import sgd_setup

Arrays = dict[str, np.ndarray]
DPI = 110
FOLDER = "figures/paper"
CLASSES = 5  # M in every figure but the learned embeddings' sweep over M
MARKED_POINTS = 30  # curves with more points are drawn without markers
BANDS = f"Bands: {LEVEL:.0%} t-intervals of the mean over seeds."

SCHEMES_TOKENS, SCALING_ALPHA = 1000, 2.0
SCALING_DIMS = (10, 20, 50, 100, 200, 1000)
SCALING_SIZES = (10, 100, 1000, 10_000)
FILL_TOKENS, FILL_ALPHA = 100, 0.5
REFERENCE = {"N": 100, "M": CLASSES, "alpha": 2.0}  # the optimisation grid's setting
APPROXIMATION_DIM, APPROXIMATION_STEP, APPROXIMATION_BATCH, APPROXIMATION_STEPS = 10, 1.0, 1000, 100
SCHEDULE = {"N": 10, "M": CLASSES, "alpha": 1.5}
SCHEDULE_DIM, SCHEDULE_STEPS, SCHEDULE_DECAY_STEP = 5, 1000, 100
SCHEDULE_LARGE, SCHEDULE_SMALL, SCHEDULE_AFTER = 10.0, 0.1, 0.3
SGD_BATCH, BATCH_PANEL_STEP, LARGE_BATCH = 16, 10.0, 1024
EMBEDDING_TOKENS, EMBEDDING_DIM, EMBEDDING_STEP, EMBEDDING_BATCH = 100, 2, 0.1, 1000
EMBEDDING_STEPS = int(TwoDimensions.parameters["niter"].default)  # as law R6b
SCATTER_CLASSES, SCATTER_SEED = 5, 0
HEAT_TOKENS, HEAT_DIM, HEAT_ALPHA, HEAT_SAMPLES, HEAT_SEED = 10, 10, 1.0, 1000, 0


@dataclass(frozen=True)
class PaperFigure:
    """One drawn figure: ``file`` is relative to the report folder."""

    name: str
    title: str
    file: str
    caption: str


@dataclass(frozen=True)
class Budget:
    """What a profile simulates. ``seeds``: replicas of the figures built from schemes, the update
    approximation and the schedule; ``training_seeds``: of the optimisation grid and the learned
    embeddings. ``per_octave``: grid points per doubling of d and T (schemes, phase diagram).
    ``training_dims``, ``training_samples`` (T): the optimisation grid. ``embedding_classes``:
    the values of M of the learned embeddings. ``record_every``: the schedule's curve step."""

    seeds: int
    training_seeds: int
    per_octave: float
    training_dims: tuple[int, ...]
    training_samples: int
    embedding_classes: tuple[int, ...]
    record_every: int


BUDGETS = {
    "ci": Budget(
        seeds=2,
        training_seeds=2,
        per_octave=0.5,
        training_dims=(10, 50, 200),
        training_samples=1024,
        embedding_classes=(1, 5, 25),
        record_every=50,
    ),
    "quick": Budget(
        seeds=8,
        training_seeds=4,
        per_octave=1.0,
        training_dims=(10, 20, 50, 100, 200),
        training_samples=10_240,
        embedding_classes=(1, 2, 5, 10, 20, 50, 100),
        record_every=10,
    ),
    "standard": Budget(
        seeds=32,
        training_seeds=10,
        per_octave=2.0,
        training_dims=(10, 20, 50, 100, 200, 500),
        training_samples=10_240,
        embedding_classes=(1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100),
        record_every=5,
    ),
    "thorough": Budget(
        seeds=100,
        training_seeds=10,
        per_octave=3.0,
        training_dims=(10, 20, 50, 100, 200, 500, 1000),
        training_samples=10_240,
        embedding_classes=tuple(range(1, 101)),
        record_every=5,
    ),
}


def budget_for(profile: str) -> Budget:
    """The budget of ``profile`` (one of ``theory.profiles.PROFILES``)."""
    return BUDGETS[choice("profile", profile, PROFILES)]


def _dim_grid(budget: Budget) -> list[int]:
    """d from 10 to 1000 on the budget's log grid."""
    return geometric_grid(10, 1000, budget.per_octave)


def _size_grid(budget: Budget) -> list[int]:
    """T from 10 to 10⁴ on the budget's log grid."""
    return geometric_grid(10, 10_000, budget.per_octave)


def _seeds(count: int) -> list[int]:
    """Seeds ``0 … count−1``."""
    return list(range(count))


def _seed_text(count: int) -> str:
    return f"seeds 0–{count - 1} ({count})"


def _listed(values: Sequence[float]) -> str:
    """``{a, b, c}`` in the given order."""
    return "{" + ", ".join(f"{v:g}" for v in values) + "}"


# ---------------------------------------------------------------------------------------------
# Drawing helpers


def _new_figure(columns: int = 1, width: float = 5.5) -> tuple[Figure, list[Axes]]:
    figure, axes = plt.subplots(
        1, columns, figsize=(width * columns, 4.0), dpi=DPI, squeeze=False, layout="constrained"
    )
    return figure, list(axes[0])


def _mean_band(
    axes: Axes,
    x: np.ndarray,
    values: np.ndarray,
    colour: str,
    label: str,
    style: str = "-",
) -> np.ndarray:
    """Plot the mean over seeds of ``values`` (``[S, K]``) with its band; returns the mean
    ``[K]``. The band's lower edge is clipped to stay positive on log axes."""
    mean, half = mean_and_band(values)
    positive = values[values > 0]
    floor = positive.min() / 2 if positive.size else 1e-6
    axes.fill_between(
        x, np.maximum(mean - half, floor), mean + half, color=colour, alpha=0.18, lw=0
    )
    marker = "o" if len(x) <= MARKED_POINTS else None
    axes.plot(x, mean, style, color=colour, marker=marker, ms=3, lw=1.4, label=label)
    return mean


def _fit_limits(axes: Axes, curves: Sequence[np.ndarray], log: bool = True) -> None:
    """Set the y-range from the plotted means (not their bands, which few seeds make wide)."""
    values = np.concatenate([np.ravel(c) for c in curves])
    values = values[np.isfinite(values)]
    if log:
        values = values[values > 0]
    low, high = values.min(), values.max()
    if log:
        axes.set_ylim(low / 1.6, high * 1.6)
    else:
        margin = 0.08 * (high - low) or 0.05
        axes.set_ylim(low - margin, high + margin)


def _reference(
    axes: Axes, x: np.ndarray, anchor: np.ndarray, slope: float, label: str, colour: str = "k"
) -> np.ndarray:
    """Dashed line ``∝ x^slope`` through the geometric centre of the positive ``anchor`` curve;
    returns its values."""
    usable = np.isfinite(anchor) & (anchor > 0)
    centre_x = np.exp(np.log(x[usable]).mean())
    centre_y = np.exp(np.log(anchor[usable]).mean())
    line = centre_y * (x / centre_x) ** slope
    axes.plot(x, line, "--", color=colour, lw=1, label=label)
    return line


def _log_axes(axes: Axes, xlabel: str, ylabel: str, title: str) -> None:
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="major", alpha=0.3)


def _power(value: float) -> str:
    """``10^k`` in mathtext for a power of ten."""
    return f"$10^{{{round(math.log10(value))}}}$"


def _ratio(value: float) -> str:
    """A simple fraction, e.g. ``1/2``, for an exponent."""
    fraction = Fraction(value).limit_denominator(12)
    return str(fraction.numerator) if fraction.denominator == 1 else str(fraction)


def _legend_below(axes: Axes, columns: int = 2) -> None:
    """A legend under the axes, clear of the data."""
    axes.legend(
        fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=columns, frameon=False
    )


def _geometric_edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges ``[K + 1]`` around log-spaced ``centres`` ``[K]``, halfway in log scale."""
    logs = np.log(centres)
    middle = (logs[1:] + logs[:-1]) / 2
    first, last = 2 * logs[0] - middle[0], 2 * logs[-1] - middle[-1]
    return np.exp(np.concatenate([[first], middle, [last]]))


def _save(figure: Figure, path: Path) -> None:
    """Write ``figure`` to a temporary file, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    try:
        figure.savefig(temporary, dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(figure)
    os.replace(temporary, path)


# ---------------------------------------------------------------------------------------------
# 1. Schemes in d (infinite data)

SCHEME_LABELS = ("q = 1 (all tokens)", "q = p", f"q = 1{{x ≤ d/{THRESHOLD_FRACTION}}}")


def schemes_in_d_data(budget: Budget, device: str = "cpu") -> Arrays:
    """Population error of three schemes with random embeddings: ``dims`` ``[D]``, ``errors``
    ``[S, 3, D]`` (schemes in the order of ``SCHEME_LABELS``)."""
    p = zipf_probabilities(SCHEMES_TOKENS, SCALING_ALPHA)
    targets = modular_targets(SCHEMES_TOKENS, CLASSES)
    dims = _dim_grid(budget)
    tables = (
        fill_weights(SCHEMES_TOKENS),
        power_weights(p, 1.0),
        lambda dim: threshold_weights(p, kept_tokens(dim)),
    )
    errors = [
        scheme_errors(q, p, targets, CLASSES, dims, _seeds(budget.seeds), device=device).numpy()
        for q in tables
    ]
    return {"dims": np.asarray(dims, dtype=float), "errors": np.stack(errors, axis=1)}


def draw_schemes_in_d(data: Arrays) -> Figure:
    figure, (axes,) = _new_figure()
    x, errors = data["dims"], data["errors"]
    means = [_mean_band(axes, x, errors[:, j], f"C{j}", SCHEME_LABELS[j]) for j in range(3)]
    means.append(_reference(axes, x, means[1], -0.25, r"$d^{-1/4}$ (reference)", "C1"))
    means.append(_reference(axes, x, means[2], -1.0, r"$d^{-1}$ (reference)", "C2"))
    _log_axes(axes, "d (embedding dimension)", "population error", "Schemes in d (T = ∞)")
    _fit_limits(axes, means)
    axes.legend(fontsize=7, loc="lower left")
    return figure


def schemes_in_d_caption(budget: Budget) -> str:
    return (
        f"N = {SCHEMES_TOKENS}, M = {CLASSES}, α = {SCALING_ALPHA:g}, {len(_dim_grid(budget))} "
        f"values of d from 10 to 1000, {_seed_text(budget.seeds)} (the paper: 100 seeds). "
        "Look for q = 1 staying near chance, q = p following d^(−1/4) and thresholding "
        "following d^(−1); reference lines pass through the geometric centre of their curve. "
        + BANDS
    )


# ---------------------------------------------------------------------------------------------
# 2. Scaling in d and T (thresholding seen tokens)


def scaling_data(budget: Budget, device: str = "cpu") -> Arrays:
    """Error of keeping the ``d/8`` most frequent seen tokens: ``dims`` ``[D]``, ``sizes``
    ``[K]`` (T), ``errors`` ``[S, K, D]``."""
    p = zipf_probabilities(SCHEMES_TOKENS, SCALING_ALPHA)
    targets = modular_targets(SCHEMES_TOKENS, CLASSES)
    seeds = _seeds(budget.seeds)
    counts = sample_counts(p, SCALING_SIZES, seeds)  # [S, K, N]
    errors = np.stack(
        [
            scheme_errors(
                ThresholdAllocation().weights({}, counts[:, k], seeds),
                p,
                targets,
                CLASSES,
                SCALING_DIMS,
                seeds,
                device=device,
            ).numpy()
            for k in range(len(SCALING_SIZES))
        ],
        axis=1,
    )
    return {
        "dims": np.asarray(SCALING_DIMS, dtype=float),
        "sizes": np.asarray(SCALING_SIZES, dtype=float),
        "errors": errors,
    }


def draw_scaling(data: Arrays) -> Figure:
    figure, (in_d, in_t) = _new_figure(2)
    dims, sizes, errors = data["dims"], data["sizes"], data["errors"]
    colours = plt.get_cmap("viridis")
    means = [
        _mean_band(in_d, dims, errors[:, k], colours(k / (len(sizes) - 1)), f"T = {_power(t)}")
        for k, t in enumerate(sizes)
    ]
    exponent = SCALING_ALPHA - 1
    means.append(_reference(in_d, dims, means[-1], -exponent, f"$d^{{-{_ratio(exponent)}}}$"))
    _log_axes(in_d, "d (embedding dimension)", "population error", "Error against d")
    _fit_limits(in_d, means)
    in_d.legend(fontsize=7, loc="lower left")
    means = [
        _mean_band(in_t, sizes, errors[:, :, j], colours(j / (len(dims) - 1)), f"d = {d:g}")
        for j, d in enumerate(dims)
    ]
    rate = 1 - 1 / SCALING_ALPHA
    means.append(_reference(in_t, sizes, means[-1], -rate, f"$T^{{-{_ratio(rate)}}}$"))
    _log_axes(in_t, "T (training tokens)", "population error", "Error against T")
    _fit_limits(in_t, means)
    in_t.legend(fontsize=7, loc="lower left", ncol=2)
    return figure


def scaling_caption(budget: Budget) -> str:
    return (
        f"Thresholding on seen tokens (keep the P = d/{THRESHOLD_FRACTION} most frequent), "
        f"N = {SCHEMES_TOKENS}, M = {CLASSES}, α = {SCALING_ALPHA:g}, d ∈ {_listed(SCALING_DIMS)}, "
        f"T ∈ {{10, 10², 10³, 10⁴}}, {_seed_text(budget.seeds)} (the paper: 100). The largest T "
        "should follow d^(−(α−1)) and the largest d should follow T^(−1+1/α); small T (or d) "
        "flattens the other curve at the data (or memory) limit. Reference lines pass through "
        "the geometric centre of the largest T (d) curve. " + BANDS
    )


# ---------------------------------------------------------------------------------------------
# 3. Fill phase diagram over (d, T)


def fill_phase_data(budget: Budget, device: str = "cpu") -> Arrays:
    """The fill scheme ``q = 1{n_x > 0}`` over a ``(T, d)`` grid: ``dims`` ``[D]``, ``sizes``
    ``[K]``, ``errors`` ``[S, K, D]`` (under p), ``boundary`` ``[K]`` (the d where the
    seed-mean error over seen tokens, counted uniformly, first falls to half of chance, as law
    R3b), ``seen`` ``[K]`` (expected number of distinct seen tokens), and the constants of the
    lines ``d = c·T^(1/α)`` and ``d = c'·seen`` fitted to the boundary in log scale."""
    p = zipf_probabilities(FILL_TOKENS, FILL_ALPHA)
    targets = modular_targets(FILL_TOKENS, CLASSES)
    seeds = _seeds(budget.seeds)
    dims, sizes = _dim_grid(budget), _size_grid(budget)
    counts = sample_counts(p, sizes, seeds)  # [S, K, N]
    errors = np.zeros((len(seeds), len(sizes), len(dims)))
    over_seen = np.zeros_like(errors)
    for k in range(len(sizes)):
        q = fill_seen_weights(counts[:, k])
        seen_measure = q / q.sum(-1, keepdim=True)
        for measure, out in ((p, errors), (seen_measure, over_seen)):
            out[:, k] = scheme_errors(
                q, measure, targets, CLASSES, dims, seeds, device=device
            ).numpy()
    level = (1 - 1 / CLASSES) / 2
    boundary = np.array(
        [
            first_crossing(np.asarray(dims, float), over_seen[:, k].mean(0)[None], level)[0]
            for k in range(len(sizes))
        ]
    )
    size_array = np.asarray(sizes, dtype=float)
    seen = (1 - (1 - p.numpy()[None]) ** size_array[:, None]).sum(-1)
    return {
        "dims": np.asarray(dims, dtype=float),
        "sizes": size_array,
        "errors": errors,
        "boundary": boundary,
        "seen": seen,
        "power_constant": np.array(_log_constant(boundary, size_array ** (1 / FILL_ALPHA))),
        "seen_constant": np.array(_log_constant(boundary, seen)),
    }


def _log_constant(target: np.ndarray, shape: np.ndarray) -> float:
    """``c`` minimising ``Σ (log target − log(c·shape))²`` over the finite targets."""
    usable = np.isfinite(target)
    if not usable.any():
        return math.nan
    return float(np.exp(np.mean(np.log(target[usable]) - np.log(shape[usable]))))


def draw_fill_phase(data: Arrays) -> Figure:
    figure, (axes,) = _new_figure(width=6.5)
    dims, sizes = data["dims"], data["sizes"]
    mean = data["errors"].mean(0).T  # [D, K]
    norm = LogNorm(vmin=1e-3, vmax=1.0, clip=True)
    mesh = axes.pcolormesh(
        _geometric_edges(sizes),
        _geometric_edges(dims),
        np.maximum(mean, 1e-3),
        norm=norm,
        cmap="viridis",
        shading="flat",
    )
    figure.colorbar(mesh, ax=axes, label="population error (mean over seeds)")
    axes.plot(
        sizes,
        data["boundary"],
        "o",
        color="w",
        mec="k",
        ms=5,
        label="d where the error over seen tokens is half of chance",
    )
    axes.plot(
        sizes,
        data["power_constant"] * sizes ** (1 / FILL_ALPHA),
        "--",
        color="C3",
        lw=1.5,
        label=rf"$d \propto T^{{1/\alpha}} = T^{{{1 / FILL_ALPHA:g}}}$ (fitted constant)",
    )
    axes.plot(
        sizes,
        data["seen_constant"] * data["seen"],
        ":",
        color="orange",
        lw=2,
        label="d ∝ E[# seen tokens] (fitted constant)",
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(_geometric_edges(sizes)[[0, -1]])
    axes.set_ylim(_geometric_edges(dims)[[0, -1]])
    axes.set_xlabel("T (training tokens)")
    axes.set_ylabel("d (embedding dimension)")
    axes.set_title(
        f"Fill scheme q = 1{{x seen}}, N = {FILL_TOKENS}, α = {FILL_ALPHA:g}", fontsize=10
    )
    _legend_below(axes, columns=1)
    return figure


def fill_phase_caption(budget: Budget) -> str:
    dims, sizes = _dim_grid(budget), _size_grid(budget)
    return (
        f"q = 1{{x seen}}, N = {FILL_TOKENS}, M = {CLASSES}, α = {FILL_ALPHA:g}; {len(dims)} "
        f"values of d in [10, 1000] × {len(sizes)} values of T in [10, 10⁴], "
        f"{_seed_text(budget.seeds)} (the paper: 100 seeds, a finer grid). Colour: mean error "
        "under p (log scale, clipped at 10⁻³). Dots: the first d at which the mean error over "
        "seen tokens, counted uniformly, falls to half of chance (law R3b's level); the dashed "
        "line d ∝ T^(1/α) and the dotted line d ∝ E[number of seen tokens] have their constant "
        "fitted to those dots in log scale. Look at which line the edge of the low-error "
        "region follows."
    )


# ---------------------------------------------------------------------------------------------
# 4. Real SGD against the q_γ update approximation


def update_approximation_data(budget: Budget, device: str = "cpu") -> Arrays:
    """Error per step of SGD from ``W₀ = 0`` and of the ``q_γ`` memory on the same seeds:
    ``steps`` ``[K]``, ``sgd`` and ``approximation`` ``[S, K]``."""
    seeds = _seeds(budget.seeds)
    n_samples = APPROXIMATION_STEPS * APPROXIMATION_BATCH
    setup = sgd_setup(REFERENCE, APPROXIMATION_DIM, APPROXIMATION_BATCH, n_samples)
    result = train(setup, seeds, [APPROXIMATION_STEP], device=device, record_every=1)
    p = zipf_probabilities(REFERENCE["N"], REFERENCE["alpha"])
    targets = modular_targets(REFERENCE["N"], CLASSES)
    steps, q = approximate_weight_curves(
        p, n_samples, seeds, CLASSES, APPROXIMATION_STEP, APPROXIMATION_BATCH, record_every=1
    )
    approximation = approximate_error_curves(
        q, p, targets, CLASSES, APPROXIMATION_DIM, seeds, device
    ).numpy()
    return {
        "steps": np.asarray(steps, dtype=float),
        "sgd": result.curves[:, 0].numpy(),
        "approximation": approximation,
    }


def draw_update_approximation(data: Arrays) -> Figure:
    figure, (axes,) = _new_figure()
    steps = data["steps"]
    means = [
        _mean_band(axes, steps, data["sgd"], "C0", f"SGD, γ = {APPROXIMATION_STEP:g}"),
        _mean_band(
            axes,
            steps,
            data["approximation"],
            "C3",
            r"memory of $q_\gamma$ (update approximation)",
            style="--",
        ),
    ]
    axes.set_yscale("log")
    axes.set_xlabel(f"step (batches of {APPROXIMATION_BATCH} tokens)")
    axes.set_ylabel("population error")
    axes.set_title(rf"SGD against $q_\gamma$ (d = {APPROXIMATION_DIM})", fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    _fit_limits(axes, means)
    axes.legend(fontsize=7, loc="upper right")
    return figure


def update_approximation_caption(budget: Budget) -> str:
    return (
        f"N = {REFERENCE['N']}, M = {CLASSES}, α = {REFERENCE['alpha']:g}, d = "
        f"{APPROXIMATION_DIM}, SGD with γ = {APPROXIMATION_STEP:g} on batches of "
        f"{APPROXIMATION_BATCH} for {APPROXIMATION_STEPS} steps from W₀ = 0 with unit-norm u, "
        f"and the memory of the q_γ weights on the same tokens and embeddings; "
        f"{_seed_text(budget.seeds)} (the paper: 100). The two curves should share their trend "
        "and order of magnitude. " + BANDS
    )


# ---------------------------------------------------------------------------------------------
# 5. The optimisation grid: step size, batch size, Adam against SGD, layer norm


def optimisation_data(budget: Budget, device: str = "cpu") -> Arrays:
    """Final errors of the matrix model over the grid, ``dims`` ``[D]`` and, with ``L`` the
    paper's step sizes: ``sgd``, ``adam``, ``layernorm`` (SGD with layer norm) at B = 16 and
    ``sgd_large``, ``adam_large`` at B = 1024, each ``[S, D, L]``; ``batches`` ``[S, D, 4]``
    (SGD, γ = 10, one column per paper batch size)."""
    seeds, samples = _seeds(budget.training_seeds), budget.training_samples
    runs: dict[str, list[np.ndarray]] = {
        name: [] for name in ("sgd", "adam", "layernorm", "sgd_large", "adam_large", "batches")
    }
    for dim in budget.training_dims:
        config = REFERENCE | {"d": dim, "B": SGD_BATCH}
        large = config | {"B": LARGE_BATCH}
        runs["sgd"].append(run(config, seeds, PAPER_STEPS, device, n_samples=samples))
        runs["adam"].append(
            run(config, seeds, PAPER_STEPS, device, optimizer="adam", n_samples=samples)
        )
        runs["layernorm"].append(
            run(config, seeds, PAPER_STEPS, device, layernorm=True, n_samples=samples)
        )
        runs["sgd_large"].append(run(large, seeds, PAPER_STEPS, device, n_samples=samples))
        runs["adam_large"].append(
            run(large, seeds, PAPER_STEPS, device, optimizer="adam", n_samples=samples)
        )
        runs["batches"].append(
            np.concatenate(
                [
                    run(config | {"B": b}, seeds, [BATCH_PANEL_STEP], device, n_samples=samples)
                    for b in PAPER_BATCHES
                ],
                axis=1,
            )
        )
    data = {name: np.stack(values, axis=1) for name, values in runs.items()}
    data["dims"] = np.asarray(budget.training_dims, dtype=float)
    return data


def tuned(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per d, the step size whose seed-mean error is lowest: errors ``[S, D, L]`` →
    (errors at that step ``[S, D]``, the step sizes ``[D]``)."""
    best = errors.mean(axis=0).argmin(axis=1)
    return errors[:, np.arange(errors.shape[1]), best], np.asarray(PAPER_STEPS)[best]


def draw_optimisation(data: Arrays) -> Figure:
    figure, grid = plt.subplots(2, 2, figsize=(11, 8), dpi=DPI, layout="constrained")
    dims = data["dims"]
    step_colours = [f"C{j}" for j in range(len(PAPER_STEPS))]
    panels = grid.ravel()

    means = [
        _mean_band(panels[0], dims, data["sgd"][:, :, j], step_colours[j], f"γ = {s:g}")
        for j, s in enumerate(PAPER_STEPS)
    ]
    _finish_panel(panels[0], means, f"SGD, B = {SGD_BATCH}: step size")

    means = [
        _mean_band(panels[1], dims, data["batches"][:, :, j], f"C{j}", f"B = {b}")
        for j, b in enumerate(PAPER_BATCHES)
    ]
    _finish_panel(panels[1], means, f"SGD, γ = {BATCH_PANEL_STEP:g}: batch size")

    means = []
    for name, colour, label in (("sgd", "C0", "SGD"), ("adam", "C3", "Adam")):
        for suffix, style, batch in (("", "-", SGD_BATCH), ("_large", "--", LARGE_BATCH)):
            errors, steps = tuned(data[name + suffix])
            legend = f"{label}, B = {batch}, γ* ∈ {_listed(sorted(set(steps.tolist())))}"
            means.append(_mean_band(panels[2], dims, errors, colour, legend, style))
    _finish_panel(panels[2], means, "Adam against SGD, γ tuned per d")

    means = []
    for j in range(len(PAPER_STEPS)):
        means.append(_mean_band(panels[3], dims, data["sgd"][:, :, j], step_colours[j], ""))
        means.append(
            _mean_band(panels[3], dims, data["layernorm"][:, :, j], step_colours[j], "", "--")
        )
    handles = [
        Line2D([], [], color=c, label=f"γ = {s:g}")
        for c, s in zip(step_colours, PAPER_STEPS, strict=True)
    ]
    handles += [
        Line2D([], [], color="k", label="layer norm off"),
        Line2D([], [], color="k", ls="--", label="layer norm on"),
    ]
    _finish_panel(panels[3], means, f"SGD, B = {SGD_BATCH}: layer norm", handles)
    return figure


def _finish_panel(
    axes: Axes, means: list[np.ndarray], title: str, handles: list[Line2D] | None = None
) -> None:
    _log_axes(axes, "d (embedding dimension)", "population error", title)
    _fit_limits(axes, means)
    axes.legend(handles=handles, fontsize=7, loc="lower left", ncol=2 if handles else 1)


def optimisation_caption(budget: Budget) -> str:
    dims = budget.training_dims
    return (
        f"Matrix model (learn W; random W₀ and Gaussian U), N = {REFERENCE['N']}, M = {CLASSES}, "
        f"α = {REFERENCE['alpha']:g}, T = {budget.training_samples} tokens seen once, "
        f"d ∈ {_listed(dims)}, {_seed_text(budget.training_seeds)} (the paper: 10 seeds, d up "
        f"to 1000, T ∈ {{1024, 10240, 102400}}; only T = {budget.training_samples} is drawn). "
        f"Panels: SGD with B = {SGD_BATCH} per γ; SGD with γ = {BATCH_PANEL_STEP:g} per B; "
        f"SGD and Adam (β₁ = β₂ = 0, dimension-scaled steps) with γ tuned per d on the same "
        f"seeds, at B = {SGD_BATCH} and B = {LARGE_BATCH}; SGD with (dashed) and without "
        "(solid) layer norm per γ. The paper: error falls as γ grows, as B shrinks, with Adam "
        "and with layer norm. " + BANDS
    )


# ---------------------------------------------------------------------------------------------
# 6. Step-size schedule (submitted version)

SCHEDULE_LABELS = (
    f"constant γ = {SCHEDULE_LARGE:g}",
    f"constant γ = {SCHEDULE_SMALL:g}",
    f"γ = {SCHEDULE_LARGE:g}, then {SCHEDULE_AFTER:g} from step {SCHEDULE_DECAY_STEP}",
)


def schedule_data(budget: Budget, device: str = "cpu") -> Arrays:
    """Error per recorded step of SGD with batches of one token: ``steps`` ``[K]``, ``curves``
    ``[S, 3, K]`` (schedules in the order of ``SCHEDULE_LABELS``)."""
    seeds = _seeds(budget.seeds)
    setup = sgd_setup(SCHEDULE, SCHEDULE_DIM, 1, SCHEDULE_STEPS)
    constant = train(
        setup,
        seeds,
        [SCHEDULE_LARGE, SCHEDULE_SMALL],
        device=device,
        record_every=budget.record_every,
    )
    decaying_setup = replace(
        setup,
        schedule="step",
        decay_step=SCHEDULE_DECAY_STEP,
        decay_factor=SCHEDULE_AFTER / SCHEDULE_LARGE,
    )
    decaying = train(
        decaying_setup, seeds, [SCHEDULE_LARGE], device=device, record_every=budget.record_every
    )
    curves = torch.cat([constant.curves, decaying.curves], dim=1).numpy()
    return {"steps": np.asarray(constant.steps, dtype=float), "curves": curves}


def draw_schedule(data: Arrays) -> Figure:
    figure, (axes,) = _new_figure()
    steps, curves = data["steps"], data["curves"]
    means = [
        _mean_band(axes, steps, curves[:, j], f"C{j}", SCHEDULE_LABELS[j], style)
        for j, style in enumerate(("-", "-", "--"))
    ]
    axes.axvline(SCHEDULE_DECAY_STEP, color="grey", lw=0.8, ls=":")
    axes.set_xlim(0, steps[-1])
    axes.set_xlabel("step (one token per step)")
    axes.set_ylabel("population error")
    axes.set_title(f"Step-size schedules (N = {SCHEDULE['N']}, d = {SCHEDULE_DIM})", fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    _fit_limits(axes, [m[1:] for m in means], log=False)
    _legend_below(axes, columns=2)
    return figure


def schedule_caption(budget: Budget) -> str:
    return (
        f"Submitted version's setting: N = {SCHEDULE['N']}, M = {CLASSES}, d = {SCHEDULE_DIM} "
        f"(the memory overflows), α = {SCHEDULE['alpha']:g}, SGD with batches of one token for "
        f"{SCHEDULE_STEPS} steps from W₀ = 0 with unit-norm u, error every "
        f"{budget.record_every} steps, {_seed_text(budget.seeds)} (the paper: 100). The "
        "submitted claim, dropped from the final version: the decaying step (dashed; the same "
        "run as the constant γ = 10 up to step 100) ends below the large constant step. " + BANDS
    )


# ---------------------------------------------------------------------------------------------
# 7. Learned embeddings in two dimensions


def learned_embeddings_data(budget: Budget, device: str = "cpu") -> Arrays:
    """Learnable model at d = 2 trained by Adam: ``classes`` ``[C]`` (M), ``errors`` ``[S, C]``,
    ``floor`` and ``capacity`` ``[C]`` (the finite-data floor of R1 and the mass beyond
    d tokens, as law R6b), and for one seed at M = 5 the learned ``inputs`` ``[N, 2]``,
    ``readout`` ``[2, M]`` (columns of W U) and ``labels`` ``[N]``."""
    seeds = _seeds(budget.training_seeds)
    law = TwoDimensions()
    p = zipf_probabilities(EMBEDDING_TOKENS, REFERENCE["alpha"])
    errors, floors, capacities = [], [], []
    for m in budget.embedding_classes:
        config = {
            "N": EMBEDDING_TOKENS,
            "M": m,
            "alpha": REFERENCE["alpha"],
            "d": EMBEDDING_DIM,
            "B": EMBEDDING_BATCH,
            "niter": EMBEDDING_STEPS,
        }
        errors.append(
            run(config, seeds, [EMBEDDING_STEP], device, model="learnable", optimizer="adam")[:, 0]
        )
        floors.append(law.floor(config))
        capacities.append((1 - 1 / m) * float(p[EMBEDDING_DIM:].sum()))
    setup = TrainingSetup(
        "learnable",
        "adam",
        EMBEDDING_TOKENS,
        SCATTER_CLASSES,
        EMBEDDING_DIM,
        REFERENCE["alpha"],
        EMBEDDING_STEPS * EMBEDDING_BATCH,
        EMBEDDING_BATCH,
    )
    params = train(setup, [SCATTER_SEED], [EMBEDDING_STEP], device=device, return_params=True)
    params = params.params
    return {
        "classes": np.asarray(budget.embedding_classes, dtype=float),
        "errors": np.stack(errors, axis=1),
        "floor": np.asarray(floors),
        "capacity": np.asarray(capacities),
        "inputs": params["E"][0, 0].numpy(),
        "readout": (params["W"][0, 0] @ params["U"][0, 0]).numpy(),
        "labels": modular_targets(EMBEDDING_TOKENS, SCATTER_CLASSES).numpy(),
        "probabilities": p.numpy(),
    }


def draw_learned_embeddings(data: Arrays) -> Figure:
    figure, (sweep, scatter) = _new_figure(2)
    classes, errors = data["classes"], data["errors"]
    sweep.scatter(
        np.broadcast_to(classes, errors.shape),
        errors,
        s=5,
        color="C0",
        alpha=0.35,
        label="one seed",
    )
    mean = _mean_band(sweep, classes, errors, "C0", f"learned E, W, U (d = {EMBEDDING_DIM}), mean")
    sweep.plot(classes, data["floor"], "--", color="k", lw=1, label="finite-data floor (R1)")
    sweep.plot(
        classes,
        data["capacity"],
        ":",
        color="C3",
        lw=1.5,
        label=f"mass beyond {EMBEDDING_DIM} tokens (capacity ∝ d)",
    )
    sweep.set_xscale("log")
    sweep.set_xlabel("M (number of classes)")
    sweep.set_ylabel("population error")
    sweep.set_title("Learned embeddings at d = 2: error against M", fontsize=10)
    sweep.grid(True, which="major", alpha=0.3)
    _fit_limits(sweep, [mean, errors, data["floor"], data["capacity"]], log=False)
    _legend_below(sweep, columns=2)

    inputs, labels = data["inputs"], data["labels"]
    sizes = 8 + 60 * np.sqrt(data["probabilities"] / data["probabilities"].max())
    for y in range(SCATTER_CLASSES):
        mine = labels == y
        scatter.scatter(
            inputs[mine, 0],
            inputs[mine, 1],
            s=sizes[mine],
            color=f"C{y}",
            alpha=0.75,
            label=f"class {y}",
        )
    reach = np.abs(inputs).max()
    directions = data["readout"] / np.linalg.norm(data["readout"], axis=0, keepdims=True)
    for y in range(SCATTER_CLASSES):
        scatter.annotate(
            "",
            xy=directions[:, y] * reach,
            xytext=(0, 0),
            arrowprops={"arrowstyle": "->", "color": f"C{y}", "lw": 1.5},
        )
    scatter.set_aspect("equal", adjustable="datalim")
    scatter.set_xlabel("first coordinate of e_x")
    scatter.set_ylabel("second coordinate of e_x")
    scatter.set_title(
        f"Learned e_x, M = {SCATTER_CLASSES}, seed {SCATTER_SEED} (arrows: W u_y)", fontsize=10
    )
    scatter.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def learned_embeddings_caption(budget: Budget) -> str:
    classes = budget.embedding_classes
    listed = "1 to 100" if len(classes) == 100 else _listed(classes)
    return (
        f"Learnable model (E, W, U), N = {EMBEDDING_TOKENS}, α = {REFERENCE['alpha']:g}, d = "
        f"{EMBEDDING_DIM}, Adam (β = 0) with γ = {EMBEDDING_STEP:g} on batches of "
        f"{EMBEDDING_BATCH} for {EMBEDDING_STEPS} steps (as law R6b; reference-setting.md "
        f"states no step count), M ∈ {listed}, {_seed_text(budget.training_seeds)}. Left: error "
        "against M (dots: single seeds) with the finite-data floor and what a memory of d "
        "associations would leave; "
        f"right: seed {SCATTER_SEED}'s learned input embeddings at M = {SCATTER_CLASSES}, "
        "coloured by class, "
        "marker area growing with p(x), arrows along W u_y. " + BANDS
    )


# ---------------------------------------------------------------------------------------------
# 8. Memory heat maps

HEAT_LABELS = ("q = 1{x seen}", "q = p̂")


def heat_maps_data(budget: Budget, device: str = "cpu") -> Arrays:
    """Softmax over classes of the scores of two count-based memories for one seed:
    ``softmax`` ``[2, N, M]`` (schemes in the order of ``HEAT_LABELS``), ``targets`` ``[N]``,
    ``counts`` ``[N]`` and ``errors`` ``[2]``. Independent of the budget (one seed)."""
    p = zipf_probabilities(HEAT_TOKENS, HEAT_ALPHA)
    targets = modular_targets(HEAT_TOKENS, CLASSES)
    counts = sample_counts(p, HEAT_SAMPLES, [HEAT_SEED])[:, 0]  # [1, N]
    inputs = input_embeddings([HEAT_SEED], HEAT_TOKENS, HEAT_DIM, dtype=torch.float64)
    outputs = output_embeddings([HEAT_SEED], CLASSES, HEAT_DIM, kind="sphere", dtype=torch.float64)
    scores = torch.stack(
        [
            memory_scores(q, inputs, outputs, targets)[0]
            for q in (fill_seen_weights(counts), empirical_power_weights(counts, 1.0))
        ]
    )  # [2, N, M]
    return {
        "softmax": torch.softmax(scores, dim=-1).numpy(),
        "targets": targets.numpy(),
        "counts": counts[0].numpy(),
        "errors": population_error(readout(scores), targets, p).numpy(),
    }


def draw_heat_maps(data: Arrays) -> Figure:
    figure, panels = _new_figure(2, width=4.6)
    targets, counts = data["targets"], data["counts"]
    top = float(data["softmax"].max())
    image = None
    for axes, values, label, error in zip(
        panels, data["softmax"], HEAT_LABELS, data["errors"], strict=True
    ):
        image = axes.imshow(values, cmap="magma", vmin=0.0, vmax=top, aspect="auto")
        for x, y in enumerate(targets):
            axes.add_patch(Rectangle((y - 0.5, x - 0.5), 1, 1, fill=False, ec="c", lw=2))
        for (x, y), value in np.ndenumerate(values):
            axes.text(
                y,
                x,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="k" if value > 0.6 * top else "w",
            )
        axes.set_xticks(range(values.shape[1]))
        axes.set_yticks(
            range(values.shape[0]),
            [f"x={x} (n={int(n)})" for x, n in enumerate(counts)],
            fontsize=7,
        )
        axes.set_xlabel("class y")
        axes.set_title(f"{label}: error {error:.3f}", fontsize=10)
    panels[0].set_ylabel("token x (count n_x in T = 1000)")
    figure.colorbar(image, ax=panels, label="softmax over classes of u_yᵀ W e_x")
    return figure


def heat_maps_caption(budget: Budget) -> str:
    return (
        f"N = {HEAT_TOKENS}, M = {CLASSES}, d = {HEAT_DIM}, α = {HEAT_ALPHA:g}, T = "
        f"{HEAT_SAMPLES}, one seed ({HEAT_SEED}), unit-norm u: softmax over classes of the "
        "N × M scores u_yᵀ W_q e_x, used as they are (the paper does not state a scale), "
        "targets boxed in cyan, one colour scale for both maps. Look at how much of each row "
        "sits on its box: p̂ gives weights at most p̂(0), hence small scores and near-uniform "
        "rows; weight 1 on every seen token gives larger scores and more interference."
    )


# ---------------------------------------------------------------------------------------------
# The list of figures and the writer


@dataclass(frozen=True)
class _Recipe:
    name: str
    title: str
    data: Callable[[Budget, str], Arrays]
    draw: Callable[[Arrays], Figure]
    caption: Callable[[Budget], str]

    def figure(self, budget: Budget) -> PaperFigure:
        return PaperFigure(self.name, self.title, f"{FOLDER}/{self.name}.png", self.caption(budget))


RECIPES = (
    _Recipe(
        "schemes_in_d",
        "Memory schemes against d (infinite data)",
        schemes_in_d_data,
        draw_schemes_in_d,
        schemes_in_d_caption,
    ),
    _Recipe(
        "scaling_in_d_and_T",
        "Thresholding: scaling in d and in T",
        scaling_data,
        draw_scaling,
        scaling_caption,
    ),
    _Recipe(
        "fill_phase_diagram",
        "Fill scheme: phase diagram over (d, T)",
        fill_phase_data,
        draw_fill_phase,
        fill_phase_caption,
    ),
    _Recipe(
        "sgd_against_update_approximation",
        "Real SGD against the q_γ approximation",
        update_approximation_data,
        draw_update_approximation,
        update_approximation_caption,
    ),
    _Recipe(
        "optimisation_grid",
        "Step size, batch size, Adam and layer norm",
        optimisation_data,
        draw_optimisation,
        optimisation_caption,
    ),
    _Recipe(
        "step_size_schedule",
        "Step-size schedules (submitted version)",
        schedule_data,
        draw_schedule,
        schedule_caption,
    ),
    _Recipe(
        "learned_embeddings_2d",
        "Learned embeddings in two dimensions",
        learned_embeddings_data,
        draw_learned_embeddings,
        learned_embeddings_caption,
    ),
    _Recipe(
        "memory_heat_maps",
        "Memory matrices as heat maps",
        heat_maps_data,
        draw_heat_maps,
        heat_maps_caption,
    ),
)
PAPER_FIGURE_COUNT = len(RECIPES)


def paper_figure_names() -> list[str]:
    """The figures' names, in reading order."""
    return [recipe.name for recipe in RECIPES]


def write_paper_figures(
    folder: Path, profile: str, device: str = "cpu", progress: Progress | None = None
) -> list[PaperFigure]:
    """Draw every paper figure into ``folder / figure.file`` (each through a temporary file and
    a rename) with the seeds and grids of ``profile``; advances ``progress`` once per figure and
    returns the figures in reading order."""
    budget = budget_for(profile)
    figures = []
    for recipe in RECIPES:
        start = time.perf_counter()
        figure = recipe.figure(budget)
        _save(recipe.draw(recipe.data(budget, device)), Path(folder) / figure.file)
        figures.append(figure)
        if progress is not None:
            progress.advance(f"{recipe.name} ({time.perf_counter() - start:.1f}s)")
    return figures
