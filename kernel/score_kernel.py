"""Memory scores in two bandwidth-bound passes over the embeddings (Triton, for CUDA devices).

``memlaws.kernel.memory.memory_scores`` with ``kernel="triton"`` calls ``triton_memory_scores``;
its torch path is the reference and the path on the CPU. The scores
``s[r, x, y] = e_xᵀ S G`` need the class sums ``S`` (``d × M``) of all ``N`` tokens before the
first score, so the embeddings are read twice, each time once and in full rows:

Neither pass reduces inside its loop: products accumulate elementwise in a tile-shaped
accumulator (``M'`` classes, ``M`` padded to a power of two, × rows × columns) that is summed
once at the end, so the loops are loads and fused multiply-adds.

1. ``_class_sums_kernel``: program ``(r, column block, split)`` accumulates
   ``Σ_x q(x)·1{f*(x)=y} e_x`` over its split's rows for every class ``y``, into a partial
   ``[R, splits, M, d]``; torch then sums the splits, always in the same order (no atomics: the
   same inputs give the same numbers).
2. ``_scores_kernel``: program ``(r, row block)`` reads its rows once and forms all ``M`` scores
   against ``Kᵀ = G Sᵀ`` (``M × d``, formed by torch in between, small).

Offsets are 64-bit (``R·N·d`` may pass 2³¹). Accumulation is in float32 in the order of the
blocks, not cuBLAS's: scores agree with the reference to rounding
(``properties/test_score_kernel.py``). Runs on CUDA tensors, or on CPU tensors under Triton's
interpreter (``TRITON_INTERPRET=1``), which the tests use.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

SUM_ROWS = 8  # embedding rows per class-sum tile
SCORE_ROWS = 16  # embedding rows per score program
BLOCK_COLUMNS = 128  # embedding columns per tile (512 bytes of a row)
SUM_PROGRAMS = 1024  # class-sum programs per call: several per multiprocessor
SCORE_WARPS = 8  # the score program's accumulator, 16 × 8 × 128, over 256 threads
MAX_CLASSES = 16  # above, the accumulators outgrow the registers: "auto" takes torch


@triton.jit
def _class_sums_kernel(
    inputs,
    weights,
    targets,
    partial,
    n_tokens,
    dim,
    rows_per_split,
    inputs_replica_stride,
    weights_replica_stride,
    n_splits,
    n_classes: tl.constexpr,
    classes_padded: tl.constexpr,
    block_rows: tl.constexpr,
    block_columns: tl.constexpr,
):
    replica = tl.program_id(0).to(tl.int64)
    column_block, split = tl.program_id(1), tl.program_id(2)
    columns = column_block * block_columns + tl.arange(0, block_columns)
    column_ok = columns < dim
    classes = tl.arange(0, classes_padded)
    # products accumulate per (class, row of the tile, column); rows are summed once at the end
    products = tl.zeros((classes_padded, block_rows, block_columns), dtype=tl.float32)
    first = split * rows_per_split  # a multiple of block_rows, as rows_per_split is
    for offset in range(0, rows_per_split, block_rows):
        rows = (first + offset + tl.arange(0, block_rows)).to(tl.int64)
        row_ok = rows < n_tokens
        q = tl.load(weights + replica * weights_replica_stride + rows, mask=row_ok, other=0.0)
        label = tl.load(targets + rows, mask=row_ok, other=-1)
        tile = tl.load(
            inputs + replica * inputs_replica_stride + rows[:, None] * dim + columns[None, :],
            mask=row_ok[:, None] & column_ok[None, :],
            other=0.0,
        )
        weighted = tl.where(classes[:, None] == label[None, :], q[None, :], 0.0)  # [M', rows]
        products += weighted[:, :, None] * tile[None, :, :]
    sums = tl.sum(products, axis=1)  # [M', columns]
    offsets = (replica * n_splits + split) * n_classes * dim
    tl.store(
        partial + offsets + classes[:, None] * dim + columns[None, :],
        sums,
        mask=(classes[:, None] < n_classes) & column_ok[None, :],
    )


@triton.jit
def _scores_kernel(
    inputs,
    kernel_t,
    scores,
    n_tokens,
    dim,
    inputs_replica_stride,
    n_classes: tl.constexpr,
    classes_padded: tl.constexpr,
    block_rows: tl.constexpr,
    block_columns: tl.constexpr,
):
    replica = tl.program_id(0).to(tl.int64)
    rows = (tl.program_id(1) * block_rows + tl.arange(0, block_rows)).to(tl.int64)
    row_ok = rows < n_tokens
    classes = tl.arange(0, classes_padded)
    class_ok = classes < n_classes
    # products accumulate per (row, class, column); columns are summed once at the end
    products = tl.zeros((block_rows, classes_padded, block_columns), dtype=tl.float32)
    for start in range(0, dim, block_columns):
        columns = start + tl.arange(0, block_columns)
        column_ok = columns < dim
        tile = tl.load(
            inputs + replica * inputs_replica_stride + rows[:, None] * dim + columns[None, :],
            mask=row_ok[:, None] & column_ok[None, :],
            other=0.0,
        )
        kernel = tl.load(
            kernel_t + (replica * n_classes + classes[:, None]) * dim + columns[None, :],
            mask=class_ok[:, None] & column_ok[None, :],
            other=0.0,
        )  # [M', columns]: small, read from cache
        products += tile[:, None, :] * kernel[None, :, :]
    totals = tl.sum(products, axis=2)  # [rows, M']
    tl.store(
        scores + (replica * n_tokens + rows[:, None]) * n_classes + classes[None, :],
        totals,
        mask=row_ok[:, None] & class_ok[None, :],
    )


def runs_here(tensor: torch.Tensor) -> bool:
    """Whether the Triton kernels can run on ``tensor``'s device: CUDA, or the CPU under
    Triton's interpreter."""
    return tensor.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"


def triton_memory_scores(
    weights: torch.Tensor, inputs: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """``memory_scores`` by the two Triton passes. Float32 only. Shapes as the reference:
    weights ``[N]`` or ``[R, N]``, inputs ``[N, d]`` or ``[R, N, d]``, outputs ``[M, d]`` or
    ``[R, M, d]``, targets ``[N]``; returns ``[R, N, M]`` (``[N, M]`` if no argument has ``R``).
    """
    if inputs.dtype != torch.float32:
        raise ValueError(f"kernel='triton' takes float32 inputs, got {inputs.dtype}")
    if not runs_here(inputs):
        raise ValueError(
            "kernel='triton' needs CUDA tensors (or TRITON_INTERPRET=1 on the CPU); "
            f"inputs are on {inputs.device}"
        )
    n_tokens, dim = inputs.shape[-2:]
    n_classes = outputs.shape[-2]
    batched = weights.ndim == 2 or inputs.ndim == 3 or outputs.ndim == 3
    n_replicas = max(
        weights.shape[0] if weights.ndim == 2 else 1,
        inputs.shape[0] if inputs.ndim == 3 else 1,
        outputs.shape[0] if outputs.ndim == 3 else 1,
    )
    device = inputs.device
    rows = inputs.contiguous()
    q = weights.to(device=device, dtype=torch.float32).contiguous()
    labels = targets.to(device=device, dtype=torch.int64).contiguous()
    outs = outputs.to(device=device, dtype=torch.float32).expand(n_replicas, n_classes, dim)
    # a replica axis an argument lacks is read with stride 0: every replica shares that argument
    inputs_stride = n_tokens * dim if rows.ndim == 3 else 0
    weights_stride = n_tokens if q.ndim == 2 else 0
    padded = triton.next_power_of_2(n_classes)

    column_blocks = triton.cdiv(dim, BLOCK_COLUMNS)
    row_blocks = triton.cdiv(n_tokens, SUM_ROWS)
    wanted = max(1, min(row_blocks, SUM_PROGRAMS // (n_replicas * column_blocks)))
    rows_per_split = triton.cdiv(row_blocks, wanted) * SUM_ROWS
    n_splits = triton.cdiv(n_tokens, rows_per_split)
    partial = torch.empty(n_replicas, n_splits, n_classes, dim, device=device)
    _class_sums_kernel[(n_replicas, column_blocks, n_splits)](
        rows, q, labels, partial, n_tokens, dim, rows_per_split, inputs_stride, weights_stride,
        n_splits, n_classes, padded, SUM_ROWS, BLOCK_COLUMNS,
    )  # fmt: skip
    sums_t = partial.sum(1)  # Sᵀ, [R, M, d]
    gram = outs @ outs.transpose(1, 2)  # G = U Uᵀ, [R, M, M]
    kernel_t = (gram @ sums_t).contiguous()  # Kᵀ = G Sᵀ, [R, M, d]
    scores = torch.empty(n_replicas, n_tokens, n_classes, device=device)
    _scores_kernel[(n_replicas, triton.cdiv(n_tokens, SCORE_ROWS))](
        rows, kernel_t, scores, n_tokens, dim, inputs_stride, n_classes, padded, SCORE_ROWS,
        BLOCK_COLUMNS, num_warps=SCORE_WARPS,
    )  # fmt: skip
    return scores if batched else scores[0]
