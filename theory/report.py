"""The report of every registered law: ``DIR/laws.json`` and ``DIR/REPORT.md``, written
atomically so that an interrupted run leaves the previous report intact."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from theory.figures import law_figure
from theory.law import Law, Measurement
from theory.profiles import seeds_for
from theory.progress import Progress
from theory.registry import all_laws
from theory.verify import Verdict, check


def run_laws(
    laws: Sequence[Law], profile: str, device: str = "cpu"
) -> tuple[list[tuple[Verdict, Measurement]], list[tuple[Verdict, Measurement]]]:
    """Check every law at its default configuration with the profile's seeds, then at each of
    its configurations beyond the stated region; returns both lists of verdicts."""
    seeds = seeds_for(profile)
    jobs = [(law, law.config(), False) for law in laws]
    jobs += [(law, config, True) for law in laws for config in law.beyond_configs()]
    inside, beyond = [], []
    with Progress(len(jobs), f"laws ({profile})") as bar:
        for law, config, outside in jobs:
            verdict, measurement = check(law, config, seeds, device)
            (beyond if outside else inside).append((verdict, measurement))
            where = " beyond its region" if outside else ""
            bar.advance(f"{law.spec}{where} {verdict.verdict} ({verdict.seconds:.1f}s)")
    return inside, beyond


def write_figure(path: Path, verdict: Verdict, measurement: Measurement) -> None:
    """Draw a law's figure to a temporary file, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    law_figure(verdict, measurement, temporary)
    os.replace(temporary, path)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _number(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.{digits}f}"


def beyond_table(records: Sequence[dict[str, Any]], defaults: dict[str, dict[str, Any]]) -> str:
    """Verdicts outside each law's stated region: where a claim stops holding."""
    lines = [
        "## Beyond the stated regions",
        "",
        "Each row changes the law's reference configuration so as to leave its stated region "
        "(the verdict there is information, not a test).",
        "",
        "| law | change | measured | interval | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in records:
        change = ", ".join(
            f"{k}={v}" for k, v in r["config"].items() if defaults[r["spec"]].get(k) != v
        )
        lines.append(
            f"| {r['spec']} | {change} | {_number(r['measured'])} "
            f"| [{_number(r['ci_low'])}, {_number(r['ci_high'])}] | {r['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def markdown_table(records: Sequence[dict[str, Any]], profile: str) -> str:
    """REPORT.md: one row per law, then each law's configuration and tolerance reason."""
    lines = [
        "# memlaws report",
        "",
        f"Profile `{profile}`; intervals are two-sided t-intervals over seeds at level "
        f"{records[0]['level'] if records else 0.99}. A law holds when its prediction lies in the "
        "interval widened by its tolerance and its rival does not.",
        "",
        "| law | source | statistic | predicted | measured | interval | tolerance | verdict "
        "| rival | rival rejected | seeds | range | time | figure |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['spec']} | {r['source']} | {r['statistic']} | {r['prediction']} "
            f"| {_number(r['measured'])} | [{_number(r['ci_low'])}, {_number(r['ci_high'])}] "
            f"| {r['tolerance']:.3f} | **{r['verdict']}** "
            f"| {r['rival_name']} ({_number(r['rival'])}) "
            f"| {'yes' if r['rival_rejected'] else 'no'} | {r['n_seeds']} "
            f"| {r['variable']} ∈ [{r['range'][0]:g}, {r['range'][1]:g}] | {r['seconds']:.1f}s "
            f"| [{r['spec']}]({r['figure']}) |"
        )
    lines += ["", "## Laws", ""]
    for r in records:
        config = ", ".join(f"{k}={v}" for k, v in r["config"].items())
        lines += [
            f"### {r['spec']}: {r['statement']}",
            "",
            f"- configuration: {config}",
            f"- verdict: {r['verdict']} ({r['reason']})",
            f"- tolerance {r['tolerance']:.3f}: {r['tolerance_reason']}",
            "",
        ]
    return "\n".join(lines) + "\n"


def write_report(
    out: Path, profile: str, device: str = "cpu", specs: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Run the laws (all, or those in ``specs``); write ``out/laws.json`` and ``out/REPORT.md``."""
    laws = [law for law in all_laws() if not specs or law.spec in specs]
    unknown = set(specs or ()) - {law.spec for law in laws}
    if unknown:
        raise ValueError(f"unknown law(s) {sorted(unknown)}")
    inside, outside = run_laws(laws, profile, device)
    records = [v.as_dict() for v, _ in inside]
    beyond = [v.as_dict() for v, _ in outside]
    for record, (verdict, measurement) in zip(records, inside, strict=True):
        record["figure"] = f"figures/{verdict.spec}.png"
        write_figure(out / record["figure"], verdict, measurement)
    for record in records:
        record["beyond"] = [b for b in beyond if b["spec"] == record["spec"]]
    markdown = markdown_table(records, profile)
    if beyond:
        markdown += "\n" + beyond_table(beyond, {r["spec"]: r["config"] for r in records})
    write_atomically(out / "laws.json", json.dumps(records, indent=2, allow_nan=True) + "\n")
    write_atomically(out / "REPORT.md", markdown)
    return records
