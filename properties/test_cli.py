"""The ``memlaws`` command: listing, the report files, atomic writes, resumable calibration and
clear errors."""

from __future__ import annotations

import json

import pytest

from theory import report as report_module
from theory.cli import main
from theory.counterexamples import record_counterexample
from theory.paper_figures import PaperFigure


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
    record_counterexample("R1", {"alpha": 1.1}, outcome | {"reason": "outside"}, "dev")
    calibration = tmp_path / "calibration.json"
    calibration.write_text("{}")
    out = tmp_path / "report"
    arguments = ["report", "--law", "R1", "--out", str(out), "--calibration", str(calibration)]
    assert main(arguments) == 0
    (record,) = json.loads((out / "laws.json").read_text())
    assert record["smallest_failing"]["config"] == {"alpha": 1.1}
    assert record["flag"].startswith("not calibrated")
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


def test_interrupted_report_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    (tmp_path / "laws.json").write_text("previous")
    (tmp_path / "REPORT.md").write_text("previous")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "run_laws", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["report", "--out", str(tmp_path), "--law", "R1"])
    assert (tmp_path / "laws.json").read_text() == "previous"
    assert (tmp_path / "REPORT.md").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPORT.md", "laws.json"]


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


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["report", "--law", "R9"], "unknown law"),
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
