"""pytest-benchmark timings of the trainers (``tox -e bench``): ``train`` on representative
setups of the paper's grid; whole 40-run groups at ``d ≤ 100`` against the autograd baseline in
the same run (the ratio goes to ``extra_info``, so a slower machine is not read as a
regression); ``memlaws simulate`` over a subset of that grid against the same runs one at a time
through the baseline; and what this machine sustains (memory copy, a large matrix product), the
floor of the memory-bound groups. Speed is measured here, never asserted.
"""

from __future__ import annotations

import io
import itertools
import time

import pytest
import torch

from kernel.reference_training import train_reference
from kernel.training import TrainingSetup, train
from theory.simulate import checked_grid, expand, setup_of, simulate

PAPER_SEEDS = list(range(10))
PAPER_LRS = [0.1, 1.0, 10.0, 100.0]
BASELINE_SEEDS = [0, 1]  # the baseline runs these seeds × PAPER_LRS; its time is scaled to 10
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
    "matrix-sgd-layernorm-d1000-B16 (H = E W)": _setup("matrix", "sgd", 1000, 16, layernorm=True),
    "matrix-adam-d1000-B16 (dense)": _setup("matrix", "adam", 1000, 16),
    "matrix-adam-d100-B16": _setup("matrix", "adam", 100, 16),
    "learnable-adam-d100-B16": _setup("learnable", "adam", 100, 16),
    "exponential-sgd-d1000-B1024": _setup("exponential", "sgd", 1000, 1024),
}
CLASSES = [
    f"{model}-{optimizer}{'-layernorm' if layernorm else ''}-d{dim}"
    for model, optimizer, layernorm, dim in itertools.product(
        ("matrix", "learnable", "exponential"), ("sgd", "adam"), (False, True), (10, 100)
    )
]


@pytest.mark.parametrize("name", list(SETUPS))
def test_train_a_paper_grid_group(benchmark, name):
    """One group of the paper's grid: 10 seeds × 4 step sizes trained together (R = 40)."""
    benchmark.pedantic(train, (SETUPS[name], PAPER_SEEDS, PAPER_LRS), rounds=3)


def _baseline_seconds(setup: TrainingSetup) -> float:
    """Seconds of the autograd baseline for the 40 runs of a group, one at a time: the runs of
    ``BASELINE_SEEDS`` × ``PAPER_LRS``, scaled to the group's 10 seeds."""
    start = time.perf_counter()
    for seed, lr in itertools.product(BASELINE_SEEDS, PAPER_LRS):
        train_reference(setup, seed, lr)
    return (time.perf_counter() - start) * len(PAPER_SEEDS) / len(BASELINE_SEEDS)


@pytest.mark.parametrize("name", CLASSES)
def test_group_against_the_baseline(benchmark, name):
    """A whole 40-run group (B = 16, T = 10240) at d ≤ 100; ``extra_info['ratio']``: the
    baseline's time for the same 40 runs over ours (medians, measured in this test)."""
    model, optimizer, *rest = name.split("-")
    setup = _setup(model, optimizer, int(rest[-1][1:]), 16, layernorm="layernorm" in rest)
    benchmark.pedantic(train, (setup, PAPER_SEEDS, PAPER_LRS), rounds=3, warmup_rounds=1)
    baseline = sorted(_baseline_seconds(setup) for _ in range(3))[1]
    ours = benchmark.stats.stats.median
    benchmark.extra_info |= {"baseline_seconds": baseline, "ratio": baseline / ours}


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


def _best(function, repeats: int = 5) -> float:
    """Best wall time of ``function`` in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def test_machine_limits(benchmark):
    """What this machine sustains, the floor of a memory-bound step: a 256 MiB copy (bytes read
    and written per second) and a 2048² float32 matrix product (multiply-adds per second)."""
    source = torch.randn(2**26)
    target = torch.empty_like(source)
    benchmark.pedantic(target.copy_, (source,), rounds=5, warmup_rounds=1)
    copy = 2 * source.numel() * 4 / _best(lambda: target.copy_(source))
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    product = 2048**3 / _best(lambda: a @ b)
    benchmark.extra_info |= {
        "copy_GB_per_s": copy / 1e9,
        "matmul_GFMA_per_s": product / 1e9,
        "threads": torch.get_num_threads(),
    }
