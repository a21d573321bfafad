"""Calibrating the verifier: rerun each law's check on independent seed sets and count how often
the true law is declared failing (false alarms) and how often its rival is rejected (power).

Each finished check is appended to a JSON-lines file at once, so an interrupted calibration
resumes where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kernel.validation import positive_int
from theory.profiles import seeds_for
from theory.progress import Progress
from theory.registry import all_laws
from theory.verify import FAILS, INCONCLUSIVE, check


def _done(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    if not path.exists():
        return {}
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[(row["spec"], row["repeat"])] = row
    return rows


def summarise(rows: Sequence[dict[str, Any]], spec: str) -> dict[str, Any]:
    """False-alarm rate, power and inconclusive count of one law's calibration rows."""
    mine = [r for r in rows if r["spec"] == spec]
    n = len(mine)
    fails = sum(r["verdict"] == FAILS for r in mine)
    rejections = sum(r["rival_rejected"] for r in mine)
    return {
        "spec": spec,
        "repeats": n,
        "false_alarms": fails,
        "false_alarm_rate": fails / n if n else float("nan"),
        "rival_rejections": rejections,
        "power": rejections / n if n else float("nan"),
        "inconclusive": sum(r["verdict"] == INCONCLUSIVE for r in mine),
    }


def calibrate(
    repeats: int,
    profile: str,
    specs: Sequence[str] | None,
    out: Path,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """Run ``repeats`` independent checks of each law (resuming from ``out``) and summarise."""
    positive_int("repeats", repeats)
    laws = [law for law in all_laws() if not specs or law.spec in specs]
    configs = {law.spec: law.config() for law in laws}
    done = {  # rows of another reference configuration are stale: rerun them
        key: row
        for key, row in _done(out).items()
        if row.get("config", configs.get(key[0])) == configs.get(key[0])
    }
    todo = [(law, i) for law in laws for i in range(repeats) if (law.spec, i) not in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    with Progress(len(todo), "calibration") as bar, out.open("a") as stream:
        for law, i in todo:
            verdict, _ = check(law, law.config(), seeds_for(profile, i), device)
            row = {
                "spec": law.spec,
                "repeat": i,
                "verdict": verdict.verdict,
                "rival_rejected": verdict.rival_rejected,
                "measured": verdict.measured,
                "ci_low": verdict.ci_low,
                "ci_high": verdict.ci_high,
                "config": configs[law.spec],
            }
            stream.write(json.dumps(row) + "\n")
            stream.flush()
            done[(law.spec, i)] = row
            bar.advance(f"{law.spec} #{i} {verdict.verdict}")
    rows = [r for (spec, i), r in done.items() if i < repeats]
    return [summarise(rows, law.spec) for law in laws]
