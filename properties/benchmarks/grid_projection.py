"""Projected time of the paper's whole 40,320-run grid on this machine, from a random sample of
what ``memlaws simulate`` trains (``python -m properties.benchmarks.grid_projection``; a quarter
of an hour on a busy 2-core machine, a few minutes on an idle one).

Units: ``simulate`` trains the grid's 1008 groups (runs differing only in seed and step size) in
336 families (``memlaws.theory.simulate.families``): the groups at ``T = 1024``, 10240 and
102400 that share everything else train as one run of the longest, whose checkpoints give the
others' lines. A unit is a family, stood for by its longest group (its work); it is timed as
``simulate`` trains it (``family_lines``).

Design: stratified random sampling without replacement. A group's time is about its number of
steps ``T / B`` times a cost per step set by its kind (``dense``: a ``d × d`` memory updated in
full each step, i.e. the learnable model and the matrix model under Adam or under SGD with layer
norm; ``light``: the exponential model and the matrix model's rank-M SGD), its ``d`` and its
batch. The strata are the groups by ``T``, batch (``B ≤ 64``, gathered rows; ``B ≥ 256``,
folded into counts), band of ``d`` (≤ 100, 200–500, 1000) and kind; ``T = 1024`` groups (at
most 64 steps) by kind only. The paper grid's units all stand at ``T = 102400``: 12 strata of 10
to 56 families. ``--per-stratum`` units of each (seeded) are trained as ``memlaws simulate``
trains them, and timed once each.

Estimator: the combined ratio estimate (Cochran, *Sampling Techniques*, §6.11) with an auxiliary
``x`` known for every group, ``work``: its steps times the multiply-adds of a step (products
with an ``M``-sized side counted 3 times: they run about 3 times slower) plus a fixed cost per
step. With ``ŷ = Σ_h N_h ȳ_h`` and ``x̂ = Σ_h N_h x̄_h`` the total is ``X ŷ / x̂``, of variance
``Σ_h N_h² (1 − n_h/N_h) s²_h / n_h`` where ``s²_h`` is the variance in stratum ``h`` of
``y − (ŷ / x̂) x``; the interval is Student's t at the chosen level with Welch–Satterthwaite
degrees of freedom, taken on the log of the total (delta method: ``total · exp(± t · se /
total)``), so that it stays positive and is right-skewed like a total of times from a few groups
per stratum (a normal interval went below zero under a varying load). The plain stratified
total ``ŷ`` is printed beside it.

Times are wall and CPU seconds (all threads): a busy machine delays the CPU time much less, and
its half estimates the wall time of an idle 2-core machine (replicas train in 2 shards, one per
core). Report the load beside the result. ``--from JSON`` projects again from a saved run's
times without training.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from scipy import stats

from memlaws.theory.simulate import (
    checked_grid,
    expand,
    family_groups,
    family_lines,
    groups,
    longest_group,
)

PAPER_GRID = {
    "model": ["matrix", "learnable", "exponential"],
    "optimizer": ["SGD", "Adam"],
    "lr": [0.1, 1.0, 10.0, 100.0],
    "d": [10, 20, 50, 100, 200, 500, 1000],
    "ntrain": [1024, 10240, 102400],
    "batch_size": [16, 64, 256, 1024],
    "layernorm": [False, True],
    "seed": list(range(10)),
}  # 40,320 runs in 1008 groups of 40 (reference-setting.md)
STEP_OVERHEAD = 65_000  # multiply-adds a replica's step costs besides its products
SLOW_SIDE = 3  # products with an M-sized side, counted this many times

Group = list[dict[str, Any]]
Key = tuple[int, str, str, str]


def paper_groups() -> list[Group]:
    """The grid's 1008 groups (runs differing only in seed and step size), in simulate's order."""
    return list(groups(expand(checked_grid(PAPER_GRID))))


def paper_families() -> list[list[Group]]:
    """The grid's 336 families of groups that ``simulate`` trains as one (``families``)."""
    return family_groups(paper_groups())


def _adam(run: dict[str, Any]) -> bool:
    """Whether a run trains with Adam (the grid spells it "Adam", the kernel "adam")."""
    return run["optimizer"].lower() == "adam"


def kind(run: dict[str, Any]) -> str:
    """``dense`` when a step updates a full ``d × d`` memory, else ``light``."""
    if run["model"] == "learnable":
        return "dense"
    if run["model"] == "matrix" and (_adam(run) or run["layernorm"]):
        return "dense"
    return "light"


def stratum(run: dict[str, Any]) -> Key:
    """``(T, batch, d band, kind)`` of a run's group (``T = 1024``: kind only)."""
    if run["ntrain"] == 1024:
        return 1024, "B=any", "d=any", kind(run)
    batch = "B<=64" if run["batch_size"] <= 64 else "B>=256"
    band = "d<=100" if run["d"] <= 100 else ("d=200-500" if run["d"] <= 500 else "d=1000")
    return run["ntrain"], batch, band, kind(run)


def work(group: Group) -> float:
    """The auxiliary variable: the group's steps × replicas × (multiply-adds of a step, as
    ``memlaws.kernel.models`` does it, plus ``STEP_OVERHEAD``)."""
    run = group[0]
    n, m, d = run["N"], run["M"], run["d"]
    k = min(run["batch_size"], n)  # rows a step touches
    small = SLOW_SIDE * k * d * m  # logits and their gradient
    square = k * d * d if run["layernorm"] else SLOW_SIDE * m * d * d  # a product with W
    if run["model"] == "exponential":
        per_step = 2 * small
    elif run["model"] == "learnable":
        per_step = 3 * square + 3 * small
    elif _adam(run):
        per_step = 2 * square + 2 * small
    else:  # matrix SGD: rank-M updates, or H = E W with layer norm
        per_step = n * k * d + 2 * small if run["layernorm"] else 2 * small
    return run["ntrain"] // run["batch_size"] * len(group) * (per_step + STEP_OVERHEAD)


def sample(all_groups: list[Group], per_stratum: int, seed: int) -> dict[Key, list[Group]]:
    """``per_stratum`` groups drawn at random (seeded) from every stratum, by stratum."""
    by_stratum: dict[Key, list[Group]] = {}
    for group in all_groups:
        by_stratum.setdefault(stratum(group[0]), []).append(group)
    generator = random.Random(seed)
    return {
        key: generator.sample(members, min(per_stratum, len(members)))
        for key, members in sorted(by_stratum.items())
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def project(
    timed: dict[Key, list[tuple[Group, float]]], all_groups: list[Group], level: float
) -> dict[str, float]:
    """Combined ratio estimate of the total seconds, its ``level`` interval, and the plain
    stratified total; ``timed`` maps each stratum to its (group, seconds) pairs."""
    sizes: dict[Key, int] = {}
    for group in all_groups:
        sizes[stratum(group[0])] = sizes.get(stratum(group[0]), 0) + 1
    total_work = sum(work(group) for group in all_groups)
    y_hat = sum(sizes[h] * _mean([y for _, y in pairs]) for h, pairs in timed.items())
    x_hat = sum(sizes[h] * _mean([work(g) for g, _ in pairs]) for h, pairs in timed.items())
    ratio = y_hat / x_hat
    terms = []
    for h, pairs in timed.items():
        n, size = len(pairs), sizes[h]
        residuals = [y - ratio * work(g) for g, y in pairs]
        spread = sum((e - _mean(residuals)) ** 2 for e in residuals) / (n - 1) if n > 1 else 0
        terms.append((size**2 * (1 - n / size) * spread / n, n - 1))
    variance = sum(v for v, _ in terms)
    denominator = sum(v**2 / dof for v, dof in terms if v > 0 and dof > 0)
    dof = variance**2 / denominator if denominator else math.inf
    total = ratio * total_work
    factor = math.exp(stats.t.ppf((1 + level) / 2, dof) * math.sqrt(variance) / total)
    return {"seconds": total, "low": total / factor, "high": total * factor, "dof": dof,
            "stratified": y_hat}  # fmt: skip


def time_units(
    drawn: dict[Key, list[Group]], family_of: dict[int, list[Group]], lines: Path | None
) -> dict[str, list[float]]:
    """Train and time every drawn unit (a family, by its longest group, ``family_of`` keyed by
    that group's ``id``); wall and CPU seconds in drawing order."""
    times: dict[str, list[float]] = {"wall": [], "cpu": []}
    out = lines.open("w") if lines else None
    for key, members in drawn.items():
        for group in members:
            start, cpu_start = time.perf_counter(), time.process_time()
            trained = family_lines(family_of[id(group)])
            times["wall"].append(time.perf_counter() - start)
            times["cpu"].append(time.process_time() - cpu_start)
            if out:
                out.writelines(json.dumps(line) + "\n" for lines in trained for line in lines)
            run = group[0]
            print(
                f"{key!s:46} {run['model']:11} {run['optimizer']:4} ln={run['layernorm']:d} "
                f"d={run['d']:<4} B={run['batch_size']:<4} {times['wall'][-1]:8.2f} s "
                f"(cpu {times['cpu'][-1]:.2f} s)",
                flush=True,
            )
    if out:
        out.close()
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-stratum", type=int, default=2, help="units timed per stratum")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--level", type=float, default=0.95, help="level of the interval")
    parser.add_argument("--lines", type=Path, help="also write the sampled runs' JSON lines here")
    parser.add_argument("--json", type=Path, help="write the times and projection here")
    parser.add_argument("--from", dest="source", type=Path, help="reuse the times of a --json")
    args = parser.parse_args(argv)
    family_of = {id(longest_group(family)): family for family in paper_families()}
    all_groups = [longest_group(family) for family in family_of.values()]
    drawn = sample(all_groups, args.per_stratum, args.seed)
    if args.source:
        saved = json.loads(args.source.read_text())
        times, load = saved["times"], saved["load"]
    else:
        times, load = time_units(drawn, family_of, args.lines), os.getloadavg()
    result = {"load": load, "threads": torch.get_num_threads(), "times": times}
    print(f"\nload average while timing: {load}; torch threads: {result['threads']}")
    for clock in ("wall", "cpu"):
        seconds = iter(times[clock])
        timed = {key: [(g, next(seconds)) for g in members] for key, members in drawn.items()}
        result[clock] = project(timed, all_groups, args.level)
    wall, cpu = result["wall"], result["cpu"]
    spent = sum(times["wall"]) / 60
    print(f"timed: {len(times['wall'])} of {len(all_groups)} families, {spent:.1f} min")
    print(
        f"whole grid, wall: {wall['seconds'] / 60:.1f} min, {args.level:.0%} interval "
        f"[{wall['low'] / 60:.1f}, {wall['high'] / 60:.1f}] (stratified total "
        f"{wall['stratified'] / 60:.1f} min)"
    )
    print(
        f"whole grid, CPU: {cpu['seconds'] / 60:.1f} min [{cpu['low'] / 60:.1f}, "
        f"{cpu['high'] / 60:.1f}]; idle 2-core estimate {cpu['seconds'] / 120:.1f} min "
        f"[{cpu['low'] / 120:.1f}, {cpu['high'] / 120:.1f}]"
    )
    by_class: dict[str, float] = {}
    for group in all_groups:
        run = group[0]
        name = f"{run['model']}-{run['optimizer']}{'-layernorm' if run['layernorm'] else ''}"
        by_class[name] = by_class.get(name, 0.0) + work(group)
    scale = cpu["seconds"] / sum(by_class.values())
    print("CPU minutes by class (the ratio estimate spread over the classes' work):")
    for name, amount in sorted(by_class.items(), key=lambda item: -item[1]):
        print(f"  {name:28} {amount * scale / 60:7.1f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
