"""Random embeddings: inputs ``e_x ~ N(0, I_d/d)``, outputs ``u_y`` uniform on the unit sphere
(or ``N(0, I_d/d)``).

Embeddings of dimension ``d`` are the first ``d`` coordinates of one standard normal stream per
seed, rescaled: the memories at ``d < d'`` share their randomness (common random numbers across
``d``), which makes per-seed slopes in ``d`` far less noisy without biasing any single ``d``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from memlaws.kernel import streams
from memlaws.kernel.validation import choice, positive_int, seed_list

OUTPUT_KINDS = ("sphere", "gaussian")


def scale_inputs(raw: torch.Tensor, dim: int) -> torch.Tensor:
    """Input embeddings of dimension ``dim`` from standard normal rows ``[..., ≥ dim]``."""
    return raw[..., :dim] / math.sqrt(dim)


def scale_outputs(raw: torch.Tensor, dim: int, kind: str) -> torch.Tensor:
    """Output embeddings of dimension ``dim`` from standard normal rows ``[..., ≥ dim]``."""
    prefix = raw[..., :dim]
    if kind == "sphere":
        return prefix / prefix.norm(dim=-1, keepdim=True)
    return prefix / math.sqrt(dim)


def input_embeddings(
    seeds: int | Sequence[int],
    n_tokens: int,
    dim: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Input embeddings ``E``, shape ``[R, N, d]`` (one row per token, entries ``N(0, 1/d)``)."""
    seed_values = seed_list("seeds", seeds)
    positive_int("N", n_tokens)
    positive_int("d", dim)
    raw = [streams.standard_normal(s, streams.INPUTS, slice(0, n_tokens), dim) for s in seed_values]
    return scale_inputs(torch.stack(raw), dim).to(device=device, dtype=dtype)


def output_embeddings(
    seeds: int | Sequence[int],
    n_classes: int,
    dim: int,
    *,
    kind: str = "sphere",
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Output embeddings ``U``, shape ``[R, M, d]`` (row ``y`` is ``u_y``)."""
    seed_values = seed_list("seeds", seeds)
    positive_int("M", n_classes)
    positive_int("d", dim)
    choice("kind", kind, OUTPUT_KINDS)
    raw = [
        streams.standard_normal(s, streams.OUTPUTS, slice(0, n_classes), dim) for s in seed_values
    ]
    return scale_outputs(torch.stack(raw), dim, kind).to(device=device, dtype=dtype)
