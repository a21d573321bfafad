"""The stored calibration of every law's verifier and the flags it raises.

A calibration summary (``memlaws.theory.calibration.summarise``) says, for one law, how often the
true law was declared failing (false-alarm rate) and how often its rival was rejected (power) over
independent seed sets. Summaries are stored per law in a JSON file (the shipped one is
``theory/calibrated/standard.json``), with the configuration they were measured on, so that a law
whose reference configuration has changed since shows as stale rather than as calibrated.

A law from another package keeps its calibration beside it: it names its file in the class
attribute ``calibration_file`` (a ``Path``; ``memlaws calibrate --law SPEC --store FILE`` writes
it). ``stored_calibrations`` merges the shipped file with each law's own (entries for that law
only) and, last, a file given with ``memlaws report --calibration``.

A law is flagged when, at the ``standard`` profile, its false-alarm rate exceeds 1%, its power
against the rival or against the near alternative (``memlaws.theory.calibration``) is below 90%, it
holds in fewer than 90% of the repeats (mostly inconclusive: no false alarm, but little positive
evidence either), it has fewer than 100 repeats, its fingerprint (``memlaws.theory.fingerprint``:
claim, probe measurement and the verdict rule's behaviour) differs from the law's now, or it has no
calibration at all. Open claims (laws that take no side) have no true reading to raise false alarms
on and are not flagged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scipy import stats

from memlaws.theory.fingerprint import law_fingerprint
from memlaws.theory.law import Law

CALIBRATION_PROFILE = "standard"
STORED_CALIBRATION = Path(__file__).parent / "calibrated" / f"{CALIBRATION_PROFILE}.json"
MAX_FALSE_ALARM_RATE = 0.01
MIN_POWER = 0.90
MIN_HOLD_RATE = 0.90  # a true law must also hold (not only escape failing) this often
MIN_REPEATS = 100
RATE_LEVEL = 0.95  # Clopper–Pearson intervals on the two rates


def rate_interval(successes: int, trials: int, level: float = RATE_LEVEL) -> list[float]:
    """Exact (Clopper–Pearson) interval of a binomial rate: ``[low, high]``."""
    if trials <= 0:
        return [math.nan, math.nan]
    interval = stats.binomtest(successes, trials).proportion_ci(level, method="exact")
    return [float(interval.low), float(interval.high)]


def load_calibration(path: Path = STORED_CALIBRATION) -> dict[str, dict[str, Any]]:
    """The stored summaries, by spec id (empty when the shipped file does not exist; another
    path that does not exist is an error)."""
    if not path.exists():
        if path == STORED_CALIBRATION:
            return {}
        raise ValueError(f"--calibration: no such file {path}")
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"the calibration file {path} is not valid JSON: {error}") from error
    if not isinstance(stored, dict):
        raise ValueError(f"the calibration file {path} must hold a JSON object keyed by spec id")
    return stored


def calibration_file(law: Law) -> Path | None:
    """The calibration file ``law`` declares (its ``calibration_file`` attribute), if any."""
    declared = getattr(law, "calibration_file", None)
    return None if declared is None else Path(declared)


def stored_calibrations(
    laws: Sequence[Law], extra: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Every stored summary the report reads, by spec id: the shipped file's, then each of
    ``laws``' own file's entry for that law (a missing own file holds none), then every entry of
    ``extra`` (``--calibration FILE``), each later one replacing an earlier one of the same law."""
    stored = load_calibration(STORED_CALIBRATION)
    own: dict[Path, dict[str, dict[str, Any]]] = {}
    for law in laws:
        path = calibration_file(law)
        if path is None:
            continue
        if path not in own:
            own[path] = load_calibration(path) if path.exists() else {}
        if law.spec in own[path]:
            stored[law.spec] = own[path][law.spec]
    if extra is not None:
        stored |= load_calibration(extra)
    return stored


def store_calibration(
    path: Path, summaries: Sequence[Mapping[str, Any]], laws: Sequence[Law], profile: str
) -> None:
    """Merge ``summaries`` (one per law of ``laws``, same order) into the JSON file ``path``,
    with each law's reference configuration and the rates' intervals."""
    stored = load_calibration(path) if path.exists() else {}
    for summary, law in zip(summaries, laws, strict=True):
        n = summary["repeats"]
        stored[law.spec] = {
            **summary,
            "profile": profile,
            "config": law.config(),
            "false_alarm_interval": rate_interval(summary["false_alarms"], n),
            "power_interval": rate_interval(summary["rival_rejections"], n),
            "near_power_interval": rate_interval(summary["near_rejections"], n),
            "rate_level": RATE_LEVEL,
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    text = json.dumps(dict(sorted(stored.items())), indent=2, allow_nan=False)
    temporary.write_text(text + "\n")
    temporary.replace(path)


def calibration_status(law: Law, stored: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the report says of ``law``'s calibration: the two rates (NaN when unknown), their
    intervals, the repeats, and ``flag`` (empty when the verifier is calibrated and sound)."""
    summary = stored.get(law.spec)
    status: dict[str, Any] = {
        "false_alarm_rate": math.nan,
        "power": math.nan,
        "near_power": math.nan,
        "false_alarm_interval": [math.nan, math.nan],
        "power_interval": [math.nan, math.nan],
        "near_power_interval": [math.nan, math.nan],
        "false_alarm_repeats": [],
        "calibration_repeats": 0,
        "calibration_profile": CALIBRATION_PROFILE,
        "flag": "",
    }
    if summary is not None:
        status |= {
            "false_alarm_rate": summary["false_alarm_rate"],
            "power": summary["power"],
            "near_power": summary.get("near_power", math.nan),
            "false_alarm_interval": summary["false_alarm_interval"],
            "power_interval": summary["power_interval"],
            "near_power_interval": summary.get("near_power_interval", [math.nan, math.nan]),
            "false_alarm_repeats": summary.get("false_alarm_repeats", []),
            "calibration_repeats": summary["repeats"],
            "calibration_profile": summary["profile"],
        }
    status["flag"] = _flag(law, summary)
    return status


def family_false_alarms(
    stored: Mapping[str, Mapping[str, Any]], laws: Sequence[Law]
) -> dict[str, Any]:
    """The family-wise false-alarm rate of the report's in-region checks, measured: over the
    calibration repeats every freshly calibrated law shares, the fraction in which at least one
    law that takes a side was declared failing; with its exact interval and the union bound of
    the laws' rates."""
    judged = [  # fresh calibrations of laws that take a side
        stored[law.spec]
        for law in laws
        if not law.open_claim
        and law.spec in stored
        and stored[law.spec].get("fingerprint") == law_fingerprint(law)
    ]
    if not judged:
        return {"repeats": 0, "rate": math.nan, "interval": [math.nan, math.nan], "bound": math.nan}
    repeats = min(summary["repeats"] for summary in judged)
    alarms = {
        i for summary in judged for i in summary.get("false_alarm_repeats", []) if i < repeats
    }
    return {
        "repeats": repeats,
        "laws": len(judged),
        "rate": len(alarms) / repeats,
        "interval": rate_interval(len(alarms), repeats),
        "bound": sum(summary["false_alarm_rate"] for summary in judged),
    }


def _flag(law: Law, summary: Mapping[str, Any] | None) -> str:
    if law.open_claim:
        return ""
    if summary is None:
        return (
            f"not calibrated: run memlaws calibrate --law {law.spec} --profile "
            f"{CALIBRATION_PROFILE} --store FILE"
        )
    if summary["profile"] != CALIBRATION_PROFILE:
        return f"calibrated at profile {summary['profile']}, not {CALIBRATION_PROFILE}"
    if summary["config"] != law.config():
        return "stale: calibrated on another reference configuration"
    if summary.get("fingerprint") != law_fingerprint(law):
        return (
            "stale: the law's claim, verdict rule or code changed since its calibration "
            f"(rerun memlaws calibrate --law {law.spec})"
        )
    if summary["repeats"] < MIN_REPEATS:
        return f"only {summary['repeats']} calibration repeats (at least {MIN_REPEATS})"
    if summary["false_alarm_rate"] > MAX_FALSE_ALARM_RATE:
        return (
            f"false-alarm rate {summary['false_alarm_rate']:.0%} above {MAX_FALSE_ALARM_RATE:.0%}"
        )
    if summary["power"] < MIN_POWER:
        return f"power {summary['power']:.0%} below {MIN_POWER:.0%}"
    if summary.get("near_power", 0.0) < MIN_POWER:
        return f"near-alternative power {summary.get('near_power', 0.0):.0%} below {MIN_POWER:.0%}"
    holds = summary.get("holds")
    if holds is not None and holds < MIN_HOLD_RATE * summary["repeats"]:
        return (
            f"holds in {holds / summary['repeats']:.0%} of repeats, below {MIN_HOLD_RATE:.0%} "
            f"({summary.get('inconclusive', 0)} inconclusive): the data rarely decide it"
        )
    return ""
