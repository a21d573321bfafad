"""The registry of laws, in a fixed order: the paper's laws, then the laws of every module under
``theory/conjectures/`` (modules in name order, each declaring its laws with ``@registered``),
then the laws of other packages declared under the ``memlaws.laws`` entry point."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from typing import TypeVar

from memlaws.theory.law import Law

CONJECTURES = "memlaws.theory.conjectures"  # the package whose modules are discovered

LawType = TypeVar("LawType", bound=type[Law])

_LAWS: dict[str, Law] = {}
_LOADED = False  # whether the paper's laws, the conjectures and the entry points are in _LAWS
_DECLARED: list[type[Law]] = []  # classes marked @registered, in the order they were defined


def register(law: Law) -> Law:
    """Add ``law`` to the registry (its ``spec`` must be new)."""
    if not getattr(law, "spec", ""):
        raise ValueError("a law needs a non-empty spec id")
    if law.spec in _LAWS and type(_LAWS[law.spec]) is not type(law):
        raise ValueError(f"a law with spec {law.spec!r} is already registered")
    _LAWS[law.spec] = law
    return law


def _load_builtin() -> None:
    from memlaws.theory.paper.finite_data import MemoriserRate
    from memlaws.theory.paper.finite_memory import (
        EmpiricalFrequency,
        FillBoundary,
        ThresholdAllocation,
    )
    from memlaws.theory.paper.optimisation import (
        AdamAgainstSGD,
        BatchSize,
        LayerNorm,
        LearnedEmbeddings,
        Schedule,
        StepSize,
        TwoDimensions,
    )
    from memlaws.theory.paper.random_embeddings import (
        FrequencyWeighting,
        Overflow,
        Thresholding,
        ThresholdingOptimal,
    )
    from memlaws.theory.paper.update_approximation import ApproximationGap, SmallStepRate

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


def registered(law_type: LawType) -> LawType:
    """Class decorator for a law in a module under ``theory/conjectures/``: when the registry
    loads, it imports the module and registers ``law_type()`` (no constructor arguments)."""
    _DECLARED.append(law_type)
    return law_type


def _load_conjectures() -> None:
    """Import every module of ``memlaws.theory.conjectures`` in name order and register the laws
    each one
    declares with ``@registered``; a module that fails to import stops the loading, named."""
    package = importlib.import_module(CONJECTURES)
    for name in sorted(module.name for module in pkgutil.iter_modules(package.__path__)):
        qualified = f"{CONJECTURES}.{name}"
        try:
            importlib.import_module(qualified)
        except Exception as error:
            message = f"conjecture module {qualified} failed to import: {error!r}"
            raise ImportError(message) from error
        for law_type in _DECLARED:
            if law_type.__module__ == qualified:
                register(law_type())


def _load_plugins() -> None:
    for entry in entry_points(group="memlaws.laws"):
        loaded = entry.load()
        register(loaded() if isinstance(loaded, type) else loaded)


def all_laws() -> list[Law]:
    """Every registered law: the paper's, then the conjectures' (by module name), then the entry
    points'."""
    global _LOADED
    if not _LOADED:
        _load_builtin()
        _load_conjectures()
        _load_plugins()
        _LOADED = True
    return list(_LAWS.values())


def get_law(spec: str) -> Law:
    """The law with this spec id."""
    laws = {law.spec: law for law in all_laws()}
    if spec not in laws:
        raise ValueError(f"unknown law {spec!r}; registered: {', '.join(laws)}")
    return laws[spec]
