"""The ``memlaws simulate`` command: check the device, the grid, the output file and the memory
a grid needs, say what it would do (``--dry-run``), then train what is not yet written with the
chosen executor (``memlaws.theory.executors``), resumable after an interrupt. The grid, its runs
and their lines are ``memlaws.theory.simulate``'s."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from memlaws.kernel.validation import positive_int
from memlaws.theory.executors import executor
from memlaws.theory.jsonlines import JsonLines, set_aside_partial
from memlaws.theory.progress import Progress
from memlaws.theory.simulate import (
    BATCHED,
    FIELDS,
    Run,
    expand,
    families,
    family_groups,
    group_shape,
    groups,
    header_line,
    longest_group,
    not_yet_written,
    read_grid,
    read_written,
    run_key,
    setup_of,
    write_line,
)


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


def memory_need(
    plan: Plan, device: str, workers: int | None, streams: int = 1
) -> tuple[int, list[Run] | None]:
    """Peak bytes of the plan's heaviest moment (its largest group, the ``streams`` largest at
    once, or the ``workers`` largest at once plus a process each) and its largest group."""
    from memlaws.theory.cost import BASELINE_BYTES, group_memory

    sizes = sorted(
        ((group_memory(*group_shape(g), device=device), i) for i, g in enumerate(plan.groups)),
        reverse=True,
    )
    if not sizes:
        return 0, None
    largest = plan.groups[sizes[0][1]]
    if workers is None:
        return sum(size for size, _ in sizes[:streams]), largest
    return sum(size for size, _ in sizes[:workers]) + workers * BASELINE_BYTES, largest


def _memory_check(
    plan: Plan, device: str, workers: int | None, scheduler: str | None, streams: int = 1
) -> str:
    """Refuse a plan that would not fit in memory; the estimate, in words."""
    from memlaws.theory.cost import group_memory, host_memory, readable_bytes
    from memlaws.theory.preflight import available_memory, check_fits

    if scheduler is not None:
        return "memory: not checked (the groups run on the scheduler's workers)"
    need, largest = memory_need(plan, device, workers, streams)
    if largest is None:
        return "memory: nothing to train"
    setup, seeds, lrs = group_shape(largest)
    what = f"the group {_shared(largest)} ({_replicas(seeds, lrs)})"
    if workers is not None:
        what = f"{workers} workers at once, the largest being {what}"
    elif streams > 1:
        what = f"{streams} groups at once on CUDA streams, the largest being {what}"
    advice = "reduce d, N or ntrain, or split the seeds and lrs over several grids"
    check_fits(need, device, what, advice)
    host_text = ""
    if device != "cpu":  # the draws are made on the CPU, then copied to the device
        host = sorted((host_memory(*group_shape(g)) for g in plan.groups), reverse=True)
        host_need = sum(host[: streams if workers is None else workers])
        check_fits(host_need, "cpu", f"{what}, drawing on the CPU,", advice)
        host_text = f"; {readable_bytes(host_need)} on the CPU for the draws"
    free = available_memory(device)
    available = f"{readable_bytes(free) if free is not None else 'unknown'} available on {device}"
    largest_text = f"largest group {_shared(largest)}, {_replicas(seeds, lrs)}"
    largest_need = readable_bytes(group_memory(setup, seeds, lrs, device=device))
    if workers is not None:
        largest_text = f"{workers} worker processes at once; {largest_text}: {largest_need}"
    elif streams > 1:
        largest_text = f"{streams} groups at once on CUDA streams; {largest_text}: {largest_need}"
    return f"estimated peak memory: {readable_bytes(need)} ({largest_text}){host_text}; {available}"


def expected_seconds(
    plan: Plan, workers: int | None, speed: Mapping[str, float] | None = None
) -> dict[tuple, float]:
    """The cost model's seconds of each run to train, by ``run_key``: its family's ``train``
    call (``memlaws.theory.cost.group_seconds``, at ``speed``; sharded in this process, one
    thread per worker with ``workers``) shared equally by the family's runs."""
    from memlaws.theory.cost import group_seconds

    expected = {}
    for family in family_groups(plan.groups):
        shape = group_shape(longest_group(family))
        seconds = group_seconds(*shape, sharded=not workers, speed=speed)
        runs = [run for group in family for run in group]
        expected |= {run_key(run): seconds / len(runs) for run in runs}
    return expected


def _time_text(plan: Plan, device: str, workers: int | None) -> str:
    from memlaws.theory.cost import readable_seconds
    from memlaws.theory.machine_speed import speed_factors

    if not plan.groups:
        return "estimated time: none (nothing to train)"
    if device != "cpu":
        speed, where = None, f"on the fitting machine's CPU (no model for {device})"
    else:
        speed, where = speed_factors(), "on this CPU"
    seconds = sum(expected_seconds(plan, workers, speed).values())
    if workers:
        seconds /= workers
    scaled = ""
    if speed is not None:
        scaled = (
            f"; scaled to this machine by two probe groups, which took {speed['steps']:.2g} and "
            f"{speed['work']:.2g} times as long here"
        )
    return (
        f"estimated time: about {readable_seconds(seconds)} {where} (rough: the cost model was "
        f"fitted on a 2-core CPU, within 0.5× to 1.3× of 80% of the groups there{scaled})"
    )


def describe(plan: Plan, grid_path: Path, out: Path | None) -> list[str]:
    """The plan in words: runs, groups, what ``out`` already holds."""
    all_groups = list(groups(plan.runs))
    every = f"{_count(len(plan.runs), 'run')} in {_count(len(all_groups), 'group')}"
    lines = [
        f"{grid_path}: {every} (runs differing only in seed and lr train together; groups "
        f"differing only in ntrain, as one: {_count(len(families(all_groups)), 'training')})"
    ]
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
    streams: int = 1,
) -> int:
    """Check the device, ``out``, the grid and the memory it needs, then train what is not yet
    in ``out`` (``--resume``) in this process (``streams`` families side by side on a CUDA
    device), on the Dask scheduler at ``scheduler`` or on a local cluster of ``workers``
    processes (``memlaws.theory.executors``). 0 when done; 130 when interrupted, after saying
    how to resume. ``dry_run`` prints the plan and trains nothing."""
    from memlaws.theory.preflight import check_device

    if resume and out is None:
        raise ValueError("--resume needs --out FILE (the runs to skip are read from it)")
    if workers is not None:
        positive_int("--workers", workers)
    positive_int("--streams", streams)
    device = check_device(device)
    if streams > 1 and not device.startswith("cuda"):
        raise ValueError(
            f"--streams {streams}: families train side by side on CUDA streams, which needs "
            f"--device cuda (got --device {device}); on the CPU use --workers N"
        )
    chosen = plan(grid_path, out, resume)
    if dry_run:
        print("\n".join([*describe(chosen, grid_path, out), _time_text(chosen, device, workers)]))
        print(_memory_check(chosen, device, workers, scheduler, streams))
        return 0
    _memory_check(chosen, device, workers, scheduler, streams)
    return _train(chosen, out, device, scheduler, workers, argv, streams)


def _train(
    chosen: Plan,
    out: Path | None,
    device: str,
    scheduler: str | None,
    workers: int | None,
    argv: Sequence[str],
    streams: int = 1,
) -> int:
    from memlaws.theory.provenance import provenance

    header = header_line(provenance(device, argv), len(chosen.todo))
    if out is not None:
        set_aside_partial(out, chosen.written, sys.stderr)
    if not chosen.todo:
        return 0
    counted = _Counter(sys.stdout)
    expected = expected_seconds(chosen, workers)  # the bar's time left
    try:
        with (
            executor(scheduler, workers, streams) as train_runs,
            Progress(len(chosen.todo), "simulate", expected=expected) as bar,
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
