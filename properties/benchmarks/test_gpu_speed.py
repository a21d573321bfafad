"""GPU timings (``tox -e bench -- -m gpu`` on a CUDA machine; skipped without one): the paper's
whole 40,320-run grid through ``memlaws simulate``, reported in runs per second, and the score
kernel's achieved memory bandwidth as a fraction of what a device-to-device copy reaches."""

from __future__ import annotations

import io
import time

import pytest
import torch

from memlaws.kernel import memory_scores, modular_targets, power_weights, zipf_probabilities
from memlaws.theory.simulate import checked_grid, expand, simulate
from properties.benchmarks.grid_projection import PAPER_GRID

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_paper_grid_on_cuda(benchmark):
    runs = expand(checked_grid(PAPER_GRID))
    assert len(runs) == 40_320
    start = time.perf_counter()
    benchmark.pedantic(lambda: simulate(runs, io.StringIO(), device="cuda"), rounds=1)
    seconds = time.perf_counter() - start
    benchmark.extra_info |= {"runs": len(runs), "runs_per_second": len(runs) / seconds}


def _timed(function, repeats: int = 5) -> float:
    """Best wall time of ``function`` on the device, in seconds (synchronised)."""
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("kernel", ["torch", "triton"])
def test_score_kernel_bandwidth(benchmark, kernel):
    """``memory_scores`` on N = 2²⁰ tokens at d = 1024 (4 GiB of embeddings) reads the
    embeddings twice (class sums, then scores): bytes moved / time, against a plain copy; by
    the torch reference and by the Triton kernel (``memlaws.kernel.score_kernel``)."""
    n_tokens, dim, n_classes = 2**20, 1024, 5
    p = zipf_probabilities(n_tokens, 2.0)
    generator = torch.Generator(device="cuda").manual_seed(0)
    inputs = torch.randn(1, n_tokens, dim, device="cuda", generator=generator) / dim**0.5
    outputs = torch.randn(1, n_classes, dim, device="cuda", generator=generator) / dim**0.5
    targets = modular_targets(n_tokens, n_classes).cuda()
    weights = power_weights(p, 1.0).cuda()

    def scores() -> None:
        memory_scores(weights, inputs, outputs, targets, kernel=kernel)
        torch.cuda.synchronize()  # else the benchmark times the launch alone (0.29 ms on an H100)

    benchmark.pedantic(scores, rounds=3, warmup_rounds=1)
    bytes_read = 2 * inputs.numel() * inputs.element_size()
    achieved = bytes_read / _timed(scores)
    copy = 2 * inputs.numel() * inputs.element_size() / _timed(inputs.clone)  # read + write
    benchmark.extra_info |= {
        "achieved_GB_per_s": achieved / 1e9,
        "copy_GB_per_s": copy / 1e9,
        "fraction_of_copy_bandwidth": achieved / copy,
    }
