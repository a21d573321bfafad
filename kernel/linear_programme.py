"""The best linear memory of key–value pairs, found by a linear programme (scipy's HiGHS).

A ``d × d`` memory ``W`` *stores* ``n`` pairs ``(k_i, v_i)`` when top-1 decoding retrieves every
one of them: ``⟨v_i, W k_i⟩ > ⟨v_j, W k_i⟩`` for all ``j ≠ i``. The condition is homogeneous in
``W``, so some ``W`` stores the pairs exactly when the feasibility programme

    ⟨v_i − v_j, W k_i⟩ ≥ 1   for all i ≠ j      (n(n − 1) rows, d² free variables)

is feasible. The capacity of a sequence of pairs is the largest ``n`` whose first ``n`` pairs are
stored: storing is monotone in ``n`` (a memory storing ``n`` pairs stores their prefixes), so it
is found by stepping and bisection.

Two forms of the same max-margin programme. ``max_margin`` states it directly: ``n(n − 1)``
dense rows of ``d²`` entries. ``stores`` solves a lifted, sparse form: the reads ``y_i = W k_i``
are variables tied by ``n d`` equalities, so a margin row has ``d`` entries instead of ``d²``
(9 times fewer nonzeros at ``d = 12``), and HiGHS solves it about twice as fast near the
capacity. Both give the same ``t*``; a test holds them to the same decisions.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sparse
import torch
from scipy.optimize import linprog

from memlaws.kernel.validation import choice

METHODS = ("highs", "highs-ds", "highs-ipm")
FEASIBLE, INFEASIBLE = 0, 2  # scipy's linprog status codes
MARGIN_FLOOR = 1e-6  # t* above this (entries of order 1, |W| ≤ 1): the pairs are stored


def _pairs(keys: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray) -> tuple:
    k = np.asarray(keys, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if k.ndim != 2 or k.shape != v.shape or k.shape[0] < 2:
        raise ValueError(
            f"keys and values must both have shape [n, d] with n >= 2, got {k.shape}, {v.shape}"
        )
    return k, v


def margin_rows(keys: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray) -> np.ndarray:
    """The ``[n(n−1), d²]`` rows ``a_ij`` with ``a_ij · vec(W) = ⟨v_i − v_j, W k_i⟩`` (``vec``
    row-major: ``W[a, b]`` at ``a·d + b``), ordered by ``i`` then ``j ≠ i``."""
    k, v = _pairs(keys, values)
    n, d = k.shape
    differences = v[:, None, :] - v[None, :, :]  # [i, j, a] = v_i − v_j
    off_diagonal = ~np.eye(n, dtype=bool)
    rows = differences[:, :, :, None] * k[:, None, None, :]  # [i, j, a, b]
    return rows[off_diagonal].reshape(n * (n - 1), d * d)


def separating_memory(
    keys: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray, method: str = "highs"
) -> np.ndarray | None:
    """A ``[d, d]`` float64 memory with every margin ``⟨v_i − v_j, W k_i⟩ ≥ 1`` for the pairs
    ``keys``, ``values`` (``[n, d]`` each), or ``None`` when HiGHS finds none. ``method``: one
    of HiGHS's solvers (``"highs"`` lets it choose, ``"highs-ds"`` simplex, ``"highs-ipm"``
    interior point). Near the capacity such a ``W`` is huge and the programme ill-conditioned:
    ``max_margin`` is the robust test; this one is its independent check on easy cases."""
    choice("method", method, METHODS)
    rows = margin_rows(keys, values)
    d = np.asarray(keys).shape[1]
    result = linprog(
        np.zeros(d * d),
        A_ub=-rows,
        b_ub=-np.ones(rows.shape[0]),
        bounds=(None, None),
        method=method,
    )
    if result.status == INFEASIBLE:
        return None
    if result.status != FEASIBLE:
        raise RuntimeError(f"HiGHS ({method}) ended without a decision: {result.message}")
    return result.x.reshape(d, d)


def _unit_scaled(keys, values) -> tuple[np.ndarray, np.ndarray]:
    k, v = _pairs(keys, values)
    scale = np.sqrt(k.shape[1])
    return k * scale, v * scale


def _solve_max_margin(rows: np.ndarray, method: str) -> tuple[float, np.ndarray]:
    """``max t`` subject to ``rows · w ≥ t``, ``w ∈ [−1, 1]^{d²}``: ``(t*, w)``."""
    n_variables = rows.shape[1]
    objective = np.zeros(n_variables + 1)
    objective[-1] = -1.0  # maximise t, the last variable
    result = linprog(
        objective,
        A_ub=np.hstack([-rows, np.ones((rows.shape[0], 1))]),  # t − a_ij · w ≤ 0
        b_ub=np.zeros(rows.shape[0]),
        bounds=[(-1.0, 1.0)] * n_variables + [(None, None)],
        method=method,
    )
    if result.status != FEASIBLE:
        raise RuntimeError(f"HiGHS ({method}) ended without an optimum: {result.message}")
    return float(result.x[-1]), result.x[:-1]


def max_margin(
    keys: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray, method: str = "highs"
) -> tuple[float, np.ndarray]:
    """The largest smallest margin ``t* = max_W min_{i≠j} ⟨v_i − v_j, W k_i⟩`` over memories
    with entries in ``[−1, 1]``, and a ``[d, d]`` memory attaining it, for keys and values
    rescaled to unit-variance entries (``√d`` times ``N(0, 1/d)`` pairs): the programme is
    always feasible and bounded, and some memory stores the pairs exactly when ``t* > 0``.
    Solved whole: all ``n(n − 1)`` rows at once."""
    choice("method", method, METHODS)
    k, v = _unit_scaled(keys, values)
    t, w = _solve_max_margin(margin_rows(k, v), method)
    return t, w.reshape(k.shape[1], k.shape[1])


def margins(
    memory: np.ndarray, keys: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray
) -> np.ndarray:
    """``[n, n]`` margins ``⟨v_i − v_j, W k_i⟩`` of ``memory`` (``[d, d]``) on the pairs as
    given (``+inf`` on the diagonal)."""
    k, v = _pairs(keys, values)
    read = k @ np.asarray(memory, dtype=np.float64).T  # [i, a] = (W k_i)_a
    scores = read @ v.T  # [i, j] = ⟨v_j, W k_i⟩
    result = np.diag(scores)[:, None] - scores
    np.fill_diagonal(result, np.inf)
    return result


def _lifted_max_margin(k: np.ndarray, v: np.ndarray, pair: np.ndarray, rival: np.ndarray) -> float:
    """``t* = max t`` subject to ``⟨v_i − v_j, y_i⟩ ≥ t`` for the rows ``(pair[r], rival[r])``,
    ``y_i = W k_i`` and ``W ∈ [−1, 1]^{d×d}``, for ``[n, d]`` pairs ``k, v``.
    Variables: ``W`` row-major (``d²``), then ``y`` (``n d``), then ``t``."""
    n, d = k.shape
    n_memory, n_reads = d * d, n * d
    read = np.arange(n_reads)  # equality row and y variable (i, a) at i·d + a
    memory_columns = (read % d)[:, None] * d + np.arange(d)[None, :]  # W[a, b] for every b
    equalities = sparse.csr_matrix(
        (
            np.concatenate([-k[read // d].ravel(), np.ones(n_reads)]),
            (np.concatenate([np.repeat(read, d), read]),
             np.concatenate([memory_columns.ravel(), n_memory + read])),
        ),
        shape=(n_reads, n_memory + n_reads + 1),
    )  # fmt: skip
    rows = np.arange(pair.size)
    read_columns = n_memory + pair[:, None] * d + np.arange(d)[None, :]
    inequalities = sparse.csr_matrix(
        (
            np.concatenate([-(v[pair] - v[rival]).ravel(), np.ones(pair.size)]),
            (np.concatenate([np.repeat(rows, d), rows]),
             np.concatenate([read_columns.ravel(), np.full(pair.size, n_memory + n_reads)])),
        ),
        shape=(pair.size, n_memory + n_reads + 1),
    )  # fmt: skip
    objective = np.zeros(n_memory + n_reads + 1)
    objective[-1] = -1.0  # maximise t
    result = linprog(
        objective,
        A_ub=inequalities,
        b_ub=np.zeros(pair.size),
        A_eq=equalities,
        b_eq=np.zeros(n_reads),
        bounds=[(-1.0, 1.0)] * n_memory + [(None, None)] * (n_reads + 1),
        method="highs",
    )
    if result.status != FEASIBLE:
        raise RuntimeError(f"HiGHS ended without an optimum: {result.message}")
    return float(result.x[-1])


def stores(keys: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray) -> bool:
    """Whether some linear memory retrieves every one of the ``n`` pairs by top-1 decoding:
    whether the max-margin programme's ``t*`` exceeds ``MARGIN_FLOOR``, well above HiGHS's
    feasibility tolerance (10⁻⁷); past the capacity HiGHS returns ``t* = 0`` exactly (``W = 0``).
    Solved in the lifted form (``_lifted_max_margin``), every row at once."""
    k, v = _unit_scaled(keys, values)
    pair, rival = np.nonzero(~np.eye(k.shape[0], dtype=bool))
    return _lifted_max_margin(k, v, pair, rival) > MARGIN_FLOOR


def linear_capacity(
    keys: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray, guess: int
) -> int:
    """The largest ``n`` such that some linear memory stores the first ``n`` of the pairs
    ``keys``, ``values`` (``[N, d]``). From ``guess`` (any ``n`` in ``[2, N]``; a good one saves
    programmes, it does not change the answer) loads are stepped by 5 % (at least 1) up or down
    until one is stored and the next is not, then bisected. Raises ``ValueError`` if all ``N`` pairs
    are stored (draw more) or not even the first two."""
    k, v = _pairs(keys, values)
    total = k.shape[0]
    if isinstance(guess, bool) or not isinstance(guess, int) or not 2 <= guess <= total:
        raise ValueError(f"guess must be an integer in [2, {total}], got {guess!r}")
    low, high = (guess, None) if stores(k[:guess], v[:guess]) else (None, guess)
    while low is None:  # high is not stored: step down
        trial = max(2, high - max(1, round(high * 0.05)))
        if stores(k[:trial], v[:trial]):
            low = trial
        elif trial == 2:
            raise ValueError("not even the first two pairs are stored")
        else:
            high = trial
    while high is None:  # low is stored: step up
        if low == total:
            raise ValueError(f"all {total} pairs are stored: draw more pairs")
        trial = min(total, low + max(1, round(low * 0.05)))
        if stores(k[:trial], v[:trial]):
            low = trial
        else:
            high = trial
    while high - low > 1:
        middle = (low + high) // 2
        if stores(k[:middle], v[:middle]):
            low = middle
        else:
            high = middle
    return low
