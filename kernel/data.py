"""Zipf data: token probabilities, targets, seeded samples and their counts, and the
finite-data memoriser of Proposition 1 (R1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from memlaws.kernel import streams
from memlaws.kernel.validation import nonnegative_int, positive_float, positive_int, seed_list


def zipf_probabilities(n_tokens: int, alpha: float) -> torch.Tensor:
    """``p(x) ∝ (x + 1)^(-alpha)`` for tokens ``x = 0 … N-1``; float64, shape ``[N]``."""
    positive_int("N", n_tokens)
    positive_float("alpha", alpha)
    ranks = torch.arange(1, n_tokens + 1, dtype=torch.float64)
    unnormalised = ranks.pow(-alpha)
    return unnormalised / unnormalised.sum()


def truncated_zipf_probabilities(n_tokens: int, alpha: float, kept: int) -> torch.Tensor:
    """Zipf(``alpha``) on ``N`` tokens restricted to its ``kept`` most frequent ones and
    renormalised: ``p̃(x) ∝ (x + 1)^(-alpha)`` for ``x < kept``, 0 beyond; float64 ``[N]``."""
    positive_int("N", n_tokens)
    positive_float("alpha", alpha)
    positive_int("kept", kept)
    if kept > n_tokens:
        raise ValueError(f"kept must be an integer in [1, N] = [1, {n_tokens}], got {kept}")
    truncated = zipf_probabilities(n_tokens, alpha)
    truncated[kept:] = 0.0
    return truncated / truncated[:kept].sum()


def modular_targets(n_tokens: int, n_classes: int) -> torch.Tensor:
    """The default target ``f*(x) = x mod M``; int64, shape ``[N]``."""
    positive_int("N", n_tokens)
    _check_classes(n_classes, n_tokens)
    return torch.arange(n_tokens) % n_classes


def checked_targets(targets: object, n_tokens: int, n_classes: int) -> torch.Tensor:
    """Return a user's label array as int64 ``[N]`` after checking its length and range."""
    _check_classes(n_classes, n_tokens)
    labels = torch.as_tensor(targets)
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(f"targets must be integer class labels, got dtype {labels.dtype}")
    if labels.shape != (n_tokens,):
        raise ValueError(f"targets must have shape [N] = [{n_tokens}], got {tuple(labels.shape)}")
    if n_tokens and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(f"targets must lie in [0, M-1] = [0, {n_classes - 1}]")
    return labels.to(torch.int64)


def _check_classes(n_classes: int, n_tokens: int) -> None:
    positive_int("M", n_classes)
    if n_classes > n_tokens:
        raise ValueError(f"M must be an integer in [1, N] = [1, {n_tokens}], got {n_classes}")


def sample_tokens(probabilities: torch.Tensor, n_samples: int, seed: int) -> torch.Tensor:
    """``T`` i.i.d. tokens from ``probabilities`` (inverse CDF of seeded uniforms); int64 ``[T]``.

    The first ``T`` tokens of a larger sample with the same seed are this sample.
    """
    nonnegative_int("T", n_samples)
    (seed,) = seed_list("seed", seed)
    cumulative = torch.cumsum(probabilities.to(torch.float64).cpu(), dim=0)
    draws = streams.uniform(seed, streams.TOKENS, n_samples)
    return torch.searchsorted(cumulative[:-1].contiguous(), draws, right=True)


def sample_counts(
    probabilities: torch.Tensor, sizes: int | Sequence[int], seeds: int | Sequence[int]
) -> torch.Tensor:
    """Counts ``n_x`` of the nested samples of each size; int64 ``[R, K, N]``.

    ``sizes`` lists the ``K`` sample sizes ``T`` (an int gives ``K = 1``), ``seeds`` the ``R``
    replicas. Entry ``[r, k]`` counts the first ``sizes[k]`` tokens of replica ``r``'s stream.
    """
    size_list = [sizes] if isinstance(sizes, int) and not isinstance(sizes, bool) else list(sizes)
    if not size_list:
        raise ValueError("sizes must be a non-empty list of integers T >= 0")
    for i, size in enumerate(size_list):
        nonnegative_int(f"sizes[{i}]", size)
    seed_values = seed_list("seeds", seeds)
    n_tokens = probabilities.shape[0]
    counts = torch.zeros(len(seed_values), len(size_list), n_tokens, dtype=torch.int64)
    order = sorted(range(len(size_list)), key=size_list.__getitem__)
    for r, seed in enumerate(seed_values):
        tokens = sample_tokens(probabilities, max(size_list), seed)
        running = torch.zeros(n_tokens, dtype=torch.int64)
        done = 0
        for k in order:
            running += torch.bincount(tokens[done : size_list[k]], minlength=n_tokens)
            done = size_list[k]
            counts[r, k] = running
    return counts


def memoriser_error(probabilities: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Error of the estimator that stores every seen pair: ``Σ_x p(x)·1{n_x = 0}``; float64,
    the shape of ``counts`` without its last (token) axis."""
    p = probabilities.to(torch.float64).cpu()
    return ((counts.cpu() == 0).to(torch.float64) * p).sum(-1)


def _sample_sizes(n_samples: int | Sequence[int]) -> torch.Tensor:
    """``n_samples`` (one ``T`` or several), checked, as a float64 column ``[K, 1]``."""
    size_list = [n_samples] if isinstance(n_samples, int) else list(n_samples)
    for i, size in enumerate(size_list):
        nonnegative_int(f"n_samples[{i}]", size)
    return torch.tensor(size_list, dtype=torch.float64)[:, None]


def _unseen_probabilities(q: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """``(1 − q(x))^T`` ``[K, N]`` for the float64 law ``q`` ``[N]`` and sizes ``[K, 1]``
    (exactly 1 at ``T = 0``)."""
    return torch.where(sizes == 0, 1.0, torch.exp(sizes * torch.log1p(-q)))


def expected_memoriser_error(
    probabilities: torch.Tensor, n_samples: int | Sequence[int]
) -> torch.Tensor:
    """Exact ``E[𝓔(f̂_T)] = Σ_x p(x)(1 − p(x))^T`` for each ``T``; float64 ``[K]``."""
    p = probabilities.to(torch.float64).cpu()
    return (p * _unseen_probabilities(p, _sample_sizes(n_samples))).sum(-1)


def seen_probabilities(probabilities: torch.Tensor, n_samples: int | Sequence[int]) -> torch.Tensor:
    """``P(n_x > 0) = 1 − (1 − p(x))^T`` of every token for each ``T``; float64 ``[K, N]``.
    Summed over tokens it is the expected number of seen tokens."""
    p = probabilities.to(torch.float64).cpu()
    return -torch.expm1(_sample_sizes(n_samples) * torch.log1p(-p))


def expected_mismatched_memoriser_error(
    probabilities: torch.Tensor, training: torch.Tensor, n_samples: int | Sequence[int]
) -> torch.Tensor:
    """Exact ``E[𝓔] = Σ_x p(x)(1 − q(x))^T`` of the memoriser trained on ``T`` samples from
    ``training`` (``q``, ``[N]``) and tested on ``probabilities`` (``p``, ``[N]``): tokens with
    ``q(x) = 0`` are never seen and always wrong. Float64 ``[K]``, one per ``T``."""
    p = probabilities.to(torch.float64).cpu()
    q = training.to(torch.float64).cpu()
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(
            f"probabilities and training must both have shape [N], got "
            f"{tuple(p.shape)}, {tuple(q.shape)}"
        )
    if bool((q < 0).any()) or bool((q > 1).any()):
        raise ValueError("training must hold probabilities in [0, 1]")
    return (p * _unseen_probabilities(q, _sample_sizes(n_samples))).sum(-1)
