"""``memlaws simulate`` on a Dask cluster: the same lines as the sequential path, ``--resume``
across executors, no line lost and every run redone when a worker is killed mid-sweep, and clear
errors for bad flags, a failing group and a missing ``distributed``."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from memlaws.theory import executors
from memlaws.theory.cli import main
from memlaws.theory.executors import simulate_on
from memlaws.theory.simulate import LINE, checked_grid, expand, simulate
from properties.test_simulate import GRID, N_RUNS, read_lines, write_grid

distributed = pytest.importorskip("distributed")

# 9 groups of 2 seeds × 2 step sizes, each a few tenths of a second: the sweep is still
# running when its first group's lines are written.
SLOW_GRID = {
    "model": "exponential",
    "N": 20,
    "d": list(range(4, 13)),
    "ntrain": 16384,
    "batch_size": 16,
    "seed": [0, 1],
    "lr": [0.5, 2],
}


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of 3 single-threaded worker processes, closed after the module."""
    with distributed.LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


def as_set(lines: list[dict]) -> set[str]:
    """Lines as comparable strings: every field, the error to the last bit."""
    return {json.dumps(line, sort_keys=True) for line in lines}


def test_a_dask_scheduler_gives_the_sequential_lines(tmp_path, cluster):
    grid = write_grid(tmp_path, GRID)
    sequential, on_dask = tmp_path / "sequential.jsonl", tmp_path / "dask.jsonl"
    assert main(["simulate", grid, "--out", str(sequential)]) == 0
    scheduler = cluster.scheduler_address
    assert main(["simulate", grid, "--out", str(on_dask), "--scheduler", scheduler]) == 0
    lines = read_lines(on_dask)
    assert len(lines) == N_RUNS and all(list(line) == list(LINE) for line in lines)
    assert as_set(lines) == as_set(read_lines(sequential))


def test_resume_on_workers_after_a_sequential_start(tmp_path):
    grid = write_grid(tmp_path, GRID)
    full = tmp_path / "full.jsonl"
    assert main(["simulate", grid, "--out", str(full)]) == 0
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(line + "\n" for line in full.read_text().splitlines()[:13]))
    assert main(["simulate", grid, "--out", str(partial), "--resume", "--workers", "2"]) == 0
    resumed = read_lines(partial)
    assert len(resumed) == N_RUNS and as_set(resumed) == as_set(read_lines(full))


def test_a_failing_group_raises_in_the_client(tmp_path, cluster):
    out = tmp_path / "runs.jsonl"
    runs = expand(checked_grid(GRID))
    with (
        distributed.Client(cluster) as client,
        out.open("a") as stream,
        pytest.raises(RuntimeError, match="failed on a Dask worker") as raised,
    ):
        simulate_on(client, runs, stream, device="no-such-device")
    assert "no-such-device" in str(raised.value.__cause__)
    assert out.read_text() == ""


def test_a_killed_worker_loses_no_line_and_its_runs_are_redone(tmp_path, cluster):
    runs = expand(checked_grid(SLOW_GRID))
    sequential = io.StringIO()
    simulate(runs, sequential)
    out = tmp_path / "runs.jsonl"
    with (
        ThreadPoolExecutor(max_workers=1) as sweeper,
        distributed.Client(cluster) as client,
        out.open("a") as stream,
    ):
        sweep = sweeper.submit(simulate_on, client, runs, stream)
        deadline = time.monotonic() + 60
        while not out.read_text() and not sweep.done():
            assert time.monotonic() < deadline, "no group finished in 60 s"
            time.sleep(0.01)
        busy = [worker for worker, tasks in client.processing().items() if tasks]
        assert busy, "the sweep ended before a worker could be killed"
        os.kill(client.run(os.getpid, workers=busy[:1])[busy[0]], signal.SIGKILL)
        sweep.result(timeout=120)
    lines = read_lines(out)
    assert len(lines) == len(runs)
    assert as_set(lines) == as_set([json.loads(x) for x in sequential.getvalue().splitlines()])


BAD_FLAGS = [
    (["--workers", "0"], "--workers must be an integer >= 1"),
    (["--workers", "x"], "argument --workers: invalid int value: 'x'"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], "not allowed with argument"),
]


@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS, ids=[m for _, m in BAD_FLAGS])
def test_bad_executor_flags_exit_2_before_any_run(tmp_path, capsys, flags, message):
    out = tmp_path / "runs.jsonl"
    try:
        status = main(["simulate", write_grid(tmp_path, GRID), "--out", str(out), *flags])
    except SystemExit as exit:  # argparse's own checks
        status = exit.code
    assert status == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_executor_flags_without_distributed_say_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails
    out = tmp_path / "runs.jsonl"
    assert main(["simulate", write_grid(tmp_path, GRID), "--out", str(out), "--workers", "2"]) == 2
    assert "pip install 'memlaws[dask]'" in capsys.readouterr().err
    assert not out.exists()


def test_an_unreachable_scheduler_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(executors, "SCHEDULER_TIMEOUT", "1s")
    out = tmp_path / "runs.jsonl"
    arguments = ["simulate", write_grid(tmp_path, GRID), "--out", str(out)]
    assert main([*arguments, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "--scheduler tcp://127.0.0.1:9: cannot reach it" in capsys.readouterr().err
    assert not out.exists()
