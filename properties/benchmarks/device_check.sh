#!/usr/bin/env bash
# The GPU checks in one go, for a session with a CUDA device (logs under $OUT, default ./device-logs):
# the CPU/CUDA agreement tests (with reproducibility on CUDA), a few groups with and without
# CUDA graphs, the score kernel's bandwidth by the torch and the Triton kernels, and the paper's
# whole grid through `memlaws simulate --device cuda`, timed one family after another and with
# --streams 8 (the same lines both ways). Each part is bounded; the whole within BUDGET seconds.
# One call: `OUT=$OUT bash properties/benchmarks/device_check.sh`; split over two calls made at
# once (the machine stays warm 30 s): PARTS="agreement graphs bandwidth", then PARTS=grid.
set -uo pipefail
OUT="${OUT:-device-logs}"
# the whole script keeps within BUDGET seconds (one device call runs 600 s at most): the two
# grid runs, last, get what is left
deadline=$((SECONDS + ${BUDGET:-560}))
# the device image's interpreter with torch is python3; a plain `python` may not exist there
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
mkdir -p "$OUT"
# memlaws.kernel and memlaws.theory are kernel/ and theory/ mapped by the installed package; on a
# machine where it is not installed (no index to install from), a folder of links stands in.
if ! "$PYTHON" -c "import memlaws.kernel, memlaws.theory" 2>/dev/null; then
    links=$(mktemp -d)
    mkdir -p "$links/memlaws"
    ln -s "$PWD/kernel" "$links/memlaws/kernel"
    ln -s "$PWD/theory" "$links/memlaws/theory"
    export PYTHONPATH="$links:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PYTHON" -c "import memlaws.kernel, memlaws.theory, properties" || { echo "memlaws not importable" | tee "$OUT/summary.txt"; exit 1; }
nvidia-smi > "$OUT/machine.txt" 2>&1
"$PYTHON" -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" >> "$OUT/machine.txt" 2>&1
: > "$OUT/summary.txt"
# PARTS picks what runs (all four by default), so that a short lease can split them over two calls
PARTS=" ${PARTS:-agreement graphs bandwidth grid} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
if part agreement; then
    # `tox -e gpu`'s command (tox cannot be installed there: nothing can be fetched), on 8 of the
    # machine's 16 cores; without --ignore it would also run the benchmarks, the grid among them
    timeout 270 "$PYTHON" -m pytest -m gpu --ignore=properties/benchmarks -q -p no:cacheprovider \
        -n 8 --durations=15 > "$OUT/agreement.log" 2>&1
    echo "agreement tests: exit $?, $(tail -1 "$OUT/agreement.log")" | tee -a "$OUT/summary.txt"
fi
# the grid's steps: CUDA graphs unless the graphs part fails below (or GRID_STEPS says)
grid_steps="${GRID_STEPS:-graphs}"
if part graphs; then
timeout 100 "$PYTHON" - > "$OUT/graphs.log" 2>&1 <<'PY'
# whole 40-run groups with their steps replayed from CUDA graphs (the default) and launched one
# by one (graph_steps=0): the B = 16 groups are launch-bound, and set the grid's time
import json, time, torch
from memlaws.kernel.setup import TrainingSetup
from memlaws.kernel.training import train
groups = [("matrix", "sgd", False, 10, 16, 10240), ("learnable", "adam", True, 100, 16, 10240),
          ("exponential", "sgd", True, 50, 16, 10240), ("matrix", "adam", False, 1000, 16, 10240)]
train(TrainingSetup("matrix", "sgd", 100, 5, 10, 2.0, 1024, 16), [0], [1.0], device="cuda")
for model, optimizer, layernorm, dim, batch, ntrain in groups:
    setup = TrainingSetup(model, optimizer, 100, 5, dim, 2.0, ntrain, batch, layernorm=layernorm)
    timed = {}
    for name, graph_steps in (("eager", 0), ("graphs", None)):
        torch.cuda.synchronize(); start = time.perf_counter()
        errors = train(setup, list(range(10)), [0.1, 1.0, 10.0, 100.0], device="cuda",
                       graph_steps=graph_steps).errors
        timed[name] = time.perf_counter() - start
        timed[name + "_errors_sum"] = float(errors.sum())
    print(json.dumps({"group": [model, optimizer, layernorm, dim, batch, ntrain], **timed,
                      "speedup": timed["eager"] / timed["graphs"]}), flush=True)
PY
graphs_exit=$?
echo "graphs against eager steps: exit $graphs_exit" | tee -a "$OUT/summary.txt"
# if the graphs failed there, time the grid with eager steps rather than lose the measurement
[ "$graphs_exit" = 0 ] || grid_steps=eager
fi
if part bandwidth; then
    timeout 100 "$PYTHON" -m pytest properties/benchmarks/test_gpu_speed.py -m gpu \
        --benchmark-only -k bandwidth --benchmark-json="$OUT/bandwidth.json" -q \
        -p no:cacheprovider > "$OUT/bandwidth.log" 2>&1
    echo "bandwidth benchmark: exit $?" | tee -a "$OUT/summary.txt"
fi
part grid || exit 0
# the grid last, and bounded: the device's time is short (308 s before the graphs). First one
# family after another (the default), then 8 families at once on CUDA streams (--streams 8);
# both must write the same lines
finished=""
for streams in 1 8; do
    left=$((deadline - SECONDS)); limit=$((left < 240 ? left : 240))
    # with time for both, a minute is kept for --streams 8; else the default takes it all
    [ "$streams" = 1 ] && [ "$left" -ge 150 ] && [ "$limit" -gt $((left - 60)) ] &&
        limit=$((left - 60))
    if [ "$limit" -lt 30 ]; then
        echo "paper grid on cuda, --streams $streams: not run, ${left} s left" | tee -a "$OUT/summary.txt"
        continue
    fi
    timeout "$limit" "$PYTHON" - "$OUT" "$grid_steps" "$streams" >> "$OUT/grid.log" 2>&1 <<'PY'
import json, sys, time
from memlaws.kernel import training
from properties.benchmarks.grid_projection import PAPER_GRID
from memlaws.theory.simulate import checked_grid, expand, simulate
if sys.argv[2] == "eager":
    training.GRAPH_STEPS = 0  # train reads it at each call: every group steps eagerly
runs, streams = expand(checked_grid(PAPER_GRID)), int(sys.argv[3])
start = time.perf_counter()
with open(f"{sys.argv[1]}/grid-streams{streams}.jsonl", "w") as out:
    simulate(runs, out, device="cuda", streams=streams)
seconds = time.perf_counter() - start
print(json.dumps({"runs": len(runs), "steps": sys.argv[2], "streams": streams,
                  "seconds": seconds, "runs_per_second": len(runs) / seconds}))
PY
    grid_exit=$?
    [ "$grid_exit" = 0 ] && finished="$finished $streams"
    echo "paper grid on cuda, --streams $streams: exit $grid_exit, $(tail -1 "$OUT/grid.log")" | tee -a "$OUT/summary.txt"
done
if [ "$finished" != " 1 8" ]; then same="not compared (finished:${finished:- none})"
elif cmp -s "$OUT/grid-streams8.jsonl" "$OUT/grid-streams1.jsonl"; then same=yes; else same=no; fi
echo "grid lines the same with --streams 8 and 1: $same" | tee -a "$OUT/summary.txt"
# 8 files at most come back (summary, machine, 4 logs, bandwidth.json, this archive)
grids=$(cd "$OUT" && ls grid-streams*.jsonl 2>/dev/null)
[ -n "$grids" ] && tar -czf "$OUT/grids.tar.gz" -C "$OUT" $grids && (cd "$OUT" && rm -f $grids)
