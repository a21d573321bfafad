"""Memory schemes ``q : [N] → R_+``: which tokens a memory stores, and with what weight.

Each function returns float64 weights, ``[N]`` for schemes of the distribution, ``[..., N]`` for
schemes of counts ``n_x`` (one row per replica and sample size).
"""

from __future__ import annotations

import torch

from memlaws.kernel import streams
from memlaws.kernel.validation import choice, int_in_range, positive_float, seed_list

SCHEMES = ("power", "threshold", "fill", "empirical_power", "threshold_counts", "fill_seen")


def power_weights(probabilities: torch.Tensor, rho: float) -> torch.Tensor:
    """Frequency weighting ``q = p^ρ`` (R2a)."""
    positive_float("rho", rho)
    return probabilities.to(torch.float64).pow(rho)


def threshold_weights(probabilities: torch.Tensor, n_kept: int) -> torch.Tensor:
    """Thresholding ``q = 1{x among the P most probable}`` (R2b); ties go to lower indices."""
    n_tokens = probabilities.shape[0]
    int_in_range("P", n_kept, 0, n_tokens)
    order = torch.argsort(probabilities, descending=True, stable=True)
    weights = torch.zeros(n_tokens, dtype=torch.float64)
    weights[order[:n_kept]] = 1.0
    return weights


def fill_weights(n_tokens: int) -> torch.Tensor:
    """Fill every token with equal weight, ``q ≡ 1`` (R2c)."""
    int_in_range("N", n_tokens, 1, 2**62)
    return torch.ones(n_tokens, dtype=torch.float64)


def empirical_power_weights(counts: torch.Tensor, rho: float) -> torch.Tensor:
    """``q = p̂^ρ`` with ``p̂ = n_x / T`` (R3a for ``ρ = 1``)."""
    positive_float("rho", rho)
    counts = _checked_counts(counts)
    totals = counts.sum(-1, keepdim=True).clamp_min(1)
    return (counts / totals).pow(rho)


def fill_seen_weights(counts: torch.Tensor) -> torch.Tensor:
    """Fill every seen token with equal weight, ``q = 1{n_x > 0}`` (R3b)."""
    return (_checked_counts(counts) > 0).to(torch.float64)


def count_ranking(counts: torch.Tensor, seed: int) -> torch.Tensor:
    """Tokens ordered by decreasing count, ``[..., N]``; ties between equal counts are broken by
    seeded random keys, not by the (unknown to the learner) true ranking."""
    counts = _checked_counts(counts)
    (seed,) = seed_list("seed", seed)
    keys = counts.to(torch.float64) + 0.5 * streams.uniform(seed, streams.TIES, counts.shape[-1])
    return torch.argsort(keys, dim=-1, descending=True)


def threshold_counts_weights(
    counts: torch.Tensor, n_kept: int, seed: int, ranking: torch.Tensor | None = None
) -> torch.Tensor:
    """Keep the ``P`` most frequent *seen* tokens (R3c), ranked by ``count_ranking`` (pass a
    precomputed ``ranking`` to reuse it across ``P``)."""
    counts = _checked_counts(counts)
    int_in_range("P", n_kept, 0, counts.shape[-1])
    order = count_ranking(counts, seed) if ranking is None else ranking
    kept = torch.zeros(counts.shape, dtype=torch.float64)
    kept.scatter_(-1, order[..., :n_kept], 1.0)
    return kept * (counts > 0)


def scheme_weights(
    scheme: str,
    *,
    probabilities: torch.Tensor | None = None,
    counts: torch.Tensor | None = None,
    rho: float = 1.0,
    n_kept: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Weights of the scheme named ``scheme`` (one of ``SCHEMES``)."""
    choice("scheme", scheme, SCHEMES)
    needs_counts = scheme in ("empirical_power", "threshold_counts", "fill_seen")
    source = counts if needs_counts else probabilities
    if source is None:
        needed = "counts" if needs_counts else "probabilities"
        raise ValueError(f"scheme {scheme!r} needs the argument {needed}")
    if scheme in ("threshold", "threshold_counts") and n_kept is None:
        raise ValueError(f"scheme {scheme!r} needs the argument n_kept (P, in [0, N])")
    if scheme == "power":
        return power_weights(source, rho)
    if scheme == "threshold":
        return threshold_weights(source, n_kept)  # type: ignore[arg-type]
    if scheme == "fill":
        return fill_weights(source.shape[0])
    if scheme == "empirical_power":
        return empirical_power_weights(source, rho)
    if scheme == "threshold_counts":
        return threshold_counts_weights(source, n_kept, seed)  # type: ignore[arg-type]
    return fill_seen_weights(source)


def _checked_counts(counts: torch.Tensor) -> torch.Tensor:
    counts = torch.as_tensor(counts)
    if counts.is_floating_point() or counts.dtype == torch.bool:
        raise ValueError(f"counts must be integer token counts, got dtype {counts.dtype}")
    if bool((counts < 0).any()):
        raise ValueError("counts must be >= 0 everywhere; it holds negative values")
    return counts
