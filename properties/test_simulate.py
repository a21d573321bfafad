"""``memlaws simulate``: one JSON line per run, the same numbers as ``kernel.training.train``,
resumable, and invalid grids refused before any run starts."""

from __future__ import annotations

import json

import pytest

from kernel.training import TrainingSetup, train
from theory import simulate as simulate_module
from theory.cli import main
from theory.simulate import LINE

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
    return [json.loads(line) for line in path.read_text().splitlines()]


def key(line: dict) -> tuple:
    return tuple(line[field] for field in LINE if field != "error")


def test_one_line_per_run_with_the_trainer_numbers(tmp_path, capsys):
    out = tmp_path / "runs.jsonl"
    assert main(["simulate", write_grid(tmp_path, GRID), "--out", str(out)]) == 0
    lines = read_lines(out)
    assert len(lines) == N_RUNS and len({key(line) for line in lines}) == N_RUNS
    assert all(list(line) == list(LINE) for line in lines)
    assert {line["optimizer"] for line in lines} == {"sgd", "adam"}
    assert all(line["niter"] == 128 // line["batch_size"] for line in lines)
    assert all(0 <= line["error"] <= 1 for line in lines)
    assert all(line["M"] == 5 and line["alpha"] == 2.0 and not line["layernorm"] for line in lines)
    line = next(x for x in lines if x["model"] == "exponential" and x["optimizer"] == "adam")
    setup = TrainingSetup("exponential", "adam", 20, 5, 6, 2.0, 128, line["batch_size"])
    expected = train(setup, [line["seed"]], [line["lr"]]).errors
    assert line["error"] == float(expected[0, 0])  # batching seeds and lrs changes nothing
    assert f"{N_RUNS}/{N_RUNS}" in capsys.readouterr().err


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
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [line["seed"] for line in lines] == [0, 1]
    assert all(line["model"] == "matrix" and line["optimizer"] == "sgd" for line in lines)


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
