"""The registry of laws, in a fixed order: the paper's laws, then the laws of every module under
``theory/conjectures/`` (modules in name order, each declaring its laws with ``@registered``),
then the laws of other packages declared under the ``memlaws.laws`` entry point, then the laws
of single files loaded with ``load_law_file`` (``memlaws report --law-file``).

A plug-in (entry point) that fails to import or declares an invalid law is left out and kept in
``broken_plugins()`` with one line naming it; every other law keeps working."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TypeVar

from memlaws.theory.law import Law

CONJECTURES = "memlaws.theory.conjectures"  # the package whose modules are discovered

LawType = TypeVar("LawType", bound=type[Law])

_LAWS: dict[str, Law] = {}
_LOADED = False  # whether the paper's laws, the conjectures and the entry points are in _LAWS
_DECLARED: list[type[Law]] = []  # classes marked @registered, in the order they were defined
_BROKEN: list[BrokenPlugin] = []  # entry points left out, in the order they were met
DECLARATION = ("spec", "source", "statement", "statistic", "variable", "domain")


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point of group ``memlaws.laws`` that was left out: its name, the package
    (distribution) declaring it, what it points at, and the error."""

    entry_point: str
    package: str
    target: str
    error: str

    def line(self) -> str:
        return (
            f"plug-in {self.entry_point!r} of package {self.package} ({self.target}) left out: "
            f"{self.error}"
        )


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
    """Class decorator for a law in a module under ``theory/conjectures/`` (or in a law file):
    when the registry loads, it imports the module and registers ``law_type()`` (no constructor
    arguments)."""
    _DECLARED.append(law_type)
    return law_type


def _load_conjectures() -> None:
    """Import every module of ``memlaws.theory.conjectures`` in name order and register the laws
    each one declares with ``@registered``; a module that fails to import stops the loading,
    named."""
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


def validate_law(law: object) -> Law:
    """``law`` when it is a complete ``Law``: its declaration's sentences non-empty, an open claim
    saying why it is open, and its default configuration admissible; ``ValueError`` otherwise."""
    if not isinstance(law, Law):
        raise ValueError(f"{law!r} is not a memlaws.theory.law.Law")
    for attribute in (*DECLARATION, "tolerance_reason", "rival_name"):
        value = getattr(law, attribute, None)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{type(law).__name__} declares no {attribute} (a non-empty string)")
    if law.open_claim and not law.open_reason:
        raise ValueError(f"{law.spec} is an open claim without open_reason")
    law.config()  # the default configuration is admissible
    return law


def _package(entry: EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return dist.name if dist is not None else "(unknown package)"


def _load_plugins() -> None:
    """Register the law of each ``memlaws.laws`` entry point (a ``Law`` class, created with no
    arguments, or an instance); one that fails is left out and kept in ``_BROKEN``."""
    for entry in entry_points(group="memlaws.laws"):
        try:
            loaded = entry.load()
            register(validate_law(loaded() if isinstance(loaded, type) else loaded))
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            _BROKEN.append(BrokenPlugin(entry.name, _package(entry), entry.value, text))


def broken_plugins() -> list[BrokenPlugin]:
    """The entry points left out when the registry loaded (loading it first)."""
    all_laws()
    return list(_BROKEN)


def all_laws() -> list[Law]:
    """Every registered law: the paper's, then the conjectures' (by module name), then the entry
    points', then those of law files."""
    global _LOADED
    if not _LOADED:
        _BROKEN.clear()
        _load_builtin()
        _load_conjectures()
        _load_plugins()
        _LOADED = True
    return list(_LAWS.values())


def load_law_file(path: Path) -> list[Law]:
    """Import the Python file ``path`` as a module and register its laws: the classes it marks
    ``@registered``, or, if none, every concrete ``Law`` subclass it defines (created with no
    arguments). ``ValueError`` naming the file when it cannot be imported or declares none."""
    all_laws()
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise ValueError(f"--law-file {path}: not a Python file (.py)")
    name = f"memlaws_law_file_{abs(hash(str(path.resolve())))}"
    if name not in sys.modules:
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ValueError(f"--law-file {path}: cannot be imported")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[name]
            raise ValueError(
                f"--law-file {path} failed to import: {type(error).__name__}: {error}"
            ) from error
    defined = [
        value
        for value in vars(sys.modules[name]).values()
        if isinstance(value, type)
        and issubclass(value, Law)
        and value.__module__ == name
        and not inspect.isabstract(value)
    ]
    marked = [law_type for law_type in _DECLARED if law_type.__module__ == name]
    chosen = marked or defined
    if not chosen:
        raise ValueError(f"--law-file {path} defines no Law subclass")
    laws = []
    for law_type in chosen:
        try:
            laws.append(register(validate_law(law_type())))
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            raise ValueError(f"--law-file {path}: {law_type.__name__} left out: {text}") from error
    return laws


def get_law(spec: str) -> Law:
    """The law with this spec id."""
    laws = {law.spec: law for law in all_laws()}
    if spec not in laws:
        raise ValueError(f"unknown law {spec!r}; registered: {', '.join(laws)}")
    return laws[spec]
