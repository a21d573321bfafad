"""The Triton score kernel (``memlaws.kernel.score_kernel``) against the torch reference.

The agreement tests run where Triton can: on a CUDA device (``tox -e gpu``), or on the CPU under
Triton's interpreter (``tox -e triton-interpret``). Argument checks run everywhere."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

from memlaws.kernel import memory_scores, modular_targets, zipf_probabilities

HAS_TRITON = importlib.util.find_spec("triton") is not None
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
DEVICES = [
    pytest.param("cuda", marks=pytest.mark.gpu),
    pytest.param(
        "cpu",
        marks=pytest.mark.skipif(not INTERPRETED, reason="the CPU runs Triton interpreted only"),
    ),
]
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="needs the triton package")

# (R or None for no replica axis on that argument, N, d, M): rows and columns off the blocks'
# multiples, one class, class counts off a power of two, replicas on any one argument
SHAPES = [
    ((1, 1, 1), 300, 70, 5),
    ((3, 3, 3), 100, 129, 4),
    ((2, None, None), 257, 33, 1),
    ((None, 2, None), 64, 256, 7),
    ((None, None, 2), 97, 200, 5),
    ((None, None, None), 1000, 64, 3),
    ((2, 2, 2), 50, 40, 20),  # more classes than "auto" gives Triton: still right
]


def _arguments(replicas, n_tokens, dim, n_classes, device):
    generator = torch.Generator().manual_seed(n_tokens * dim + n_classes)
    weights_r, inputs_r, outputs_r = replicas
    inputs = torch.randn(*([inputs_r] if inputs_r else []), n_tokens, dim, generator=generator)
    outputs = torch.randn(*([outputs_r] if outputs_r else []), n_classes, dim, generator=generator)
    weights = zipf_probabilities(n_tokens, 2.0)
    if weights_r:
        weights = weights * torch.rand(weights_r, n_tokens, generator=generator)
    targets = modular_targets(n_tokens, n_classes)
    return [t.to(device) for t in (weights, inputs / dim**0.5, outputs / dim**0.5, targets)]


@needs_triton
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("replicas", "n_tokens", "dim", "n_classes"), SHAPES)
def test_triton_scores_agree_with_the_reference(device, replicas, n_tokens, dim, n_classes):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    arguments = _arguments(replicas, n_tokens, dim, n_classes, device)
    reference = memory_scores(*arguments, kernel="torch")
    fused = memory_scores(*arguments, kernel="triton")
    assert fused.shape == reference.shape
    scale = reference.abs().max().item()
    # float32 sums of N·d terms in another order: a few ulps of the largest score
    torch.testing.assert_close(fused, reference, rtol=0, atol=1e-5 * scale)
    assert torch.equal(memory_scores(*arguments, kernel="triton"), fused)  # no atomics


@needs_triton
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_takes_triton_on_cuda():
    arguments = _arguments((1, 1, 1), 300, 70, 5, "cuda")
    fused = memory_scores(*arguments, kernel="triton")
    assert torch.equal(memory_scores(*arguments), fused)


def test_kernel_must_be_named():
    arguments = _arguments((1, 1, 1), 30, 8, 5, "cpu")
    with pytest.raises(ValueError, match="kernel must be one of 'auto', 'torch', 'triton'"):
        memory_scores(*arguments, kernel="cuda")


@pytest.mark.skipif(INTERPRETED, reason="the interpreter runs Triton on the CPU")
def test_triton_on_the_cpu_is_refused_clearly():
    arguments = _arguments((1, 1, 1), 30, 8, 5, "cpu")
    with pytest.raises(ValueError, match="kernel='triton' needs"):
        memory_scores(*arguments, kernel="triton")


@needs_triton
@pytest.mark.skipif(not INTERPRETED, reason="needs a device the kernel runs on")
def test_triton_takes_float32_only():
    arguments = _arguments((1, 1, 1), 30, 8, 5, "cpu")
    arguments[1] = arguments[1].double()
    with pytest.raises(ValueError, match="float32"):
        memory_scores(*arguments, kernel="triton")
