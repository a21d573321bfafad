"""The ``memlaws`` command: ``laws`` lists the registry, ``report`` checks every law,
``calibrate`` measures each verifier's false-alarm rate and power, and ``simulate`` trains a
grid of the paper's optimisation runs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from theory.profiles import PROFILES
from theory.registry import all_laws


def _laws(arguments: argparse.Namespace) -> int:
    laws = all_laws()
    if arguments.json:
        rows = [
            {
                "spec": law.spec,
                "source": law.source,
                "statement": law.statement,
                "variable": law.variable,
                "statistic": law.statistic,
                "domain": law.domain,
                "tolerance_reason": law.tolerance_reason,
                "rival": law.rival_name,
                "parameters": {
                    name: {"low": p.low, "high": p.high, "default": p.default, "kind": p.kind}
                    for name, p in law.parameters.items()
                },
            }
            for law in laws
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for law in laws:
            print(f"{law.spec:5} {law.source:40} {law.statement}")
    return 0


def _report(arguments: argparse.Namespace) -> int:
    from theory.report import write_report

    calibration = Path(arguments.calibration) if arguments.calibration else None
    records = write_report(
        Path(arguments.out),
        arguments.profile,
        arguments.device,
        arguments.law,
        calibration,
        paper_figures=not arguments.law and not arguments.no_paper_figures,
    )
    for r in records:
        print(
            f"{r['spec']:5} {r['verdict']:12} measured {r['measured']:+.3f} "
            f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] predicted {r['prediction']:18} "
            f"resolution {r['resolution']:.3f} (goal {r['resolution_goal']:.3f}) "
            f"seeds {r['n_seeds']} rival rejected: {'yes' if r['rival_rejected'] else 'no'}"
        )
    print(f"wrote {Path(arguments.out) / 'REPORT.md'} and {Path(arguments.out) / 'laws.json'}")
    for r in records:
        if r["flag"]:
            print(f"  {r['spec']} calibration flagged: {r['flag']}")
        for b in r["beyond"]:
            print(f"  {r['spec']} beyond its region ({b['config']}): {b['verdict']}")
    return 0 if all(r["verdict"] == "holds" or _open(r["spec"]) for r in records) else 1


def _open(spec: str) -> bool:
    from theory.registry import get_law

    return get_law(spec).open_claim


def _calibrate(arguments: argparse.Namespace) -> int:
    from theory.calibration import calibrate

    results = calibrate(
        arguments.repeats, arguments.profile, arguments.law, Path(arguments.out), arguments.device
    )
    if arguments.store:
        from theory.calibration_record import store_calibration
        from theory.registry import get_law

        laws = [get_law(r["spec"]) for r in results]
        store_calibration(Path(arguments.store), results, laws, arguments.profile)
    for r in results:
        print(
            f"{r['spec']:5} false alarms {r['false_alarms']}/{r['repeats']}, rival rejected "
            f"{r['rival_rejections']}/{r['repeats']}, near alternative rejected "
            f"{r['near_rejections']}/{r['repeats']}, holds {r['holds']}, inconclusive "
            f"{r['inconclusive']}, median seeds {r['median_seeds']}"
        )
    return 0


def _simulate(arguments: argparse.Namespace) -> int:
    from theory.simulate import simulate_command

    out = Path(arguments.out) if arguments.out else None
    return simulate_command(
        Path(arguments.grid),
        out,
        arguments.resume,
        arguments.device,
        arguments.scheduler,
        arguments.workers,
    )


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="memlaws", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)

    laws = commands.add_parser("laws", help="list the registered laws")
    laws.add_argument("--json", action="store_true", help="print a JSON list")
    laws.set_defaults(run=_laws)

    report = commands.add_parser("report", help="check every law and write the report")
    report.add_argument("--profile", choices=PROFILES, default="quick")
    report.add_argument("--out", default="report", help="output folder (default: report)")
    report.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    report.add_argument("--law", action="append", help="only this spec id (repeatable)")
    report.add_argument(
        "--no-paper-figures",
        action="store_true",
        help="skip redrawing the paper's figures (skipped anyway with --law)",
    )
    report.add_argument(
        "--calibration", help="calibration file to show (default: the one shipped with memlaws)"
    )
    report.set_defaults(run=_report)

    calibrate = commands.add_parser("calibrate", help="false-alarm rate and power per law")
    calibrate.add_argument(
        "--profile",
        choices=PROFILES,
        default="standard",
        help="profile whose checks are calibrated (default: standard, the one the report reads)",
    )
    calibrate.add_argument("--repeats", type=int, default=100)
    calibrate.add_argument("--out", default="calibration.jsonl", help="JSON lines, resumable")
    calibrate.add_argument("--device", default="cpu")
    calibrate.add_argument("--law", action="append", help="only this spec id (repeatable)")
    calibrate.add_argument(
        "--store", help="merge the summaries into this calibration file (the report reads it)"
    )
    calibrate.set_defaults(run=_calibrate)

    simulate = commands.add_parser("simulate", help="train a grid of runs, one JSON line each")
    simulate.add_argument("grid", help="JSON object: field -> value or list of values")
    simulate.add_argument("--out", help="append JSON lines here (default: stdout)")
    simulate.add_argument("--resume", action="store_true", help="skip the runs already in --out")
    simulate.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    executor = simulate.add_mutually_exclusive_group()
    executor.add_argument(
        "--scheduler", metavar="ADDRESS", help="train on this Dask scheduler, e.g. tcp://host:8786"
    )
    executor.add_argument(
        "--workers", type=int, metavar="N", help="train on a local Dask cluster of N processes"
    )
    simulate.set_defaults(run=_simulate)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        return arguments.run(arguments)
    except ValueError as error:
        print(f"memlaws: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
