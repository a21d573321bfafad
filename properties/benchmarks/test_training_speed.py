"""pytest-benchmark timings of the trainers (``tox -e bench``): ``train`` on representative
setups of the paper's grid; whole 40-run groups at ``d ≤ 100`` against the autograd baseline in
the same run (the ratio goes to ``extra_info``, so a slower machine is not read as a
regression); ``memlaws simulate`` over a subset of that grid against the same runs one at a time
through the baseline; and what this machine sustains (memory copy, a large matrix product), the
floor of the memory-bound groups. Speed is measured here, never asserted.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import statistics
import time

import pytest
import torch

from memlaws.kernel.reference_training import train_reference
from memlaws.kernel.setup import TrainingSetup
from memlaws.kernel.training import intra_op_threads, train
from memlaws.theory.cost import group_seconds
from memlaws.theory.machine_speed import speed_factors
from memlaws.theory.simulate import checked_grid, expand, setup_of, simulate

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
    """One group of the paper's grid: 10 seeds × 4 step sizes trained together (R = 40).
    ``extra_info``: what ``simulate --dry-run`` would estimate for it (the time model, scaled to
    this machine by its probes) over the median measured here, to follow the model's accuracy
    from machine to machine."""
    benchmark.pedantic(train, (SETUPS[name], PAPER_SEEDS, PAPER_LRS), rounds=3)
    estimate = group_seconds(SETUPS[name], 10, 4, sharded=True, speed=speed_factors())
    benchmark.extra_info["estimate_over_measured"] = estimate / benchmark.stats.stats.median


def _median_seconds(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _baseline(setup: TrainingSetup) -> None:
    """The autograd baseline on the runs of ``BASELINE_SEEDS`` × ``PAPER_LRS``, one at a time."""
    for seed, lr in itertools.product(BASELINE_SEEDS, PAPER_LRS):
        train_reference(setup, seed, lr)


@pytest.mark.parametrize("name", CLASSES)
def test_group_against_the_baseline(benchmark, name):
    """A whole 40-run group (B = 16, T = 10240) at d ≤ 100, timed with torch's threads (two
    shards of replicas on two cores). ``extra_info``: the baseline's median time for the same
    40 runs one at a time (``BASELINE_SEEDS`` scaled to 10 seeds), on one thread, its fastest
    (its products are too small to share: a second thread only adds waits), and ``ratio``,
    baseline over ours; ``ratio_one_thread``, with ours on one thread too (per core)."""
    model, optimizer, *rest = name.split("-")
    setup = _setup(model, optimizer, int(rest[-1][1:]), 16, layernorm="layernorm" in rest)
    group = (setup, PAPER_SEEDS, PAPER_LRS)
    benchmark.pedantic(train, group, rounds=3, warmup_rounds=1)
    if benchmark.disabled:  # --benchmark-disable: the run above is a smoke test, nothing timed
        return
    with intra_op_threads(1):
        baseline = _median_seconds(lambda: _baseline(setup)) * 10 / len(BASELINE_SEEDS)
        one_thread = _median_seconds(lambda: train(*group))
    benchmark.extra_info |= {
        "baseline_seconds": baseline,
        "ratio": baseline / benchmark.stats.stats.median,
        "ratio_one_thread": baseline / one_thread,
    }


def test_simulate_paper_subset(benchmark):
    """``memlaws simulate`` over the 108-run subset (36 batched ``train`` calls), mostly the
    dense ``d = 1000`` groups; ``extra_info``: the same runs one at a time through the autograd
    baseline (one thread, once) and ``ratio``, baseline over ours."""
    runs = expand(checked_grid(SUBSET))
    benchmark.pedantic(lambda: simulate(runs, io.StringIO()), rounds=1)
    if benchmark.disabled:
        return
    with intra_op_threads(1):
        start = time.perf_counter()
        for run in runs:
            train_reference(setup_of(run), run["seed"], run["lr"])
        baseline = time.perf_counter() - start
    ratio = baseline / benchmark.stats.stats.median
    benchmark.extra_info |= {"baseline_seconds": baseline, "ratio": ratio}


def _best(function, repeats: int = 5) -> float:
    """Best wall time of ``function`` in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def test_machine_limits(benchmark):
    """What this machine sustains, the floor of a memory- or compute-bound step: a 256 MiB copy
    (bytes read and written per second) and a 2048² float32 matrix product (multiply-adds per
    second), with torch's threads and with one (best of 5 each)."""
    source = torch.randn(2**26)
    target = torch.empty_like(source)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    benchmark.pedantic(target.copy_, (source,), rounds=5, warmup_rounds=1)
    for label, count in (("", torch.get_num_threads()), ("_one_thread", 1)):
        with intra_op_threads(count):
            copy = 2 * source.numel() * 4 / _best(lambda: target.copy_(source))
            product = 2048**3 / _best(lambda: a @ b)
        benchmark.extra_info |= {
            f"copy_GB_per_s{label}": copy / 1e9,
            f"matmul_GFMA_per_s{label}": product / 1e9,
        }


# Per step of a 40-run group at d = 1000, B = 16 (K = 16 rows): multiply-adds and bytes of the
# d × d memories streamed from memory (R = 40 memories of 4 MB: 160 MB a pass).
FLOOR_DIM, FLOOR_R, FLOOR_K, FLOOR_M = 1000, 40, 16, 5
_SQUARE = FLOOR_R * FLOOR_DIM**2  # entries of the R memories
DENSE_STEPS = {  # name: (setup, multiply-adds, bytes)
    "matrix-adam": (  # Uᵀ Wᵀ, gradient P Uᵀ in blocks; W read twice, written once
        _setup("matrix", "adam", 1000, 16),
        2 * FLOOR_M * _SQUARE,
        3 * 4 * _SQUARE,
    ),
    "matrix-adam-layernorm": (  # e W, gradient eᵀ g_h in blocks
        _setup("matrix", "adam", 1000, 16, layernorm=True),
        2 * FLOOR_K * _SQUARE,
        3 * 4 * _SQUARE,
    ),
    "learnable-sgd": (  # Uᵀ Wᵀ, Pᵀ W, W − P Uᵀ
        _setup("learnable", "sgd", 1000, 16),
        3 * FLOOR_M * _SQUARE,
        4 * 4 * _SQUARE,
    ),
    "learnable-adam": (
        _setup("learnable", "adam", 1000, 16),
        3 * FLOOR_M * _SQUARE,
        4 * 4 * _SQUARE,
    ),
    "learnable-sgd-layernorm": (  # e W, g_h Wᵀ, W − eᵀ g_h
        _setup("learnable", "sgd", 1000, 16, layernorm=True),
        3 * FLOOR_K * _SQUARE,
        4 * 4 * _SQUARE,
    ),
    "learnable-adam-layernorm": (
        _setup("learnable", "adam", 1000, 16, layernorm=True),
        3 * FLOOR_K * _SQUARE,
        4 * 4 * _SQUARE,
    ),
}


@pytest.fixture(scope="module")
def limits() -> dict[str, float]:
    """Bytes and multiply-adds per second this machine sustains now, on all of torch's threads:
    a 256 MiB copy (read and write) and a 2048² float32 matrix product (best of 5)."""
    source = torch.randn(2**26)
    target = torch.empty_like(source)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return {
        "bytes": 2 * source.numel() * 4 / _best(lambda: target.copy_(source)),
        "fma": 2048**3 / _best(lambda: a @ b),
    }


@pytest.mark.parametrize("name", list(DENSE_STEPS))
def test_dense_step_against_its_floor(benchmark, limits, name):
    """One step of a dense d = 1000 group (40 runs, B = 16): 32 steps less 1, over 31.
    ``extra_info``: the floor, the larger of its bytes over the copy rate and its multiply-adds
    over the matrix-product rate, and ``over_floor``, our step over it."""
    setup, fma, memory_bytes = DENSE_STEPS[name]
    longer, shorter = (dataclasses.replace(setup, n_samples=16 * n) for n in (32, 1))
    group = (PAPER_SEEDS, PAPER_LRS)
    benchmark.pedantic(train, (longer, *group), rounds=2)
    if benchmark.disabled:
        return
    step = (benchmark.stats.stats.median - _median_seconds(lambda: train(shorter, *group))) / 31
    floor = max(memory_bytes / limits["bytes"], fma / limits["fma"])
    benchmark.extra_info |= {
        "step_ms": 1e3 * step,
        "floor_ms": 1e3 * floor,
        "over_floor": step / floor,
        "memory_bound": memory_bytes / limits["bytes"] > fma / limits["fma"],
    }
