"""Where ``memlaws simulate`` trains its groups of runs: in this process one family of groups
after another (the default), or on a Dask distributed cluster, one task per family
(``--scheduler ADDRESS`` for a running cluster, ``--workers N`` for a local one started for the
sweep).

The unit of work is a family either way (groups of runs differing only in ``seed`` and ``lr``,
``memlaws.theory.simulate.groups``, that differ only in ``ntrain``: ``families``), trained by
one ``memlaws.kernel.training.train`` call, so the lines hold the same numbers whatever the
executor; on a cluster they come in the order the families finish. Only this process writes: a
family's lines are appended and flushed as soon as its task completes, so a worker lost
mid-sweep loses no line already written, and the scheduler reruns its unfinished task on
another worker. A task whose workers die more than
``distributed.scheduler.allowed-failures`` times (3 by default) fails the sweep with
``distributed.KilledWorker``. Workers of a remote cluster need memlaws installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

import torch

from memlaws.kernel.validation import positive_int
from memlaws.theory.progress import Progress
from memlaws.theory.simulate import (
    BATCHED,
    FIELDS,
    Run,
    family_groups,
    family_lines,
    groups,
    simulate,
    write_lines,
)

if TYPE_CHECKING:
    from distributed import Client

Executor = Callable[[list[Run], TextIO, str, Progress | None], None]
"""``(runs, out, device, progress)``: trains ``runs`` and writes their lines to ``out``."""

SCHEDULER_TIMEOUT = "20s"  # how long to try to reach a --scheduler address
MISSING_DISTRIBUTED = (
    "memlaws simulate --scheduler/--workers needs dask's distributed: pip install 'memlaws[dask]'"
)


def train_family_task(family: list[list[Run]], device: str) -> list[list[dict[str, Any]]]:
    """A cluster task: ``memlaws.theory.simulate.family_lines`` on one torch thread (a local
    cluster runs a process per core)."""
    torch.set_num_threads(1)
    return family_lines(family, device)


def simulate_on(
    client: Client,
    runs: list[Run],
    out: TextIO,
    device: str = "cpu",
    progress: Progress | None = None,
) -> None:
    """Train ``runs`` on ``client``'s cluster, one task per family of groups, writing each
    family's lines to ``out`` as soon as its task completes. A family that raises cancels the
    rest and raises a ``RuntimeError`` naming its runs' shared fields, chained to the worker's
    exception."""
    from distributed import as_completed

    tasks = {
        client.submit(train_family_task, family, device, pure=False): family
        for family in family_groups(list(groups(runs)))
    }
    for task in as_completed(tasks):
        try:
            family_lines_done = task.result()
        except Exception as error:
            client.cancel(list(tasks))
            first = tasks[task][0][0]
            shared = {name: first[name] for name in FIELDS if name not in (*BATCHED, "ntrain")}
            ntrains = sorted(group[0]["ntrain"] for group in tasks[task])
            message = f"the runs {shared} with ntrain {ntrains} failed on a Dask worker: {error!r}"
            raise RuntimeError(message) from error
        for lines in family_lines_done:
            write_lines(lines, out, progress)


@contextmanager
def executor(
    scheduler: str | None = None, workers: int | None = None, streams: int = 1
) -> Iterator[Executor]:
    """The executor named by ``memlaws simulate``'s flags: ``memlaws.theory.simulate.simulate``
    (``streams`` families at a time) without ``scheduler`` or ``workers``, else ``simulate_on``
    a client of the scheduler at ``scheduler`` or of a local cluster of ``workers``
    single-threaded processes; the client (and the local cluster) close on exit."""
    positive_int("--streams", streams)
    if scheduler is None and workers is None:
        yield partial(simulate, streams=streams)
        return
    if scheduler is not None and workers is not None:
        raise ValueError("give --scheduler or --workers, not both")
    if streams > 1:
        raise ValueError("give --streams or a Dask cluster (--scheduler, --workers), not both")
    if workers is not None:
        positive_int("--workers", workers)
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise ValueError(MISSING_DISTRIBUTED) from error
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except OSError as error:
            raise ValueError(f"--scheduler {scheduler}: cannot reach it ({error})") from error
        with client:
            yield partial(simulate_on, client)
    else:
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster,
            Client(cluster) as client,
        ):
            yield partial(simulate_on, client)
