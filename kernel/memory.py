"""The associative memory ``W_q = Σ_x q(x) u_{f*(x)} e_xᵀ``, its scores, argmax readout and exact
population error.

Scores never form ``W`` nor any ``N × d × d`` product: with the class sums
``S[:, y] = Σ_{x: f*(x)=y} q(x) e_x`` (``d × M``) and the output Gram matrix ``G = U Uᵀ``
(``M × M``), ``s(x, ·) = e_xᵀ S G``, so all ``N × M`` scores cost ``O(N·d·M)``.

Shapes: ``R`` replicas (seeds), ``N`` tokens, ``M`` classes, ``d`` dimensions.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence

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

CHUNK_BYTES = 64 * 2**20  # memory for one chunk of raw input embeddings
CACHE_BYTES = 256 * 2**20  # keep raw embeddings between the two passes below this size
SCORE_KERNELS = ("auto", "torch", "triton")  # ways memory_scores may compute


def class_sums(
    weights: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, n_classes: int
) -> torch.Tensor:
    """``S[r, :, y] = Σ_{x: f*(x)=y} q[r, x] e_x``; weights ``[R, N]`` or ``[N]``, inputs
    ``[R, N, d]``; returns ``[R, d, M]``."""
    onehot = torch.nn.functional.one_hot(targets.to(inputs.device), n_classes).to(inputs.dtype)
    weighted = weights.to(device=inputs.device, dtype=inputs.dtype)[..., None] * onehot
    return inputs.transpose(-1, -2) @ weighted


def memory_matrix(
    weights: torch.Tensor, inputs: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """The explicit memory ``W_q``, ``[R, d, d]``; outputs ``[R, M, d]``. Costs ``O(d²)`` memory:
    for figures and checks, not for scoring."""
    sums = class_sums(weights, inputs, targets, outputs.shape[-2])
    return outputs.transpose(-1, -2) @ sums.transpose(-1, -2)


def memory_scores(
    weights: torch.Tensor,
    inputs: torch.Tensor,
    outputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    kernel: str = "auto",
) -> torch.Tensor:
    """Scores ``s[r, x, y] = u_yᵀ W_q e_x`` in ``O(N·d·M)``; returns ``[R, N, M]``.

    ``kernel``: ``"torch"`` (two batched products, the reference), ``"triton"`` (two passes over
    the embeddings, ``memlaws.kernel.score_kernel``: float32 on a CUDA device), or ``"auto"``,
    Triton where it runs well (float32 CUDA tensors, at most ``MAX_CLASSES`` classes, Triton
    installed), else torch."""
    choice("kernel", kernel, SCORE_KERNELS)
    if kernel == "auto":
        kernel = "torch"
        if inputs.is_cuda and inputs.dtype == torch.float32 and _triton_installed():
            from memlaws.kernel.score_kernel import MAX_CLASSES

            kernel = "triton" if outputs.shape[-2] <= MAX_CLASSES else "torch"
    if kernel == "triton":
        if not _triton_installed():
            raise ValueError("kernel='triton' needs the triton package; use 'torch' or 'auto'")
        from memlaws.kernel.score_kernel import triton_memory_scores

        return triton_memory_scores(weights, inputs, outputs, targets)
    sums = class_sums(weights, inputs, targets, outputs.shape[-2])
    gram = outputs @ outputs.transpose(-1, -2)
    return inputs @ (sums @ gram)


@functools.cache
def _triton_installed() -> bool:
    """Whether the triton package can be imported (looked up once: 25 µs a look-up)."""
    return importlib.util.find_spec("triton") is not None


def matrix_scores(
    matrix: torch.Tensor, inputs: torch.Tensor, outputs: torch.Tensor
) -> torch.Tensor:
    """Scores of any memory ``W`` (``[R, d, d]``): ``s[r, x, y] = u_yᵀ W e_x``; ``[R, N, M]``."""
    return inputs @ matrix.transpose(-1, -2) @ outputs.transpose(-1, -2)


def readout(scores: torch.Tensor) -> torch.Tensor:
    """Argmax class per token, ``[..., N]`` (ties go to the lowest class index)."""
    return scores.argmax(dim=-1)


def population_error(
    predictions: torch.Tensor, targets: torch.Tensor, probabilities: torch.Tensor
) -> torch.Tensor:
    """Exact ``𝓔 = Σ_x p(x)·1{f(x) ≠ f*(x)}`` over all tokens; float64 ``[...]``."""
    wrong = predictions.cpu() != targets.cpu()
    return (wrong.to(torch.float64) * probabilities.to(torch.float64).cpu()).sum(-1)


def scheme_errors(
    weights: torch.Tensor | Callable[[int], torch.Tensor],
    probabilities: torch.Tensor,
    targets: torch.Tensor,
    n_classes: int,
    dims: Sequence[int],
    seeds: int | Sequence[int],
    *,
    outputs: str = "sphere",
    centred: bool = False,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Population error of ``W_q`` with random embeddings, for every seed and every ``d``.
    ``centred`` stores ``u_{f*(x)} − ū`` (``ū`` the mean output) instead of ``u_{f*(x)}``: the
    memory SGD from ``W₀ = 0`` builds while every logit is near zero.

    ``weights`` is ``q``, ``[N]`` or ``[R, N]``, or a function of ``d`` returning such a tensor
    (for schemes such as thresholding with ``P = d/8``). ``probabilities`` is the measure the
    error is taken under, ``p`` (``[N]``), or one measure per seed (``[R, N]``, e.g. uniform on
    the tokens a sample has seen). Embeddings are drawn from each seed's
    stream (``memlaws.kernel.embeddings``), chunk by chunk, so memory stays at
    ``O(chunk·d_max + d_max·M)`` whatever ``N``. Returns float64 ``[R, len(dims)]``.
    """
    seed_values = seed_list("seeds", seeds)
    n_tokens, n_seeds = probabilities.shape[-1], len(seed_values)
    measure = weights_tensor("probabilities", probabilities, n_tokens)
    if measure.ndim == 2 and measure.shape[0] != n_seeds:
        raise ValueError(
            f"probabilities has {measure.shape[0]} rows but {n_seeds} seeds were given"
        )
    measure = measure.expand(n_seeds, n_tokens)
    positive_int("M", n_classes)
    dim_list = dimension_list("dims", dims)
    choice("outputs", outputs, OUTPUT_KINDS)
    if not isinstance(centred, bool):
        raise ValueError(f"centred must be True or False, got {centred!r}")
    tables = [weights(dim) for dim in dim_list] if callable(weights) else [weights]
    checked = []
    for table in tables:
        q = weights_tensor("weights", table, n_tokens)
        if q.ndim == 2 and q.shape[0] != n_seeds:
            raise ValueError(f"weights has {q.shape[0]} rows but {n_seeds} seeds were given")
        checked.append(q.expand(n_seeds, n_tokens))
    q_all = torch.stack(checked, dim=1)  # [R, 1 or D, N]
    errors = torch.zeros(n_seeds, len(dim_list), dtype=torch.float64)
    for r, seed in enumerate(seed_values):
        errors[r] = _replica_errors(
            q_all[r],
            measure[r],
            targets,
            n_classes,
            dim_list,
            seed,
            outputs,
            centred,
            dtype,
            device,
        )
    return errors


def _replica_errors(
    q: torch.Tensor,
    measure: torch.Tensor,
    targets: torch.Tensor,
    n_classes: int,
    dims: list[int],
    seed: int,
    outputs: str,
    centred: bool,
    dtype: torch.dtype,
    device: str | torch.device,
) -> torch.Tensor:
    """Errors ``[D]`` of one replica; ``q`` is ``[1, N]`` (shared by all ``d``) or ``[D, N]``."""
    n_tokens, d_max = q.shape[1], max(dims)
    block = streams.ROW_BLOCKS[streams.INPUTS]
    rows = max(block, CHUNK_BYTES // (4 * d_max) // block * block)
    chunks = [slice(a, min(a + rows, n_tokens)) for a in range(0, n_tokens, rows)]
    cache: dict[int, torch.Tensor] | None = {} if n_tokens * d_max * 4 <= CACHE_BYTES else None

    def raw_inputs(i: int) -> torch.Tensor:
        if cache is not None and i in cache:
            return cache[i]
        raw = streams.standard_normal(seed, streams.INPUTS, chunks[i], d_max)
        raw = raw.to(device=device, dtype=dtype)
        if cache is not None:
            cache[i] = raw
        return raw

    onehot = torch.nn.functional.one_hot(targets, n_classes).to(device=device, dtype=dtype)
    q_device = q.to(device=device, dtype=dtype)
    # sums[k] = Σ_x q_k(x) z_x onehot(f*(x)) over raw coordinates, only as many as needed
    widths = [d_max] if q.shape[0] == 1 else dims
    sums = [torch.zeros(w, n_classes, device=device, dtype=dtype) for w in widths]
    for i, chunk in enumerate(chunks):
        for k, width in enumerate(widths):
            stored = torch.nonzero(q[k, chunk] > 0).squeeze(1)  # only stored tokens contribute
            if stored.numel():
                rows = stored.to(device)
                weighted = q_device[k, chunk][rows, None] * onehot[chunk][rows]
                sums[k] += raw_inputs(i)[rows, :width].T @ weighted

    raw_outputs = streams.standard_normal(seed, streams.OUTPUTS, slice(0, n_classes), d_max)
    raw_outputs = raw_outputs.to(device=device, dtype=dtype)
    kernels = []
    for j, dim in enumerate(dims):
        out = scale_outputs(raw_outputs, dim, outputs)
        sums_d = sums[j if len(sums) > 1 else 0][:dim]
        gram = out @ out.T  # [c, y]: the stored v_c = u_c's score on class y
        if centred:
            gram = gram - gram.mean(dim=0, keepdim=True)  # v_c = u_c − ū
        kernels.append(sums_d @ gram / dim)  # e_xᵀ S_d G_d = z_x[:d]ᵀ (this)

    targets_device = targets.to(device)
    p_device = measure.to(device=device, dtype=torch.float64)
    errors = torch.zeros(len(dims), device=device, dtype=torch.float64)
    for i, chunk in enumerate(chunks):
        z = raw_inputs(i)
        for j, dim in enumerate(dims):
            wrong = (z[:, :dim] @ kernels[j]).argmax(-1) != targets_device[chunk]
            errors[j] += (p_device[chunk] * wrong).sum()
    return errors.cpu()
