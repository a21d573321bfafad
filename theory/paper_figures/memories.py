"""The paper's figures of random-embedding memories: the schemes in d, scaling in d and T, the
fill phase diagram, and the memory heat maps."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from memlaws.kernel import (
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
from memlaws.theory.paper.finite_memory import seen_threshold_weights
from memlaws.theory.paper_figures.common import (
    CLASSES,
    FILL_ALPHA,
    FILL_DIMS,
    FILL_SIZES,
    FILL_TOKENS,
    HEAT_ALPHA,
    HEAT_DIM,
    HEAT_SAMPLES,
    HEAT_SEED,
    HEAT_TOKENS,
    SCALING_ALPHA,
    SCALING_DIMS,
    SCALING_SIZES,
    SCHEMES_TOKENS,
    Arrays,
    FigureBudget,
    bands_text,
    dim_grid,
    first_seeds,
    fit_limits,
    geometric_edges,
    legend_below,
    listed_values,
    log_axes,
    mean_band,
    new_figure,
    power_text,
    ratio_text,
    reference_line,
    seed_text,
)
from memlaws.theory.setting import THRESHOLD_FRACTION, kept_tokens
from memlaws.theory.statistics import first_crossing, geometric_grid

# ---------------------------------------------------------------------------------------------
# 1. Schemes in d (infinite data)

SCHEME_LABELS = ("q = 1 (all tokens)", "q = p", f"q = 1{{x ≤ d/{THRESHOLD_FRACTION}}}")


def schemes_in_d_data(budget: FigureBudget, device: str = "cpu") -> Arrays:
    """Population error of three schemes with random embeddings: ``dims`` ``[D]``, ``errors``
    ``[S, 3, D]`` (schemes in the order of ``SCHEME_LABELS``)."""
    p = zipf_probabilities(SCHEMES_TOKENS, SCALING_ALPHA)
    targets = modular_targets(SCHEMES_TOKENS, CLASSES)
    dims = dim_grid(budget)
    tables = (
        fill_weights(SCHEMES_TOKENS),
        power_weights(p, 1.0),
        lambda dim: threshold_weights(p, kept_tokens(dim)),
    )
    errors = [
        scheme_errors(
            q, p, targets, CLASSES, dims, first_seeds(budget.seeds), device=device
        ).numpy()
        for q in tables
    ]
    return {"dims": np.asarray(dims, dtype=float), "errors": np.stack(errors, axis=1)}


def draw_schemes_in_d(data: Arrays) -> Figure:
    figure, (axes,) = new_figure()
    x, errors = data["dims"], data["errors"]
    means = [mean_band(axes, x, errors[:, j], f"C{j}", SCHEME_LABELS[j]) for j in range(3)]
    means.append(reference_line(axes, x, means[1], -0.25, r"$d^{-1/4}$ (reference)", "C1"))
    means.append(reference_line(axes, x, means[2], -1.0, r"$d^{-1}$ (reference)", "C2"))
    log_axes(axes, "d (embedding dimension)", "population error", "Schemes in d (T = ∞)")
    fit_limits(axes, means)
    axes.legend(fontsize=7, loc="lower left")
    return figure


def schemes_in_d_caption(budget: FigureBudget) -> str:
    return (
        f"N = {SCHEMES_TOKENS}, M = {CLASSES}, α = {SCALING_ALPHA:g}, {len(dim_grid(budget))} "
        f"values of d from 10 to 1000, {seed_text(budget.seeds)} (the paper: 100 seeds). "
        "Look for q = 1 staying near chance, q = p following d^(−1/4) and thresholding "
        "following d^(−1); reference lines pass through the geometric centre of their curve. "
        + bands_text(budget.seeds)
    )


# ---------------------------------------------------------------------------------------------
# 2. Scaling in d and T (thresholding seen tokens)


def scaling_data(budget: FigureBudget, device: str = "cpu") -> Arrays:
    """Error of keeping the ``d/8`` most frequent seen tokens: ``dims`` ``[D]``, ``sizes``
    ``[K]`` (T), ``errors`` ``[S, K, D]``."""
    p = zipf_probabilities(SCHEMES_TOKENS, SCALING_ALPHA)
    targets = modular_targets(SCHEMES_TOKENS, CLASSES)
    seeds = first_seeds(budget.seeds)
    counts = sample_counts(p, SCALING_SIZES, seeds)  # [S, K, N]
    errors = np.stack(
        [
            scheme_errors(
                seen_threshold_weights(counts[:, k], seeds),
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
    figure, (in_d, in_t) = new_figure(2)
    dims, sizes, errors = data["dims"], data["sizes"], data["errors"]
    colours = plt.get_cmap("viridis")
    means = [
        mean_band(in_d, dims, errors[:, k], colours(k / (len(sizes) - 1)), f"T = {power_text(t)}")
        for k, t in enumerate(sizes)
    ]
    exponent = SCALING_ALPHA - 1
    means.append(
        reference_line(in_d, dims, means[-1], -exponent, f"$d^{{-{ratio_text(exponent)}}}$")
    )
    log_axes(in_d, "d (embedding dimension)", "population error", "Error against d")
    fit_limits(in_d, means)
    in_d.legend(fontsize=7, loc="lower left")
    means = [
        mean_band(in_t, sizes, errors[:, :, j], colours(j / (len(dims) - 1)), f"d = {d:g}")
        for j, d in enumerate(dims)
    ]
    rate = 1 - 1 / SCALING_ALPHA
    means.append(reference_line(in_t, sizes, means[-1], -rate, f"$T^{{-{ratio_text(rate)}}}$"))
    log_axes(in_t, "T (training tokens)", "population error", "Error against T")
    fit_limits(in_t, means)
    in_t.legend(fontsize=7, loc="lower left", ncol=2)
    return figure


def scaling_caption(budget: FigureBudget) -> str:
    return (
        f"Thresholding on seen tokens (keep the P = d/{THRESHOLD_FRACTION} most frequent), "
        f"N = {SCHEMES_TOKENS}, M = {CLASSES}, α = {SCALING_ALPHA:g}, "
        f"d ∈ {listed_values(SCALING_DIMS)}, "
        f"T ∈ {{10, 10², 10³, 10⁴}}, {seed_text(budget.seeds)} (the paper: 100). The largest T "
        "should follow d^(−(α−1)) and the largest d should follow T^(−1+1/α); small T (or d) "
        "flattens the other curve at the data (or memory) limit. Reference lines pass through "
        "the geometric centre of the largest T (d) curve. " + bands_text(budget.seeds)
    )


# ---------------------------------------------------------------------------------------------
# 3. Fill phase diagram over (d, T)


def fill_grids(budget: FigureBudget) -> tuple[list[int], list[int]]:
    """The phase diagram's d and T grids, on the budget's log spacing."""
    return (
        geometric_grid(*FILL_DIMS, budget.per_octave),
        geometric_grid(*FILL_SIZES, budget.per_octave),
    )


def fill_phase_data(budget: FigureBudget, device: str = "cpu") -> Arrays:
    """The fill scheme ``q = 1{n_x > 0}`` over a ``(T, d)`` grid: ``dims`` ``[D]``, ``sizes``
    ``[K]``, ``errors`` ``[S, K, D]`` (under p), ``boundary`` ``[K]`` (the d where the
    seed-mean error over seen tokens, counted uniformly, first falls to half of chance, as law
    R3b), ``seen`` ``[K]`` (expected number of distinct seen tokens), and the constants of the
    lines ``d = c·T^(1/α)`` and ``d = c'·seen`` fitted to the boundary in log scale."""
    p = zipf_probabilities(FILL_TOKENS, FILL_ALPHA)
    targets = modular_targets(FILL_TOKENS, CLASSES)
    seeds = first_seeds(budget.seeds)
    dims, sizes = fill_grids(budget)
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
    figure, (axes,) = new_figure(width=6.5)
    dims, sizes = data["dims"], data["sizes"]
    mean = data["errors"].mean(0).T  # [D, K]
    norm = LogNorm(vmin=1e-3, vmax=1.0, clip=True)
    mesh = axes.pcolormesh(
        geometric_edges(sizes),
        geometric_edges(dims),
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
    axes.set_xlim(geometric_edges(sizes)[[0, -1]])
    axes.set_ylim(geometric_edges(dims)[[0, -1]])
    axes.set_xlabel("T (training tokens)")
    axes.set_ylabel("d (embedding dimension)")
    axes.set_title(
        f"Fill scheme q = 1{{x seen}}, N = {FILL_TOKENS}, α = {FILL_ALPHA:g}", fontsize=10
    )
    legend_below(axes, columns=1)
    return figure


def fill_phase_caption(budget: FigureBudget) -> str:
    dims, sizes = fill_grids(budget)
    return (
        f"q = 1{{x seen}}, N = {FILL_TOKENS}, M = {CLASSES}, α = {FILL_ALPHA:g}; {len(dims)} "
        f"values of d in [{FILL_DIMS[0]}, {FILL_DIMS[1]}] × {len(sizes)} values of T in "
        f"[10, 10⁵], {seed_text(budget.seeds)}. The paper drew this diagram at α = 0.5 with "
        "N = 100, outside the laws' α > 1: there almost every token is seen after a few hundred "
        "samples and the edge stops at the capacity of N tokens. Here α is law R3b's default "
        "and N ≫ T^(1/α), so the edge is R3b's phase boundary. Colour: mean error under p (log "
        "scale, clipped at 10⁻³). Dots: the first d at which the mean error over seen tokens, "
        "counted uniformly, falls to half of chance (R3b's level; none where it is already "
        "below at the smallest d). The dashed line d ∝ T^(1/α) and the dotted line d ∝ "
        "E[number of seen tokens] have their constant fitted to the dots in log scale; at "
        "α > 1 the number of seen tokens itself grows like T^(1/α), so the two lines nearly "
        "coincide. From T ≈ 100 on the dots follow both; below, with only a handful of tokens "
        "seen, the boundary sits near d ≈ their number, above the lines."
    )


# ---------------------------------------------------------------------------------------------
# 8. Memory heat maps

HEAT_LABELS = ("q = 1{x seen}", "q = p̂")


def heat_maps_data(budget: FigureBudget, device: str = "cpu") -> Arrays:
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
    figure, panels = new_figure(2, width=4.6)
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


def heat_maps_caption(budget: FigureBudget) -> str:
    return (
        f"N = {HEAT_TOKENS}, M = {CLASSES}, d = {HEAT_DIM}, α = {HEAT_ALPHA:g}, T = "
        f"{HEAT_SAMPLES}, one seed ({HEAT_SEED}), unit-norm u: softmax over classes of the "
        "N × M scores u_yᵀ W_q e_x, used as they are (the paper does not state a scale), "
        "targets boxed in cyan, one colour scale for both maps. Look at how much of each row "
        "sits on its box: p̂ gives weights at most p̂(0), hence small scores and near-uniform "
        "rows; weight 1 on every seen token gives larger scores and more interference."
    )
