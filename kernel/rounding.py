"""How far rounding can move a population error: the ``p``-mass of near-ties.

``scheme_errors`` computes the scores ``s(x, y) = u_yᵀ W_q e_x`` in a floating-point type on some
device, with a summation order of that device's choosing. Whatever the order, the standard
forward-error bound for products of matrices (Higham, *Accuracy and Stability of Numerical
Algorithms*, §3.5) gives

    |ŝ(x, y) − s(x, y)| ≤ γₙ · (|z_x|ᵀ Σ_x' q(x') |z_x'| 1{f*(x') = ·} |U| |U|ᵀ)[y] / d,

with ``z`` the raw standard-normal input coordinates, ``γₙ = n·u / (1 − n·u)``, ``u`` the unit
roundoff of the type, and ``n`` the longest chain of roundings (``N`` terms in the class sums, ``d``
in the output Gram matrix and in each score, ``M`` in the product with the Gram matrix, a few for
the scalings). A token whose exact top score beats its runner-up by more than the two bounds
combined is read out the same on every device; only the others (near-ties) can flip. So two
devices' errors differ by at most the ``p``-mass of the near-ties, which this module computes
from float64 scores. TF32 matrix products on CUDA round far more coarsely than float32; the bound
assumes they are off (torch's default).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from memlaws.kernel import streams
from memlaws.kernel.embeddings import OUTPUT_KINDS, scale_outputs
from memlaws.kernel.validation import (
    choice,
    dimension_list,
    positive_int,
    seed_list,
    weights_tensor,
)

ROUNDING_CHAIN_EXTRA = 8  # roundings outside the three inner products (scalings, normalisation)


def unit_roundoff(dtype: torch.dtype) -> float:
    """``u``: half the distance from 1 to the next representable number of ``dtype``."""
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    return torch.finfo(dtype).eps / 2


def near_tie_mass(
    weights: torch.Tensor,
    probabilities: torch.Tensor,
    targets: torch.Tensor,
    n_classes: int,
    dims: Sequence[int],
    seeds: int | Sequence[int],
    *,
    outputs: str = "sphere",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The ``p``-mass of tokens whose top-two score gap lies within rounding of ``dtype``.

    Same arguments as ``scheme_errors`` with ``weights`` ``[N]`` or ``[R, N]`` and
    ``probabilities`` ``[N]``; float64 ``[R, len(dims)]``. Costs ``O(N·d·M)`` per seed and
    dimension in float64 on the CPU.
    """
    seed_values = seed_list("seeds", seeds)
    n_tokens = probabilities.shape[-1]
    measure = weights_tensor("probabilities", probabilities, n_tokens).to(torch.float64)
    q = weights_tensor("weights", weights, n_tokens).to(torch.float64)
    q = q.expand(len(seed_values), n_tokens)
    positive_int("M", n_classes)
    choice("outputs", outputs, OUTPUT_KINDS)
    dim_list = dimension_list("dims", dims)
    gamma = _gamma(n_tokens + 2 * max(dim_list) + n_classes + ROUNDING_CHAIN_EXTRA, dtype)
    onehot = torch.nn.functional.one_hot(targets, n_classes).to(torch.float64)
    masses = torch.zeros(len(seed_values), len(dim_list), dtype=torch.float64)
    for r, seed in enumerate(seed_values):
        raw_in = streams.standard_normal(seed, streams.INPUTS, slice(0, n_tokens), max(dim_list))
        raw_out = streams.standard_normal(seed, streams.OUTPUTS, slice(0, n_classes), max(dim_list))
        for j, dim in enumerate(dim_list):
            z = raw_in[:, :dim].to(torch.float64)
            out = scale_outputs(raw_out.to(torch.float64), dim, outputs)
            scores = z @ ((z.T @ (q[r, :, None] * onehot)) @ (out @ out.T)) / dim
            magnitude = z.abs() @ (
                (z.abs().T @ (q[r, :, None] * onehot)) @ (out.abs() @ out.abs().T)
            )
            bound = gamma * magnitude.max(-1).values / dim
            near = _top_two_gap(scores) <= 2 * bound
            masses[r, j] = (measure * near).sum()
    return masses


def _gamma(chain: int, dtype: torch.dtype) -> float:
    nu = chain * unit_roundoff(dtype)
    if nu >= 1:
        raise ValueError(f"a chain of {chain} roundings in {dtype} has no useful error bound")
    return nu / (1 - nu)


def _top_two_gap(scores: torch.Tensor) -> torch.Tensor:
    """Largest minus second-largest score per token, ``[N]`` (infinite when ``M = 1``)."""
    if scores.shape[-1] == 1:
        return torch.full(scores.shape[:-1], torch.inf, dtype=scores.dtype)
    top = scores.topk(2, dim=-1).values
    return top[..., 0] - top[..., 1]
