"""pytest-benchmark timings of the trainers (``tox -e bench``): ``train`` on representative
setups of the paper's grid, and ``memlaws simulate`` over a subset of that grid against the same
runs one at a time through the autograd reference trainer (the baseline). Speed is measured
here, never asserted; compare the two subset timings for the speed-up."""

from __future__ import annotations

import io

import pytest

from kernel.reference_training import train_reference
from kernel.training import TrainingSetup, train
from theory.simulate import checked_grid, expand, setup_of, simulate

PAPER_SEEDS = list(range(10))
PAPER_LRS = [0.1, 1.0, 10.0, 100.0]
SUBSET = {
    "model": ["matrix", "learnable", "exponential"],
    "optimizer": ["SGD", "Adam"],
    "d": [10, 100, 1000],
    "batch_size": [16, 1024],
    "ntrain": 10240,
    "seed": [0, 1, 2],
    "lr": 1.0,
}  # 108 runs


def _setup(model: str, optimizer: str, dim: int, batch_size: int, **options: object):
    return TrainingSetup(model, optimizer, 100, 5, dim, 2.0, 10240, batch_size, **options)


SETUPS = {
    "matrix-sgd-d1000-B16 (rank M)": _setup("matrix", "sgd", 1000, 16),
    "matrix-sgd-layernorm-d100-B16 (dense)": _setup("matrix", "sgd", 100, 16, layernorm=True),
    "matrix-adam-d100-B16": _setup("matrix", "adam", 100, 16),
    "learnable-adam-d100-B16": _setup("learnable", "adam", 100, 16),
    "exponential-sgd-d1000-B1024": _setup("exponential", "sgd", 1000, 1024),
}


@pytest.mark.parametrize("name", list(SETUPS))
def test_train_a_paper_grid_group(benchmark, name):
    """One group of the paper's grid: 10 seeds × 4 step sizes trained together (R = 40)."""
    benchmark.pedantic(train, (SETUPS[name], PAPER_SEEDS, PAPER_LRS), rounds=3)


def test_simulate_paper_subset(benchmark):
    """``memlaws simulate`` over the 108-run subset (36 batched ``train`` calls)."""
    runs = expand(checked_grid(SUBSET))
    benchmark.pedantic(lambda: simulate(runs, io.StringIO()), rounds=1)


def test_reference_paper_subset(benchmark):
    """The baseline: the same 108 runs, one at a time, with the autograd reference trainer."""
    runs = expand(checked_grid(SUBSET))

    def baseline() -> None:
        for run in runs:
            train_reference(setup_of(run), run["seed"], run["lr"])

    benchmark.pedantic(baseline, rounds=1)
