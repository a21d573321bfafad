"""Calibrating the verifier: rerun each law's check on independent seed sets and count how often
the true law is declared failing (false alarms), how often its rival is rejected (far power),
and how often a near alternative is rejected (near power): the claim shifted by the law's
stated resolution, or for an ordering "no effect beyond the minimum".

Each repeat runs the check exactly as the report does (``memlaws.theory.verify.check_in_stages``,
with calibration repeat ``i``'s seeds) and appends a row at once, with the per-seed statistics, so
that an interrupted calibration resumes where it stopped. Rows carry the law's fingerprint
(``memlaws.theory.fingerprint``): rows of another fingerprint are stale and rerun.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memlaws.kernel.validation import positive_int
from memlaws.theory.fingerprint import law_fingerprint
from memlaws.theory.jsonlines import JsonLines, read_json_lines
from memlaws.theory.law import Law
from memlaws.theory.progress import Progress
from memlaws.theory.registry import all_laws
from memlaws.theory.verify import FAILS, HOLDS, INCONCLUSIVE, check_in_stages


def row_key(row: dict[str, Any]) -> tuple[str, int]:
    """A calibration row's key ``(spec, repeat)``, once it has the fields calibration reads."""
    for name in ("spec", "repeat", "verdict", "rival_rejected"):
        if name not in row:
            raise ValueError(f"it has no field {name!r}")
    if not isinstance(row["spec"], str) or not isinstance(row["repeat"], int):
        raise ValueError("its spec must be a string and its repeat an integer")
    return row["spec"], row["repeat"]


def read_rows(path: Path) -> JsonLines:
    """The calibration rows already in ``path`` (``memlaws.theory.jsonlines``: a cut-off last
    line is kept apart, any other bad line named by its number)."""
    return read_json_lines(path, row_key, "a calibration check")


def near_alternative_rejected(law: Law, row: dict[str, Any]) -> bool:
    """Whether a calibration row's interval rejects the law's near alternative: a point claim
    shifted by the stated resolution either way (both shifts contradicted), or for a one-sided
    claim "no effect beyond the minimum" (the claim supported)."""
    config = row["config"]
    low, high = row["ci_low"], row["ci_high"]
    if low is None or high is None:
        return False
    claim, goal = law.predicted(config), law.resolution_goal(config)
    if claim.kind == "point":
        return claim.shifted(goal).contradicted(low, high) and claim.shifted(-goal).contradicted(
            low, high
        )
    return claim.supported(low, high)


def summarise(rows: Sequence[dict[str, Any]], spec: str, law: Law | None = None) -> dict[str, Any]:
    """False-alarm rate, far and near power and inconclusive count of one law's rows."""
    mine = sorted((r for r in rows if r["spec"] == spec), key=lambda r: r["repeat"])
    n = len(mine)
    fails = [r["repeat"] for r in mine if r["verdict"] == FAILS]
    rejections = sum(r["rival_rejected"] for r in mine)
    near = sum(near_alternative_rejected(law, r) for r in mine) if law else 0
    return {
        "spec": spec,
        "repeats": n,
        "false_alarms": len(fails),
        "false_alarm_rate": len(fails) / n if n else None,
        "false_alarm_repeats": fails,
        "rival_rejections": rejections,
        "power": rejections / n if n else None,
        "near_rejections": near,
        "near_power": near / n if n else None,
        "holds": sum(r["verdict"] == HOLDS for r in mine),
        "inconclusive": sum(r["verdict"] == INCONCLUSIVE for r in mine),
        "median_seeds": float(np.median([r["n_seeds"] for r in mine])) if n else None,
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
    prints = {law.spec: law_fingerprint(law) for law in laws}
    done = {  # rows of another fingerprint (law, verdict rule or kernel changed) are stale
        key: row
        for key, row in read_rows(out).records.items()
        if row.get("fingerprint") == prints.get(key[0]) and row.get("profile") == profile
    }
    todo = [(law, i) for law in laws for i in range(repeats) if (law.spec, i) not in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    with Progress(len(todo), "calibration") as bar, out.open("a") as stream:
        for law, i in todo:
            config = law.config()
            verdict, measurement = check_in_stages(law, config, profile, i, device)
            row = {
                "spec": law.spec,
                "repeat": i,
                "profile": profile,
                "fingerprint": prints[law.spec],
                "verdict": verdict.verdict,
                "rival_rejected": verdict.rival_rejected,
                "measured": _finite(verdict.measured),
                "ci_low": _finite(verdict.ci_low),
                "ci_high": _finite(verdict.ci_high),
                "resolution": _finite(verdict.resolution),
                "n_seeds": verdict.n_seeds,
                "looks": verdict.looks,
                "statistic": [_finite(v) for v in np.asarray(measurement.statistic, float)],
                "config": config,
            }
            stream.write(json.dumps(row, allow_nan=False) + "\n")
            stream.flush()
            done[(law.spec, i)] = row
            bar.advance(f"{law.spec} #{i} {verdict.verdict} ({verdict.n_seeds} seeds)")
    rows = [r for (spec, i), r in done.items() if i < repeats]
    return [summarise(rows, law.spec, law) | {"fingerprint": prints[law.spec]} for law in laws]


def _finite(value: float) -> float | None:
    """``value`` as a JSON number, or None when it is not finite."""
    return float(value) if np.isfinite(value) else None
