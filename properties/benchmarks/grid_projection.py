"""Projected time of the paper's whole 40,320-run grid on this machine, from a random sample of
its 1008 groups (``python -m properties.benchmarks.grid_projection``; a few minutes).

Method: stratified random sampling without replacement. A group's time is about its number of
steps ``T / B`` times a cost per step set by its kind (``dense``: a ``d × d`` memory updated in
full each step, i.e. the learnable model and the matrix model under Adam or under SGD with layer
norm; ``light``: the exponential model and the matrix model's rank-M SGD), its ``d`` and its
batch. The strata are the groups by ``T``, batch (``B ≤ 64``, gathered rows; ``B ≥ 256``,
folded into counts), band of ``d`` (≤ 100, 200–500, 1000) and kind; the cheap ``T = 1024``
groups (at most 64 steps) by kind only: 26 strata of 10 to 112 groups. ``--per-stratum``
groups of each (seeded) are
trained with ``kernel.training.train``, as ``memlaws simulate`` trains them, and timed. Stratum
``h`` (``N_h`` groups, ``n_h`` timed, times ``y``) contributes ``N_h · mean(y)`` to the total,
with variance ``N_h² (1 − n_h/N_h) s_h² / n_h``; the interval is Student's t at the chosen level
with Welch–Satterthwaite degrees of freedom. Every group is timed once, on whatever load the
machine has: report ``uptime`` beside the result.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from scipy import stats

from theory.simulate import checked_grid, expand, group_lines, groups

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

Group = list[dict[str, Any]]


def paper_groups() -> list[Group]:
    """The grid's 1008 groups (runs differing only in seed and step size), in simulate's order."""
    return list(groups(expand(checked_grid(PAPER_GRID))))


def kind(run: dict[str, Any]) -> str:
    """``dense`` when a step updates a full ``d × d`` memory, else ``light``."""
    if run["model"] == "learnable":
        return "dense"
    if run["model"] == "matrix" and (run["optimizer"] == "adam" or run["layernorm"]):
        return "dense"
    return "light"


def stratum(run: dict[str, Any]) -> tuple[int, str, str, str]:
    """``(T, batch, d band, kind)`` of a run's group (``T = 1024``: kind only)."""
    if run["ntrain"] == 1024:
        return 1024, "B=any", "d=any", kind(run)
    batch = "B<=64" if run["batch_size"] <= 64 else "B>=256"
    band = "d<=100" if run["d"] <= 100 else ("d=200-500" if run["d"] <= 500 else "d=1000")
    return run["ntrain"], batch, band, kind(run)


@dataclass
class Stratum:
    """One stratum: its size and the seconds of the groups timed in it."""

    key: tuple[int, str, str, str]
    size: int
    seconds: list[float]

    @property
    def total(self) -> float:
        return self.size * sum(self.seconds) / len(self.seconds)

    @property
    def variance(self) -> float:
        n = len(self.seconds)
        if n < 2:
            return math.inf
        mean = sum(self.seconds) / n
        spread = sum((y - mean) ** 2 for y in self.seconds) / (n - 1)
        return self.size**2 * (1 - n / self.size) * spread / n


def project(strata: Sequence[Stratum], level: float) -> dict[str, float]:
    """Total seconds with its ``level`` interval (t, Welch–Satterthwaite degrees of freedom)."""
    total = sum(s.total for s in strata)
    variance = sum(s.variance for s in strata)
    terms = [s.variance**2 / (len(s.seconds) - 1) for s in strata if s.variance > 0]
    dof = variance**2 / sum(terms) if terms else math.inf
    half = stats.t.ppf((1 + level) / 2, dof) * math.sqrt(variance) if variance > 0 else 0.0
    return {"seconds": total, "low": total - half, "high": total + half, "dof": dof}


def sample(all_groups: list[Group], per_stratum: int, seed: int) -> dict[tuple, list[Group]]:
    """``per_stratum`` groups drawn at random (seeded) from every stratum, by stratum."""
    by_stratum: dict[tuple, list[Group]] = {}
    for group in all_groups:
        by_stratum.setdefault(stratum(group[0]), []).append(group)
    generator = random.Random(seed)
    return {
        key: generator.sample(members, min(per_stratum, len(members)))
        for key, members in sorted(by_stratum.items())
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-stratum", type=int, default=2, help="groups timed per stratum")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--level", type=float, default=0.95, help="level of the interval")
    parser.add_argument("--lines", type=Path, help="also write the sampled runs' JSON lines here")
    parser.add_argument("--json", type=Path, help="write the projection as JSON here")
    args = parser.parse_args(argv)
    all_groups = paper_groups()
    drawn = sample(all_groups, args.per_stratum, args.seed)
    sizes: dict[tuple, int] = {}
    for group in all_groups:
        sizes[stratum(group[0])] = sizes.get(stratum(group[0]), 0) + 1
    lines = args.lines.open("w") if args.lines else None
    strata = []
    for key, members in drawn.items():
        seconds = []
        for group in members:
            start = time.perf_counter()
            trained = group_lines(group)
            seconds.append(time.perf_counter() - start)
            if lines:
                lines.writelines(json.dumps(line) + "\n" for line in trained)
            run = group[0]
            print(
                f"{key!s:46} {run['model']:11} {run['optimizer']:4} ln={run['layernorm']:d} "
                f"d={run['d']:<4} B={run['batch_size']:<4} {seconds[-1]:8.2f} s",
                flush=True,
            )
        strata.append(Stratum(key, sizes[key], seconds))
    result = project(strata, args.level)
    print(f"\nload: {os.getloadavg()}, torch threads: {torch.get_num_threads()}")
    header = f"{'groups':>6} {'timed':>5} {'projected s':>12} {'share':>6}"
    print(f"{'stratum (T, B, d, kind)':46} {header}")
    for s in sorted(strata, key=lambda s: -s.total):
        share = s.total / result["seconds"]
        print(f"{s.key!s:46} {s.size:6} {len(s.seconds):5} {s.total:12.1f} {share:6.1%}")
    print(
        f"\nwhole grid: {result['seconds'] / 60:.1f} min, {args.level:.0%} interval "
        f"[{result['low'] / 60:.1f}, {result['high'] / 60:.1f}] min "
        f"({sum(len(s.seconds) for s in strata)} of {len(all_groups)} groups timed, "
        f"{sum(sum(s.seconds) for s in strata) / 60:.1f} min)"
    )
    if args.json:
        table = [{"stratum": list(s.key), "groups": s.size, "seconds": s.seconds} for s in strata]
        args.json.write_text(json.dumps({**result, "strata": table}, indent=1))
    if lines:
        lines.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
