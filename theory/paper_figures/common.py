"""What every paper figure shares: its settings, the profiles' budgets (seeds, grids), the figure
record, and the drawing helpers (log axes, bands over seeds, reference slopes, atomic writes)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from memlaws.theory.figures import mean_and_band, save_atomically
from memlaws.theory.paper.optimisation import Schedule, TwoDimensions
from memlaws.theory.profiles import FigureBudget
from memlaws.theory.setting import PAPER_RUN
from memlaws.theory.statistics import LEVEL, geometric_grid

Arrays = dict[str, np.ndarray]
DPI = 110
FOLDER = "figures/paper"
CLASSES = 5  # M in every figure but the learned embeddings' sweep over M
MARKED_POINTS = 30  # curves with more points are drawn without markers
BAND_LEVEL = 0.68  # the bands' level: about ±1 standard error, whatever the number of seeds

SCHEMES_TOKENS, SCALING_ALPHA = 1000, 2.0
SCALING_DIMS = (10, 20, 50, 100, 200, 1000)
SCALING_SIZES = (10, 100, 1000, 10_000)
FILL_TOKENS, FILL_ALPHA = 1000, 2.0  # the paper: N = 100, α = 0.5 (see fill_phase_caption)
FILL_DIMS, FILL_SIZES = (2, 1000), (10, 100_000)  # d and T ranges of the phase diagram
REFERENCE = {key: PAPER_RUN[key] for key in ("N", "M", "alpha")}  # the optimisation grid's
APPROXIMATION_DIM, APPROXIMATION_STEP, APPROXIMATION_BATCH, APPROXIMATION_STEPS = 10, 1.0, 1000, 100
SCHEDULE = Schedule().config()  # law R5e's setting and schedules
SCHEDULE_DIM, SCHEDULE_STEPS = SCHEDULE["d"], SCHEDULE["niter"]
SCHEDULE_DECAY_STEP = Schedule.decay_step
SCHEDULE_LARGE, SCHEDULE_SMALL, SCHEDULE_AFTER = Schedule.large_step, 0.1, Schedule.later_step
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


def dim_grid(budget: FigureBudget) -> list[int]:
    """d from 10 to 1000 on the budget's log grid."""
    return geometric_grid(10, 1000, budget.per_octave)


def first_seeds(count: int) -> list[int]:
    """Seeds ``0 … count−1``."""
    return list(range(count))


def bands_text(seeds: int) -> str:
    """What the bands of a figure over ``seeds`` seeds are."""
    t = float(stats.t.ppf((1 + BAND_LEVEL) / 2, max(seeds - 1, 1)))
    return (
        f"Bands: {BAND_LEVEL:.0%} t-intervals of the mean over the {seeds} seeds (± {t:.2f} "
        f"standard errors, t with {seeds - 1} degrees of freedom; the verdicts use "
        f"{LEVEL:.0%})."
    )


def seed_text(count: int) -> str:
    return f"seeds 0–{count - 1} ({count})"


def listed_values(values: Sequence[float]) -> str:
    """``{a, b, c}`` in the given order."""
    return "{" + ", ".join(f"{v:g}" for v in values) + "}"


# ---------------------------------------------------------------------------------------------
# Drawing helpers


def new_figure(columns: int = 1, width: float = 5.5) -> tuple[Figure, list[Axes]]:
    figure, axes = plt.subplots(
        1, columns, figsize=(width * columns, 4.0), dpi=DPI, squeeze=False, layout="constrained"
    )
    return figure, list(axes[0])


def mean_band(
    axes: Axes,
    x: np.ndarray,
    values: np.ndarray,
    colour: str,
    label: str,
    style: str = "-",
) -> np.ndarray:
    """Plot the mean over seeds of ``values`` (``[S, K]``) with its ``BAND_LEVEL`` band (each
    point with its finite seeds); returns the mean ``[K]``. The band's lower edge is clipped to
    stay positive on log axes."""
    mean, half = mean_and_band(values, BAND_LEVEL)
    positive = values[values > 0]
    floor = positive.min() / 2 if positive.size else 1e-6
    axes.fill_between(
        x, np.maximum(mean - half, floor), mean + half, color=colour, alpha=0.18, lw=0
    )
    marker = "o" if len(x) <= MARKED_POINTS else None
    axes.plot(x, mean, style, color=colour, marker=marker, ms=3, lw=1.4, label=label)
    return mean


def fit_limits(axes: Axes, curves: Sequence[np.ndarray], log: bool = True) -> None:
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


def reference_line(
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


def log_axes(axes: Axes, xlabel: str, ylabel: str, title: str) -> None:
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="major", alpha=0.3)


def power_text(value: float) -> str:
    """``10^k`` in mathtext for a power of ten."""
    return f"$10^{{{round(math.log10(value))}}}$"


def ratio_text(value: float) -> str:
    """A simple fraction, e.g. ``1/2``, for an exponent."""
    fraction = Fraction(value).limit_denominator(12)
    return str(fraction.numerator) if fraction.denominator == 1 else str(fraction)


def legend_below(axes: Axes, columns: int = 2) -> None:
    """A legend under the axes, clear of the data."""
    axes.legend(
        fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=columns, frameon=False
    )


def geometric_edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges ``[K + 1]`` around log-spaced ``centres`` ``[K]``, halfway in log scale."""
    logs = np.log(centres)
    middle = (logs[1:] + logs[:-1]) / 2
    first, last = 2 * logs[0] - middle[0], 2 * logs[-1] - middle[-1]
    return np.exp(np.concatenate([[first], middle, [last]]))


def save_figure(figure: Figure, path: Path) -> None:
    """Write ``figure`` atomically at the paper figures' resolution, trimmed to its content."""
    save_atomically(figure, path, dpi=DPI, bbox_inches="tight")
