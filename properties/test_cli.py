"""The ``memlaws`` command: listing, the report files, atomic writes, resumable calibration and
clear errors."""

from __future__ import annotations

import json
import math
import os
import stat
import types

import numpy as np
import pytest

from memlaws.theory import calibration_record
from memlaws.theory import report as report_module
from memlaws.theory.calibration_record import (
    CALIBRATION_PROFILE,
    STORED_CALIBRATION,
    load_calibration,
)
from memlaws.theory.cli import main, parser
from memlaws.theory.counterexamples import record_counterexample
from memlaws.theory.law import Measurement
from memlaws.theory.paper_figures import PaperFigure
from memlaws.theory.shapes import paired
from memlaws.theory.verify import judge


def test_laws_json_lists_every_law(capsys):
    assert main(["laws", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    specs = [row["spec"] for row in rows]
    assert {"R1", "R2a", "R2b", "R2c", "R2d", "R3a", "R3b", "R3c"} <= set(specs)
    assert all(row["source"] and row["statement"] for row in rows)


def test_laws_plain_listing(capsys):
    assert main(["laws"]) == 0
    assert "Proposition 1" in capsys.readouterr().out


REPORT_FIELDS = {
    "spec", "source", "predicted", "measured", "ci_low", "ci_high", "tolerance", "verdict",
    "rival", "rival_rejected", "n_seeds", "range", "config", "tolerance_reason",
    "false_alarm_rate", "power", "flag", "smallest_failing",
}  # fmt: skip


def test_report_writes_json_and_markdown(tmp_path, capsys):
    assert main(["report", "--profile", "quick", "--out", str(tmp_path), "--law", "R1"]) == 0
    records = json.loads((tmp_path / "laws.json").read_text())
    assert len(records) == 1 and set(records[0]) >= REPORT_FIELDS
    assert records[0]["verdict"] == "holds" and records[0]["rival_rejected"]
    table = (tmp_path / "REPORT.md").read_text()
    assert "| R1 |" in table and "**holds**" in table
    assert "R1" in capsys.readouterr().out


def test_report_shows_calibration_and_the_smallest_failing_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLAWS_COUNTEREXAMPLES", str(tmp_path / "found.jsonl"))
    outcome = {"verdict": "fails", "measured": -0.3, "ci_low": -0.4, "ci_high": -0.2}
    record_counterexample("R1", {"alpha": 1.1}, outcome | {"reason": "outside"}, "quick")
    calibration = tmp_path / "calibration.json"
    stored = load_calibration(STORED_CALIBRATION)["R1"] | {"profile": "ci"}
    calibration.write_text(json.dumps({"R1": stored}))  # merged over the stored one
    out = tmp_path / "report"
    arguments = ["report", "--law", "R1", "--out", str(out), "--calibration", str(calibration)]
    assert main(arguments) == 0
    (record,) = json.loads((out / "laws.json").read_text())
    assert record["smallest_failing"]["config"] == {"alpha": 1.1}
    assert record["flag"] == "calibrated at profile ci, not standard"
    table = (out / "REPORT.md").read_text()
    assert "| R1 | alpha=1.1 | fails (outside)" in table
    assert "⚠ flagged" in table


def test_the_full_report_appends_the_paper_figures(tmp_path, monkeypatch):
    drawn = PaperFigure("toy", "A toy figure", "figures/paper/toy.png", "What to look for.")
    monkeypatch.setattr(report_module, "write_paper_figures", lambda *args: [drawn])
    report_module.write_report(tmp_path, "quick", specs=["R1"], paper_figures=True)
    table = (tmp_path / "REPORT.md").read_text()
    assert "## The paper's figures" in table
    assert "![A toy figure](figures/paper/toy.png)" in table and "What to look for." in table


def previous_report(folder) -> dict[str, bytes]:
    """A report folder of an earlier run: its files by relative path."""
    files = {"laws.json": b"previous", "REPORT.md": b"previous", "figures/R1.png": b"old"}
    files["figures/paper/toy.png"] = b"old"
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return files


def folder_files(folder) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_interrupted_report_leaves_the_previous_one_intact(tmp_path, monkeypatch, capsys):
    out = tmp_path / "report"
    files = previous_report(out)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "run_laws", interrupted)
    assert main(["report", "--out", str(out), "--law", "R1"]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"interrupted: the report in {out} was left as it was"
    )
    assert folder_files(out) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_a_report_interrupted_while_drawing_keeps_the_old_figures(tmp_path, monkeypatch, fast_laws):
    """Interrupted after some of the new figures are drawn: the old folder, figures included,
    is left as it was, and nothing of the new run remains beside it."""
    out = tmp_path / "report"
    files = previous_report(out)

    def drawn_then_interrupted(folder, *args):
        (folder / "figures" / "paper").mkdir(parents=True, exist_ok=True)
        (folder / "figures" / "paper" / "toy.png").write_bytes(b"new")
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "write_paper_figures", drawn_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        report_module.write_report(out, "quick", specs=["R6b"], paper_figures=True)
    assert folder_files(out) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_the_report_folder_is_replaced_as_a_whole(tmp_path, monkeypatch, fast_laws):
    out = tmp_path / "report"
    previous_report(out)
    drawn = PaperFigure("toy", "A toy figure", "figures/paper/toy.png", "What to look for.")

    def draw(folder, *args):
        (folder / drawn.file).parent.mkdir(parents=True)
        (folder / drawn.file).write_bytes(b"new")
        return [drawn]

    monkeypatch.setattr(report_module, "write_paper_figures", draw)
    report_module.write_report(out, "quick", specs=["R6b"], paper_figures=True)
    files = folder_files(out)
    assert sorted(files) == ["REPORT.md", "figures/R6b.png", "figures/paper/toy.png", "laws.json"]
    assert files["figures/paper/toy.png"] == b"new" and files["laws.json"] != b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # nothing left aside


SEEDS = list(range(16))


def synthetic(law) -> Measurement:
    """A measurement of ``law`` made up on the spot: a paired ordering (R5d) or one error per
    seed at a single d (R6b), both holding."""
    spread = np.linspace(-1, 1, len(SEEDS))
    if law.spec == "R5d":
        return paired(0.03 + 0.002 * spread, 0.02 + 0.002 * spread, "layer norm", ("off", "on"))
    errors = 0.001 * np.ones((64, 1))  # 64 runs, every one at the floor: an exact interval
    return Measurement(np.ones(64), np.array([2.0]), errors, "d", "error")  # above 75%


@pytest.fixture
def fast_laws(monkeypatch):
    """``run_laws`` judging synthetic measurements of R5d and R6b, none beyond their region."""

    def run_laws(laws, profile, device="cpu"):
        checked = []
        for law in laws:
            measurement = synthetic(law)
            checked.append((judge(law, law.config(), measurement, SEEDS), measurement))
        return checked, []

    monkeypatch.setattr(report_module, "run_laws", run_laws)


def test_report_files_have_normal_modes_and_strict_json(tmp_path, fast_laws, monkeypatch):
    monkeypatch.setattr(calibration_record, "STORED_CALIBRATION", tmp_path / "none.json")
    calibration = tmp_path / "calibration.json"
    calibration.write_text("{}")  # no calibration: the rates are unknown (NaN in memory)
    old = os.umask(0o022)
    try:
        arguments = ["report", "--law", "R6b", "--out", str(tmp_path / "report")]
        assert main([*arguments, "--calibration", str(calibration)]) == 0
    finally:
        os.umask(old)
    out = tmp_path / "report"
    for path in [out / "REPORT.md", out / "laws.json", out / "figures" / "R6b.png"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE(out.stat().st_mode) == 0o755

    def no_constants(name):
        raise AssertionError(f"laws.json holds {name}, which is not JSON")

    (record,) = json.loads((out / "laws.json").read_text(), parse_constant=no_constants)
    assert record["false_alarm_rate"] is None and record["power_interval"] == [None, None]


def test_strict_json_turns_every_non_finite_number_into_null():
    value = {"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf}], "d": "nan", "e": 2}
    assert report_module.strict_json(value) == {
        "a": None,
        "b": [1.0, None, {"c": None}],
        "d": "nan",
        "e": 2,
    }


def test_provenance_in_laws_json_and_report(tmp_path, fast_laws):
    out = tmp_path / "report"
    assert main(["report", "--law", "R6b", "--out", str(out), "--profile", "ci"]) == 0
    (record,) = json.loads((out / "laws.json").read_text())
    provenance = record["provenance"]
    assert {"memlaws", "git_commit", "python", "torch", "device", "date", "command"} <= set(
        provenance
    )
    assert provenance["profile"] == "ci" and provenance["device"].startswith("cpu")
    assert provenance["command"] == f"memlaws report --law R6b --out {out} --profile ci"
    table = (out / "REPORT.md").read_text()
    assert "## Provenance" in table and "- profile: `ci`" in table


def test_the_range_column_shows_the_compared_conditions(tmp_path, fast_laws):
    out = tmp_path / "report"
    assert (
        main(["report", "--law", "R5d", "--law", "R6b", "--out", str(out), "--profile", "ci"]) == 0
    )
    rows = [line for line in (out / "REPORT.md").read_text().splitlines() if line.startswith("| R")]
    assert "| off vs on |" in rows[0] and "∈ [0, 1]" not in rows[0]
    assert "| d = 2 |" in rows[1]


def test_calibration_resumes(tmp_path, capsys):
    out = tmp_path / "calibration.jsonl"
    assert main(["calibrate", "--repeats", "2", "--law", "R1", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert main(["calibrate", "--repeats", "3", "--law", "R1", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 3  # only the missing repeat was run
    assert "false alarms 0/3" in capsys.readouterr().out


def test_calibration_reruns_rows_of_another_configuration(tmp_path, capsys):
    out = tmp_path / "calibration.jsonl"
    stale = {"spec": "R1", "repeat": 0, "verdict": "fails", "rival_rejected": False}
    out.write_text(json.dumps(stale | {"config": {"N": 1}}) + "\n")
    assert main(["calibrate", "--repeats", "1", "--law", "R1", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert "false alarms 0/1" in capsys.readouterr().out


def test_a_calibration_file_is_merged_with_the_stored_ones(tmp_path, fast_laws):
    """``--calibration FILE`` adds to and overrides the stored calibrations; it replaces none
    that it does not name (R6b keeps its stored calibration)."""
    calibration = tmp_path / "calibration.json"
    calibration.write_text("{}")
    out = tmp_path / "report"
    arguments = ["report", "--law", "R6b", "--out", str(out), "--calibration", str(calibration)]
    assert main(arguments) == 0
    (record,) = json.loads((out / "laws.json").read_text())
    assert record["calibration_repeats"] == load_calibration(STORED_CALIBRATION)["R6b"]["repeats"]
    assert record["calibration_repeats"] >= 100


def test_calibrate_stores_into_a_file_keeping_its_other_entries(tmp_path, fast_checks, capsys):
    store = tmp_path / "mine.json"
    for spec in ("R1", "R2a"):
        arguments = ["calibrate", "--law", spec, "--repeats", "2", "--profile", "ci"]
        out = tmp_path / f"{spec}.jsonl"
        assert main([*arguments, "--out", str(out), "--store", str(store)]) == 0
    stored = load_calibration(store)
    assert sorted(stored) == ["R1", "R2a"] and stored["R1"]["repeats"] == 2
    assert stored["R1"]["profile"] == "ci"


def test_calibrate_defaults_to_the_profile_the_report_reads():
    arguments = parser().parse_args(["calibrate"])
    assert arguments.profile == CALIBRATION_PROFILE == "standard"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["report", "--law", "R9"], "is not a registered law"),
        (["calibrate", "--repeats", "0", "--law", "R1"], "repeats must be"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(arguments, message, capsys, tmp_path):
    assert main([*arguments, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_unknown_profile_is_refused(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["report", "--profile", "huge"])
    assert raised.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.fixture
def fast_checks(monkeypatch):
    """Calibration checks that return at once (a made-up verdict that holds); the list of calls."""
    import memlaws.theory.calibration as calibration_module

    calls = []

    def check_in_stages(law, config, profile, repeat, device="cpu"):
        calls.append(repeat)
        verdict = types.SimpleNamespace(
            verdict="holds", rival_rejected=True, measured=0.0, ci_low=-0.1, ci_high=0.1,
            resolution=0.2, n_seeds=16, looks=1,
        )  # fmt: skip
        return verdict, Measurement(np.zeros(16), np.arange(2.0), np.zeros((16, 2)), "T", "e")

    monkeypatch.setattr(calibration_module, "check_in_stages", check_in_stages)
    return calls


def test_an_interrupted_calibration_says_how_to_continue(
    tmp_path, capsys, monkeypatch, fast_checks
):
    import memlaws.theory.calibration as calibration_module

    out = tmp_path / "calibration.jsonl"
    fake = calibration_module.check_in_stages

    def interrupted(*args, **kwargs):
        if fast_checks:
            raise KeyboardInterrupt
        return fake(*args, **kwargs)

    monkeypatch.setattr(calibration_module, "check_in_stages", interrupted)
    assert main(["calibrate", "--repeats", "3", "--law", "R1", "--out", str(out)]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"interrupted: 1 checks written to {out}; rerun the same command to continue"
    )
    assert len(out.read_text().splitlines()) == 1


def test_a_calibration_line_cut_by_a_kill_is_set_aside(tmp_path, capsys, fast_checks):
    out = tmp_path / "calibration.jsonl"
    assert main(["calibrate", "--repeats", "2", "--law", "R1", "--out", str(out)]) == 0
    out.write_bytes(out.read_bytes()[:-30])
    assert main(["calibrate", "--repeats", "2", "--law", "R1", "--out", str(out)]) == 0
    assert "was cut off by an interrupted run" in capsys.readouterr().err
    assert len([json.loads(line) for line in out.read_text().splitlines()]) == 2
    assert len(fast_checks) == 3  # the cut check was run again, the whole one was not
