"""The paper's figures: every listed figure is written as a PNG under the ``ci`` profile, the
figures' data are reproducible from their seeds, and a bad profile is refused."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from memlaws.theory.paper_figures import (
    PAPER_FIGURE_COUNT,
    Arrays,
    heat_maps_data,
    paper_figure_names,
    schedule_data,
    schemes_in_d_data,
    write_paper_figures,
)
from memlaws.theory.profiles import profile
from memlaws.theory.progress import Progress

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_ci_profile_writes_every_listed_figure(tmp_path: Path):
    progress = Progress(PAPER_FIGURE_COUNT, "paper figures", stream=io.StringIO())
    figures = write_paper_figures(tmp_path, "ci", progress=progress)
    assert [f.name for f in figures] == paper_figure_names()
    assert len(figures) == PAPER_FIGURE_COUNT == progress.done
    assert len({f.name for f in figures}) == len({f.file for f in figures}) == len(figures)
    for figure in figures:
        assert figure.title.strip() and figure.caption.strip(), figure.name
        image = (tmp_path / figure.file).read_bytes()
        assert image.startswith(PNG_SIGNATURE) and len(image) > len(PNG_SIGNATURE), figure.name
    leftovers = [p.name for p in tmp_path.rglob(".*")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


@pytest.mark.parametrize("data", [schemes_in_d_data, schedule_data, heat_maps_data])
def test_same_seeds_give_the_same_numbers(data: Callable[..., Arrays]):
    budget = profile("ci").figures
    first, second = data(budget), data(budget)
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), key


def test_bad_profile_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="profile"):
        write_paper_figures(tmp_path, "nope")
    assert not any(tmp_path.iterdir())
