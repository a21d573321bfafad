"""One-pass training of the paper's models (``memlaws.kernel.setup``), batched over seeds × step
sizes: the loop.

The ``R = S·L`` runs of ``S`` seeds × ``L`` step sizes form one replica axis (replica
``r = s·L + l``). Each step hands a model (``memlaws.kernel.models``) its ``Batch``; the model
computes the gradients by hand and its optimizer (``memlaws.kernel.optimizers``) moves the
parameters in place.

On the CPU every op runs on one thread; at ``d ≥ SHARD_MIN_DIM`` (``DENSE_SHARD_MIN_DIM`` for
models that keep a dense ``d × d`` memory) the replicas are split into shards trained side by
side, one thread each. Neither changes a number of the paths that are sharded: their ops give
each replica the same result whatever the number of replicas or threads (checked bit for bit at
d = 200–500). Not universal: the hidden-vector path (matrix SGD with layer norm from a random
``W₀``, never sharded) has products that round by batch shape, so at d = N = 100, B = 1 a run's
final ``W`` differs between groups of 6 and of 3 replicas; a run's numbers are fixed by its
group (``memlaws simulate`` always forms the same groups).

On a CUDA device, steps run in chunks of ``GRAPH_STEPS`` captured once as a CUDA graph and
replayed (``StepChunks``): a step at small ``d`` is a few dozen launches of tiny kernels, so
launches, not the kernels, set its time; the chunked path changes no number (checked bit for bit
on the CPU, where it runs without a graph).

Errors are exact: the argmax of all ``N`` tokens' logits (layer norm, a positive rescaling,
never changes it) against ``f*``, weighted by ``p``, ``O(N·d·M)`` once ``W U`` is known.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

from memlaws.kernel.data import sample_tokens, zipf_probabilities
from memlaws.kernel.memory import population_error, readout
from memlaws.kernel.models import Batch, Dense, Model, build_model, model_class
from memlaws.kernel.optimizers import (
    REPEAT_PRODUCT_MAX_ROWS,
    Optimizer,
    RowSet,
    adam_block_rows,
    moves_distinct_rows,
    row_sets,
)
from memlaws.kernel.setup import (
    TrainingResult,
    TrainingSetup,
    initial_parameters,
    recorded_steps,
    training_targets,
)
from memlaws.kernel.validation import (
    flag,
    int_in_range,
    nonnegative_int,
    seed_list,
    step_size_list,
)

SHARD_THREADS = 2  # CPU threads that train disjoint sets of replicas at once
SHARD_MIN_DIM = 200  # below, a step is small ops whose Python work one thread must do (the GIL)
# Dense steps at d = 100 are mostly products, run without the GIL: two shards train whole
# groups 1.2 to 1.6 times faster there (at d = 50, 0.9 to 1.2 times). Not Hidden: its final
# W = c·W₀ − Eᵀ A at d = N = 100 rounds otherwise in a product over fewer replicas
DENSE_SHARD_MIN_DIM = 100
ROW_SET_MAX_TOKENS_PER_ROW = 64  # row sets are formed in bulk when N ≤ this × B
ONEHOT_CHUNK = 2**18  # one-hot targets are formed for this many entries' worth of steps at once
GRAPH_STEPS = 32  # steps per captured CUDA graph (StepChunks)
GRAPH_WARMUP_STEPS = 2  # steps run eagerly, on a side stream, before a graph is captured
# one capture at a time in a process: entering a capture empties torch's allocator cache, which
# torch refuses while another thread's capture is under way (families may train side by side in
# threads, memlaws.theory.simulate); the others go on replaying and stepping meanwhile
_CAPTURE = threading.Lock()


def train(
    setup: TrainingSetup,
    seeds: int | Sequence[int],
    lrs: float | Sequence[float],
    *,
    targets: object | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    record_every: int = 0,
    return_params: bool = False,
    graph_steps: int | None = None,
    checkpoints: Sequence[int] = (),
) -> TrainingResult:
    """Train ``setup`` for every seed × step size at once; population errors ``[S, L]``.

    A seed fixes the embeddings, ``W₀`` and the data (``memlaws.kernel.data.sample_tokens``);
    ``targets`` is ``f*`` (default ``x mod M``). ``record_every = k > 0`` also records the error
    every ``k`` steps (``TrainingResult.curves``); ``return_params`` returns the final parameters.
    ``graph_steps = C > 0`` runs ``C`` steps at a time on static copies of their batches, captured
    as one CUDA graph on a CUDA device (``GRAPH_STEPS`` there by default, where the setup allows:
    ``StepChunks``); ``0`` runs step by step (the default on the CPU, where chunks only serve to
    check, bit for bit, that they change no number). ``checkpoints``: steps ``t`` at which the
    errors and divergence flags are also kept (``TrainingResult.checkpoints``): under a schedule
    that does not depend on ``niter``, those of the same setup trained on ``T = t·B`` tokens,
    whose sample is this one's first ``T`` tokens (``memlaws.kernel.data.sample_tokens``).
    """
    if not isinstance(setup, TrainingSetup):
        raise ValueError(f"setup must be a TrainingSetup, got {type(setup).__name__}")
    seed_values = seed_list("seeds", seeds)
    lr_values = step_size_list("lrs", lrs)
    nonnegative_int("record_every", record_every)
    flag("return_params", return_params)
    stops = checkpoint_steps(checkpoints, setup.niter)
    on_cpu = torch.device(device).type == "cpu"
    if graph_steps is None:
        # above REPEAT_PRODUCT_MAX_ROWS rows, add_rows_'s sort may wait for the device
        rows_summed = (
            setup.batch_size > setup.n_tokens or setup.batch_size <= REPEAT_PRODUCT_MAX_ROWS
        )
        graph_steps = GRAPH_STEPS if not on_cpu and graphable(setup) and rows_summed else 0
    elif nonnegative_int("graph_steps", graph_steps) and not graphable(setup):
        raise ValueError(
            "graph_steps applies to a constant schedule and Adam without moments (betas (0, 0)) "
            f"only; got schedule {setup.schedule!r}, betas {setup.betas!r}: use 0"
        )
    labels = training_targets(setup, targets).to(device)
    n_seeds, n_lrs = len(seed_values), len(lr_values)
    shards = replica_shards(setup, n_seeds * n_lrs, device)
    with intra_op_threads(1) if on_cpu else contextlib.nullcontext():
        outcomes = _train_shards(
            setup, seed_values, lr_values, labels, shards, dtype, record_every, graph_steps, stops
        )
    curves = torch.cat([outcome.curve for outcome in outcomes])  # [R, len(steps) or 1]
    finite = torch.cat([outcome.finite for outcome in outcomes])
    final = {}
    if return_params:
        for name in outcomes[0].params:
            value = torch.cat([outcome.params[name] for outcome in outcomes]).cpu()
            final[name] = value.reshape(n_seeds, n_lrs, *value.shape[1:])
    return TrainingResult(
        errors=curves[:, -1].reshape(n_seeds, n_lrs),
        niter=setup.niter,
        diverged=~finite.view(n_seeds, n_lrs),
        steps=recorded_steps(setup.niter, record_every),
        curves=curves.reshape(n_seeds, n_lrs, -1) if record_every else None,
        params=final,
        checkpoints={
            step: (
                torch.cat([outcome.stops[k][0] for outcome in outcomes]).view(n_seeds, n_lrs),
                ~torch.cat([outcome.stops[k][1] for outcome in outcomes]).view(n_seeds, n_lrs),
            )
            for k, step in enumerate(stops)
        },
    )


def checkpoint_steps(checkpoints: object, niter: int) -> list[int]:
    """``checkpoints`` as a sorted list of distinct steps, each an integer in ``[1, niter]``."""
    if isinstance(checkpoints, (str, bytes)) or not hasattr(checkpoints, "__iter__"):
        raise ValueError(f"checkpoints must be a sequence of steps, got {checkpoints!r}")
    return sorted(
        {int_in_range(f"checkpoints[{i}]", step, 1, niter) for i, step in enumerate(checkpoints)}
    )


def _train_shards(
    setup: TrainingSetup,
    seeds: list[int],
    lrs: list[float],
    labels: torch.Tensor,
    shards: list[slice],
    dtype: torch.dtype,
    record_every: int,
    graph_steps: int,
    stops: list[int],
) -> list[_Replicas]:
    """Draw every replica's parameters and data (replica ``r = s·L + l``), then train each shard
    of replicas, side by side in threads when there are several."""
    device, n_lrs = labels.device, len(lrs)
    probabilities = zipf_probabilities(setup.n_tokens, setup.alpha)
    initial = initial_parameters(setup, seeds, dtype=dtype, device=device)
    params = {name: value.repeat_interleave(n_lrs, dim=0) for name, value in initial.items()}
    tokens = _tokens(tuple(seeds), setup.n_tokens, setup.alpha, setup.n_samples)
    tokens = tokens.to(device).repeat_interleave(n_lrs, dim=0)
    lr = torch.tensor(lrs, dtype=dtype, device=device).repeat(len(seeds))
    steps = recorded_steps(setup.niter, record_every)
    block_rows = adam_block_rows(setup, len(lr), device)

    def run(shard: slice) -> _Replicas:
        part = {name: value[shard] for name, value in params.items()}
        return _Replicas(
            setup,
            part,
            tokens[shard],
            lr[shard],
            labels,
            probabilities,
            steps,
            block_rows,
            graph_steps,
            stops,
        )

    if len(shards) == 1:
        return [run(shards[0])]
    with ThreadPoolExecutor(len(shards)) as pool:
        return list(pool.map(run, shards))


@functools.lru_cache(maxsize=2)  # at T = 102400, 10 seeds: 8 MB each
def _tokens(seeds: tuple[int, ...], n_tokens: int, alpha: float, n_samples: int) -> torch.Tensor:
    """The seeds' samples ``[S, T]`` (read only): a sweep trains group after group on them."""
    probabilities = zipf_probabilities(n_tokens, alpha)
    return torch.stack([sample_tokens(probabilities, n_samples, s) for s in seeds])


def replica_shards(
    setup: TrainingSetup, n_replicas: int, device: str | torch.device
) -> list[slice]:
    """Contiguous sets of replicas trained side by side on the CPU, one per thread torch may use
    (at most ``SHARD_THREADS``) when ``d ≥ SHARD_MIN_DIM``, or ``DENSE_SHARD_MIN_DIM`` for the
    ``Dense`` model; else one set. Replicas never
    interact, and every product gives each replica the same numbers whatever the batch, so this
    changes no number."""
    count = min(torch.get_num_threads(), SHARD_THREADS, n_replicas)
    least = DENSE_SHARD_MIN_DIM if model_class(setup) is Dense else SHARD_MIN_DIM
    if torch.device(device).type != "cpu" or setup.dim < least:
        count = 1
    bounds = [n_replicas * k // count for k in range(count + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


@contextlib.contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Run with ``count`` intra-op threads, then restore torch's setting. Training on the CPU runs
    one thread per shard: a parallel op waits for every core at each call, which costs more than
    it saves on ops this small, and far more on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Replicas:
    """Train one set of replicas: ``curve`` holds their errors at the recorded steps, float64
    ``[R, len(steps)]`` (the final error alone, ``[R, 1]``, without recorded steps); ``params``
    their final parameters; ``finite`` (bool ``[R]``, CPU) whether all of a replica's are;
    ``stops``, the errors and ``finite`` at each checkpoint step."""

    def __init__(
        self,
        setup: TrainingSetup,
        params: dict[str, torch.Tensor],
        tokens: torch.Tensor,
        lr: torch.Tensor,
        labels: torch.Tensor,
        probabilities: torch.Tensor,
        steps: list[int],
        block_rows: int,
        graph_steps: int = 0,
        checkpoints: Sequence[int] = (),
    ) -> None:
        params = {name: value.contiguous() for name, value in params.items()}
        optimizer = Optimizer(setup, lr, block_rows)
        model = build_model(setup, params, optimizer)
        # a step's row set costs O(R·N) formed in bulk, against torch.unique's O(R·B) per step
        small = setup.n_tokens <= ROW_SET_MAX_TOKENS_PER_ROW * setup.batch_size
        distinct = small and "E" in setup.learned and moves_distinct_rows(setup, tokens.device)
        batches = _Batches(setup, tokens, labels, params["E"].dtype, distinct)

        def error() -> torch.Tensor:
            return population_error(readout(model.scores()), labels, probabilities)

        recorded, stops = set(steps), set(checkpoints)
        curve = [error()] if steps else []
        self.stops: list[tuple[torch.Tensor, torch.Tensor]] = []
        chunks = StepChunks(model, batches, graph_steps) if graph_steps else None
        t = 0
        while t < setup.niter:
            if chunks is not None and chunks.fits(t, setup.niter, recorded | stops):
                chunks.run(t)
                t += graph_steps
            elif chunks is not None:
                chunks.step(t)
                t += 1
            else:
                model.step(batches.at(t), setup.schedule_factor(t))
                t += 1
            if t in recorded or t in stops:
                now = error()
                if t in recorded:
                    curve.append(now)
                if t in stops:
                    self.stops.append((now, _finite(model.parameters())))
        self.curve = torch.stack(curve if steps else [error()], dim=-1)
        self.params = model.parameters()
        self.finite = _finite(self.params)


def _finite(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Whether all of each replica's parameters are finite, bool ``[R]`` on the CPU."""
    finite = [value.isfinite().flatten(1).all(1) for value in params.values()]
    return torch.stack(finite).all(0).cpu()


class _Batches:
    """Every step's ``Batch`` from the replicas' tokens ``[R, T]``: the ``B`` tokens' rows, their
    one-hot targets and weight ``1/B`` (and, if ``distinct``, the rows' ``RowSet``, for an
    optimizer that moves distinct rows only); or, when ``B > N``, every token (rows ``None``)
    weighted by the batch's per-token counts ``/ B``. One-hot targets and row sets are formed
    ``ONEHOT_CHUNK`` entries at a time, for many steps at once."""

    def __init__(
        self,
        setup: TrainingSetup,
        tokens: torch.Tensor,
        labels: torch.Tensor,
        dtype: torch.dtype,
        distinct: bool = False,
    ) -> None:
        n_replicas, n, b = tokens.shape[0], setup.n_tokens, setup.batch_size
        offsets = torch.arange(n_replicas, device=tokens.device)[:, None] * n
        batched = tokens.view(n_replicas, setup.niter, b).transpose(0, 1)  # [niter, R, B]
        self.onehot = torch.eye(setup.n_classes, dtype=dtype, device=tokens.device)
        self.folded = b > n
        if self.folded:
            counts = torch.zeros(setup.niter, n_replicas, n, dtype=dtype, device=tokens.device)
            counts.scatter_add_(2, batched, torch.ones_like(batched, dtype=dtype))
            self.weights = counts.unsqueeze(-1) / b
            self.all_targets = self.onehot[labels].expand(n_replicas, n, setup.n_classes)
        else:
            self.batch_rows = (batched + offsets).contiguous()
            self.batch_tokens = batched.contiguous()
            self.token_targets = self.onehot[labels]  # [N, M]
            self.weight = 1 / b
            self.chunk = max(1, ONEHOT_CHUNK // (n_replicas * b * setup.n_classes))
            self.targets, self.start = self.onehot[:0], -self.chunk
            self.n_tokens = n if distinct else 0
            self.set_chunk = max(1, ONEHOT_CHUNK // (n_replicas * n))
            self.sets: list[RowSet] = []
            self.set_start = -self.set_chunk

    def at(self, t: int) -> Batch:
        """The batch of step ``t`` (steps are asked for in increasing order; they may skip)."""
        if self.folded:
            return Batch(None, self.all_targets, self.weights[t])
        if not 0 <= t - self.start < self.chunk:  # index_select: 4 times faster than indexing
            self.start = t
            self.targets = self.targets_of(self.batch_tokens[t : t + self.chunk])
        rows, targets = self.batch_rows[t], self.targets[t - self.start]
        if not self.n_tokens:
            return Batch(rows, targets, self.weight)
        if not 0 <= t - self.set_start < self.set_chunk:
            self.set_start = t
            self.sets = row_sets(self.batch_rows[t : t + self.set_chunk], self.n_tokens)
        return Batch(rows, targets, self.weight, self.sets[t - self.set_start])

    def targets_of(self, tokens: torch.Tensor) -> torch.Tensor:
        """One-hot targets ``[..., M]`` of ``tokens`` ``[...]``."""
        return self.token_targets.index_select(0, tokens.flatten()).view(*tokens.shape, -1)


def graphable(setup: TrainingSetup) -> bool:
    """Whether ``setup``'s steps can be replayed from a captured graph: every step then does the
    same ops with the same Python numbers (a constant schedule; Adam without the step-counted
    bias corrections of its moments)."""
    return setup.schedule == "constant" and setup.betas == (0.0, 0.0)


class StepChunks:
    """Runs ``count`` consecutive steps at a time on static copies of their batches: the
    batches' tokens (or folded weights) are copied into buffers that every chunk reuses, and the
    steps read them there. On a CUDA device the chunk's steps are captured once as a CUDA graph
    (after ``GRAPH_WARMUP_STEPS`` eager steps on a side stream) and replayed: one launch for
    ``count`` steps' kernels. On the CPU the steps run as written, which checks that the
    static copies change no number."""

    def __init__(self, model: Model, batches: _Batches, count: int) -> None:
        self.model, self.batches, self.count = model, batches, count
        self.factor = model.setup.schedule_factor(0)  # constant: see graphable
        source = batches.weights if batches.folded else batches.batch_rows
        self.device = source.device
        if batches.folded:
            self.weights = torch.empty_like(batches.weights[:count])
        else:
            self.rows = torch.empty_like(batches.batch_rows[:count])
            self.tokens = torch.empty_like(batches.batch_tokens[:count])
        self.graph: torch.cuda.CUDAGraph | None = None
        self.side = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def fits(self, t: int, niter: int, recorded: set[int]) -> bool:
        """Whether steps ``t … t + count − 1`` can run as a chunk: all exist, the warm-up is
        done on a CUDA device, and no error is recorded inside the chunk (at its end it may)."""
        warm = self.device.type != "cuda" or t >= GRAPH_WARMUP_STEPS
        inside = any(t < step < t + self.count for step in recorded)
        return warm and t + self.count <= niter and not inside

    def step(self, t: int) -> None:
        """Step ``t`` alone, eagerly: on a CUDA device on a side stream, as a graph's warm-up
        must be (lazily made state, such as a library's work space, is then not captured)."""
        if self.side is None:
            self.model.step(self.batches.at(t), self.factor)
            return
        self.side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.side):
            self.model.step(self.batches.at(t), self.factor)
        torch.cuda.current_stream(self.device).wait_stream(self.side)

    def run(self, t: int) -> None:
        """Steps ``t … t + count − 1``."""
        chunk = slice(t, t + self.count)
        if self.batches.folded:
            self.weights.copy_(self.batches.weights[chunk])
        else:
            self.rows.copy_(self.batches.batch_rows[chunk])
            self.tokens.copy_(self.batches.batch_tokens[chunk])
        if self.device.type != "cuda":
            self._steps()
            return
        if self.graph is None:
            self.graph = torch.cuda.CUDAGraph()
            # captured on this chunker's own stream, and only this thread's calls can break
            # it: families may train side by side in threads (memlaws.theory.simulate)
            capture = torch.cuda.graph(
                self.graph, stream=self.side, capture_error_mode="thread_local"
            )
            with _CAPTURE, capture:
                self._steps()
        self.graph.replay()

    def _steps(self) -> None:
        batches = self.batches
        if batches.folded:
            for c in range(self.count):
                self.model.step(Batch(None, batches.all_targets, self.weights[c]), self.factor)
            return
        targets = batches.targets_of(self.tokens)
        for c in range(self.count):
            self.model.step(Batch(self.rows[c], targets[c], batches.weight), self.factor)
