"""Hypothesis strategies that describe memlaws' domain: Zipf settings, memory weights, embeddings
(each law's check domain is drawn by ``memlaws.theory.checks.law_configs``)."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

alphas = st.floats(0.3, 4.0, allow_nan=False)
token_counts = st.integers(1, 300)


@st.composite
def zipf_settings(draw: st.DrawFn, max_tokens: int = 300) -> tuple[int, int, float]:
    """``(N, M, alpha)`` with ``1 ≤ M ≤ N``."""
    n_tokens = draw(st.integers(1, max_tokens))
    n_classes = draw(st.integers(1, min(n_tokens, 12)))
    return n_tokens, n_classes, draw(alphas)


@st.composite
def memory_weights(draw: st.DrawFn, n_tokens: int) -> torch.Tensor:
    """Non-negative weights ``q`` of length ``N``, some of them zero."""
    values = draw(
        st.lists(
            st.one_of(st.just(0.0), st.floats(1e-3, 1e3, allow_nan=False)),
            min_size=n_tokens,
            max_size=n_tokens,
        )
    )
    return torch.tensor(values, dtype=torch.float64)


@st.composite
def labels(draw: st.DrawFn, n_tokens: int, n_classes: int) -> torch.Tensor:
    """Any target map ``f* : [N] → [M]``, balanced or not."""
    values = draw(st.lists(st.integers(0, n_classes - 1), min_size=n_tokens, max_size=n_tokens))
    return torch.tensor(values, dtype=torch.int64)
