"""Laws as plug-ins: the conjectures under ``theory/conjectures/`` are discovered in name order,
a module that fails to import is named, a law declared under the ``memlaws.laws`` entry point
of another package is listed by ``memlaws laws``, a broken plug-in is named and left out, a law
file is checked without packaging, and ``memlaws new`` writes a plug-in that is listed, judged,
calibrated into its own file and passes its own tests. Every test here patches the registry's
state and leaves it as it found it."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from memlaws.theory import registry
from memlaws.theory.checks import check_params
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


# ---------------------------------------------------------------------------------------------
# Broken plug-ins are contained


@pytest.fixture
def installed(tmp_path: Path, monkeypatch) -> Callable[[str, dict[str, str]], None]:
    """Install a fake distribution ``(name, {entry point: target})`` declaring entry points of
    group ``memlaws.laws``, as ``pip install`` would (a ``.dist-info`` folder on ``sys.path``),
    into a fresh registry; everything is undone after the test."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_LAWS", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    monkeypatch.setattr(registry, "_BROKEN", [])

    def install(name: str, entries: dict[str, str]) -> None:
        info = site / f"{name.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        lines = "".join(f"{entry} = {target}\n" for entry, target in entries.items())
        (info / "entry_points.txt").write_text(f"[memlaws.laws]\n{lines}")

    return install


class Incomplete(ToyLaw):
    spec = "TOY-INCOMPLETE"
    statement = ""  # not a complete declaration


class Clashing(ToyLaw):
    spec = "R1"  # already the paper's law


NOT_A_LAW = object()


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("memlaws_no_such_module:Law", "ModuleNotFoundError: No module named"),
        (f"{__name__}:NoSuchName", "AttributeError"),
        (f"{__name__}:NOT_A_LAW", "is not a memlaws.theory.law.Law"),
        (f"{__name__}:Incomplete", "declares no statement"),
        (f"{__name__}:Clashing", "spec 'R1' is already registered"),
    ],
    ids=["import", "attribute", "not-a-law", "incomplete", "clash"],
)
def test_a_broken_plugin_is_named_in_one_line_and_left_out(installed, target, error, capsys):
    installed("memlaws-broken-plugin", {"broken": target, "toy": f"{__name__}:ToyLaw"})
    order = specs()
    assert "R1" in order and "C1" in order and order[-1] == "TOY-PLUGIN"  # the others work
    assert isinstance(get_law("R1"), type(get_law("R1")))
    (broken,) = registry.broken_plugins()
    assert (broken.entry_point, broken.package, broken.target) == (
        "broken",
        "memlaws-broken-plugin",
        target,
    )
    assert error in broken.error and "\n" not in broken.line()
    assert main(["laws"]) == 0
    out, err = capsys.readouterr()
    assert "TOY-PLUGIN" in out and f"broken plug-in {broken.line()}" in " ".join(out.split())
    assert err == f"memlaws: warning: {broken.line()}\n"


def test_the_report_of_r1_works_beside_a_broken_plugin(installed, tmp_path, capsys):
    installed("memlaws-broken-plugin", {"broken": "memlaws_no_such_module:Law"})
    out = tmp_path / "report"
    assert main(["report", "--law", "R1", "--profile", "ci", "--out", str(out)]) == 0
    (record,) = json.loads((out / "laws.json").read_text())
    assert record["spec"] == "R1" and record["verdict"] == "holds"
    assert "plug-in 'broken' of package memlaws-broken-plugin" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# A law from a single file


NOISY_LAW = """
import numpy as np

from memlaws.theory.law import Law, Measurement, Parameter, Prediction
{decorator_import}


{decorator}
class FileLaw(Law):
    spec = "{spec}"
    source = "a file"
    statement = "a number near 0"
    statistic = "a normal draw of mean 0 and spread 0.01"
    variable = "x"
    domain = "x in [0, 1]"
    parameters = {{"x": Parameter(0.0, 1.0, 0.5, "float", "unused")}}
    tolerance_reason = "ten spreads"
    rival_name = "one"
    seconds_per_seed = 0.001

    def predicted(self, config):
        return Prediction("point", 0.0, 0.1)

    def rival(self, config):
        return Prediction("point", 1.0, 0.1, self.rival_name)

    def measure(self, config, seeds, device="cpu"):
        draws = np.array([np.random.default_rng(s).normal(0, 0.01, 2) for s in seeds])
        return Measurement(draws[:, 0], np.array([0.0, 1.0]), draws, "x", "y")


class Helper(FileLaw):  # a subclass: registered only when the file marks none
    spec = "{spec}-HELPER"
"""


def law_file(folder: Path, spec: str, marked: bool) -> Path:
    path = folder / f"law_{spec.lower().replace('-', '_')}.py"
    decorator_import = "from memlaws.theory.registry import registered" if marked else ""
    decorator = "@registered" if marked else ""
    path.write_text(
        NOISY_LAW.format(spec=spec, decorator=decorator, decorator_import=decorator_import)
    )
    return path


@pytest.fixture
def fresh_registry(monkeypatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "_LAWS", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    monkeypatch.setattr(registry, "_DECLARED", list(registry._DECLARED))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("memlaws_law_file_"):
            del sys.modules[name]


@pytest.mark.parametrize(("marked", "loaded"), [(True, ["F1"]), (False, ["F1", "F1-HELPER"])])
def test_a_law_file_registers_its_marked_laws_or_else_every_law_it_defines(
    tmp_path, fresh_registry, marked, loaded
):
    laws = registry.load_law_file(law_file(tmp_path, "F1", marked))
    assert [law.spec for law in laws] == loaded
    assert specs()[-len(loaded) :] == loaded and "R1" in specs()


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("raise RuntimeError('deliberately broken')\n", "failed to import: RuntimeError"),
        ("x = 1\n", "defines no Law subclass"),
    ],
)
def test_a_bad_law_file_is_named(tmp_path, fresh_registry, source, error):
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(ValueError, match=rf"--law-file {path}.*{error}"):
        registry.load_law_file(path)


def test_report_checks_the_laws_of_a_law_file(tmp_path, fresh_registry, capsys):
    path = law_file(tmp_path, "F2", marked=True)
    out = tmp_path / "report"
    assert main(["report", "--law-file", str(path), "--profile", "ci", "--out", str(out)]) == 0
    (record,) = json.loads((out / "laws.json").read_text())
    assert record["spec"] == "F2" and record["verdict"] == "holds" and record["rival_rejected"]
    assert (out / "figures" / "F2.png").exists()
    assert main(["report", "--law-file", str(tmp_path / "missing.py")]) == 2
    assert "--law-file" in capsys.readouterr().err


def test_calibrate_runs_the_laws_of_a_law_file(tmp_path, fresh_registry, capsys):
    path = law_file(tmp_path, "F3", marked=True)
    store = tmp_path / "store.json"
    arguments = ["calibrate", "--law-file", str(path), "--repeats", "2", "--profile", "ci"]
    assert main([*arguments, "--out", str(tmp_path / "c.jsonl"), "--store", str(store)]) == 0
    assert "F3    false alarms 0/2" in capsys.readouterr().out
    assert list(json.loads(store.read_text())) == ["F3"]


# ---------------------------------------------------------------------------------------------
# memlaws new: scaffold, list, report, calibrate, test


def scaffold(folder: Path, spec: str, capsys) -> Path:
    """A plug-in written by ``memlaws new`` under ``folder``; returns its folder."""
    plugin = folder / f"plugin-{spec.lower()}"
    assert main(["new", str(plugin), "--spec", spec]) == 0
    assert f"law {spec}" in capsys.readouterr().out
    return plugin


def test_new_writes_a_complete_plugin(tmp_path, capsys):
    plugin = scaffold(tmp_path, "XN1", capsys)
    module = "plugin_xn1"
    written = sorted(str(p.relative_to(plugin)) for p in plugin.rglob("*") if p.is_file())
    assert written == [
        "README.md",
        f"{module}/__init__.py",
        f"{module}/law.py",
        "pyproject.toml",
        "tests/test_law.py",
    ]
    pyproject = (plugin / "pyproject.toml").read_text()
    entry = f'[project.entry-points."memlaws.laws"]\n"XN1" = "{module}.law:GeometricTailRate"'
    assert entry in pyproject and f'packages = ["{module}"]' in pyproject
    assert "parametrize_with_checks" in (plugin / "tests" / "test_law.py").read_text()
    assert f"--store {module}/calibration.json" in (plugin / "README.md").read_text()


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--spec", "R1"], "already a registered law"),
        (["--spec", "1X"], "--spec must be a letter"),
    ],
)
def test_new_refuses_a_bad_spec(tmp_path, capsys, arguments, error):
    assert main(["new", str(tmp_path / "plugin"), *arguments]) == 2
    assert error in capsys.readouterr().err


def test_new_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "x").write_text("")
    assert main(["new", str(tmp_path / "plugin")]) == 2
    assert "not an empty folder" in capsys.readouterr().err


def test_a_scaffolded_plugin_is_listed_judged_calibrated_and_checked(tmp_path, monkeypatch, capsys):
    """The walk after ``pip install -e``, with the install stood in for by the plug-in's folder
    on ``sys.path`` and its entry point (the slow test below installs it for real)."""
    plugin = scaffold(tmp_path, "XW1", capsys)
    module = "plugin_xw1"
    target = f"{module}.law:GeometricTailRate"  # as its pyproject.toml declares
    assert f'"XW1" = "{target}"' in (plugin / "pyproject.toml").read_text()
    entry = EntryPoint(name="XW1", value=target, group="memlaws.laws")
    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.setattr(registry, "_LAWS", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    try:
        assert main(["laws"]) == 0
        assert "XW1" in capsys.readouterr().out
        out = tmp_path / "report"
        report = ["report", "--profile", "ci", "--out", str(out), "--law", "XW1"]
        assert main(report) == 0
        (record,) = json.loads((out / "laws.json").read_text())
        assert record["verdict"] == "holds" and record["flag"].startswith("not calibrated")
        store = plugin / module / "calibration.json"
        calibrate = ["calibrate", "--law", "XW1", "--repeats", "2", "--profile", "ci"]
        assert main([*calibrate, "--out", str(tmp_path / "c.jsonl"), "--store", str(store)]) == 0
        assert list(json.loads(store.read_text())) == ["XW1"]
        assert main([*report, "--law", "R1"]) == 0
        records = {r["spec"]: r for r in json.loads((out / "laws.json").read_text())}
        assert records["XW1"]["calibration_repeats"] == 2  # found in the plug-in's own file
        assert records["XW1"]["flag"] == "calibrated at profile ci, not standard"
        assert records["R1"]["calibration_repeats"] >= 100  # memlaws' own, merged
        law = get_law("XW1")
        for param in check_params([law]):  # the plug-in's tests: the generic checks
            _, check = param.values
            check(law)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == module]:
            del sys.modules[name]


@pytest.mark.slow
def test_a_scaffolded_plugin_installs_with_pip_and_its_tests_pass(tmp_path, capsys):
    """``pip install -e`` of a scaffolded plug-in into a throw-away virtual environment that
    sees this one's packages; there it is listed, judged and calibrated, and its own tests
    pass. Offline: no build isolation, no dependencies fetched."""
    plugin = scaffold(tmp_path, "XP1", capsys)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    Path(site, "memlaws_base.pth").write_text(f"import site; site.addsitedir({here!r})\n")

    def run(*arguments: str, cwd: Path = tmp_path) -> str:
        done = subprocess.run(
            [python, *arguments], cwd=cwd, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "-e", str(plugin))
    cli = ("-m", "memlaws.theory.cli")
    assert "XP1" in run(*cli, "laws")
    assert "XP1   holds" in run(*cli, "report", "--law", "XP1", "--out", str(tmp_path / "r"))
    store = plugin / "plugin_xp1" / "calibration.json"
    run(*cli, "calibrate", "--law", "XP1", "--repeats", "2", "--profile", "ci",
        "--out", str(tmp_path / "c.jsonl"), "--store", str(store))  # fmt: skip
    assert "XP1" in json.loads(store.read_text())
    assert "passed" in run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=plugin)
    assert "XP1" not in specs()  # this environment never saw the plug-in
