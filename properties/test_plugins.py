"""Laws as plug-ins: the conjectures under ``theory/conjectures/`` are discovered in name order,
a module that fails to import is named, and a law declared under the ``memlaws.laws`` entry point
of another package is listed by ``memlaws laws``. Every test here patches the registry's state and
leaves it as it found it."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from memlaws.theory import registry
from memlaws.theory.cli import main
from memlaws.theory.conjectures.correlation_capacity import CorrelationCapacity
from memlaws.theory.law import Config, Law, Measurement, Parameter, Prediction
from memlaws.theory.registry import all_laws, get_law

FAKE_PACKAGE = "memlaws_fake_conjectures"


class ToyLaw(Law):
    """A complete, trivial law for the plug-in tests: the statistic is 0 for every seed."""

    spec = "TOY-PLUGIN"
    source = "test"
    statement = "a plug-in law"
    statistic = "zero"
    variable = "x"
    domain = "x in [0, 1]"
    parameters = {"x": Parameter(0.0, 1.0, 0.5, "float", "unused")}
    tolerance_reason = "exact"
    rival_name = "one"

    def predicted(self, config: Config) -> Prediction:
        return Prediction("point", 0.0, 0.1)

    def rival(self, config: Config) -> Prediction:
        return Prediction("point", 1.0, 0.1, self.rival_name)

    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        return Measurement(
            statistic=np.zeros(len(seeds)),
            x=np.array([0.0, 1.0]),
            curves=np.zeros((len(seeds), 2)),
            xlabel="x",
            ylabel="zero",
        )


TOY_LAW = ToyLaw()


def specs() -> list[str]:
    return [law.spec for law in all_laws()]


def test_the_shipped_conjecture_is_discovered():
    order = specs()
    assert "C1" in order
    assert isinstance(get_law("C1"), CorrelationCapacity)
    paper = [i for i, spec in enumerate(order) if spec.startswith("R")]
    assert max(paper) < order.index("C1")  # after the paper's laws


@pytest.mark.parametrize("target", ["ToyLaw", "TOY_LAW"], ids=["class", "instance"])
def test_a_law_from_an_entry_point_is_listed(target, monkeypatch, capsys):
    entry = EntryPoint(name="toy", value=f"{__name__}:{target}", group="memlaws.laws")

    def entry_points(group: str) -> list[EntryPoint]:
        return [entry] if group == entry.group else []

    with monkeypatch.context() as patch:
        patch.setattr(registry, "_LAWS", {})  # a fresh registry, loaded again under the patch
        patch.setattr(registry, "_LOADED", False)
        patch.setattr(registry, "entry_points", entry_points)
        order = specs()
        assert order[-1] == "TOY-PLUGIN" and "C1" in order and "R1" in order
        assert main(["laws", "--json"]) == 0
        rows = {row["spec"]: row for row in json.loads(capsys.readouterr().out)}
        assert rows["TOY-PLUGIN"]["parameters"]["x"]["default"] == 0.5
        assert rows["TOY-PLUGIN"]["rival"] == "one"
    assert "TOY-PLUGIN" not in specs()  # nothing leaks once the patch is undone


@pytest.fixture
def fake_conjectures(tmp_path: Path, monkeypatch) -> Iterator[Callable[[str, str], None]]:
    """A throw-away conjectures package that the registry discovers instead of the real one;
    yields a function writing one module ``(name, source)`` into it."""
    package = tmp_path / FAKE_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "CONJECTURES", FAKE_PACKAGE)
    monkeypatch.setattr(registry, "_LAWS", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    monkeypatch.setattr(registry, "_DECLARED", [])
    yield lambda name, source: (package / f"{name}.py").write_text(source)
    for name in [m for m in sys.modules if m.split(".")[0] == FAKE_PACKAGE]:
        del sys.modules[name]


def toy_module(spec: str) -> str:
    """The source of a conjecture module declaring one law, ``spec``."""
    return (
        f"from {__name__} import ToyLaw\n"
        "from memlaws.theory.registry import registered\n\n\n"
        "@registered\n"
        "class Declared(ToyLaw):\n"
        f"    spec = {spec!r}\n"
    )


def test_conjecture_modules_are_loaded_in_name_order(fake_conjectures):
    fake_conjectures("b_second", toy_module("TOY-B"))
    fake_conjectures("a_first", toy_module("TOY-A"))
    registry._load_conjectures()
    assert [law.spec for law in registry._LAWS.values()] == ["TOY-A", "TOY-B"]


def test_a_broken_conjecture_module_is_named(fake_conjectures):
    fake_conjectures("a_first", toy_module("TOY-A"))
    fake_conjectures("broken", "raise RuntimeError('deliberately broken')\n")
    with pytest.raises(ImportError, match=rf"{FAKE_PACKAGE}\.broken .*deliberately broken"):
        registry._load_conjectures()


def test_a_law_registered_before_the_first_listing_does_not_hide_the_paper(monkeypatch):
    monkeypatch.setattr(registry, "_LAWS", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    registry.register(ToyLaw())
    order = specs()
    assert "R1" in order and "C1" in order and "TOY-PLUGIN" in order
