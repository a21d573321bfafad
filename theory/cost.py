"""What a batched ``memlaws.kernel.training.train`` call costs before it runs: its peak memory,
from the tensor shapes of ``kernel/models.py`` and ``kernel/optimizers.py``, and a rough time,
from a per-step cost model fitted on a 2-core CPU (``TIME_MODEL``), which
``memlaws.theory.machine_speed`` scales to the machine it runs on.

A group of ``R = S·L`` replicas (``S`` seeds × ``L`` step sizes) holds, in float32 unless said:

- the per-seed draws (``E`` ``[S, N, d]``, ``W₀`` ``[S, d, d]``, ``U`` ``[S, d, M]``): the
  cache of the last two groups' draws (``memlaws.kernel.setup``; counted at this group's size)
  and this call's copy, then the replicas' parameters (the same with ``R``); while ``W₀`` is
  drawn, the generator's 64-row blocks, their stack and its scaled copy (about ``3·S·d²``);
- the tokens, int64: the cache of the last two groups' samples ``[S, T]``, the replicas' sample
  ``[R, T]``, each step's rows and targets (``2·R·T``); with ``B > N`` the folded per-token
  counts and weights ``[T/B, R, N]`` (twice);
- the model's own state (``memlaws.kernel.models``): ``Hidden``'s ``H``, ``A`` (``[R, N, d]``)
  and ``Γ`` (``[R, N, N]``), ``LowRank``'s ``[R, M, d]`` factors;
- Adam's work tensors: a block of ``∇W`` and its denominator (a cache-sized block on the CPU,
  ``[R, d, d]`` on a GPU); for learned embeddings a dense ``∇E`` ``[R, N, d]`` and its
  denominator, or only the batch's rows where Adam moves those alone; with moments, two
  tensors the size of each learned parameter;
- a step's temporaries: ``[R, K, d]`` rows (``K = min(B, N)``), several with layer norm;
- the final readout (scores ``[R, N, M]``, argmax and float64 weights ``[R, N]``) and the
  finiteness check: a bool per parameter entry, and for the models that keep ``W`` factored
  (``LowRank``, ``Hidden``) the dense ``W`` rebuilt twice (``[R, d, d]``).

The estimate excludes the interpreter and its libraries (``BASELINE_BYTES``, measured) and adds
what a process's first ``train`` call takes beyond its tensors (``FIRST_CALL_BYTES``, measured).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from memlaws.kernel.models import Exponential, Hidden, LowRank, model_class
from memlaws.kernel.optimizers import CHUNK_ELEMENTS, moves_distinct_rows
from memlaws.kernel.setup import TrainingSetup
from memlaws.kernel.training import replica_shards

FLOAT, INDEX, FLOAT64 = 4, 8, 8  # bytes per float32, int64 and float64 entry
DRAW_ROWS = {"E": 1024, "W": 64}  # memlaws.kernel.streams.ROW_BLOCKS of the inputs and of W₀
DRAW_COLUMNS = 64  # memlaws.kernel.streams.COLUMN_BLOCK
DRAW_CACHE = 256 * 1024 * 64 * FLOAT  # memlaws.kernel.streams caches 256 blocks of normal draws
DRAW_CACHE_SETS = 2  # groups whose draws and samples memlaws.kernel keeps cached
BASELINE_BYTES = 250 * 2**20  # RSS of a memlaws process with torch loaded (measured)
# RSS a process's first train call on the CPU adds beyond its tensors (library code, work space):
# 18 to 20 MB measured for a one-replica group at d = 10, every model and optimizer
FIRST_CALL_BYTES = 20 * 10**6

# The time model: seconds per step (Python and dispatch), per multiply-add, per entry of a
# ``d × d`` memory streamed through (read or written), per element pass, per normal draw and per
# seeded generator (``time_features``). The last two were timed alone. The first four were
# fitted on 2026-12-01 (non-negative least squares on the relative error) to 64 families of the
# paper's grid on a 2-core AMD EPYC VM without AVX-512, one torch thread: 40 drawn at random
# (seed 1) and trained for 100 to 1000 steps, and the 24 that the grid projection times at
# T = 102400. Left out of the fit one at a time, a family's estimate fell within 0.52× to 1.26×
# of its measured time for 80% of them (0.17× to 2.8× at worst: the exponential model on folded
# batches at d = 1000, bound by element passes out of cache; the learnable model under SGD at
# d = 1000, 0.26× to 0.37×, whose rank-M update of W runs at half an element pass's speed in
# MKL; matrix SGD at d = 20, whose steps are fewer ops than most). The former model, fitted on
# another machine, gave 0.06× to 0.58× here. ``memlaws.theory.machine_speed`` scales it to the
# machine it runs on.
# Large groups also pay for touching their memory the first time (page faults, copies):
# ``TOUCH_SECONDS`` per byte of the estimated peak, set from groups of 0.3 to 2 GB. A GPU
# differs: the estimate is for the CPU.
TIME_MODEL = (4.6e-4, 5.2e-11, 9.3e-11, 5.9e-10, 8.0e-9, 1.2e-5)
TOUCH_SECONDS = 0.5e-9


@dataclass(frozen=True)
class Shapes:
    """The sizes a setup trains on: ``R`` replicas of ``S`` seeds, ``K`` rows per step."""

    seeds: int
    replicas: int
    tokens: int
    classes: int
    dim: int
    samples: int
    rows: int
    steps: int

    @classmethod
    def of(cls, setup: TrainingSetup, seeds: int, lrs: int) -> Shapes:
        return cls(
            seeds=seeds,
            replicas=seeds * lrs,
            tokens=setup.n_tokens,
            classes=setup.n_classes,
            dim=setup.dim,
            samples=setup.n_samples,
            rows=min(setup.batch_size, setup.n_tokens),
            steps=setup.niter,
        )


def _rounded(value: int, block: int) -> int:
    return -(-value // block) * block


def _parameter_entries(setup: TrainingSetup, shapes: Shapes) -> int:
    """Entries of ``E``, ``W`` (unless exponential) and ``U`` for one replica."""
    n, d, m = shapes.tokens, shapes.dim, shapes.classes
    return n * d + (0 if setup.model == "exponential" else d * d) + d * m


def _drawing(setup: TrainingSetup, shapes: Shapes) -> int:
    """Peak bytes of the transients while the per-seed embeddings and ``W₀`` are drawn: each
    seed's generator blocks (rows and columns rounded up), their stack and its scaled copy."""
    s, n, d = shapes.seeds, shapes.tokens, shapes.dim
    columns = _rounded(d, DRAW_COLUMNS)
    inputs = s * _rounded(n, DRAW_ROWS["E"]) * columns + 2 * s * n * d
    weights = 0
    if setup.model != "exponential":
        weights = s * n * d + s * _rounded(d, DRAW_ROWS["W"]) * columns + 2 * s * d * d
    return FLOAT * max(inputs, weights)


def _draw_cache(setup: TrainingSetup, shapes: Shapes) -> int:
    """Bytes of the normal blocks ``memlaws.kernel.streams`` keeps cached (at most
    ``DRAW_CACHE``)."""
    columns = _rounded(shapes.dim, DRAW_COLUMNS)
    drawn = _rounded(shapes.tokens, DRAW_ROWS["E"]) * columns
    if setup.model != "exponential":
        drawn += _rounded(shapes.dim, DRAW_ROWS["W"]) * columns
    return min(DRAW_CACHE, FLOAT * shapes.seeds * drawn)


def _cached_sets(device: str) -> int:
    """Groups' draws cached in the device's memory: the cache is on the CPU."""
    return DRAW_CACHE_SETS if device == "cpu" else 0


def _kept(setup: TrainingSetup, shapes: Shapes, device: str) -> int:
    """Bytes of the draws kept through training: the cache's, this call's copy per seed and the
    replicas' parameters."""
    copies = (_cached_sets(device) + 1) * shapes.seeds + shapes.replicas
    return FLOAT * copies * _parameter_entries(setup, shapes)


def _tokens(setup: TrainingSetup, shapes: Shapes, device: str) -> int:
    """Bytes of the cached samples, the replicas' sample and each step's rows, targets or
    folded counts."""
    r, t = shapes.replicas, shapes.samples
    cached = INDEX * _cached_sets(device) * shapes.seeds * t
    if setup.batch_size > setup.n_tokens:
        return cached + INDEX * r * t + 2 * FLOAT * shapes.steps * r * shapes.tokens
    return cached + 3 * INDEX * r * t


def _model_state(setup: TrainingSetup, shapes: Shapes) -> int:
    """Bytes a model class keeps besides the parameters (``memlaws.kernel.models``)."""
    r, n, d, m = shapes.replicas, shapes.tokens, shapes.dim, shapes.classes
    kind = model_class(setup)
    if kind is Hidden:  # H and A [R, N, d], Γ [R, N, N], Uᵀ
        return FLOAT * r * (2 * n * d + n * n + m * d)
    if kind is LowRank:  # c·(W₀U)ᵀ and Aᵀ [R, M, d], UᵀU
        return FLOAT * r * (2 * m * d + m * m + 1)
    return FLOAT * r * m * d  # a copy of Uᵀ


def _optimizer(setup: TrainingSetup, shapes: Shapes, device: str) -> int:
    """Adam's work tensors (SGD keeps none)."""
    if setup.optimizer != "adam":
        return 0
    r, n, d, m = shapes.replicas, shapes.tokens, shapes.dim, shapes.classes
    entries = 2 * r * d * m if "U" in setup.learned else 0  # ∇U and its denominator
    if setup.model != "exponential":
        block = r * d * d if device != "cpu" else min(r * d * d, max(CHUNK_ELEMENTS, r * d))
        entries += 2 * block
    if "E" in setup.learned and moves_distinct_rows(setup, device):
        entries += 3 * r * shapes.rows * d  # the batch's rows of ∇E, their denominator, a copy
    elif "E" in setup.learned:
        entries += 2 * r * n * d  # the dense ∇E and its denominator
    if setup.betas != (0.0, 0.0):  # the moments of every learned parameter
        sizes = {"E": n * d, "W": d * d, "U": d * m}
        entries += 2 * r * sum(sizes[name] for name in setup.learned)
    return FLOAT * entries


def _step(setup: TrainingSetup, shapes: Shapes) -> int:
    """A step's temporaries."""
    r, k, d, m = shapes.replicas, shapes.rows, shapes.dim, shapes.classes
    rows = (8 if setup.layernorm else 3) * r * k * d
    return FLOAT * (rows + 4 * r * d * m + 3 * r * k * m)


def _finish(setup: TrainingSetup, shapes: Shapes) -> int:
    """The readout, then the finiteness check: ``isfinite`` of a parameter makes its absolute
    value and two masks, and keeps one bool per entry; the models that keep ``W`` factored first
    rebuild it dense (twice ``[R, d, d]``)."""
    r, n, d, m = shapes.replicas, shapes.tokens, shapes.dim, shapes.classes
    readout = r * n * (FLOAT * m + INDEX + 1 + 2 * FLOAT64) + FLOAT * r * d * m
    largest = max(n * d, 0 if setup.model == "exponential" else d * d)
    check = r * (FLOAT + 2) * largest + r * _parameter_entries(setup, shapes)
    if model_class(setup) in (LowRank, Hidden):  # W₀·c and the rebuilt W, then the check
        check = max(2 * FLOAT * r * d * d, FLOAT * r * d * d + check)
    return max(readout, check)


def group_memory(setup: TrainingSetup, seeds: int, lrs: int, device: str = "cpu") -> int:
    """Estimated peak bytes of ``train(setup, seeds, lrs)`` on ``device`` beyond the process
    baseline. On the CPU: what a first call adds, the normal blocks' cache, and the larger of
    the drawing phase and the training phase (kept draws, parameters, tokens, the model's
    state, Adam's buffers, and the larger of a step's temporaries and the final readout). On
    another device, the training phase alone: the draws are made on the CPU (``host_memory``)."""
    shapes = Shapes.of(setup, seeds, lrs)
    training = (
        _kept(setup, shapes, device)
        + _tokens(setup, shapes, device)
        + _model_state(setup, shapes)
        + _optimizer(setup, shapes, device)
        + max(_step(setup, shapes), _finish(setup, shapes))
    )
    if device != "cpu":
        return training
    return FIRST_CALL_BYTES + _draw_cache(setup, shapes) + max(_drawing(setup, shapes), training)


def host_memory(setup: TrainingSetup, seeds: int, lrs: int) -> int:
    """Estimated peak bytes of ``train(setup, seeds, lrs)`` on another device that stay on the
    CPU, beyond the process baseline: what a first call adds, the normal blocks' cache, and the
    larger of the drawing phase and the draws and samples ``memlaws.kernel`` keeps cached
    (``DRAW_CACHE_SETS`` groups' worth), from which the device's copies are made."""
    shapes = Shapes.of(setup, seeds, lrs)
    per_seed = FLOAT * _parameter_entries(setup, shapes) + INDEX * shapes.samples
    cached = DRAW_CACHE_SETS * shapes.seeds * per_seed
    return FIRST_CALL_BYTES + _draw_cache(setup, shapes) + max(_drawing(setup, shapes), cached)


def _blocks(value: int, block: int) -> int:
    return -(-value // block)


def _step_work(setup: TrainingSetup, shapes: Shapes) -> tuple[float, float, float]:
    """Multiply-adds, entries of ``d × d`` memories streamed through and element passes of one
    step, per replica, following ``kernel/models.py``'s classes: rank-``M`` SGD
    (``LowRank``), hidden vectors (``Hidden``), a dense memory (``Dense``: products with ``W``
    read it once each, its update reads and writes it) and the exponential model."""
    n, k, d, m = shapes.tokens, shapes.rows, shapes.dim, shapes.classes
    learned = setup.model == "learnable"
    adam = setup.optimizer == "adam"
    # Adam without moments or weight decay moves only the batch's rows of E on the CPU, at most
    # k of them; otherwise all n
    moved = k if moves_distinct_rows(setup, "cpu") else n
    streamed = 0
    kind = model_class(setup)
    if kind is Exponential:
        macs, elements = 3 * k * d * m, 6 * k * d + (6 * moved * d + 5 * d * m if adam else 0)
    elif kind is LowRank:
        macs, elements = 2 * k * d * m + d * m * m, (10 * k * d if setup.layernorm else 4 * k * m)
    elif kind is Hidden:
        macs, elements = n * k * d + 3 * k * d * m, 10 * k * d
    else:  # Dense: W read by each product with it (e W, g_h Wᵀ; or Uᵀ Wᵀ, Pᵀ W), updated
        streamed = (3 + learned) * d * d
        if setup.layernorm:
            macs, elements = (2 + learned) * k * d * d + 3 * k * d * m, 10 * k * d
        else:
            macs, elements = (2 + learned) * d * d * m + 3 * k * d * m, 4 * k * m
    if adam and kind is not Exponential:
        elements += 5 * d * d + (6 * moved * d if learned else 0)
    return float(macs), float(streamed), float(elements)


def _drawing_work(setup: TrainingSetup, shapes: Shapes) -> tuple[float, float]:
    """Normal draws and generators (one per block of ``memlaws.kernel.streams``) of a group's
    seeds."""
    n, d = shapes.tokens, shapes.dim
    column_blocks = _blocks(d, DRAW_COLUMNS)
    draws = _rounded(n, DRAW_ROWS["E"]) * column_blocks * DRAW_COLUMNS
    generators = _blocks(n, DRAW_ROWS["E"]) * column_blocks + _blocks(shapes.samples, 65536)
    if setup.model != "exponential":
        draws += _rounded(d, DRAW_ROWS["W"]) * column_blocks * DRAW_COLUMNS
        generators += _blocks(d, DRAW_ROWS["W"]) * column_blocks
    return float(shapes.seeds * draws), float(shapes.seeds * generators)


def time_features(setup: TrainingSetup, seeds: int, lrs: int) -> tuple[float, ...]:
    """What the time model weighs: steps, multiply-adds, entries of ``d × d`` memories
    streamed, element passes, normal draws and generators of ``train(setup, seeds, lrs)``, the
    final readout included."""
    shapes = Shapes.of(setup, seeds, lrs)
    r, n, d, m = shapes.replicas, shapes.tokens, shapes.dim, shapes.classes
    macs, streamed, elements = _step_work(setup, shapes)
    readout = r * (n * d * m + (0 if setup.model == "exponential" else d * d * m))
    checked = 4 * r * _parameter_entries(setup, shapes)
    draws, generators = _drawing_work(setup, shapes)
    return (
        float(shapes.steps),
        shapes.steps * r * macs + readout,
        shapes.steps * r * streamed,
        shapes.steps * r * elements + checked,
        draws,
        generators,
    )


def group_seconds(
    setup: TrainingSetup,
    seeds: int,
    lrs: int,
    sharded: bool = False,
    speed: Mapping[str, float] | None = None,
) -> float:
    """A rough time of ``train(setup, seeds, lrs)`` on one CPU process (``TIME_MODEL``) with one
    torch thread; with ``sharded``, with this process's threads: a group whose replicas train in
    shards side by side (``memlaws.kernel.training.replica_shards``) takes the time over their
    number. ``speed`` (``memlaws.theory.machine_speed.speed_factors``) scales the cost per step
    by its ``steps`` factor and every other cost by its ``work`` factor."""
    steps, *rest = time_features(setup, seeds, lrs)
    scale = speed or {"steps": 1.0, "work": 1.0}
    work = sum(cost * amount for cost, amount in zip(TIME_MODEL[1:], rest, strict=True))
    work += TOUCH_SECONDS * group_memory(setup, seeds, lrs)
    seconds = scale["steps"] * TIME_MODEL[0] * steps + scale["work"] * work
    return seconds / len(replica_shards(setup, seeds * lrs, "cpu")) if sharded else seconds


def readable_bytes(count: float) -> str:
    """``count`` bytes as ``512 MB`` or ``3.2 GB`` (decimal units)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{max(count, 0) / 1e3:.3g} kB"


def readable_seconds(seconds: float) -> str:
    """``seconds`` as ``40 s``, ``12 min`` or ``3.5 h``."""
    if seconds < 90:
        return f"{max(seconds, 0.1):.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.2g} h" if seconds < 36000 else f"{seconds / 3600:.0f} h"


# The report's peak resident memory (every law and the paper's figures), measured with
# /usr/bin/time on the CI machine (torch 2.13, CPU): 832 MiB at quick (16 seeds), 1345 MiB at
# standard (32 seeds). ``ci`` draws less than ``quick``; ``thorough`` (64 seeds) was not measured
# and is extrapolated linearly in the seeds: an estimate.
REPORT_PEAK_BYTES = {
    "ci": 832 * 2**20,
    "quick": 832 * 2**20,
    "standard": 1345 * 2**20,
    "thorough": 2370 * 2**20,
}


def report_memory(profile: str) -> int:
    """Estimated bytes a ``memlaws report`` (or a calibration) at ``profile`` needs beyond the
    interpreter: its measured peak less ``BASELINE_BYTES``. A subset of the laws is counted as
    the whole report, an upper bound."""
    return max(REPORT_PEAK_BYTES[profile] - BASELINE_BYTES, 0)
