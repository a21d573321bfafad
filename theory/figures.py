"""One figure per law (PNG, matplotlib's Agg backend): per-seed points, the mean with its
t-interval, and for rate laws the fitted and the predicted slopes on log-log axes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from scipy import stats

from theory.law import Measurement
from theory.statistics import LEVEL
from theory.verify import Verdict


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


def mean_and_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) and the half-width of its t-interval at ``LEVEL``."""
    n = values.shape[0]
    scale = stats.t.ppf((1 + LEVEL) / 2, max(n - 1, 1))
    sem = values.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(values.shape[1:])
    return values.mean(axis=0), scale * sem


def _is_rate(verdict: Verdict) -> bool:
    return verdict.statistic.startswith("slope of log") and verdict.prediction.count("±") == 1


def _log_axes(statistic: str) -> tuple[bool, bool]:
    """Whether a law's statistic is read on a log ``x`` axis (a slope against a logarithm) and
    on a log ``y`` axis (a slope of a logarithm)."""
    slope_of_slopes = statistic.startswith("slope(")
    return (
        "against log" in statistic or slope_of_slopes,
        "slope of log" in statistic or slope_of_slopes,
    )


def law_figure(verdict: Verdict, measurement: Measurement, path: Path) -> Path:
    """Draw ``measurement`` with ``verdict``'s prediction and write it to ``path``."""
    x, curves = measurement.x, np.asarray(measurement.curves, dtype=float)
    series = measurement.series or ("",)
    categories: tuple[str, ...] = ()
    if curves.ndim == 2:  # one curve per seed; with series, one point per named condition
        if len(series) == curves.shape[1] > 1:
            categories, series = tuple(series), ("",)
        curves = curves[:, None, :]
    figure, axes = plt.subplots(figsize=(5.5, 4.0), dpi=110)
    for j, name in enumerate(series):
        values = curves[:, j, :]
        jitter = x[None, :].repeat(values.shape[0], 0)
        axes.scatter(jitter, values, s=6, alpha=0.25, color=f"C{j}")
        finite = np.isfinite(values).all(axis=0)
        mean, band = mean_and_band(values[:, finite])
        axes.errorbar(x[finite], mean, yerr=band, color=f"C{j}", marker="o", ms=3, capsize=2,
                      linestyle="none" if categories else "-",
                      label=name or f"mean, {LEVEL:.0%} interval")  # fmt: skip
    positive = bool(np.all(curves[np.isfinite(curves)] > 0))
    log_x, log_y = _log_axes(verdict.statistic)
    if log_x and not categories:
        axes.set_xscale("log")
        shown = x[:: max(1, len(x) // 6)]  # a readable number of labelled grid values
        axes.set_xticks(shown, [f"{value:g}" for value in shown])
        axes.xaxis.set_minor_formatter(NullFormatter())
    if log_y and positive:
        axes.set_yscale("log")
    if _is_rate(verdict) and positive:
        values = curves[:, 0, :]
        anchor_x = np.exp(np.log(x).mean())
        anchor_y = np.exp(np.nanmean(np.log(values)))
        for slope, style, label in (
            (verdict.measured, "-", f"fitted slope {verdict.measured:+.3f}"),
            (verdict.predicted, "--", f"predicted {verdict.prediction}"),
        ):
            axes.plot(x, anchor_y * (x / anchor_x) ** slope, style, color="k", lw=1, label=label)
    if categories:
        axes.set_xticks(x, categories)
    axes.set_xlabel(measurement.xlabel)
    axes.set_ylabel(measurement.ylabel)
    axes.set_title(f"{verdict.spec}: {verdict.verdict}", fontsize=10)
    axes.legend(fontsize=7)
    figure.tight_layout()
    save_atomically(figure, path)
    return path
