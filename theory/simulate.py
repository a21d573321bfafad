"""``memlaws simulate GRID.json``: train every run of a grid of the paper's optimisation
experiments (reference-setting.md) and write one JSON line per run.

The grid is a JSON object mapping some of ``FIELDS`` to a value or a non-empty list of values;
the runs are the Cartesian product. Missing fields take ``DEFAULTS``: the reference setting
(``N = 100``, ``M = 5``, ``alpha = 2``, no layer norm) with the matrix model, SGD, ``lr = 1``,
``d = 100``, ``ntrain = 10240``, ``batch_size = 16`` and seed 0. Every run uses the paper's
draws and scalings (``memlaws.kernel.setup.TrainingSetup`` defaults: random ``W₀``, Gaussian
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

import collections
import itertools
import json
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

import torch

from memlaws.kernel.setup import MODELS, TrainingSetup
from memlaws.kernel.training import train
from memlaws.kernel.validation import (
    choice,
    flag,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)
from memlaws.theory.jsonlines import JsonLines, read_json_lines
from memlaws.theory.progress import Progress
from memlaws.theory.setting import OPTIMIZER_NAMES, PAPER_RUN, training_setup

DEFAULTS: dict[str, Any] = PAPER_RUN  # the paper's reference setting
FIELDS = tuple(DEFAULTS)
LINE = (*FIELDS[:8], "niter", *FIELDS[8:], "error", "diverged")  # the order of a line's keys
BATCHED = ("seed", "lr")  # runs that differ only in these train together
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
    return training_setup(run)


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
    return family_lines([group], device)[0]


def family_lines(family: list[list[Run]], device: str = "cpu") -> list[list[dict[str, Any]]]:
    """Train a family of groups (``families``: they differ only in ``ntrain``) in one ``train``
    call, the longest, whose checkpoints are the others' last steps: each group's lines, as
    ``group_lines`` gives them."""
    seeds = sorted({run["seed"] for run in family[0]})
    lrs = sorted({run["lr"] for run in family[0]})
    setups = [setup_of(group[0]) for group in family]
    longest = setup_of(longest_group(family)[0])
    result = train(longest, seeds, lrs, device=device, checkpoints=[s.niter for s in setups])
    all_lines = []
    for group, setup in zip(family, setups, strict=True):
        errors, diverged = result.checkpoints[setup.niter]
        lines = []
        for run in group:
            index = seeds.index(run["seed"]), lrs.index(run["lr"])
            line = {**run, "niter": setup.niter, "error": float(errors[index])}
            line["diverged"] = bool(diverged[index])
            lines.append({key: line[key] for key in LINE})
        all_lines.append(lines)
    return all_lines


def families(all_groups: list[list[Run]]) -> list[list[int]]:
    """The groups (by index) that train as one: those that differ only in ``ntrain``, with the
    same seeds and step sizes. Under the paper's constant schedule a run on ``T`` tokens is the
    first ``T / B`` steps of one on more (its sample is the other's first ``T`` tokens), and
    its error and divergence are the longer run's at that step: the same numbers, bit for bit.
    Families in order of their first group."""
    table: dict[tuple[Any, ...], list[int]] = {}
    for index, group in enumerate(all_groups):
        fields = tuple(group[0][f] for f in FIELDS if f not in (*BATCHED, "ntrain"))
        sets = frozenset(r["seed"] for r in group), frozenset(r["lr"] for r in group)
        table.setdefault((fields, *sets), []).append(index)
    return list(table.values())


def family_groups(all_groups: list[list[Run]]) -> list[list[list[Run]]]:
    """``families`` as lists of the groups themselves."""
    return [[all_groups[i] for i in family] for family in families(all_groups)]


def longest_group(family: list[list[Run]]) -> list[Run]:
    """The group a family trains (the others are its checkpoints): the one with most tokens."""
    return max(family, key=lambda group: group[0]["ntrain"])


def lines_in_order(
    all_groups: list[list[Run]], device: str = "cpu", streams: int = 1
) -> Iterator[list[dict]]:
    """Every group's lines in ``all_groups`` order; a family is trained when its first group
    comes, and its other groups' lines wait there for their turn (so the output is the same
    file as group by group). With ``streams = K > 1``, ``K`` families train side by side
    (``trained_side_by_side``); the lines come in the same order, with the same numbers."""
    in_order = families(all_groups)  # ordered by their first group
    family_of = {index: family for family in in_order for index in family}
    runs = [[all_groups[i] for i in family] for family in in_order]
    trained = trained_side_by_side(runs, device, streams)
    waiting: dict[int, list[dict[str, Any]]] = {}
    for index in range(len(all_groups)):
        if index not in waiting:  # the first group of the next family in order
            waiting.update(zip(family_of[index], next(trained), strict=True))
        yield waiting.pop(index)


QUEUED_PER_STREAM = 4  # families queued per stream ahead of the oldest unfinished one


def trained_side_by_side(
    all_families: list[list[list[Run]]], device: str, streams: int
) -> Iterator[list[list[dict[str, Any]]]]:
    """``family_lines`` of each family, in order. With ``streams = K > 1``, ``K`` threads train
    families at once, each on a CUDA stream of its own on a CUDA device, so the small kernels of
    independent families run side by side on the GPU. Every family is the same ``train`` call
    as alone (the same numbers); at most ``QUEUED_PER_STREAM·K`` families are queued ahead of
    the oldest unfinished one, and those not started are dropped when the caller stops."""
    positive_int("streams", streams)
    if streams == 1:
        yield from (family_lines(family, device) for family in all_families)
        return
    own = threading.local()
    on_cuda = torch.device(device).type == "cuda"

    def train_family(family: list[list[Run]]) -> list[list[dict[str, Any]]]:
        if not on_cuda:
            return family_lines(family, device)
        if not hasattr(own, "stream"):
            own.stream = torch.cuda.Stream(device)
        with torch.cuda.stream(own.stream):
            return family_lines(family, device)

    remaining = iter(all_families)
    with ThreadPoolExecutor(streams) as pool:
        queued = collections.deque(
            pool.submit(train_family, family)
            for family in itertools.islice(remaining, QUEUED_PER_STREAM * streams)
        )
        try:
            while queued:
                lines = queued.popleft().result()
                queued.extend(pool.submit(train_family, f) for f in itertools.islice(remaining, 1))
                yield lines
        finally:
            for future in queued:
                future.cancel()


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
                f"{line['model']} {line['optimizer']} d={line['d']} error {line['error']:.4f}",
                key=run_key(line),
            )


def simulate(
    runs: list[Run],
    out: TextIO,
    device: str = "cpu",
    progress: Progress | None = None,
    streams: int = 1,
) -> None:
    """Train ``runs`` group by group, writing each group's lines to ``out`` when it finishes
    (groups that differ only in ``ntrain`` train as one: ``families``), ``streams`` families at
    a time (``trained_side_by_side``)."""
    for lines in lines_in_order(list(groups(runs)), device, streams):
        write_lines(lines, out, progress)


def header_line(provenance: Mapping[str, Any], runs: int) -> dict[str, Any]:
    """The line that opens a command's output: its provenance and how many runs follow."""
    return {HEADER: {**provenance, "runs": runs}}
