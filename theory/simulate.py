"""``memlaws simulate GRID.json``: train every run of a grid of the paper's optimisation
experiments (reference-setting.md) and write one JSON line per run.

The grid is a JSON object mapping some of ``FIELDS`` to a value or a non-empty list of values;
the runs are the Cartesian product. Missing fields take ``DEFAULTS``: the reference setting
(``N = 100``, ``M = 5``, ``alpha = 2``, no layer norm) with the matrix model, SGD, ``lr = 1``,
``d = 100``, ``ntrain = 10240``, ``batch_size = 16`` and seed 0. Every run uses the paper's
draws and scalings (``memlaws.kernel.training.TrainingSetup`` defaults: random ``W₀``, Gaussian
``U``, constant step, Adam with ``β₁ = β₂ = 0`` and dimension-scaled steps), in float32.

A line holds the run's fields in the paper's spelling (``optimizer`` "SGD" or "Adam", read in
any case; ``lr`` and ``alpha`` as floats), ``niter = ntrain / batch_size``, the population
``error`` after the last step, and ``diverged``: whether the run overflowed (a parameter is not
finite), in which case ``error`` is the readout of non-finite scores and says nothing about what
was learned. Runs that differ only in ``seed`` and ``lr`` are trained together in one batched
``memlaws.kernel.training.train`` call; each group's lines are appended to the output as soon as it
finishes, each line written and flushed whole.

Each command that trains writes first a header line, ``{"memlaws_header": {...}}``, with its
provenance (``memlaws.theory.provenance``) and the number of runs it is about to train, so that run
lines keep exactly the paper's fields. Reading a file back (``--resume``, and the check that refuses
to append a grid's runs twice) skips header lines, sets aside a last line cut off by a kill,
and names the line of any other unreadable line.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from memlaws.kernel.training import MODELS, TrainingSetup, train
from memlaws.kernel.validation import (
    choice,
    flag,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)
from memlaws.theory.jsonlines import JsonLines, read_json_lines, set_aside_partial
from memlaws.theory.progress import Progress

DEFAULTS: dict[str, Any] = {
    "model": "matrix",
    "optimizer": "SGD",
    "lr": 1.0,
    "N": 100,
    "M": 5,
    "d": 100,
    "ntrain": 10240,
    "batch_size": 16,
    "layernorm": False,
    "seed": 0,
    "alpha": 2.0,
}
FIELDS = tuple(DEFAULTS)
LINE = (*FIELDS[:8], "niter", *FIELDS[8:], "error", "diverged")  # the order of a line's keys
BATCHED = ("seed", "lr")  # runs that differ only in these train together
# the paper's spelling; memlaws.kernel.training's names in lower case
OPTIMIZER_NAMES = ("SGD", "Adam")
HEADER = "memlaws_header"  # the key of a header line
FIELD_HELP = {
    "model": f"one of {', '.join(MODELS)}",
    "optimizer": "SGD or Adam (any case; lines spell them SGD, Adam)",
    "lr": "step size γ, a number >= 0",
    "N": "number of tokens, an integer >= 1",
    "M": "number of classes, an integer in [1, N]",
    "d": "embedding dimension, an integer >= 1",
    "ntrain": "training tokens T, seen once; a multiple of batch_size",
    "batch_size": "batch size B, an integer >= 1",
    "layernorm": "true or false",
    "seed": "an integer >= 0",
    "alpha": "Zipf exponent α, a number > 0",
}

Run = dict[str, Any]


def _optimizer(name: str, value: object) -> str:
    """The optimizer in the paper's spelling, from any case."""
    spelled = {o.lower(): o for o in OPTIMIZER_NAMES}
    if not isinstance(value, str) or value.lower() not in spelled:
        raise ValueError(f"{name} must be one of 'SGD', 'Adam' (any case); got {value!r}")
    return spelled[value.lower()]


CHECKS = {
    "model": lambda name, value: choice(name, value, MODELS),
    "optimizer": _optimizer,
    "lr": nonnegative_float,
    "N": positive_int,
    "M": positive_int,
    "d": positive_int,
    "ntrain": positive_int,
    "batch_size": positive_int,
    "layernorm": flag,
    "seed": nonnegative_int,
    "alpha": positive_float,
}


def grid_help() -> str:
    """The grid's fields, what each accepts and its default (for ``simulate --help``)."""
    width = max(map(len, FIELDS))
    lines = ["grid fields (a value or a list of values each; the runs are their product):"]
    for name in FIELDS:
        default = json.dumps(DEFAULTS[name])
        lines.append(f"  {name:{width}}  {FIELD_HELP[name]} (default: {default})")
    return "\n".join(lines)


def read_grid(path: Path) -> dict[str, list[Any]]:
    """The grid in ``path``, each field a checked, non-empty list of values (defaults filled)."""
    try:
        grid = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the grid file {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ValueError(f"the grid file {path} is not text: {error.reason}") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"the grid file {path} is not valid JSON: {error}") from error
    return checked_grid(grid)


def checked_grid(grid: object) -> dict[str, list[Any]]:
    """Check a grid (a mapping of ``FIELDS`` to values or non-empty lists) and fill defaults."""
    if not isinstance(grid, Mapping):
        raise ValueError(f"the grid must be a JSON object mapping fields to values; got {grid!r}")
    unknown = sorted(set(grid) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"unknown grid field {unknown[0]!r}; the fields are {', '.join(map(repr, FIELDS))}"
        )
    checked = {}
    for name in FIELDS:
        values = grid.get(name, DEFAULTS[name])
        if not isinstance(values, list):
            checked[name] = [CHECKS[name](name, values)]
        elif not values:
            raise ValueError(f"grid field {name!r} is an empty list; give at least one value")
        else:
            checked[name] = [CHECKS[name](f"{name}[{i}]", v) for i, v in enumerate(values)]
    return checked


def expand(grid: Mapping[str, list[Any]]) -> list[Run]:
    """The runs of a checked grid, in product order; rejects impossible combinations (``M > N``,
    ``ntrain`` not a multiple of ``batch_size``) before any run starts."""
    runs = [dict(zip(FIELDS, values, strict=True)) for values in itertools.product(*grid.values())]
    for run in runs:
        if run["M"] > run["N"]:
            raise ValueError(f"M must be at most N; got M = {run['M']} with N = {run['N']}")
        if run["ntrain"] % run["batch_size"]:
            raise ValueError(
                f"ntrain must be a multiple of batch_size; got ntrain = {run['ntrain']} with "
                f"batch_size = {run['batch_size']}"
            )
    return runs


def run_key(run: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies a run: its ``FIELDS`` values, normalised as in the output lines (so
    ``"sgd"`` in an older file matches ``"SGD"``)."""
    for name in FIELDS:
        if name not in run:
            raise ValueError(f"it has no field {name!r}")
    return tuple(CHECKS[name](name, run[name]) for name in FIELDS)


# ---------------------------------------------------------------------------------------------
# Reading an output file back


def _line_key(line: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """A run line's key; ``None`` for a header line."""
    return None if HEADER in line else run_key(line)


def read_written(path: Path) -> JsonLines:
    """The runs already in ``path`` (``memlaws.theory.jsonlines``: a cut-off last line is kept
    apart, any other bad line named by its number)."""
    return read_json_lines(path, _line_key, "a run of memlaws simulate")


def not_yet_written(runs: list[Run], written: JsonLines, resume: bool, out: Path) -> list[Run]:
    """The runs to train: with ``resume`` those not in ``written``; without it every run,
    unless the file already holds some of them (then refuse: appending would duplicate)."""
    if resume:
        return [run for run in runs if run_key(run) not in written.keys]
    present = sum(run_key(run) in written.keys for run in runs)
    if present:
        raise ValueError(
            f"--out {out} already holds {present} of this grid's {len(runs)} runs; rerun with "
            "--resume to add only the missing ones, or give another --out file"
        )
    return runs


# ---------------------------------------------------------------------------------------------
# Training


def setup_of(run: Mapping[str, Any]) -> TrainingSetup:
    """The training setup of a run (its fields other than ``seed`` and ``lr``)."""
    return TrainingSetup(
        model=run["model"],
        optimizer=run["optimizer"].lower(),
        n_tokens=run["N"],
        n_classes=run["M"],
        dim=run["d"],
        alpha=run["alpha"],
        n_samples=run["ntrain"],
        batch_size=run["batch_size"],
        layernorm=run["layernorm"],
    )


def groups(runs: list[Run]) -> Iterator[list[Run]]:
    """Runs grouped by every field but ``seed`` and ``lr``, in order of first appearance."""
    table: dict[tuple[Any, ...], list[Run]] = {}
    for run in runs:
        table.setdefault(tuple(run[f] for f in FIELDS if f not in BATCHED), []).append(run)
    yield from table.values()


def group_shape(group: list[Run]) -> tuple[TrainingSetup, int, int]:
    """A group's setup, number of seeds and number of step sizes (its ``train`` call)."""
    seeds = {run["seed"] for run in group}
    lrs = {run["lr"] for run in group}
    return setup_of(group[0]), len(seeds), len(lrs)


def group_lines(group: list[Run], device: str = "cpu") -> list[dict[str, Any]]:
    """Train one group (runs differing only in ``seed`` and ``lr``) in one ``train`` call; its
    lines, one per run in ``group`` order, keys in ``LINE`` order."""
    seeds = sorted({run["seed"] for run in group})
    lrs = sorted({run["lr"] for run in group})
    result = train(setup_of(group[0]), seeds, lrs, device=device)
    lines = []
    for run in group:
        index = seeds.index(run["seed"]), lrs.index(run["lr"])
        error, diverged = float(result.errors[index]), bool(result.diverged[index])
        line = {**run, "niter": result.niter, "error": error, "diverged": diverged}
        lines.append({key: line[key] for key in LINE})
    return lines


def write_line(record: Mapping[str, Any], out: TextIO) -> None:
    """Write ``record`` as one JSON line in a single write, then flush: an interrupt leaves
    whole lines only."""
    out.write(json.dumps(record, allow_nan=False) + "\n")
    out.flush()


def write_lines(lines: list[dict[str, Any]], out: TextIO, progress: Progress | None) -> None:
    """Append a finished group's lines to ``out``, each written and flushed whole, advancing
    ``progress`` once per run."""
    for line in lines:
        write_line(line, out)
        if progress is not None:
            progress.advance(
                f"{line['model']} {line['optimizer']} d={line['d']} error {line['error']:.4f}"
            )


def simulate(
    runs: list[Run],
    out: TextIO,
    device: str = "cpu",
    progress: Progress | None = None,
) -> None:
    """Train ``runs`` group by group, writing each group's lines to ``out`` when it finishes."""
    for group in groups(runs):
        write_lines(group_lines(group, device), out, progress)


def header_line(provenance: Mapping[str, Any], runs: int) -> dict[str, Any]:
    """The line that opens a command's output: its provenance and how many runs follow."""
    return {HEADER: {**provenance, "runs": runs}}


# ---------------------------------------------------------------------------------------------
# The command


@dataclass
class Plan:
    """What a ``simulate`` command would do: the grid's runs, those to train now, in groups."""

    runs: list[Run]
    todo: list[Run]
    groups: list[list[Run]]
    written: JsonLines


def plan(grid_path: Path, out: Path | None, resume: bool) -> Plan:
    """Check the grid and every setup, then ``out`` (a writable file), read it back and choose
    the runs to train."""
    from memlaws.theory.preflight import check_output_file

    runs = expand(read_grid(grid_path))
    for group in groups(runs):
        setup_of(group[0])  # every setup is valid before any training starts
    if out is None:
        return Plan(runs, runs, list(groups(runs)), JsonLines())
    written = read_written(check_output_file("--out", out))
    todo = not_yet_written(runs, written, resume, out)
    return Plan(runs, todo, list(groups(todo)), written)


def _shared(group: list[Run]) -> str:
    """The fields a group's runs share, as ``name=value`` pairs."""
    return " ".join(f"{name}={group[0][name]}" for name in FIELDS if name not in BATCHED)


def _count(number: int, noun: str) -> str:
    """``1 run``, ``2 runs``."""
    return f"{number} {noun}{'s' * (number != 1)}"


def _replicas(seeds: int, lrs: int) -> str:
    """``2 seeds × 1 lr``."""
    return f"{_count(seeds, 'seed')} × {_count(lrs, 'lr')}"


def memory_need(plan: Plan, device: str, workers: int | None) -> tuple[int, list[Run] | None]:
    """Peak bytes of the plan's heaviest moment (its largest group, or the ``workers``
    largest at once plus a process each) and its largest group."""
    from memlaws.theory.cost import BASELINE_BYTES, group_memory

    sizes = sorted(
        ((group_memory(*group_shape(g), device=device), i) for i, g in enumerate(plan.groups)),
        reverse=True,
    )
    if not sizes:
        return 0, None
    largest = plan.groups[sizes[0][1]]
    if workers is None:
        return sizes[0][0], largest
    return sum(size for size, _ in sizes[:workers]) + workers * BASELINE_BYTES, largest


def _memory_check(plan: Plan, device: str, workers: int | None, scheduler: str | None) -> str:
    """Refuse a plan that would not fit in memory; the estimate, in words."""
    from memlaws.theory.cost import group_memory, readable_bytes
    from memlaws.theory.preflight import available_memory, check_fits

    if scheduler is not None:
        return "memory: not checked (the groups run on the scheduler's workers)"
    need, largest = memory_need(plan, device, workers)
    if largest is None:
        return "memory: nothing to train"
    setup, seeds, lrs = group_shape(largest)
    what = f"the group {_shared(largest)} ({_replicas(seeds, lrs)})"
    if workers is not None:
        what = f"{workers} workers at once, the largest being {what}"
    check_fits(
        need,
        device,
        what,
        "reduce d, N or ntrain, or split the seeds and lrs over several grids",
    )
    free = available_memory(device)
    available = f"{readable_bytes(free) if free is not None else 'unknown'} available on {device}"
    largest_text = f"largest group {_shared(largest)}, {_replicas(seeds, lrs)}"
    if workers is not None:
        largest_need = readable_bytes(group_memory(setup, seeds, lrs, device=device))
        largest_text = f"{workers} worker processes at once; {largest_text}: {largest_need}"
    return f"estimated peak memory: {readable_bytes(need)} ({largest_text}); {available}"


def _time_text(plan: Plan, device: str, workers: int | None) -> str:
    from memlaws.theory.cost import group_seconds, readable_seconds

    if not plan.groups:
        return "estimated time: none (nothing to train)"
    seconds = sum(group_seconds(*group_shape(group)) for group in plan.groups)
    if workers:
        seconds /= workers
    where = "on this CPU" if device == "cpu" else f"on a CPU (no model for {device})"
    return (
        f"estimated time: about {readable_seconds(seconds)} {where} (rough: the cost model was "
        "fitted on a 2-core CPU, within 0.3× to 1.7× there)"
    )


def describe(plan: Plan, grid_path: Path, out: Path | None) -> list[str]:
    """The plan in words: runs, groups, what ``out`` already holds."""
    every = f"{_count(len(plan.runs), 'run')} in {_count(len(list(groups(plan.runs))), 'group')}"
    lines = [f"{grid_path}: {every} (runs differing only in seed and lr train together)"]
    if out is not None:
        held = len(plan.runs) - len(plan.todo)
        todo = f"{_count(len(plan.todo), 'run')} in {_count(len(plan.groups), 'group')}"
        lines.append(f"{out}: holds {held} of them; {todo} to train")
        if plan.written.partial:
            lines.append(f"{out}: its last line was cut off by a kill; it would be set aside")
    return lines


def simulate_command(
    grid_path: Path,
    out: Path | None,
    resume: bool,
    device: str,
    scheduler: str | None = None,
    workers: int | None = None,
    dry_run: bool = False,
    argv: Sequence[str] = (),
) -> int:
    """Check the device, ``out``, the grid and the memory it needs, then train what is not yet
    in ``out`` (``--resume``) in this process, on the Dask scheduler at ``scheduler`` or on a
    local cluster of ``workers`` processes (``memlaws.theory.executors``). 0 when done; 130 when
    interrupted, after saying how to resume. ``dry_run`` prints the plan and trains nothing."""
    from memlaws.theory.preflight import check_device

    if resume and out is None:
        raise ValueError("--resume needs --out FILE (the runs to skip are read from it)")
    if workers is not None:
        positive_int("--workers", workers)
    device = check_device(device)
    chosen = plan(grid_path, out, resume)
    if dry_run:
        print("\n".join([*describe(chosen, grid_path, out), _time_text(chosen, device, workers)]))
        print(_memory_check(chosen, device, workers, scheduler))
        return 0
    _memory_check(chosen, device, workers, scheduler)
    return _train(chosen, out, device, scheduler, workers, argv)


def _train(
    chosen: Plan,
    out: Path | None,
    device: str,
    scheduler: str | None,
    workers: int | None,
    argv: Sequence[str],
) -> int:
    from memlaws.theory.executors import (
        executor,  # imported here: memlaws.theory.executors builds on this module
    )
    from memlaws.theory.provenance import provenance

    header = header_line(provenance(device, argv), len(chosen.todo))
    if out is not None:
        set_aside_partial(out, chosen.written, sys.stderr)
    if not chosen.todo:
        return 0
    counted = _Counter(sys.stdout)
    try:
        with (
            executor(scheduler, workers) as train_runs,
            Progress(len(chosen.todo), "simulate") as bar,
        ):
            if out is None:
                write_line(header, sys.stdout)
                train_runs(chosen.todo, counted, device, bar)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                with out.open("a", encoding="utf-8") as stream:
                    write_line(header, stream)
                    train_runs(chosen.todo, stream, device, bar)
    except KeyboardInterrupt:
        if out is None:
            print(f"interrupted: {counted.lines} runs written to stdout", file=sys.stderr)
        else:
            done = read_written(out).count - chosen.written.count
            print(
                f"interrupted: {done} runs written to {out}; rerun with --resume to continue",
                file=sys.stderr,
            )
        return 130
    return 0


class _Counter:
    """A text stream that passes writes on to ``stream`` and counts the lines written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.lines = stream, 0

    def write(self, text: str) -> int:
        written = self.stream.write(text)
        self.lines += text.count("\n")
        return written

    def flush(self) -> None:
        self.stream.flush()
