"""Seeded random streams that do not depend on how a computation is chunked or batched.

Every draw is addressed by ``(seed, stream, row block, column block)`` and generated on the CPU
(normals in float32, uniforms in float64), then cast and moved; so a token's embedding is the
same whatever ``N``, the largest ``d`` asked for, the dtype or the device, and the first ``T``
tokens of a sample of ``T' > T`` are the sample of size ``T`` (nested data sets).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

INPUTS = 0  # input embeddings e_x
OUTPUTS = 1  # output embeddings u_y
TOKENS = 2  # uniform draws turned into tokens
TIES = 3  # random keys that break ties between equal counts
WEIGHTS = 4  # the initial memory W₀ of the trainers

ROW_BLOCKS = {INPUTS: 1024, OUTPUTS: 64, WEIGHTS: 64}  # rows per generator, per stream
COLUMN_BLOCK = 64
UNIFORM_BLOCK = 65536


def block_generator(seed: int, stream: int, *address: int) -> torch.Generator:
    """A CPU generator keyed by ``(seed, stream, *address)`` through numpy's SeedSequence."""
    state = np.random.SeedSequence([seed, stream, *address]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)
    return generator


def standard_normal(seed: int, stream: int, rows: slice, columns: int) -> torch.Tensor:
    """Standard normal draws of shape ``[rows.stop - rows.start, columns]``, float32, CPU.

    Row ``i`` is the same vector whatever slice it is read through, and its first ``c``
    coordinates do not depend on ``columns``. (Drawn in float32, which torch draws five times
    faster; float64 computations cast these exact values.)
    """
    row_block = ROW_BLOCKS[stream]
    start, stop = rows.start, rows.stop
    first_block, last_block = start // row_block, (stop - 1) // row_block
    n_column_blocks = -(-columns // COLUMN_BLOCK)
    row_parts = []
    for block in range(first_block, last_block + 1):
        parts = [
            _normal_block(seed, stream, block, column_block, row_block)
            for column_block in range(n_column_blocks)
        ]
        row_parts.append(torch.cat(parts, dim=1))
    full = torch.cat(row_parts, dim=0)
    offset = first_block * row_block
    return full[start - offset : stop - offset, :columns]


@functools.lru_cache(maxsize=256)  # 64 MiB of recent blocks: sweeps over T reuse a seed's E
def _normal_block(seed: int, stream: int, block: int, column_block: int, rows: int) -> torch.Tensor:
    generator = block_generator(seed, stream, block, column_block)
    return torch.randn(rows, COLUMN_BLOCK, dtype=torch.float32, generator=generator)


def uniform(seed: int, stream: int, count: int) -> torch.Tensor:
    """``count`` uniform draws in ``[0, 1)``, float64, CPU; a prefix of any longer draw."""
    n_blocks = -(-count // UNIFORM_BLOCK)
    parts = [
        torch.rand(UNIFORM_BLOCK, dtype=torch.float64, generator=block_generator(seed, stream, b))
        for b in range(n_blocks)
    ]
    if not parts:
        return torch.empty(0, dtype=torch.float64)
    return torch.cat(parts)[:count]
