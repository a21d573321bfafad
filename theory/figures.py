"""One figure per law (PNG, matplotlib's Agg backend), titled with the law, its verdict, the
profile and the number of seeds.

Left, what was measured: per-seed points and the mean with its t-interval against the law's
variable, on log axes at decades where the statistic is a log-log slope, with the fitted, the
predicted and the rival's slopes for rate laws. Right, the verdict: the per-seed statistic with
its mean and the verdict's interval, beside the predicted value (and tolerance band) and the
rival's; for an ordering, the rival is the other side of 0, shaded. A law measured at a single
value of its variable (R6b at d = 2) gets the verdict panel alone."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter
from scipy import stats

from memlaws.theory.law import Measurement
from memlaws.theory.statistics import LEVEL
from memlaws.theory.verify import Verdict

PREDICTED_COLOUR, RIVAL_COLOUR = "C2", "C3"
LABEL_WIDTH = 60  # characters per line of a legend entry or an axis label
MISSING_GLYPHS = str.maketrans({"𝓔": "ℰ"})  # the bundled font has no bold script capitals


def _text(text: str, width: int = LABEL_WIDTH) -> str:
    """``text`` drawable by the bundled font, wrapped to ``width`` characters per line."""
    return "\n".join(textwrap.wrap(text.translate(MISSING_GLYPHS), width)) or text


def save_atomically(figure: Figure, path: Path, **options: Any) -> None:
    """Write ``figure`` (closing it) to a temporary file beside ``path``, then rename it into
    place: an interrupted run leaves the previous image intact. ``options`` go to ``savefig``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    try:
        figure.savefig(temporary, **options)
    finally:
        plt.close(figure)
    os.replace(temporary, path)


def mean_and_band(values: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) and the half-width of its t-interval at ``level``, each point
    with the seeds that gave a finite value there (``n − 1`` degrees of freedom; no band where
    fewer than 2 did)."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    safe = np.where(finite, values, 0.0)
    mean = np.divide(safe.sum(axis=0), count, out=np.full(count.shape, np.nan), where=count > 0)
    squares = np.where(finite, (values - mean) ** 2, 0.0).sum(axis=0)
    enough = count > 1
    sem = np.sqrt(np.divide(squares, count * (count - 1), out=np.zeros(count.shape), where=enough))
    scale = stats.t.ppf((1 + level) / 2, np.maximum(count - 1, 1))
    return mean, np.where(enough, scale * sem, 0.0)


def _is_rate(verdict: Verdict, measurement: Measurement) -> bool:
    """A point claim on a fitted log-log slope: the figure draws the slopes."""
    return measurement.fitted_slope and verdict.prediction.count("±") == 1


def _is_ordering(verdict: Verdict) -> bool:
    return verdict.prediction.startswith((">", "<"))


def figure_title(verdict: Verdict, profile: str) -> str:
    """``R2a holds — profile quick, 16 seeds``."""
    where = f"profile {profile}, " if profile else ""
    return f"{verdict.spec} {verdict.verdict} — {where}{verdict.n_seeds} seeds"


def law_figure(verdict: Verdict, measurement: Measurement, path: Path, profile: str = "") -> Path:
    """Draw ``measurement`` with ``verdict``'s prediction and rival and write it to ``path``."""
    single = np.asarray(measurement.x).size == 1
    figure, axes = plt.subplots(
        1,
        1 if single else 2,
        figsize=(5.5 if single else 11.0, 4.2),
        dpi=110,
        squeeze=False,
        layout="constrained",
    )
    if not single:
        _measured_panel(axes[0, 0], verdict, measurement)
    _verdict_panel(axes[0, -1], verdict, measurement)
    figure.suptitle(figure_title(verdict, profile), fontsize=11)
    save_atomically(figure, path, bbox_inches="tight")
    return path


def _legend_below(axes: Axes, below: float = 0.04) -> None:
    """The legend under the axes, ``below`` (in axes heights) under its bottom edge."""
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -below), frameon=False)


def _measured_panel(axes: Axes, verdict: Verdict, measurement: Measurement) -> None:
    """Per-seed values against the variable, their mean with its t-interval, and for rate laws
    the fitted, predicted and rival slopes."""
    x, curves = np.asarray(measurement.x, dtype=float), np.asarray(measurement.curves, float)
    series = measurement.series or ("",)
    categories: tuple[str, ...] = ()
    if curves.ndim == 2:  # one curve per seed; with series, one point per named condition
        if len(series) == curves.shape[1] > 1:
            categories, series = tuple(series), ("",)
        curves = curves[:, None, :]
    for j, name in enumerate(series):
        values = curves[:, j, :]
        axes.scatter(np.broadcast_to(x, values.shape), values, s=6, alpha=0.25, color=f"C{j}")
        mean, band = mean_and_band(values)
        label = name or f"mean, {LEVEL:.0%} interval"
        style = "none" if categories else "-"
        axes.errorbar(
            x,
            mean,
            yerr=band,
            color=f"C{j}",
            marker="o",
            ms=3,
            capsize=2,
            linestyle=style,
            label=label,
        )
    if measurement.exact is not None:
        exact = np.asarray(measurement.exact, dtype=float)
        axes.plot(x, exact, "--", color=PREDICTED_COLOUR, lw=1.2, label=measurement.exact_label)
    positive = bool(np.all(curves[np.isfinite(curves)] > 0))
    log_x, log_y = (scale == "log" for scale in measurement.scales)
    if log_x and not categories:
        axes.set_xscale("log")
        _decades(axes.xaxis, x)
    if log_y and positive:
        axes.set_yscale("log")
        _decades(axes.yaxis, curves[np.isfinite(curves)])
    if _is_rate(verdict, measurement) and positive:
        _slope_lines(axes, x, curves[:, 0, :], verdict)
    if categories:
        axes.set_xticks(x, categories)
        axes.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    axes.set_xlabel(_text(measurement.xlabel))
    axes.set_ylabel(_text(measurement.ylabel))
    axes.set_title("measured", fontsize=9)
    axes.grid(True, which="major", alpha=0.3)
    _legend_below(axes, 0.16)  # under the x label


def _decades(axis: Any, values: np.ndarray) -> None:
    """Labelled ticks at the decades only, when the values span one (matplotlib would also
    label the ticks between, which crowd each other); otherwise its default labels."""
    low, high = float(np.min(values)), float(np.max(values))
    if np.floor(np.log10(high)) >= np.ceil(np.log10(low)):
        axis.set_major_locator(LogLocator(base=10))
        axis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10)))
        axis.set_minor_formatter(NullFormatter())


def _slope_lines(axes: Axes, x: np.ndarray, values: np.ndarray, verdict: Verdict) -> None:
    """Lines through the data's geometric centre with the fitted, predicted and rival slopes."""
    anchor_x = np.exp(np.log(x).mean())
    anchor_y = np.exp(np.nanmean(np.log(values)))
    for slope, style, colour, label in (
        (verdict.measured, "-", "k", f"fitted slope {verdict.measured:+.3f}"),
        (verdict.predicted, "--", PREDICTED_COLOUR, f"predicted {verdict.prediction}"),
        (verdict.rival, ":", RIVAL_COLOUR, _rival_label(verdict)),
    ):
        if np.isfinite(slope):
            line = anchor_y * (x / anchor_x) ** slope
            axes.plot(x, line, style, color=colour, lw=1.2, label=label)


def _rival_label(verdict: Verdict) -> str:
    return _text(f"rival: {verdict.rival_name} ({verdict.rival:+.3f})")


def _verdict_panel(axes: Axes, verdict: Verdict, measurement: Measurement) -> None:
    """The per-seed statistic, its mean and the verdict's interval, the prediction (band or
    side) and the rival (line or side)."""
    values = np.asarray(measurement.statistic, dtype=float).ravel()
    shown = values[np.isfinite(values)]
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, shown.size)
    axes.scatter(jitter, shown, s=10, alpha=0.5, color="C0", label=f"one seed ({shown.size})")
    if np.isfinite(verdict.measured):
        low, high = verdict.ci_low, verdict.ci_high
        error = [[verdict.measured - low], [high - verdict.measured]]
        label = f"mean, {verdict.level:.1%} interval"
        axes.errorbar(
            [0.3],
            [verdict.measured],
            yerr=error,
            color="k",
            marker="o",
            ms=4,
            capsize=3,
            label=label,
        )
    if _is_ordering(verdict):
        _sides(axes, verdict, shown)
    else:
        _point_and_rival(axes, verdict)
    axes.set_xlim(-0.5, 0.6)
    axes.set_xticks([])
    axes.set_ylabel(_text(verdict.statistic, 48), fontsize=8)
    rejected = "rejected" if verdict.rival_rejected else "not rejected"
    axes.set_title(f"verdict: {verdict.verdict}; rival {rejected}", fontsize=9)
    axes.grid(True, axis="y", alpha=0.3)
    _legend_below(axes)


def _point_and_rival(axes: Axes, verdict: Verdict) -> None:
    """A point prediction with its tolerance band, and the rival's value."""
    low, high = verdict.predicted - verdict.tolerance, verdict.predicted + verdict.tolerance
    axes.axhspan(low, high, color=PREDICTED_COLOUR, alpha=0.15, lw=0)
    label = f"predicted {verdict.prediction}"
    axes.axhline(verdict.predicted, color=PREDICTED_COLOUR, ls="--", lw=1.2, label=label)
    if np.isfinite(verdict.rival):
        axes.axhline(verdict.rival, color=RIVAL_COLOUR, ls=":", lw=1.5, label=_rival_label(verdict))


def _sides(axes: Axes, verdict: Verdict, shown: np.ndarray) -> None:
    """An ordering: the claim's side of its minimum effect shaded green, the rival's side of its
    own bound (no effect or the reverse order) red; between them, neither."""
    threshold, bound = verdict.predicted, verdict.rival
    axes.axhline(threshold, color="k", lw=0.8)
    values = np.array([verdict.ci_low, verdict.ci_high, bound, *shown], dtype=float)
    values = values[np.isfinite(values)]
    reach = float(np.abs(values - threshold).max()) if values.size else 0.0
    reach = reach or 1.0
    bottom, top = threshold - 1.3 * reach, threshold + 1.3 * reach
    above = verdict.prediction.startswith(">")
    claim = (threshold, top) if above else (bottom, threshold)
    rival = (bottom, bound) if above else (bound, top)
    label = f"predicted: {verdict.prediction}"
    axes.axhspan(*claim, color=PREDICTED_COLOUR, alpha=0.12, lw=0, label=label)
    label = _text(f"rival: {verdict.rival_name}")
    axes.axhspan(*rival, color=RIVAL_COLOUR, alpha=0.12, lw=0, label=label)
    axes.set_ylim(bottom, top)
