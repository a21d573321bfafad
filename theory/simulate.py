"""``memlaws simulate GRID.json``: train every run of a grid of the paper's optimisation
experiments (reference-setting.md) and write one JSON line per run.

The grid is a JSON object mapping some of ``FIELDS`` to a value or a non-empty list of values;
the runs are the Cartesian product. Missing fields take ``DEFAULTS``: the reference setting
(``N = 100``, ``M = 5``, ``alpha = 2``, no layer norm) with the matrix model, SGD, ``lr = 1``,
``d = 100``, ``ntrain = 10240``, ``batch_size = 16`` and seed 0. Every run uses the paper's
draws and scalings (``kernel.training.TrainingSetup`` defaults: random ``W₀``, Gaussian
``U``, constant step, Adam with ``β₁ = β₂ = 0`` and dimension-scaled steps), in float32.

A line holds the run's fields (``optimizer`` in lower case, ``lr`` and ``alpha`` as floats),
``niter = ntrain / batch_size``, the population ``error`` after the last step, and ``diverged``:
whether the run overflowed (a parameter is not finite), in which case ``error`` is the readout of
non-finite scores and says nothing about what was learned. Runs that
differ only in ``seed`` and ``lr`` are trained together in one batched ``kernel.training.train``
call; each group's lines are appended to the output as soon as it finishes.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from kernel.training import MODELS, OPTIMIZERS, TrainingSetup, train
from kernel.validation import (
    choice,
    flag,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)
from theory.progress import Progress

DEFAULTS: dict[str, Any] = {
    "model": "matrix",
    "optimizer": "sgd",
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

Run = dict[str, Any]


def _optimizer(name: str, value: object) -> str:
    if not isinstance(value, str) or value.lower() not in OPTIMIZERS:
        raise ValueError(f"{name} must be one of 'SGD', 'Adam' (any case); got {value!r}")
    return value.lower()


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


def read_grid(path: Path) -> dict[str, list[Any]]:
    """The grid in ``path``, each field a checked, non-empty list of values (defaults filled)."""
    try:
        grid = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"cannot read the grid file {path}: {error.strerror}") from error
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
    """What identifies a run: its ``FIELDS`` values, normalised as in the output lines."""
    return tuple(CHECKS[name](name, run[name]) for name in FIELDS)


def finished(path: Path) -> set[tuple[Any, ...]]:
    """Keys of the runs already written to the JSON-lines file ``path``."""
    if not path.exists():
        return set()
    keys = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                keys.add(run_key(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise ValueError(f"{path} line {number} is not a run of this command") from error
    return keys


def setup_of(run: Mapping[str, Any]) -> TrainingSetup:
    """The training setup of a run (its fields other than ``seed`` and ``lr``)."""
    return TrainingSetup(
        model=run["model"],
        optimizer=run["optimizer"],
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


def write_lines(lines: list[dict[str, Any]], out: TextIO, progress: Progress | None) -> None:
    """Append a finished group's lines to ``out`` as JSON lines, advancing ``progress`` once per
    run, then flush."""
    for line in lines:
        out.write(json.dumps(line) + "\n")
        if progress is not None:
            progress.advance(
                f"{line['model']} {line['optimizer']} d={line['d']} error {line['error']:.4f}"
            )
    out.flush()


def simulate(
    runs: list[Run],
    out: TextIO,
    device: str = "cpu",
    progress: Progress | None = None,
) -> None:
    """Train ``runs`` group by group, writing each group's lines to ``out`` when it finishes."""
    for group in groups(runs):
        write_lines(group_lines(group, device), out, progress)


def simulate_command(
    grid_path: Path,
    out: Path | None,
    resume: bool,
    device: str,
    scheduler: str | None = None,
    workers: int | None = None,
) -> int:
    """Check the whole grid, then run what is not yet in ``out`` (``--resume``) in this process,
    on the Dask scheduler at ``scheduler`` or on a local cluster of ``workers`` processes (see
    ``theory.executors``); 0 when done."""
    from theory.executors import executor  # imported here: theory.executors builds on this module

    if resume and out is None:
        raise ValueError("--resume needs --out FILE (the runs to skip are read from it)")
    runs = expand(read_grid(grid_path))
    for group in groups(runs):
        setup_of(group[0])  # every setup is valid before any training starts
    if resume:
        done = finished(out)
        runs = [run for run in runs if run_key(run) not in done]
    with executor(scheduler, workers) as train_runs, Progress(len(runs), "simulate") as bar:
        if out is None:
            train_runs(runs, sys.stdout, device, bar)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("a") as stream:
                train_runs(runs, stream, device, bar)
    return 0
