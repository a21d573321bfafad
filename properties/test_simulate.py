"""``memlaws simulate``: a header line with the provenance, then one JSON line per run in the
paper's spelling, the same numbers as ``memlaws.kernel.training.train``, resumable, and invalid
grids refused before any run starts."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from memlaws.kernel.setup import TrainingSetup
from memlaws.kernel.training import train
from memlaws.theory import progress as progress_module
from memlaws.theory import simulate as simulate_module
from memlaws.theory.cli import main
from memlaws.theory.cost import group_memory
from memlaws.theory.progress import Progress
from memlaws.theory.simulate import HEADER, LINE
from memlaws.theory.sweep import memory_need

GRID = {
    "model": ["matrix", "exponential"],
    "optimizer": ["SGD", "adam"],
    "d": 6,
    "N": 20,
    "ntrain": 128,
    "batch_size": [16, 64],
    "seed": [0, 3],
    "lr": [0.5, 2],
}
N_RUNS = 2 * 2 * 2 * 2 * 2


def write_grid(tmp_path, grid: dict) -> str:
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid))
    return str(path)


def read_lines(path) -> list[dict]:
    """The run lines of a ``simulate`` output file (header lines skipped)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line for line in lines if HEADER not in line]


def key(line: dict) -> tuple:
    return tuple(line[field] for field in LINE if field != "error")


def test_one_line_per_run_with_the_trainer_numbers(tmp_path, capsys):
    out = tmp_path / "runs.jsonl"
    assert main(["simulate", write_grid(tmp_path, GRID), "--out", str(out)]) == 0
    lines = read_lines(out)
    assert len(lines) == N_RUNS and len({key(line) for line in lines}) == N_RUNS
    assert all(list(line) == list(LINE) for line in lines)
    assert {line["optimizer"] for line in lines} == {"SGD", "Adam"}  # the paper's spelling
    assert all(line["niter"] == 128 // line["batch_size"] for line in lines)
    assert all(0 <= line["error"] <= 1 for line in lines)
    assert all(line["M"] == 5 and line["alpha"] == 2.0 and not line["layernorm"] for line in lines)
    line = next(x for x in lines if x["model"] == "exponential" and x["optimizer"] == "Adam")
    setup = TrainingSetup("exponential", "adam", 20, 5, 6, 2.0, 128, line["batch_size"])
    expected = train(setup, [line["seed"]], [line["lr"]]).errors
    assert line["error"] == float(expected[0, 0])  # batching seeds and lrs changes nothing
    progress = capsys.readouterr().err.splitlines()
    assert f"{N_RUNS}/{N_RUNS}" in progress[-1] and "left)" not in progress[-1]
    assert all("left)" in line for line in progress[:-1])  # the cost model's time left


def test_the_time_left_scales_the_elapsed_time_by_the_expected_costs(monkeypatch):
    clock = iter([100.0, 110.0, 130.0, 160.0])  # the start, then one reading per item
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    stream = io.StringIO()
    bar = Progress(3, "simulate", stream, expected={"a": 1.0, "b": 3.0, "c": 6.0})
    for item in ("a", "b", "c"):
        bar.advance(item, key=item)
    first, second, last = stream.getvalue().splitlines()
    assert "10.0s (about 2 min left) a" in first  # 10 s for 1 of 10: 9 × 10 s to go
    assert "30.0s (about 45 s left) b" in second  # 30 s for 4 of 10: 6/4 × 30 s
    assert "60.0s c" in last  # done: nothing left


def test_runs_differing_only_in_seed_and_lr_train_together(tmp_path, monkeypatch):
    calls = []

    def counted(setup, seeds, lrs, **options):
        calls.append((setup, list(seeds), list(lrs)))
        return train(setup, seeds, lrs, **options)

    monkeypatch.setattr(simulate_module, "train", counted)
    assert main(["simulate", write_grid(tmp_path, GRID), "--out", str(tmp_path / "o")]) == 0
    assert len(calls) == N_RUNS // 4  # one call per model × optimizer × batch size
    assert all(seeds == [0, 3] and lrs == [0.5, 2.0] for _, seeds, lrs in calls)


def test_lines_go_to_stdout_without_out(tmp_path, capsys):
    grid = {"d": 4, "N": 10, "ntrain": 32, "batch_size": 8, "seed": [0, 1]}
    assert main(["simulate", write_grid(tmp_path, grid)]) == 0
    header, *lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert header[HEADER]["runs"] == 2
    assert [line["seed"] for line in lines] == [0, 1]
    assert all(line["model"] == "matrix" and line["optimizer"] == "SGD" for line in lines)


@pytest.mark.parametrize("kept", [0, 5, 16, 31])
def test_resume_runs_only_what_is_missing(tmp_path, kept):
    grid = write_grid(tmp_path, GRID)
    full = tmp_path / "full.jsonl"
    assert main(["simulate", grid, "--out", str(full)]) == 0
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(line + "\n" for line in full.read_text().splitlines()[:kept]))
    assert main(["simulate", grid, "--out", str(partial), "--resume"]) == 0
    resumed = read_lines(partial)
    assert len(resumed) == N_RUNS
    assert {key(x): x["error"] for x in resumed} == {key(x): x["error"] for x in read_lines(full)}
    assert main(["simulate", grid, "--out", str(partial), "--resume"]) == 0
    assert len(read_lines(partial)) == N_RUNS  # nothing left to run


BAD_GRIDS = [
    ({"depth": 3}, "unknown grid field 'depth'"),
    ({"model": ["matrix", "transformer"]}, "model[1] must be one of"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of 'SGD', 'Adam'"),
    ({"ntrain": 100, "batch_size": [10, 16]}, "ntrain must be a multiple of batch_size"),
    ({"d": [8, 0]}, "d[1] must be an integer >= 1"),
    ({"N": -1}, "N must be an integer >= 1"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"M": 200}, "M must be at most N"),
    ({"seed": []}, "grid field 'seed' is an empty list"),
    ({"lr": [1, -0.5]}, "lr[1] must be a finite number >= 0"),
    ({"layernorm": "yes"}, "layernorm must be True or False"),
    ([1, 2], "the grid must be a JSON object"),
]


@pytest.mark.parametrize(("grid", "message"), BAD_GRIDS, ids=[m for _, m in BAD_GRIDS])
def test_invalid_grids_exit_2_before_any_run(tmp_path, capsys, grid, message):
    out = tmp_path / "runs.jsonl"
    assert main(["simulate", write_grid(tmp_path, grid), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_resume_needs_out_and_a_readable_grid(tmp_path, capsys):
    assert main(["simulate", write_grid(tmp_path, {}), "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the grid file" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{")
    assert main(["simulate", str(tmp_path / "broken.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


SMALL = {"d": [4, 6], "N": 10, "ntrain": 32, "batch_size": 8, "seed": [0, 1]}  # 4 runs, 2 groups


def _families_grid() -> list[dict]:
    """Runs whose groups differ in ``ntrain`` (families of 3 across two batch sizes and both
    models' kinds), plus two groups that must not join a family: other seeds, other step sizes."""
    grid = {
        "model": ["matrix", "learnable", "exponential"],
        "optimizer": ["SGD", "Adam"],
        "d": 6,
        "N": 12,
        "ntrain": [32, 64, 256],
        "batch_size": [8, 16],
        "layernorm": [False, True],
        "seed": [0, 1],
        "lr": [0.5, 20.0],
    }
    runs = simulate_module.expand(simulate_module.checked_grid(grid))
    loners = {"model": "matrix", "optimizer": "SGD", "d": 6, "N": 12, "batch_size": 8}
    loners = simulate_module.checked_grid(loners | {"ntrain": 512, "seed": [1, 2], "lr": 0.5})
    others = simulate_module.checked_grid(SMALL | {"d": 6, "N": 12, "ntrain": 1024, "lr": 3.0})
    return runs + simulate_module.expand(loners) + simulate_module.expand(others)


def test_families_give_the_lines_of_group_by_group_training():
    """Groups that differ only in ``ntrain`` train as one, the longest with checkpoints: the
    lines are the same, bit for bit and in the same order, as one ``train`` call per group."""
    all_groups = list(simulate_module.groups(_families_grid()))
    families = simulate_module.families(all_groups)
    assert sorted(len(family) for family in families) == [1, 1] + [3] * 24
    together = list(simulate_module.lines_in_order(all_groups))
    alone = [simulate_module.group_lines(group) for group in all_groups]
    assert together == alone
    assert any(line["diverged"] for lines in alone for line in lines)  # divergence is kept too


@pytest.mark.parametrize("streams", [2, 3])
def test_families_side_by_side_give_the_same_lines_in_the_same_order(streams):
    """``streams`` families trained at once (threads; on CUDA each on its own stream) give the
    lines of one family after another, bit for bit and in the same order."""
    all_groups = list(simulate_module.groups(_families_grid()))
    one_by_one = list(simulate_module.lines_in_order(all_groups))
    assert list(simulate_module.lines_in_order(all_groups, streams=streams)) == one_by_one


def test_families_side_by_side_stop_with_their_caller(monkeypatch):
    """When the caller stops reading, the queued families that have not started are dropped, and
    an error in a family reaches the caller."""
    started = []

    def fake_family_lines(family, device):
        started.append(family)
        if family == "bad":
            raise RuntimeError("family bad")
        return family

    monkeypatch.setattr(simulate_module, "family_lines", fake_family_lines)
    monkeypatch.setattr(simulate_module, "QUEUED_PER_STREAM", 2)
    trained = simulate_module.trained_side_by_side(list(range(100)), "cpu", 2)
    assert next(trained) == 0
    trained.close()
    assert len(started) <= 2 * 2 + 1
    errors = simulate_module.trained_side_by_side([0, "bad", 2], "cpu", 2)
    assert next(errors) == 0
    with pytest.raises(RuntimeError, match="family bad"):
        next(errors)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--streams", "2"], "--streams 2: families train side by side on CUDA streams, which "
         "needs --device cuda (got --device cpu)"),
        (["--streams", "0"], "--streams must be an integer >= 1, got 0"),
    ],
)  # fmt: skip
def test_streams_need_a_cuda_device(tmp_path, capsys, options, message):
    out = tmp_path / "o.jsonl"
    assert main(["simulate", write_grid(tmp_path, SMALL), "--out", str(out), *options]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_streams_and_a_cluster_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", write_grid(tmp_path, SMALL), "--streams", "2", "--workers", "2"])
    assert stopped.value.code == 2
    assert "--workers: not allowed with argument --streams" in capsys.readouterr().err


def test_streams_count_the_largest_groups_at_once():
    """The memory check of ``--streams K`` adds the ``K`` largest groups' estimates."""
    grid = {"model": "matrix", "optimizer": "Adam", "d": [10, 40, 20], "ntrain": 64}
    runs = simulate_module.expand(simulate_module.checked_grid(grid | {"N": 20, "batch_size": 16}))
    plan = SimpleNamespace(groups=list(simulate_module.groups(runs)))
    shapes = [simulate_module.group_shape(group) for group in plan.groups]
    sizes = sorted(group_memory(*shape, device="cuda") for shape in shapes)
    assert memory_need(plan, "cuda", None)[0] == sizes[-1]
    assert memory_need(plan, "cuda", None, streams=2)[0] == sizes[-1] + sizes[-2]


def test_a_header_line_records_the_provenance(tmp_path):
    out = tmp_path / "runs.jsonl"
    grid = write_grid(tmp_path, SMALL)
    assert main(["simulate", grid, "--out", str(out)]) == 0
    header = json.loads(out.read_text().splitlines()[0])[HEADER]
    assert {"memlaws", "git_commit", "python", "torch", "device", "date", "command"} <= set(header)
    assert header["device"].startswith("cpu") and header["runs"] == 4
    assert header["command"] == f"memlaws simulate {grid} --out {out}"


def test_lines_keep_the_paper_spelling_whatever_the_input_case(tmp_path):
    out = tmp_path / "runs.jsonl"
    grid = write_grid(tmp_path, SMALL | {"optimizer": ["sgd", "ADAM"], "seed": 0, "d": 4})
    assert main(["simulate", grid, "--out", str(out)]) == 0
    assert [line["optimizer"] for line in read_lines(out)] == ["SGD", "Adam"]


def test_resume_accepts_lower_case_files_of_older_versions(tmp_path):
    grid = write_grid(tmp_path, SMALL | {"optimizer": ["SGD", "Adam"]})
    full = tmp_path / "full.jsonl"
    assert main(["simulate", grid, "--out", str(full)]) == 0
    older = tmp_path / "older.jsonl"  # no header, lower-case optimizers, half the runs
    kept = read_lines(full)[:4]
    older.write_text(
        "".join(json.dumps(x | {"optimizer": x["optimizer"].lower()}) + "\n" for x in kept)
    )
    assert main(["simulate", grid, "--out", str(older), "--resume"]) == 0
    assert len(read_lines(older)) == 8


def test_a_second_run_without_resume_is_refused_and_appends_nothing(tmp_path, capsys):
    out = tmp_path / "runs.jsonl"
    grid = write_grid(tmp_path, SMALL)
    assert main(["simulate", grid, "--out", str(out)]) == 0
    before = out.read_bytes()
    assert main(["simulate", grid, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "already holds 4 of this grid's 4 runs" in error and "--resume" in error
    assert out.read_bytes() == before


def test_another_grid_may_append_to_the_same_file(tmp_path):
    out = tmp_path / "runs.jsonl"
    assert main(["simulate", write_grid(tmp_path, SMALL), "--out", str(out)]) == 0
    assert main(["simulate", write_grid(tmp_path, SMALL | {"d": 5}), "--out", str(out)]) == 0
    assert len(read_lines(out)) == 6


@pytest.mark.parametrize("resume", [True, False])
def test_a_line_cut_by_a_kill_is_set_aside_with_a_warning(tmp_path, capsys, resume):
    grid = write_grid(tmp_path, SMALL)
    out = tmp_path / "runs.jsonl"
    assert main(["simulate", grid, "--out", str(out)]) == 0
    full = read_lines(out)
    cut = out.read_bytes()[:-40]  # the last line loses its end (and its newline)
    if not resume:  # keep only the header and the cut line: none of the grid's runs is whole
        lines = cut.split(b"\n")
        cut = lines[0] + b"\n" + lines[-1]
    out.write_bytes(cut)
    arguments = ["simulate", grid, "--out", str(out), *(["--resume"] if resume else [])]
    assert main(arguments) == 0
    assert "was cut off by an interrupted run" in capsys.readouterr().err
    assert (tmp_path / "runs.jsonl.partial").read_bytes() == cut.split(b"\n")[-1] + b"\n"
    lines = read_lines(out)  # every line parses: nothing was glued onto the cut one
    assert sorted(map(key, lines)) == sorted(map(key, full))
    assert {key(x): x["error"] for x in lines} == {key(x): x["error"] for x in full}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 2 is not a JSON line"),
        ("[1, 2]", "line 2 is not a JSON object"),
        ('{"model": "matrix"}', "line 2 is not a run of memlaws simulate: it has no field"),
    ],
)
def test_a_bad_line_is_named_by_its_number(tmp_path, capsys, line, message):
    grid = write_grid(tmp_path, SMALL)
    out = tmp_path / "runs.jsonl"
    assert main(["simulate", grid, "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    lines[1] = line
    out.write_text("\n".join(lines) + "\n")
    assert main(["simulate", grid, "--out", str(out), "--resume"]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_value_in_a_line_is_named_by_its_number(tmp_path, capsys):
    grid = write_grid(tmp_path, SMALL)
    out = tmp_path / "runs.jsonl"
    assert main(["simulate", grid, "--out", str(out)]) == 0
    out.write_text(out.read_text().replace('"seed": 1', '"seed": -1', 1))
    assert main(["simulate", grid, "--out", str(out), "--resume"]) == 2
    error = capsys.readouterr().err
    assert "runs.jsonl line 3" in error and "seed must be an integer >= 0" in error


def test_interrupted_sweep_ends_with_whole_lines_and_how_to_resume(tmp_path, capsys, monkeypatch):
    grid = write_grid(tmp_path, SMALL | {"d": [4, 5, 6, 7]})
    out = tmp_path / "runs.jsonl"
    trained = []

    def interrupted(family, device="cpu"):
        if len(trained) == 2:
            raise KeyboardInterrupt
        trained.append(family)
        return simulate_module_family_lines(family, device)

    simulate_module_family_lines = simulate_module.family_lines
    monkeypatch.setattr(simulate_module, "family_lines", interrupted)
    assert main(["simulate", grid, "--out", str(out)]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"interrupted: 4 runs written to {out}; rerun with --resume to continue"
    )
    assert len(read_lines(out)) == 4
    monkeypatch.undo()
    assert main(["simulate", grid, "--out", str(out), "--resume"]) == 0
    assert len(read_lines(out)) == 8 and len({key(x) for x in read_lines(out)}) == 8


ROOT = Path(__file__).resolve().parent.parent


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a test runner's worker may ignore SIGINT


def test_a_real_sigint_ends_cleanly_with_whole_lines(tmp_path):
    """SIGINT to a real ``memlaws simulate`` process: exit 130, every line whole, and one last
    line saying how many runs were written and how to resume."""
    grid = {"model": "exponential", "N": 20, "d": list(range(2, 2002)), "ntrain": 512}
    out = tmp_path / "runs.jsonl"
    command = [sys.executable, "-m", "memlaws.theory.cli", "simulate", write_grid(tmp_path, grid)]
    environment = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [*command, "--out", str(out)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 120
        while not out.exists() or out.read_text().count("\n") < 3:
            assert process.poll() is None and time.monotonic() < deadline, "no run was written"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=60)
    finally:
        process.kill()
    written = read_lines(out)  # every line parses
    assert process.returncode == 130
    assert errors.splitlines()[-1] == (
        f"interrupted: {len(written)} runs written to {out}; rerun with --resume to continue"
    )
    assert "Traceback" not in errors and 2 <= len(written) < 2000
    assert out.read_text().endswith("\n")
