"""The paper's figures (reference-setting.md), drawn from the kernel as PNG through matplotlib's
Agg backend.

Each figure is a pure data function of a profile's ``FigureBudget`` (seeds ``0 … k−1``, grid sizes)
returning named numpy arrays, and a drawing function of those arrays. The paper's N, M, α and
d, T ranges are kept; profiles cut seeds and grid points first, and each caption says what was
used and where it departs from the paper. Bands are two-sided 68% t-intervals of the mean (about
one standard error), each point with the seeds that gave a finite value there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from memlaws.theory.paper_figures.common import (
    FOLDER,
    Arrays,
    FigureBudget,
    PaperFigure,
    save_figure,
)
from memlaws.theory.paper_figures.memories import (
    draw_fill_phase,
    draw_heat_maps,
    draw_scaling,
    draw_schemes_in_d,
    fill_phase_caption,
    fill_phase_data,
    heat_maps_caption,
    heat_maps_data,
    scaling_caption,
    scaling_data,
    schemes_in_d_caption,
    schemes_in_d_data,
)
from memlaws.theory.paper_figures.training import (
    draw_learned_embeddings,
    draw_optimisation,
    draw_schedule,
    draw_update_approximation,
    learned_embeddings_caption,
    learned_embeddings_data,
    optimisation_caption,
    optimisation_data,
    schedule_caption,
    schedule_data,
    update_approximation_caption,
    update_approximation_data,
)
from memlaws.theory.profiles import profile as profile_settings
from memlaws.theory.progress import Progress

__all__ = [
    "PAPER_FIGURE_COUNT",
    "Arrays",
    "FigureBudget",
    "PaperFigure",
    "heat_maps_data",
    "paper_figure_names",
    "schedule_data",
    "schemes_in_d_data",
    "write_paper_figures",
]


# ---------------------------------------------------------------------------------------------
# The list of figures and the writer


@dataclass(frozen=True)
class _Recipe:
    name: str
    title: str
    data: Callable[[FigureBudget, str], Arrays]
    draw: Callable[[Arrays], Figure]
    caption: Callable[[FigureBudget], str]

    def figure(self, budget: FigureBudget) -> PaperFigure:
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
    budget = profile_settings(profile).figures
    figures = []
    for recipe in RECIPES:
        start = time.perf_counter()
        figure = recipe.figure(budget)
        save_figure(recipe.draw(recipe.data(budget, device)), Path(folder) / figure.file)
        figures.append(figure)
        if progress is not None:
            progress.advance(f"{recipe.name} ({time.perf_counter() - start:.1f}s)")
    return figures
