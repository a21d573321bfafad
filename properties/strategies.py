"""Hypothesis strategies that describe memlaws' domain: Zipf settings, memory weights, embeddings,
and each registered law's check domain (drawn from its declared ``parameters``)."""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from memlaws.theory.law import Config, Law, Parameter
from memlaws.theory.profiles import SEED_SPACES


def parameter_values(parameter: Parameter) -> st.SearchStrategy[float | int]:
    """Values of one law parameter: ``float`` and ``int`` uniformly, ``log_int`` in log scale."""
    if parameter.kind == "float":
        return st.floats(parameter.low, parameter.high, allow_nan=False)
    low, high = int(parameter.low), int(parameter.high)
    if parameter.kind == "int" or low == high:
        return st.integers(low, high)
    return st.floats(math.log(low), math.log(high)).map(
        lambda v: min(high, max(low, round(math.exp(v))))
    )


def _admissible(law: Law, values: Config) -> bool:
    try:
        law.config(**values)
    except ValueError:
        return False
    return True


def law_configs(law: Law) -> st.SearchStrategy[Config]:
    """Configurations inside ``law``'s check domain; shrinks toward each parameter's low end."""
    boxes = st.fixed_dictionaries({n: parameter_values(p) for n, p in law.parameters.items()})
    return boxes.filter(lambda values: _admissible(law, values)).map(lambda v: law.config(**v))


def seed_sets(count: int) -> st.SearchStrategy[list[int]]:
    """``count`` consecutive seeds from a drawn base in the properties' own seed space
    (``memlaws.theory.profiles.SEED_SPACES["property"]``), disjoint from the report's and the
    calibration's."""
    low, high = SEED_SPACES["property"]
    return st.integers(low, high - count).map(lambda base: list(range(base, base + count)))


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
