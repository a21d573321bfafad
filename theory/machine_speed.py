"""How fast this machine trains, against the one ``memlaws.theory.cost``'s time model was fitted
on: two short probe groups timed here, on one torch thread, over their times there.

- ``steps``: 40 replicas of rank-``M`` SGD at ``d = 10`` (``LowRank``), whose steps are a few
  small ops each: Python and dispatch, which scale the model's cost per step;
- ``work``: 4 replicas of the learnable model with layer norm under Adam at ``d = 500``
  (``Dense``), whose steps are products with a ``d × d`` memory and passes over it: they scale
  every other cost.

Each is timed as the difference between ``PROBE_STEPS``' two lengths, so that drawing, the first
call's set-up and the final readout cancel, best of ``REPEATS``. About 2 s in all, once per
process (``speed_factors``).
"""

from __future__ import annotations

import dataclasses
import functools
import time

from memlaws.kernel.setup import TrainingSetup
from memlaws.kernel.training import intra_op_threads, train

PROBES = {  # name: (setup with batches of 16, seeds, step sizes)
    "steps": (TrainingSetup("matrix", "sgd", 100, 5, 10, 2.0, 16, 16), 10, 4),
    "work": (TrainingSetup("learnable", "adam", 100, 5, 500, 2.0, 16, 16, layernorm=True), 1, 4),
}
PROBE_STEPS = {"steps": (50, 450), "work": (10, 70)}  # the two lengths timed
REPEATS = 3
# The probes' seconds on the machine the time model was fitted on (a 2-core AMD EPYC VM without
# AVX-512, torch 2.13.0+cpu, 2026-12-01): the median of 7 measurements, which ranged from 9%
# below to 37% above it (steps) and from 13% below to 27% above (work) on that shared machine.
REFERENCE_SECONDS = {"steps": 0.0855, "work": 0.31}


@functools.cache
def speed_factors() -> dict[str, float]:
    """Each probe's time here over its time on the reference machine (2 = twice as slow), by
    probe name; measured once per process."""
    with intra_op_threads(1):
        return {name: probe_seconds(name) / REFERENCE_SECONDS[name] for name in PROBES}


def probe_seconds(name: str) -> float:
    """Seconds the probe ``name`` takes for the steps between its two lengths (best of
    ``REPEATS`` for each length), with this process's torch threads."""
    setup, seeds, lrs = PROBES[name]
    short, long = (
        dataclasses.replace(setup, n_samples=steps * setup.batch_size)
        for steps in PROBE_STEPS[name]
    )
    seed_list, lr_list = list(range(seeds)), [10.0**-k for k in range(lrs)]
    train(short, seed_list, lr_list)  # draws cached, a first call's set-up done

    def best(probe: TrainingSetup) -> float:
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            train(probe, seed_list, lr_list)
            times.append(time.perf_counter() - start)
        return min(times)

    return max(best(long) - best(short), 1e-6)
