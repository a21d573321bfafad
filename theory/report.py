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

from theory.law import Law
from theory.profiles import seeds_for
from theory.progress import Progress
from theory.registry import all_laws
from theory.verify import Verdict, check


def run_laws(
    laws: Sequence[Law], profile: str, device: str = "cpu", progress: bool = True
) -> list[Verdict]:
    """Check every law at its default configuration with the profile's seeds."""
    verdicts = []
    seeds = seeds_for(profile)
    with Progress(len(laws), f"laws ({profile})") as bar:
        for law in laws:
            verdict, _ = check(law, law.config(), seeds, device)
            verdicts.append(verdict)
            if progress:
                bar.advance(f"{law.spec} {verdict.verdict} ({verdict.seconds:.1f}s)")
    return verdicts


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
        "| rival | rival rejected | seeds | range | time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['spec']} | {r['source']} | {r['statistic']} | {r['prediction']} "
            f"| {_number(r['measured'])} | [{_number(r['ci_low'])}, {_number(r['ci_high'])}] "
            f"| {r['tolerance']:.3f} | **{r['verdict']}** "
            f"| {r['rival_name']} ({_number(r['rival'])}) "
            f"| {'yes' if r['rival_rejected'] else 'no'} | {r['n_seeds']} "
            f"| {r['variable']} ∈ [{r['range'][0]:g}, {r['range'][1]:g}] | {r['seconds']:.1f}s |"
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
    records = [v.as_dict() for v in run_laws(laws, profile, device)]
    write_atomically(out / "laws.json", json.dumps(records, indent=2, allow_nan=True) + "\n")
    write_atomically(out / "REPORT.md", markdown_table(records, profile))
    return records
