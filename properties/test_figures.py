"""The law figures a theorist would show: titled with the law, verdict, profile and seeds; the
rival drawn; decades on log axes; a single-point law as a strip of seeds; bands sized to the
seeds used. And the paper figures' settings stay inside the laws' (or say why not)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.ticker import LogLocator
from scipy import stats

from memlaws.theory import figures
from memlaws.theory.figures import figure_title, law_figure, mean_and_band
from memlaws.theory.law import Measurement
from memlaws.theory.paper_figures.common import BAND_LEVEL, FILL_ALPHA, bands_text
from memlaws.theory.paper_figures.memories import fill_phase_caption
from memlaws.theory.profiles import profile
from memlaws.theory.registry import get_law
from memlaws.theory.shapes import paired
from memlaws.theory.statistics import loglog_slopes
from memlaws.theory.verify import judge

SEEDS = list(range(8))
SPREAD = np.linspace(-1, 1, len(SEEDS))


def measured(spec: str) -> Measurement:
    """A made-up measurement of a rate law (R1), an ordering (R5d) or a single-point law
    (R6b)."""
    if spec == "R1":
        x = np.geomspace(100, 10_000, 9)
        curves = (1 + 0.05 * SPREAD)[:, None] * x[None] ** -0.5
        slopes = loglog_slopes(x, curves)
        return Measurement(
            slopes, x, curves, "T", "error", scales=("log", "log"), fitted_slope=True
        )
    if spec == "R5d":
        return paired(0.03 + 0.002 * SPREAD, 0.02 + 0.002 * SPREAD, "layer norm", ("off", "on"))
    errors = 0.001 * (1 + SPREAD)[:, None]  # every run within 0.01 of the floor: reached
    return Measurement(np.ones(len(SEEDS)), np.array([2.0]), errors, "d", "error")


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """Draw a law's figure and return the matplotlib figure instead of closing it."""
    kept = []
    monkeypatch.setattr(figures, "save_atomically", lambda figure, path, **o: kept.append(figure))

    def draw(spec: str):
        law = get_law(spec)
        measurement = measured(spec)
        verdict = judge(law, law.config(), measurement, SEEDS)
        law_figure(verdict, measurement, tmp_path / f"{spec}.png", "quick")
        return verdict, kept[-1]

    return draw


def legend_texts(axes) -> list[str]:
    legend = axes.get_legend()
    return [text.get_text() for text in legend.get_texts()] if legend else []


@pytest.mark.parametrize("spec", ["R1", "R5d", "R6b"])
def test_the_title_states_law_verdict_profile_and_seeds(drawn, spec):
    verdict, figure = drawn(spec)
    title = figure._suptitle.get_text()
    expected = "inconclusive" if spec == "R6b" else "holds"  # 8 of 8 runs: CP bound below 75%
    assert title == figure_title(verdict, "quick") == f"{spec} {expected} — profile quick, 8 seeds"


def test_a_rate_law_draws_the_rival_slope_and_decades(drawn):
    _, figure = drawn("R1")
    measured_axes, verdict_axes = figure.axes
    assert any(text.startswith("rival:") for text in legend_texts(measured_axes))
    assert any(text.startswith("rival:") for text in legend_texts(verdict_axes))
    assert measured_axes.get_xscale() == "log"
    locator = measured_axes.xaxis.get_major_locator()
    assert isinstance(locator, LogLocator)
    low, high = measured_axes.get_xlim()
    majors = [t for t in locator.tick_values(low, high) if low <= t <= high]
    assert majors and all(np.isclose(np.log10(t), round(np.log10(t))) for t in majors)


def test_an_ordering_shades_the_rival_side_of_zero(drawn):
    _, figure = drawn("R5d")
    verdict_axes = figure.axes[-1]
    labels = legend_texts(verdict_axes)
    assert any(label.startswith("rival: layer norm does not help") for label in labels)
    assert any(label.startswith("predicted: >") for label in labels)
    low, high = verdict_axes.get_ylim()
    assert low < 0 < high


def test_a_single_point_law_is_a_strip_of_seeds_not_a_log_axis(drawn):
    verdict, figure = drawn("R6b")
    (axes,) = figure.axes
    assert axes.get_xscale() == "linear" and axes.get_yscale() == "linear"
    assert any(text.startswith("rival:") for text in legend_texts(axes))
    low, high = axes.get_ylim()
    assert low <= verdict.predicted <= high and low <= verdict.rival <= high


def test_bands_use_the_seeds_that_gave_a_value():
    values = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 4.0], [6.0, 5.0]])
    mean, band = mean_and_band(values, 0.9)
    for column in range(2):
        finite = values[np.isfinite(values[:, column]), column]
        half = stats.t.ppf(0.95, finite.size - 1) * stats.sem(finite)
        assert mean[column] == pytest.approx(finite.mean())
        assert band[column] == pytest.approx(half)
    assert mean_and_band(np.array([[1.0], [np.nan]]))[1][0] == 0.0  # one seed: no band


def test_paper_figure_bands_state_their_seeds_and_level():
    text = bands_text(4)
    assert f"{BAND_LEVEL:.0%} t-intervals" in text and "over the 4 seeds" in text
    assert f"± {stats.t.ppf((1 + BAND_LEVEL) / 2, 3):.2f} standard errors" in text


def test_the_fill_phase_diagram_stays_inside_the_laws_or_says_why():
    assert FILL_ALPHA > 1
    caption = fill_phase_caption(profile("ci").figures)
    assert "α = 2" in caption and "the paper drew this diagram at α = 0.5" in caption.lower()
