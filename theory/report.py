"""The report of every registered law: ``DIR/laws.json``, ``DIR/REPORT.md`` and
``DIR/figures/``, built in a folder beside ``DIR`` and swapped in as a whole, so that an
interrupted run leaves the previous report intact, figures included. Files get the usual modes
(0666 less the umask) and ``laws.json`` is strict JSON (``null`` for a missing number)."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlaws.theory.calibration_record import (
    CALIBRATION_PROFILE,
    MAX_FALSE_ALARM_RATE,
    MIN_POWER,
    RATE_LEVEL,
    calibration_status,
    family_false_alarms,
    stored_calibrations,
)
from memlaws.theory.counterexamples import counterexample_path, latest_counterexamples
from memlaws.theory.figures import law_figure
from memlaws.theory.law import Law, Measurement
from memlaws.theory.paper_figures import PAPER_FIGURE_COUNT, PaperFigure, write_paper_figures
from memlaws.theory.profiles import profile as profile_settings
from memlaws.theory.profiles import seeds_for
from memlaws.theory.progress import Progress
from memlaws.theory.provenance import provenance_markdown
from memlaws.theory.registry import all_laws, get_law
from memlaws.theory.verify import FIRST_LOOK_SHARE, LEVEL, Verdict, check, check_in_stages


@dataclass
class LawRecord:
    """One law in the report: its verdict at its reference configuration, the stored
    calibration's status (``memlaws.theory.calibration_record.calibration_status``), the smallest
    failing configuration the properties recorded, its figure, the named conditions it compares,
    the scalar details of its measurement, its verdicts beyond its region and the provenance."""

    verdict: Verdict
    calibration: dict[str, Any]
    smallest_failing: dict[str, Any] | None = None
    figure: str = ""
    compared: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    beyond: list[Verdict] = field(default_factory=list)
    provenance: dict[str, Any] | None = None

    @property
    def spec(self) -> str:
        return self.verdict.spec

    @property
    def flag(self) -> str:
        """Why the law's calibration is flagged, or ``""``."""
        return self.calibration["flag"]

    def as_dict(self) -> dict[str, Any]:
        """The record as one flat JSON object (a line of ``laws.json``)."""
        flat = self.verdict.as_dict() | self.calibration
        flat |= {"smallest_failing": self.smallest_failing, "figure": self.figure}
        flat |= {"compared": self.compared, "details": self.details}
        flat["beyond"] = [verdict.as_dict() for verdict in self.beyond]
        if self.provenance is not None:
            flat["provenance"] = self.provenance
        return flat


def run_laws(
    laws: Sequence[Law], profile: str, device: str = "cpu"
) -> tuple[list[tuple[Verdict, Measurement]], list[tuple[Verdict, Measurement]]]:
    """Check every law at its default configuration with the profile's seeds, adding seeds in
    stages while inconclusive, then, in one look, at each of its configurations beyond the
    stated region; returns both lists of verdicts."""
    jobs = [(law, law.config(), False) for law in laws]
    jobs += [(law, config, True) for law in laws for config in law.beyond_configs()]
    inside, beyond = [], []
    with Progress(len(jobs), f"laws ({profile})") as bar:
        for law, config, outside in jobs:
            if outside:  # information, not a test: one look at the profile's first seeds
                verdict, measurement = check(law, config, seeds_for(profile), device)
            else:
                verdict, measurement = check_in_stages(law, config, profile, -1, device)
            (beyond if outside else inside).append((verdict, measurement))
            where = " beyond its region" if outside else ""
            bar.advance(f"{law.spec}{where} {verdict.verdict} ({verdict.seconds:.1f}s)")
    return inside, beyond


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, with the usual mode
    (0666 less the umask; ``mkstemp`` alone would leave 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf) replaced by ``None``, at any depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


@contextmanager
def folder_beside(out: Path) -> Iterator[Path]:
    """A new, empty folder beside ``out`` to build into; on a clean exit it replaces ``out``
    as a whole (the old one renamed aside, the new one renamed in, the old one deleted), on an
    error or an interrupt it is deleted and ``out`` is left as it was."""
    out = Path(os.path.realpath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    try:
        os.chmod(building, 0o777 & ~_umask())
        yield building
        _swap(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _swap(new: Path, out: Path) -> None:
    """Put the folder ``new`` in the place of ``out`` (which may not exist)."""
    if not out.exists():
        os.rename(new, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    os.rename(out, old / out.name)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old / out.name, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _number(value: float | None) -> str:
    """``+0.123``, or ``n/a`` for a missing or non-finite value."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.3f}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (``|`` escaped)."""
    return text.replace("|", "\\|")


def _rate(value: float | None, interval: Sequence[float]) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.0%} [{interval[0]:.0%}, {interval[1]:.0%}]"


def recheck_counterexamples(
    records: Sequence[LawRecord], profile: str, device: str = "cpu"
) -> None:
    """Recheck each recorded failing configuration on the report's seeds (fresh: the properties
    draw theirs from another space) and keep the verdict there beside it."""
    for record in records:
        found = record.smallest_failing
        if found:
            law = get_law(record.spec)
            try:
                config = law.config(**found["config"])
            except ValueError as error:  # the law's domain changed since it was recorded
                found["recheck"] = {"verdict": f"not rechecked: {error}", "measured": None}
                continue
            verdict, _ = check(law, config, seeds_for(profile), device)
            found["recheck"] = {"verdict": verdict.verdict, "measured": verdict.measured}


def counterexample_table(records: Sequence[LawRecord]) -> str:
    """The smallest configurations where each law failed its Hypothesis property, if any, with
    the verdict of a recheck on fresh seeds."""
    lines = [
        "## Where the properties found a law failing",
        "",
        "The smallest failing configuration Hypothesis found for each law, read from "
        f"`{counterexample_path()}` (written by the property tests; shrinking runs under "
        "`MEMLAWS_PROFILE=quick`, `standard` or `thorough`). It marks the edge of the region "
        "where the law "
        "holds. Each is rechecked on the report's seeds before it is shown.",
        "",
    ]
    found = [r for r in records if r.smallest_failing]
    if not found:
        return "\n".join([*lines, "None recorded.", ""])
    lines += [
        "| law | configuration | verdict there | measured | recheck on fresh seeds | when |",
        "|---|---|---|---|---|---|",
    ]
    for r in found:
        row = r.smallest_failing
        config = ", ".join(f"{k}={v}" for k, v in row["config"].items())
        recheck = row.get("recheck", {})
        again = f"{recheck.get('verdict', 'not rechecked')} ({_number(recheck.get('measured'))})"
        when = f"{row['recorded']}, profile {row['profile']}"
        lines.append(
            f"| {r.spec} | {_cell(config)} | {row['verdict']} ({_cell(row['reason'])}) "
            f"| {_number(row['measured'])} | {again} | {when} |"
        )
    return "\n".join(lines) + "\n"


def paper_figures_section(figures: Sequence[PaperFigure]) -> str:
    """The paper's figures, redrawn from our kernel, each with its caption."""
    lines = ["## The paper's figures", ""]
    for figure in figures:
        image = f"![{figure.title}]({figure.file})"
        lines += [f"### {figure.title}", "", image, "", figure.caption, ""]
    return "\n".join(lines)


def _open(verdict: Verdict) -> str:
    return " (open claim)" if verdict.open_claim else ""


def _plain(value: float | None) -> str:
    """``0.123``, or ``n/a``."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.0%}"


def _marker(record: LawRecord) -> str:
    return " ⚠ flagged" if record.flag else ""


def calibration_table(records: Sequence[LawRecord], family: dict[str, Any]) -> str:
    """Each law's verifier calibration, the laws it flags, and the family-wise false alarms."""
    lines = [
        "## Calibration of the verifier",
        "",
        f"Measured at the `{CALIBRATION_PROFILE}` profile on independent seed sets "
        "(`memlaws calibrate`), each check run as the report runs it: the false-alarm rate is "
        "how often the law itself was declared failing, the power how often its rival was "
        "rejected, the near power how often the near alternative was (the claim shifted by its "
        "stated resolution, or for an ordering no effect beyond its minimum); brackets are exact "
        f"{RATE_LEVEL:.0%} intervals. A law is flagged when its false-alarm rate exceeds "
        f"{MAX_FALSE_ALARM_RATE:.0%}, either power is below {MIN_POWER:.0%}, or its calibration is "
        "missing or stale (its fingerprint: claim, probe measurement and verdict rule, by "
        "behaviour). "
        "Open claims take no side and have no false alarms to count.",
        "",
        "| law | repeats | false-alarm rate | power | near power | flag |",
        "|---|---|---|---|---|---|",
    ]
    for record in records:
        c = record.calibration
        lines.append(
            f"| {record.spec} | {c['calibration_repeats']} "
            f"| {_rate(c['false_alarm_rate'], c['false_alarm_interval'])} "
            f"| {_rate(c['power'], c['power_interval'])} "
            f"| {_rate(c['near_power'], c['near_power_interval'])} | {record.flag or 'none'} |"
        )
    if family["repeats"]:
        lines += [
            "",
            f"Family-wise: over {family['repeats']} calibration repeats of the {family['laws']} "
            "laws that take a side, at least one was declared failing in "
            f"{_rate(family['rate'], family['interval'])} of them (union bound of the laws' "
            f"rates: {family['bound']:.0%}).",
        ]
    return "\n".join(lines) + "\n"


def beyond_table(records: Sequence[Verdict], defaults: dict[str, dict[str, Any]]) -> str:
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
    for v in records:
        change = ", ".join(f"{k}={x}" for k, x in v.config.items() if defaults[v.spec].get(k) != x)
        lines.append(
            f"| {v.spec} | {change} | {_number(v.measured)} "
            f"| [{_number(v.ci_low)}, {_number(v.ci_high)}] | {v.verdict} |"
        )
    return "\n".join(lines) + "\n"


def _range_cell(record: LawRecord) -> str:
    """What a law's check spans: the compared conditions of a paired law, else its variable's
    range (a single value when the range is one point)."""
    if record.compared:
        return _cell(" vs ".join(record.compared))
    low, high = record.verdict.range
    if low == high:
        return f"{record.verdict.variable} = {low:g}"
    return f"{record.verdict.variable} ∈ [{low:g}, {high:g}]"


def markdown_table(records: Sequence[LawRecord], profile: str) -> str:
    """REPORT.md: one row per law, then each law's configuration and tolerance reason."""
    lines = [
        "# memlaws report",
        "",
        f"Profile `{profile}` ({profile_settings(profile).seeds} seeds, up to "
        f"{profile_settings(profile).max_seeds} in stages). Intervals are two-sided over seeds "
        "(Student t; exact binomial for 0/1 statistics), at level "
        f"{1 - FIRST_LOOK_SHARE * (1 - LEVEL):.3f} on the first look and the rest of "
        f"{1 - LEVEL:.2f} spent on later looks. A law **holds** when its whole interval lies "
        "inside the claim's band (prediction ± tolerance, or beyond an ordering's minimum "
        "effect) and its rival's band lies outside it; it **fails** when its interval lies "
        "wholly outside the claim's band; otherwise it is inconclusive. The resolution is the "
        "smallest shift of the claim that the same interval rejects (goal: the law's stated "
        "resolution).",
        "",
        "| law | source | statistic | predicted | measured | interval | tolerance | verdict "
        "| resolution (goal) | rival | rival rejected | false alarms | power | near power "
        "| seeds (looks) | range | time | figure |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        v, c = r.verdict, r.calibration
        lines.append(
            f"| {v.spec} | {_cell(v.source)} | {_cell(v.statistic)} | {v.prediction} "
            f"| {_number(v.measured)} | [{_number(v.ci_low)}, {_number(v.ci_high)}] "
            f"| {v.tolerance:.3f} | **{v.verdict}**{_open(v)} "
            f"| {_plain(v.resolution)} ({_plain(v.resolution_goal)}) "
            f"| {_cell(v.rival_name)} ({_number(v.rival)}) "
            f"| {'yes' if v.rival_rejected else 'no'} "
            f"| {_percent(c['false_alarm_rate'])} | {_percent(c['power'])} "
            f"| {_percent(c['near_power'])}{_marker(r)} "
            f"| {v.n_seeds} ({v.looks}) "
            f"| {_range_cell(r)} | {v.seconds:.1f}s "
            f"| [{v.spec}]({r.figure}) |"
        )
    lines += ["", "## Laws", ""]
    for r in records:
        v = r.verdict
        config = ", ".join(f"{k}={x}" for k, x in v.config.items())
        lines += [
            f"### {v.spec}: {v.statement}",
            "",
            f"- configuration: {config}",
            f"- verdict: {v.verdict} ({v.reason})",
            f"- tolerance {v.tolerance:.3f}: {v.tolerance_reason}",
            f"- resolution {_plain(v.resolution)}: claims moved further than this are "
            f"rejected by the same data (goal {_plain(v.resolution_goal)})",
            "",
        ]
    return "\n".join(lines) + "\n"


def _compared(measurement: Measurement) -> list[str]:
    """The named conditions of a paired law (one value per condition and seed), else ``[]``."""
    curves = measurement.curves
    paired = curves.ndim == 2 and len(measurement.series) == curves.shape[1] > 1
    return list(measurement.series) if paired else []


def _scalars(extras: dict[str, Any]) -> dict[str, Any]:
    """The scalar values of a measurement's ``extras`` (numbers and text), for ``laws.json``."""
    return {k: v for k, v in extras.items() if isinstance(v, (int, float, str))}


def write_report(
    out: Path,
    profile: str,
    device: str = "cpu",
    specs: Sequence[str] | None = None,
    calibration: Path | None = None,
    paper_figures: bool = True,
    provenance: dict[str, Any] | None = None,
) -> list[LawRecord]:
    """Run the laws (all, or those in ``specs``); write ``out/laws.json``, ``out/REPORT.md``
    and the figures with each law's stored calibration (the shipped file, each law's own
    file, then ``calibration`` merged over them), then, if ``paper_figures``, redraw the
    paper's figures at the same profile. The folder is built beside ``out`` and swapped in
    whole (``folder_beside``); each record and REPORT.md carry ``provenance`` when given."""
    laws = [law for law in all_laws() if not specs or law.spec in specs]
    stored = stored_calibrations(all_laws(), calibration)
    unknown = set(specs or ()) - {law.spec for law in laws}
    if unknown:
        raise ValueError(f"unknown law(s) {sorted(unknown)}")
    inside, outside = run_laws(laws, profile, device)
    found = latest_counterexamples()
    records = [
        LawRecord(verdict, calibration_status(law, stored), found.get(law.spec))
        for (verdict, _), law in zip(inside, laws, strict=True)
    ]
    recheck_counterexamples(records, profile, device)
    beyond = [verdict for verdict, _ in outside]
    with folder_beside(out) as building:
        for record, (verdict, measurement) in zip(records, inside, strict=True):
            record.figure = f"figures/{verdict.spec}.png"
            record.compared = _compared(measurement)
            record.details = _scalars(measurement.extras)
            law_figure(verdict, measurement, building / record.figure, profile)
        for record in records:
            record.beyond = [b for b in beyond if b.spec == record.spec]
            record.provenance = provenance
        family = family_false_alarms(stored, laws)
        markdown = markdown_table(records, profile) + "\n" + calibration_table(records, family)
        markdown += "\n" + counterexample_table(records)
        if paper_figures:
            with Progress(PAPER_FIGURE_COUNT, f"paper figures ({profile})") as bar:
                figures = write_paper_figures(building, profile, device, bar)
            markdown += "\n" + paper_figures_section(figures)
        if beyond:
            markdown += "\n" + beyond_table(beyond, {r.spec: r.verdict.config for r in records})
        if provenance is not None:
            markdown += "\n" + provenance_markdown(provenance)
        rows = [record.as_dict() for record in records]
        laws_json = json.dumps(strict_json(rows), indent=2, allow_nan=False)
        (building / "laws.json").write_text(laws_json + "\n", encoding="utf-8")
        (building / "REPORT.md").write_text(markdown, encoding="utf-8")
    return records


def print_verdicts(records: Sequence[LawRecord], out: Path) -> None:
    """One line per law on stdout, then where the report went, the flagged calibrations and the
    verdicts beyond each law's region."""
    for r in records:
        v = r.verdict
        print(
            f"{v.spec:5} {v.verdict:12} measured {_number(v.measured)} "
            f"[{_number(v.ci_low)}, {_number(v.ci_high)}] predicted {v.prediction:18} "
            f"resolution {_plain(v.resolution)} (goal {_plain(v.resolution_goal)}) "
            f"seeds {v.n_seeds} rival rejected: {'yes' if v.rival_rejected else 'no'}"
        )
    print(f"wrote {out / 'REPORT.md'} and {out / 'laws.json'}")
    for r in records:
        if r.flag:
            print(f"  {r.spec} calibration flagged: {r.flag}")
        for b in r.beyond:
            print(f"  {r.spec} beyond its region ({b.config}): {b.verdict}")
