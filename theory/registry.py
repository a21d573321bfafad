"""The registry of laws: the paper's laws, every module-level law under ``theory/`` that
registers itself, and laws of other packages declared under the ``memlaws.laws`` entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

from theory.law import Law

_LAWS: dict[str, Law] = {}


def register(law: Law) -> Law:
    """Add ``law`` to the registry (its ``spec`` must be new)."""
    if not getattr(law, "spec", ""):
        raise ValueError("a law needs a non-empty spec id")
    if law.spec in _LAWS and type(_LAWS[law.spec]) is not type(law):
        raise ValueError(f"a law with spec {law.spec!r} is already registered")
    _LAWS[law.spec] = law
    return law


def _load_builtin() -> None:
    from theory.finite_data import MemoriserRate
    from theory.finite_memory import EmpiricalFrequency, FillBoundary, ThresholdAllocation
    from theory.optimisation import (
        AdamAgainstSGD,
        BatchSize,
        LayerNorm,
        LearnedEmbeddings,
        Schedule,
        StepSize,
        TwoDimensions,
    )
    from theory.random_embeddings import (
        FrequencyWeighting,
        Overflow,
        Thresholding,
        ThresholdingOptimal,
    )
    from theory.update_approximation import ApproximationGap, SmallStepRate

    for law_type in (
        MemoriserRate,
        FrequencyWeighting,
        Thresholding,
        Overflow,
        ThresholdingOptimal,
        EmpiricalFrequency,
        FillBoundary,
        ThresholdAllocation,
        ApproximationGap,
        SmallStepRate,
        StepSize,
        BatchSize,
        AdamAgainstSGD,
        LayerNorm,
        Schedule,
        LearnedEmbeddings,
        TwoDimensions,
    ):
        register(law_type())


def _load_plugins() -> None:
    for entry in entry_points(group="memlaws.laws"):
        loaded = entry.load()
        register(loaded() if isinstance(loaded, type) else loaded)


def all_laws() -> list[Law]:
    """Every registered law, in registration order."""
    if not _LAWS:
        _load_builtin()
        _load_plugins()
    return list(_LAWS.values())


def get_law(spec: str) -> Law:
    """The law with this spec id."""
    laws = {law.spec: law for law in all_laws()}
    if spec not in laws:
        raise ValueError(f"unknown law {spec!r}; registered: {', '.join(laws)}")
    return laws[spec]
