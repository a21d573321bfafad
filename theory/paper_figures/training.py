"""The paper's figures of trained memories: SGD against the q_γ approximation, the optimisation
grid, the step-size schedules, and learned embeddings in two dimensions."""

from __future__ import annotations

from dataclasses import replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from memlaws.kernel import (
    modular_targets,
    zipf_probabilities,
)
from memlaws.kernel.setup import TrainingSetup
from memlaws.kernel.training import train
from memlaws.theory.paper.optimisation import PAPER_BATCHES, PAPER_STEPS, Schedule, TwoDimensions
from memlaws.theory.paper.update_approximation import sgd_and_approximation
from memlaws.theory.paper_figures.common import (
    APPROXIMATION_BATCH,
    APPROXIMATION_DIM,
    APPROXIMATION_STEP,
    APPROXIMATION_STEPS,
    BATCH_PANEL_STEP,
    CLASSES,
    DPI,
    EMBEDDING_BATCH,
    EMBEDDING_DIM,
    EMBEDDING_STEP,
    EMBEDDING_STEPS,
    EMBEDDING_TOKENS,
    LARGE_BATCH,
    REFERENCE,
    SCATTER_CLASSES,
    SCATTER_SEED,
    SCHEDULE,
    SCHEDULE_AFTER,
    SCHEDULE_DECAY_STEP,
    SCHEDULE_DIM,
    SCHEDULE_LARGE,
    SCHEDULE_SMALL,
    SCHEDULE_STEPS,
    SGD_BATCH,
    Arrays,
    FigureBudget,
    bands_text,
    first_seeds,
    fit_limits,
    legend_below,
    listed_values,
    log_axes,
    mean_band,
    new_figure,
    seed_text,
)
from memlaws.theory.setting import zero_start_setup
from memlaws.theory.shapes import run

# ---------------------------------------------------------------------------------------------
# 4. Real SGD against the q_γ update approximation


def update_approximation_data(budget: FigureBudget, device: str = "cpu") -> Arrays:
    """Error per step of SGD from ``W₀ = 0`` and of the ``q_γ`` memory on the same seeds (law
    R4a's experiment at one ``d``): ``steps`` ``[K]``, ``sgd`` and ``approximation`` ``[S, K]``."""
    config = REFERENCE | {
        "lr": APPROXIMATION_STEP, "B": APPROXIMATION_BATCH, "niter": APPROXIMATION_STEPS
    }  # fmt: skip
    seeds = first_seeds(budget.seeds)
    steps, sgd, approximation = sgd_and_approximation(
        config, [APPROXIMATION_DIM], seeds, device, record_every=1
    )
    return {"steps": steps, "sgd": sgd[:, 0], "approximation": approximation[:, 0]}


def draw_update_approximation(data: Arrays) -> Figure:
    figure, (axes,) = new_figure()
    steps = data["steps"]
    means = [
        mean_band(axes, steps, data["sgd"], "C0", f"SGD, γ = {APPROXIMATION_STEP:g}"),
        mean_band(
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
    fit_limits(axes, means)
    axes.legend(fontsize=7, loc="upper right")
    return figure


def update_approximation_caption(budget: FigureBudget) -> str:
    return (
        f"N = {REFERENCE['N']}, M = {CLASSES}, α = {REFERENCE['alpha']:g}, d = "
        f"{APPROXIMATION_DIM}, SGD with γ = {APPROXIMATION_STEP:g} on batches of "
        f"{APPROXIMATION_BATCH} for {APPROXIMATION_STEPS} steps from W₀ = 0 with unit-norm u, "
        f"and the memory of the q_γ weights on the same tokens and embeddings; "
        f"{seed_text(budget.seeds)} (the paper: 100). The two curves should share their trend "
        "and order of magnitude. " + bands_text(budget.seeds)
    )


# ---------------------------------------------------------------------------------------------
# 5. The optimisation grid: step size, batch size, Adam against SGD, layer norm


def optimisation_data(budget: FigureBudget, device: str = "cpu") -> Arrays:
    """Final errors of the matrix model over the grid, ``dims`` ``[D]`` and, with ``L`` the
    paper's step sizes: ``sgd``, ``adam``, ``layernorm`` (SGD with layer norm) at B = 16 and
    ``sgd_large``, ``adam_large`` at B = 1024, each ``[S, D, L]``; ``batches`` ``[S, D, 4]``
    (SGD, γ = 10, one column per paper batch size)."""
    seeds, samples = first_seeds(budget.training_seeds), budget.training_samples
    runs: dict[str, list[np.ndarray]] = {
        name: [] for name in ("sgd", "adam", "layernorm", "sgd_large", "adam_large", "batches")
    }
    for dim in budget.training_dims:
        config = REFERENCE | {"d": dim, "B": SGD_BATCH}
        large = config | {"B": LARGE_BATCH}
        runs["sgd"].append(run(config, seeds, PAPER_STEPS, device, ntrain=samples))
        runs["adam"].append(
            run(config, seeds, PAPER_STEPS, device, optimizer="Adam", ntrain=samples)
        )
        runs["layernorm"].append(
            run(config, seeds, PAPER_STEPS, device, layernorm=True, ntrain=samples)
        )
        runs["sgd_large"].append(run(large, seeds, PAPER_STEPS, device, ntrain=samples))
        runs["adam_large"].append(
            run(large, seeds, PAPER_STEPS, device, optimizer="Adam", ntrain=samples)
        )
        runs["batches"].append(
            np.concatenate(
                [
                    run(config | {"B": b}, seeds, [BATCH_PANEL_STEP], device, ntrain=samples)
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
        mean_band(panels[0], dims, data["sgd"][:, :, j], step_colours[j], f"γ = {s:g}")
        for j, s in enumerate(PAPER_STEPS)
    ]
    _finish_panel(panels[0], means, f"SGD, B = {SGD_BATCH}: step size")

    means = [
        mean_band(panels[1], dims, data["batches"][:, :, j], f"C{j}", f"B = {b}")
        for j, b in enumerate(PAPER_BATCHES)
    ]
    _finish_panel(panels[1], means, f"SGD, γ = {BATCH_PANEL_STEP:g}: batch size")

    means = []
    for name, colour, label in (("sgd", "C0", "SGD"), ("adam", "C3", "Adam")):
        for suffix, style, batch in (("", "-", SGD_BATCH), ("_large", "--", LARGE_BATCH)):
            errors, steps = tuned(data[name + suffix])
            legend = f"{label}, B = {batch}, γ* ∈ {listed_values(sorted(set(steps.tolist())))}"
            means.append(mean_band(panels[2], dims, errors, colour, legend, style))
    _finish_panel(panels[2], means, "Adam against SGD, γ tuned per d")

    means = []
    for j in range(len(PAPER_STEPS)):
        means.append(mean_band(panels[3], dims, data["sgd"][:, :, j], step_colours[j], ""))
        means.append(
            mean_band(panels[3], dims, data["layernorm"][:, :, j], step_colours[j], "", "--")
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
    log_axes(axes, "d (embedding dimension)", "population error", title)
    fit_limits(axes, means)
    axes.legend(handles=handles, fontsize=7, loc="lower left", ncol=2 if handles else 1)


def optimisation_caption(budget: FigureBudget) -> str:
    dims = budget.training_dims
    return (
        f"Matrix model (learn W; random W₀ and Gaussian U), N = {REFERENCE['N']}, M = {CLASSES}, "
        f"α = {REFERENCE['alpha']:g}, T = {budget.training_samples} tokens seen once, "
        f"d ∈ {listed_values(dims)}, {seed_text(budget.training_seeds)} (the paper: 10 seeds, d up "
        f"to 1000, T ∈ {{1024, 10240, 102400}}; only T = {budget.training_samples} is drawn). "
        f"Panels: SGD with B = {SGD_BATCH} per γ; SGD with γ = {BATCH_PANEL_STEP:g} per B; "
        f"SGD and Adam (β₁ = β₂ = 0, dimension-scaled steps) with γ tuned per d on the same "
        f"seeds, at B = {SGD_BATCH} and B = {LARGE_BATCH}; SGD with (dashed) and without "
        "(solid) layer norm per γ. The paper: error falls as γ grows, as B shrinks, with Adam "
        "and with layer norm. " + bands_text(budget.training_seeds)
    )


# ---------------------------------------------------------------------------------------------
# 6. Step-size schedule (submitted version)

SCHEDULE_LABELS = (
    f"constant γ = {SCHEDULE_LARGE:g}",
    f"constant γ = {SCHEDULE_SMALL:g}",
    f"γ = {SCHEDULE_LARGE:g}, then {SCHEDULE_AFTER:g} from step {SCHEDULE_DECAY_STEP}",
)


def schedule_data(budget: FigureBudget, device: str = "cpu") -> Arrays:
    """Error per recorded step of SGD with batches of one token: ``steps`` ``[K]``, ``curves``
    ``[S, 3, K]`` (schedules in the order of ``SCHEDULE_LABELS``)."""
    seeds = first_seeds(budget.seeds)
    setup = zero_start_setup(SCHEDULE, SCHEDULE_DIM, 1, SCHEDULE_STEPS)
    constant = train(
        setup,
        seeds,
        [SCHEDULE_LARGE, SCHEDULE_SMALL],
        device=device,
        record_every=budget.record_every,
    )
    decaying_setup = replace(setup, **Schedule().decay())
    decaying = train(
        decaying_setup, seeds, [SCHEDULE_LARGE], device=device, record_every=budget.record_every
    )
    curves = torch.cat([constant.curves, decaying.curves], dim=1).numpy()
    return {"steps": np.asarray(constant.steps, dtype=float), "curves": curves}


def draw_schedule(data: Arrays) -> Figure:
    figure, (axes,) = new_figure()
    steps, curves = data["steps"], data["curves"]
    means = [
        mean_band(axes, steps, curves[:, j], f"C{j}", SCHEDULE_LABELS[j], style)
        for j, style in enumerate(("-", "-", "--"))
    ]
    axes.axvline(SCHEDULE_DECAY_STEP, color="grey", lw=0.8, ls=":")
    axes.set_xlim(0, steps[-1])
    axes.set_xlabel("step (one token per step)")
    axes.set_ylabel("population error")
    axes.set_title(f"Step-size schedules (N = {SCHEDULE['N']}, d = {SCHEDULE_DIM})", fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    fit_limits(axes, [m[1:] for m in means], log=False)
    legend_below(axes, columns=2)
    return figure


def schedule_caption(budget: FigureBudget) -> str:
    return (
        f"Submitted version's setting: N = {SCHEDULE['N']}, M = {CLASSES}, d = {SCHEDULE_DIM} "
        f"(the memory overflows), α = {SCHEDULE['alpha']:g}, SGD with batches of one token for "
        f"{SCHEDULE_STEPS} steps from W₀ = 0 with unit-norm u, error every "
        f"{budget.record_every} steps, {seed_text(budget.seeds)} (the paper: 100). The "
        "submitted claim, dropped from the final version: the decaying step (dashed; the same "
        "run as the constant γ = 10 up to step 100) ends below the large constant step. "
        + bands_text(budget.seeds)
    )


# ---------------------------------------------------------------------------------------------
# 7. Learned embeddings in two dimensions


def learned_embeddings_data(budget: FigureBudget, device: str = "cpu") -> Arrays:
    """Learnable model at d = 2 trained by Adam: ``classes`` ``[C]`` (M), ``errors`` ``[S, C]``,
    ``floor`` and ``capacity`` ``[C]`` (the finite-data floor of R1 and the mass beyond
    d tokens, as law R6b), and for one seed at M = 5 the learned ``inputs`` ``[N, 2]``,
    ``readout`` ``[2, M]`` (columns of W U) and ``labels`` ``[N]``."""
    seeds = first_seeds(budget.training_seeds)
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
            run(config, seeds, [EMBEDDING_STEP], device, model="learnable", optimizer="Adam")[:, 0]
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
    figure, (sweep, scatter) = new_figure(2)
    classes, errors = data["classes"], data["errors"]
    sweep.scatter(
        np.broadcast_to(classes, errors.shape),
        errors,
        s=5,
        color="C0",
        alpha=0.35,
        label="one seed",
    )
    mean = mean_band(sweep, classes, errors, "C0", f"learned E, W, U (d = {EMBEDDING_DIM}), mean")
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
    fit_limits(sweep, [mean, errors, data["floor"], data["capacity"]], log=False)
    legend_below(sweep, columns=2)

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


def learned_embeddings_caption(budget: FigureBudget) -> str:
    classes = budget.embedding_classes
    listed = "1 to 100" if len(classes) == 100 else listed_values(classes)
    return (
        f"Learnable model (E, W, U), N = {EMBEDDING_TOKENS}, α = {REFERENCE['alpha']:g}, d = "
        f"{EMBEDDING_DIM}, Adam (β = 0) with γ = {EMBEDDING_STEP:g} on batches of "
        f"{EMBEDDING_BATCH} for {EMBEDDING_STEPS} steps (as law R6b; reference-setting.md "
        f"states no step count), M ∈ {listed}, {seed_text(budget.training_seeds)}. Left: error "
        "against M (dots: single seeds) with the finite-data floor and what a memory of d "
        "associations would leave; "
        f"right: seed {SCATTER_SEED}'s learned input embeddings at M = {SCATTER_CLASSES}, "
        "coloured by class, "
        "marker area growing with p(x), arrows along W u_y. " + bands_text(budget.training_seeds)
    )
