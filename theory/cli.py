"""The ``memlaws`` command: ``laws`` lists the registry, ``report`` checks every law,
``calibrate`` measures each verifier's false-alarm rate and power, ``simulate`` trains a
grid of the paper's optimisation runs, and ``new`` writes a plug-in package with one law.

Every argument is checked before any simulation; a bad one ends the command with one line
naming it and what is allowed, and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from memlaws.theory.profiles import PROFILES

DESCRIPTION = (
    "Check by simulation the scaling laws of associative memories (Cabannes, Dohmatob, Bietti, "
    "ICLR 2024). Every argument is checked before any simulation: a bad one ends the command "
    "with one line naming it and what is allowed."
)
EXIT_CODES = """exit status:
  0    done (report: every law holds, or is an open claim)
  1    report: some law does not hold (fails or is inconclusive)
  2    usage error: a bad argument, path, device or input file, or not enough memory
  130  interrupted (Ctrl-C); simulate and calibrate say how to continue"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help (``off`` for a flag) unless the help states it;
    descriptions and epilogs kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if isinstance(action, argparse._StoreTrueAction):
            return f"{text} (default: off)"
        return f"{text} (default: %(default)s)"


def _broken_plugins() -> list:  # -> list[memlaws.theory.registry.BrokenPlugin]
    """The plug-ins left out of the registry, each named in one line on stderr."""
    from memlaws.theory.registry import broken_plugins

    broken = broken_plugins()
    for plugin in broken:
        print(f"memlaws: warning: {plugin.line()}", file=sys.stderr)
    return broken


def law_file(law: object) -> str:
    """Where a law's class is defined: relative to the folder holding memlaws' ``theory/``
    (``theory/paper/finite_data.py``) for memlaws' own laws, else the full path."""
    import inspect

    import memlaws.theory

    path = Path(inspect.getsourcefile(type(law)) or "?").resolve()
    home = Path(memlaws.theory.__file__).resolve().parent.parent
    return str(path.relative_to(home)) if path.is_relative_to(home) else str(path)


def _laws(arguments: argparse.Namespace) -> int:
    from memlaws.theory.registry import all_laws

    laws = all_laws()
    broken = _broken_plugins()
    if arguments.json:
        rows = [
            {
                "spec": law.spec,
                "file": law_file(law),
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
            print(f"{law.spec:5} {law.source:40} {law.statement} ({law_file(law)})")
        for plugin in broken:
            print(f"{'-':5} {'broken plug-in':40} {plugin.line()}")
    return 0


def _registered_laws(
    specs: Sequence[str] | None, law_files: Sequence[str] | None = None
) -> list[str] | None:
    """The laws a command runs: ``specs`` (each registered) and the laws of ``law_files``
    (loaded into the registry); ``None`` for every law."""
    from memlaws.theory.preflight import check_input_file, check_laws
    from memlaws.theory.registry import all_laws, load_law_file

    _broken_plugins()
    from_files = [
        law.spec
        for name in law_files or ()
        for law in load_law_file(check_input_file("--law-file", Path(name)))
    ]
    chosen = check_laws(specs, [law.spec for law in all_laws()])
    if not from_files:
        return chosen
    return list(dict.fromkeys([*(chosen or ()), *from_files]))


def _report(arguments: argparse.Namespace) -> int:
    from memlaws.theory.cost import report_memory
    from memlaws.theory.counterexamples import latest_counterexamples
    from memlaws.theory.preflight import (
        check_calibration,
        check_device,
        check_fits,
        check_output_folder,
    )
    from memlaws.theory.provenance import provenance
    from memlaws.theory.report import print_verdicts, write_report

    device = check_device(arguments.device)
    specs = _registered_laws(arguments.law, arguments.law_file)
    calibration = None
    if arguments.calibration is not None:
        calibration = check_calibration("--calibration", Path(arguments.calibration))
    latest_counterexamples()  # a broken file of counterexamples is named now, not after the laws
    paper_figures = not specs and not arguments.no_paper_figures
    need = report_memory(arguments.profile)
    advice = "use a smaller --profile or a machine with more memory"
    check_fits(need, device, f"the report at profile {arguments.profile}", advice)
    out = check_output_folder("--out", Path(arguments.out))

    record = provenance(device, arguments.argv, arguments.profile)
    try:
        records = write_report(
            out,
            arguments.profile,
            device,
            specs,
            calibration,
            paper_figures=paper_figures,
            provenance=record,
        )
    except KeyboardInterrupt:
        print(f"interrupted: the report in {out} was left as it was", file=sys.stderr)
        return 130
    print_verdicts(records, out)
    settled = (r.verdict.verdict == "holds" or r.verdict.open_claim for r in records)
    return 0 if all(settled) else 1


def _calibrate(arguments: argparse.Namespace) -> int:
    from memlaws.kernel.validation import positive_int
    from memlaws.theory.cost import report_memory
    from memlaws.theory.jsonlines import set_aside_partial
    from memlaws.theory.preflight import (
        check_calibration,
        check_device,
        check_fits,
        check_output_file,
    )

    positive_int("--repeats", arguments.repeats)
    device = check_device(arguments.device)
    specs = _registered_laws(arguments.law, arguments.law_file)
    check_fits(
        report_memory(arguments.profile),
        device,
        f"calibration at profile {arguments.profile}",
        "use a smaller --profile or a machine with more memory",
    )
    store = None
    if arguments.store is not None:
        store = check_calibration("--store", Path(arguments.store), must_exist=False)
    out = check_output_file("--out", Path(arguments.out))
    from memlaws.theory.calibration import calibrate, read_rows

    rows = read_rows(out)
    set_aside_partial(out, rows, sys.stderr)

    try:
        results = calibrate(arguments.repeats, arguments.profile, specs, out, device)
    except KeyboardInterrupt:
        done = read_rows(out).count - rows.count
        print(
            f"interrupted: {done} checks written to {out}; rerun the same command to continue",
            file=sys.stderr,
        )
        return 130
    if store is not None:
        from memlaws.theory.calibration_record import store_calibration
        from memlaws.theory.registry import get_law

        laws = [get_law(r["spec"]) for r in results]
        store_calibration(store, results, laws, arguments.profile)
    for r in results:
        print(
            f"{r['spec']:5} false alarms {r['false_alarms']}/{r['repeats']}, rival rejected "
            f"{r['rival_rejections']}/{r['repeats']}, near alternative rejected "
            f"{r['near_rejections']}/{r['repeats']}, holds {r['holds']}, inconclusive "
            f"{r['inconclusive']}, median seeds {r['median_seeds']}"
        )
    return 0


def _simulate(arguments: argparse.Namespace) -> int:
    from memlaws.theory.sweep import simulate_command

    return simulate_command(
        Path(arguments.grid),
        Path(arguments.out) if arguments.out else None,
        arguments.resume,
        arguments.device,
        arguments.scheduler,
        arguments.workers,
        dry_run=arguments.dry_run,
        argv=arguments.argv,
        streams=arguments.streams,
    )


def _new(arguments: argparse.Namespace) -> int:
    from memlaws.theory.scaffold import write_plugin

    written = write_plugin(Path(arguments.path), arguments.spec)
    print(f"wrote the plug-in {written.name} with law {arguments.spec} in {written}")
    print(f"next: pip install -e {written}; memlaws report --law {arguments.spec}")
    return 0


def _add_new(commands: argparse._SubParsersAction) -> None:
    new = commands.add_parser(
        "new",
        help="write a plug-in package with one law, its tests and a README",
        description=_wrapped(
            "Write a Python package at PATH (a new or empty folder) declaring one law under the "
            "memlaws.laws entry point: pyproject.toml, an example law that holds at its "
            "defaults, its tests (the generic checks of memlaws.theory.checks) and a README on "
            "editing and calibrating it."
        ),
        epilog=EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    new.add_argument("path", help="folder to create; its name names the package")
    new.add_argument("--spec", default="X1", help="the law's id (not yet registered)")
    new.set_defaults(run=_new)


def _wrapped(text: str) -> str:
    return textwrap.fill(text, 80)


def _version() -> str:
    from memlaws.theory.provenance import version

    return f"memlaws {version()}"


def _law_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--law",
        action="append",
        metavar="SPEC",
        help="only this law id, e.g. R1 (repeatable; `memlaws laws` lists them); default: all",
    )
    command.add_argument(
        "--law-file",
        action="append",
        metavar="FILE",
        help="also load the laws of this Python file (its @registered classes, else every Law "
        "subclass it defines) and run them, without packaging (repeatable); default: none",
    )


def _device_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N")


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report",
        help="check every law and write the report folder",
        description=_wrapped(
            "Check every law (or those given with --law) and write OUT/REPORT.md, "
            "OUT/laws.json and OUT/figures/; the folder is built beside OUT and swapped in whole."
        ),
        epilog=EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    report.add_argument("--profile", choices=PROFILES, default="quick", help="seeds and grids")
    report.add_argument("--out", default="report", help="the report folder (replaced as a whole)")
    _device_option(report)
    _law_option(report)
    report.add_argument(
        "--no-paper-figures",
        action="store_true",
        help="skip redrawing the paper's figures (skipped anyway with --law)",
    )
    report.add_argument(
        "--calibration",
        metavar="FILE",
        help="calibration file merged over the stored ones (memlaws' own and each plug-in's); "
        "default: the stored ones only",
    )
    report.set_defaults(run=_report)


def _add_calibrate(commands: argparse._SubParsersAction) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        help="false-alarm rate and power per law",
        description=_wrapped(
            "Rerun each law's check, as the report runs it, on independent seed sets and count "
            "false alarms, rival rejections and near-alternative rejections; every check is "
            "appended to --out at once (resumable)."
        ),
        epilog=EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    calibrate.add_argument(
        "--profile",
        choices=PROFILES,
        default="standard",
        help="profile whose checks are calibrated, as the report runs them (the report reads "
        "standard)",
    )
    calibrate.add_argument("--repeats", type=int, default=100, help="seed sets per law")
    calibrate.add_argument("--out", default="calibration.jsonl", help="JSON lines, resumable")
    _device_option(calibrate)
    _law_option(calibrate)
    calibrate.add_argument(
        "--store",
        metavar="FILE",
        help="merge the summaries into this calibration file, keeping its other entries (the "
        "report reads memlaws' own file and each law's calibration_file); default: store nothing",
    )
    calibrate.set_defaults(run=_calibrate)


def _add_simulate(commands: argparse._SubParsersAction) -> None:
    from memlaws.theory.simulate import grid_help

    simulate = commands.add_parser(
        "simulate",
        help="train a grid of runs, one JSON line each",
        description=_wrapped(
            "Train every run of GRID (the product of its fields' values) and write one "
            "JSON line per run, after a header line with the provenance. Runs differing only in "
            "seed and lr train together."
        ),
        epilog=f"{grid_help()}\n\n{EXIT_CODES}",
        formatter_class=_HelpFormatter,
    )
    simulate.add_argument("grid", help="JSON file: an object mapping fields to values or lists")
    simulate.add_argument("--out", help="append JSON lines to this file; default: stdout")
    simulate.add_argument(
        "--resume", action="store_true", help="train only the runs not yet in --out"
    )
    simulate.add_argument(
        "--dry-run",
        action="store_true",
        help="print the number of runs and groups and the estimated time and memory; train none "
        "of them (on the CPU, two small probe groups are timed, about 2 s, to scale the time)",
    )
    _device_option(simulate)
    executor = simulate.add_mutually_exclusive_group()
    executor.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="train on this Dask scheduler, e.g. tcp://host:8786; default: in this process",
    )
    executor.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="train on a local Dask cluster of N processes; default: in this process",
    )
    executor.add_argument(
        "--streams",
        type=int,
        default=1,
        metavar="K",
        help="with --device cuda, train K families at once in this process, each on a CUDA "
        "stream of its own (the same numbers and lines); default: 1",
    )
    simulate.set_defaults(run=_simulate)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="memlaws",
        description=_wrapped(DESCRIPTION),
        epilog=EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    main.add_argument("--version", action="version", version=_version())
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    laws = commands.add_parser(
        "laws", help="list the registered laws", formatter_class=_HelpFormatter
    )
    laws.add_argument("--json", action="store_true", help="print a JSON list")
    laws.set_defaults(run=_laws)
    _add_report(commands)
    _add_calibrate(commands)
    _add_simulate(commands)
    _add_new(commands)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``memlaws`` command; returns its exit status (see ``EXIT_CODES``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    arguments = parser().parse_args(argv)
    arguments.argv = argv
    try:
        return arguments.run(arguments)
    except ValueError as error:
        print(f"memlaws: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"memlaws: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
