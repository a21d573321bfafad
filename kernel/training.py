"""One-pass training of the paper's models (reference-setting.md), batched over seeds × step sizes.

For a batch of tokens ``x``, with input embeddings ``E`` (``[N, d]``, rows ``e_x``), a memory
``W`` (``[d, d]``) and output embeddings ``U`` (``[d, M]``, column ``y`` is ``u_y``):

- ``matrix``: ``logits = E[x] W U``, learning ``W`` only;
- ``learnable``: the same logits, learning ``E``, ``W`` and ``U``;
- ``exponential``: ``logits = ReLU(E[x]) U``, learning ``E`` and ``U`` (no ``W``);

optionally with layer norm ``z ↦ z / sqrt(‖z‖² + 1e-6)`` on the ``d``-vector just before ``U``.
The loss is the mean cross-entropy over the batch. The ``R = S·L`` runs of ``S`` seeds × ``L``
step sizes form one replica axis (replica ``r = s·L + l``): every tensor has a leading ``R`` axis
and a step is a handful of batched products, with the gradients written out by hand.

A batch of ``B > N`` tokens is folded into per-token counts, so a step touches ``K = min(B, N)``
rows. Cost of a step per replica:

- SGD on the matrix model without layer norm, or with layer norm from ``W₀ = 0``:
  ``W = c·W₀ − A Uᵀ`` with ``A`` ``[d, M]``, ``O(K·d·M)`` (``_LowRank``);
- SGD on the matrix model with layer norm from a random ``W₀``: only ``H = E W`` (``[N, d]``),
  ``O(N·K·d)`` (``_Hidden``; it rounds otherwise than ``E[x] W``, see its docstring);
- Adam, or the learnable model, without layer norm: ``O(d²·M + K·d·M)`` (``_Dense``; on the
  CPU Adam forms ``∇W`` a block of rows at a time, in cache);
- Adam or the learnable model with layer norm: ``O(K·d²)`` (``_Dense``);
- the exponential model: ``O(K·d·M)``; SGD, and Adam without moments or weight decay on the
  CPU, move only the batch's rows of ``E``.

On the CPU every op runs on one thread; at ``d ≥ SHARD_MIN_DIM`` the replicas are split into
shards trained side by side, one thread each. Neither changes a number: every op gives each
replica the same result whatever the number of replicas or threads.

Errors are exact: the argmax of all ``N`` tokens' logits (layer norm, a positive rescaling,
never changes it) against ``f*``, weighted by ``p``, ``O(N·d·M)`` once ``W U`` is known.

Weight decay is decoupled (``p ← (1 − η·λ) p`` before the step, ``η`` the parameter's scheduled
step size); for SGD this is the same as an L2 penalty ``λ‖p‖²/2``.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch

from memlaws.kernel import streams
from memlaws.kernel.data import checked_targets, modular_targets, sample_tokens, zipf_probabilities
from memlaws.kernel.embeddings import OUTPUT_KINDS, input_embeddings, output_embeddings
from memlaws.kernel.memory import population_error, readout
from memlaws.kernel.validation import (
    choice,
    flag,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    seed_list,
)

MODELS = ("matrix", "learnable", "exponential")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine")
INITS = ("random", "zero")
LEARNED = {"matrix": ("W",), "learnable": ("E", "W", "U"), "exponential": ("E", "U")}
WEIGHTS = streams.WEIGHTS  # stream id of the initial memory W₀
LAYERNORM_EPS = 1e-6
ADAM_EPS = 1e-8
CHUNK_ELEMENTS = 2**19  # on the CPU, Adam forms a product gradient in blocks this large
ONEHOT_CHUNK = 2**18  # one-hot targets are formed for this many entries' worth of steps at once


def step_size_list(name: str, values: object) -> list[float]:
    """Return step sizes as a non-empty list of finite numbers >= 0."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) == 0:
        raise ValueError(
            f"{name} must be a number >= 0 or a non-empty list of them, got {values!r}"
        )
    return [nonnegative_float(f"{name}[{i}]", v) for i, v in enumerate(values)]


@dataclass(frozen=True)
class TrainingSetup:
    """One training configuration; ``train`` runs it for many seeds and step sizes at once.

    ``n_tokens`` N, ``n_classes`` M, ``dim`` d, Zipf exponent ``alpha``; ``n_samples`` T tokens
    seen once, in ``T / batch_size`` consecutive batches. ``init`` is ``W₀`` (entries
    ``N(0, 1/d)`` or zero; the exponential model has no ``W`` and takes only ``"random"``),
    ``outputs`` the draw of ``U`` (``memlaws.kernel.embeddings``). ``schedule``: ``"constant"``;
    ``"step"``, the step size times ``decay_factor`` from step ``decay_step`` on (0-based);
    ``"cosine"``, times ``(1 + cos(π t / niter)) / 2`` at step ``t``. Adam uses ``betas`` and,
    when ``dim_scaled_adam``, steps ``γ/d`` on ``W`` and ``γ/√d`` on ``E`` and ``U``; SGD steps
    ``γ`` (no momentum, ``betas`` must stay ``(0, 0)``). ``weight_decay`` is decoupled.
    """

    model: str
    optimizer: str
    n_tokens: int
    n_classes: int
    dim: int
    alpha: float
    n_samples: int
    batch_size: int
    layernorm: bool = False
    init: str = "random"
    outputs: str = "gaussian"
    schedule: str = "constant"
    decay_step: int = 0
    decay_factor: float = 1.0
    betas: tuple[float, float] = (0.0, 0.0)
    weight_decay: float = 0.0
    dim_scaled_adam: bool = True

    def __post_init__(self) -> None:
        choice("model", self.model, MODELS)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        positive_int("n_tokens", self.n_tokens)
        positive_int("n_classes", self.n_classes)
        if self.n_classes > self.n_tokens:
            raise ValueError(
                f"n_classes must be an integer in [1, n_tokens] = [1, {self.n_tokens}], "
                f"got {self.n_classes}"
            )
        positive_int("dim", self.dim)
        positive_float("alpha", self.alpha)
        positive_int("n_samples", self.n_samples)
        positive_int("batch_size", self.batch_size)
        if self.n_samples % self.batch_size:
            raise ValueError(
                f"n_samples must be a multiple of batch_size = {self.batch_size}, "
                f"got {self.n_samples}"
            )
        flag("layernorm", self.layernorm)
        choice("init", self.init, ("random",) if self.model == "exponential" else INITS)
        choice("outputs", self.outputs, OUTPUT_KINDS)
        choice("schedule", self.schedule, SCHEDULES)
        nonnegative_int("decay_step", self.decay_step)
        nonnegative_float("decay_factor", self.decay_factor)
        if self.schedule != "step" and (self.decay_step, self.decay_factor) != (0, 1.0):
            raise ValueError(
                "decay_step and decay_factor apply to schedule 'step' only; "
                f"got them with schedule {self.schedule!r}"
            )
        if not isinstance(self.betas, tuple) or len(self.betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2) in [0, 1), got {self.betas!r}")
        for i, beta in enumerate(self.betas):
            if nonnegative_float(f"betas[{i}]", beta) >= 1:
                raise ValueError(f"betas[{i}] must be a number in [0, 1), got {beta!r}")
        if self.optimizer == "sgd" and self.betas != (0.0, 0.0):
            raise ValueError(f"betas apply to optimizer 'adam' only; got {self.betas!r} with 'sgd'")
        nonnegative_float("weight_decay", self.weight_decay)
        flag("dim_scaled_adam", self.dim_scaled_adam)

    @property
    def niter(self) -> int:
        """Number of optimisation steps, ``T / B``."""
        return self.n_samples // self.batch_size

    @property
    def learned(self) -> tuple[str, ...]:
        """Names of the trained parameters among ``"E"``, ``"W"``, ``"U"``."""
        return LEARNED[self.model]

    def step_scale(self, name: str) -> float:
        """Factor on the step size of parameter ``name``: ``1/d`` (``W``) or ``1/√d`` (``E``,
        ``U``) under dimension-scaled Adam, else 1."""
        if self.optimizer == "sgd" or not self.dim_scaled_adam:
            return 1.0
        return 1 / self.dim if name == "W" else 1 / math.sqrt(self.dim)

    def schedule_factor(self, step: int) -> float:
        """Factor on the step size at step ``step`` (0-based) of the schedule."""
        if self.schedule == "step":
            return 1.0 if step < self.decay_step else self.decay_factor
        if self.schedule == "cosine":
            return (1 + math.cos(math.pi * step / self.niter)) / 2
        return 1.0


@dataclass(frozen=True)
class TrainingResult:
    """``errors``: population error after the last step, float64 ``[S, L]`` (seeds × step
    sizes). ``steps``: the steps recorded in ``curves`` (float64 ``[S, L, len(steps)]``; step 0
    is the initialisation), empty without ``record_every``. ``params``: final ``E`` ``[S, L, N,
    d]``, ``W`` ``[S, L, d, d]`` (models with a memory), ``U`` ``[S, L, d, M]``, on the CPU,
    when asked for. ``diverged``: bool ``[S, L]``, whether a final parameter is not finite (the
    run overflowed; its error is then the readout of non-finite scores, not a learned one)."""

    errors: torch.Tensor
    niter: int
    diverged: torch.Tensor
    steps: list[int] = field(default_factory=list)
    curves: torch.Tensor | None = None
    params: dict[str, torch.Tensor] = field(default_factory=dict)


def initial_weights(
    seeds: int | Sequence[int],
    dim: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Random initial memories ``W₀``, ``[R, d, d]``, entries ``N(0, 1/d)`` (stream ``WEIGHTS``).

    ``W₀`` at ``d`` is the top-left block of ``W₀`` at any ``d' > d`` (scaled by ``√(d'/d)``).
    """
    seed_values = seed_list("seeds", seeds)
    positive_int("d", dim)
    draws = [streams.standard_normal(s, WEIGHTS, slice(0, dim), dim) for s in seed_values]
    return (torch.stack(draws) / math.sqrt(dim)).to(device=device, dtype=dtype)


def initial_parameters(
    setup: TrainingSetup,
    seeds: int | Sequence[int],
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """The model's parameters before training, per seed: ``E`` ``[S, N, d]`` (shared with
    ``memlaws.kernel.memory.scheme_errors``), ``U`` ``[S, d, M]``, and ``W`` ``[S, d, d]`` unless
    the model is exponential. Fresh tensors, copied from the last draws (a sweep draws the same
    seeds' embeddings and ``W₀`` for group after group)."""
    seed_values = seed_list("seeds", seeds)
    n, m, d = setup.n_tokens, setup.n_classes, setup.dim
    random_memory = setup.model != "exponential" and setup.init == "random"
    draws = _draws(tuple(seed_values), n, m, d, setup.outputs, random_memory)
    params = {name: draw.to(device=device, dtype=dtype, copy=True) for name, draw in draws.items()}
    if setup.model != "exponential" and setup.init == "zero":
        params["W"] = torch.zeros(len(seed_values), d, d, dtype=dtype, device=device)
    return params


@functools.lru_cache(maxsize=2)  # at d = 1000, 10 seeds: 44 MB each
def _draws(
    seeds: tuple[int, ...], n: int, m: int, d: int, outputs: str, random_memory: bool
) -> dict[str, torch.Tensor]:
    """The seeds' float32 CPU draws of ``E``, ``U`` and, if ``random_memory``, ``W₀``."""
    draws = {
        "E": input_embeddings(seeds, n, d),
        "U": output_embeddings(seeds, m, d, kind=outputs).transpose(1, 2).contiguous(),
    }
    if random_memory:
        draws["W"] = initial_weights(seeds, d)
    return draws


def training_targets(setup: TrainingSetup, targets: object | None) -> torch.Tensor:
    """``f*`` as int64 ``[N]``: ``x mod M`` by default, else the checked label array."""
    if targets is None:
        return modular_targets(setup.n_tokens, setup.n_classes)
    return checked_targets(targets, setup.n_tokens, setup.n_classes)


def recorded_steps(niter: int, record_every: int) -> list[int]:
    """Steps whose error a curve records: 0, every ``record_every``-th step, and the last."""
    if record_every == 0:
        return []
    return [t for t in range(niter + 1) if t % record_every == 0 or t == niter]


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
) -> TrainingResult:
    """Train ``setup`` for every seed × step size at once; population errors ``[S, L]``.

    A seed fixes the embeddings, ``W₀`` and the data (``memlaws.kernel.data.sample_tokens``);
    ``targets``
    is ``f*`` (default ``x mod M``). ``record_every = k > 0`` also records the error every
    ``k`` steps (``TrainingResult.curves``); ``return_params`` returns the final parameters.
    """
    if not isinstance(setup, TrainingSetup):
        raise ValueError(f"setup must be a TrainingSetup, got {type(setup).__name__}")
    seed_values = seed_list("seeds", seeds)
    lr_values = step_size_list("lrs", lrs)
    nonnegative_int("record_every", record_every)
    flag("return_params", return_params)
    labels = training_targets(setup, targets).to(device)
    n_seeds, n_lrs = len(seed_values), len(lr_values)
    shards = _shards(setup, n_seeds * n_lrs, device)
    on_cpu = torch.device(device).type == "cpu"
    with intra_op_threads(1) if on_cpu else contextlib.nullcontext():
        outcomes = _train_shards(setup, seed_values, lr_values, labels, shards, dtype, record_every)
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
    )


def _train_shards(
    setup: TrainingSetup,
    seeds: list[int],
    lrs: list[float],
    labels: torch.Tensor,
    shards: list[slice],
    dtype: torch.dtype,
    record_every: int,
) -> list[_Replicas]:
    """Draw every replica's parameters and data (replica ``r = s·L + l``), then train each shard
    of replicas, side by side in threads when there are several."""
    device, n_lrs = labels.device, len(lrs)
    probabilities = zipf_probabilities(setup.n_tokens, setup.alpha)
    initial = initial_parameters(setup, seeds, dtype=dtype, device=device)
    params = {name: value.repeat_interleave(n_lrs, dim=0) for name, value in initial.items()}
    tokens = torch.stack([sample_tokens(probabilities, setup.n_samples, s) for s in seeds])
    tokens = tokens.to(device).repeat_interleave(n_lrs, dim=0)
    lr = torch.tensor(lrs, dtype=dtype, device=device).repeat(len(seeds))
    steps = recorded_steps(setup.niter, record_every)
    block_rows = _block_rows(setup, len(lr), device)

    def run(shard: slice) -> _Replicas:
        part = {name: value[shard] for name, value in params.items()}
        return _Replicas(
            setup, part, tokens[shard], lr[shard], labels, probabilities, steps, block_rows
        )

    if len(shards) == 1:
        return [run(shards[0])]
    with ThreadPoolExecutor(len(shards)) as pool:
        return list(pool.map(run, shards))


SHARD_THREADS = 2  # CPU threads that train disjoint sets of replicas at once
SHARD_MIN_DIM = 200  # below, a step is small ops whose Python work one thread must do (the GIL)


def _shards(setup: TrainingSetup, n_replicas: int, device: str | torch.device) -> list[slice]:
    """Contiguous sets of replicas trained side by side on the CPU, one per thread torch may use
    (at most ``SHARD_THREADS``) when ``d ≥ SHARD_MIN_DIM``; else one set. Replicas never
    interact, and every product gives each replica the same numbers whatever the batch, so this
    changes no number."""
    count = min(torch.get_num_threads(), SHARD_THREADS, n_replicas)
    if torch.device(device).type != "cpu" or setup.dim < SHARD_MIN_DIM:
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


def _block_rows(setup: TrainingSetup, n_replicas: int, device: str | torch.device) -> int:
    """Rows of ``W`` per block of a blocked Adam step (``CHUNK_ELEMENTS`` over all ``R`` replicas
    of the call, whichever shard runs them: the block sets the products' rounding); all rows off
    the CPU, where blocks help no cache."""
    if torch.device(device).type != "cpu":
        return setup.dim
    return max(1, CHUNK_ELEMENTS // (n_replicas * setup.dim))


class _Replicas:
    """Train one set of replicas: ``curve`` holds their errors at the recorded steps, float64
    ``[R, len(steps)]`` (the final error alone, ``[R, 1]``, without recorded steps); ``params``
    their final parameters; ``finite`` (bool ``[R]``, CPU) whether all of a replica's are."""

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
    ) -> None:
        params = {name: value.contiguous() for name, value in params.items()}
        model = _build(setup, params, _Optimizer(setup, lr, block_rows))
        batches = _Batches(setup, tokens, labels, params["E"].dtype)

        def error() -> torch.Tensor:
            return population_error(readout(model.scores()), labels, probabilities)

        recorded = set(steps)
        curve = [error()] if steps else []
        for t in range(setup.niter):
            model.step(*batches.rows(t), setup.schedule_factor(t))
            if (t + 1) in recorded:
                curve.append(error())
        self.curve = torch.stack(curve if steps else [error()], dim=-1)
        self.params = model.parameters()
        finite = [value.isfinite().flatten(1).all(1) for value in self.params.values()]
        self.finite = torch.stack(finite).all(0).cpu()


class _Batches:
    """The rows each step touches: flat indices into the replicas' stacked token rows
    (``[R, B]``, replica ``r``'s token ``x`` is row ``r·N + x``), their targets one-hot
    ``[R, B, M]`` and loss weight ``1/B``; or, when ``B > N``, every token (rows ``None``), their
    targets one-hot ``[R, N, M]`` and weights ``[R, N, 1]``, the batch's per-token counts ``/ B``.
    One-hot targets are formed ``ONEHOT_CHUNK`` entries at a time, for many steps at once."""

    def __init__(
        self, setup: TrainingSetup, tokens: torch.Tensor, labels: torch.Tensor, dtype: torch.dtype
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
            self.batch_targets = labels[batched]
            self.weight = 1 / b
            self.chunk = max(1, ONEHOT_CHUNK // (n_replicas * b * setup.n_classes))
            self.targets = self.onehot[:0]

    def rows(self, t: int) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | float]:
        """Rows, one-hot targets and weights of step ``t`` (steps are asked for in order)."""
        if self.folded:
            return None, self.all_targets, self.weights[t]
        if t % self.chunk == 0:
            self.targets = self.onehot[self.batch_targets[t : t + self.chunk]]
        return self.batch_rows[t], self.targets[t % self.chunk], self.weight


class _Optimizer:
    """SGD or Adam on parameters with a leading replica axis ``[R, ·, ·]`` and per-replica step
    sizes ``lr`` ``[R]``. Adam's work tensors are kept between steps (no allocation per step)."""

    def __init__(self, setup: TrainingSetup, lr: torch.Tensor, block_rows: int) -> None:
        self.setup, self.lr, self.block_rows = setup, lr, block_rows
        self.steps: dict[tuple[str, float], torch.Tensor] = {}
        self.buffers: dict[tuple[object, ...], torch.Tensor] = {}
        self.count = 0

    def tick(self) -> None:
        """Start a step (Adam's bias corrections count steps)."""
        self.count += 1

    def step_size(self, name: str, factor: float) -> torch.Tensor:
        """Per-replica step of parameter ``name`` at schedule factor ``factor``, ``[R, 1, 1]``."""
        key = (name, factor)
        if key not in self.steps:
            self.steps[key] = (self.lr * (self.setup.step_scale(name) * factor)).view(-1, 1, 1)
        return self.steps[key]

    def buffer(self, name: str, slot: str, like: torch.Tensor, zero: bool = False) -> torch.Tensor:
        """A contiguous work tensor shaped like ``like``, kept between steps (fresh large
        tensors cost page faults): zeroed when first made, or at every call if ``zero``."""
        key = (name, slot, *like.shape)
        if key not in self.buffers:
            self.buffers[key] = torch.zeros(like.shape, dtype=like.dtype, device=like.device)
        elif zero:
            self.buffers[key].zero_()
        return self.buffers[key]

    def update(
        self,
        name: str,
        param: torch.Tensor,
        grad: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
        factor: float,
    ) -> None:
        """One step on ``param`` in place. ``grad`` is a tensor the optimizer may overwrite, or
        the factors ``(L, R)`` of a batched product ``L R``: SGD applies it without forming it,
        Adam forms it a block of rows at a time, so the work stays in cache."""
        step = self.step_size(name, factor)
        if self.setup.weight_decay:
            param.mul_(1 - step * self.setup.weight_decay)
        if self.setup.optimizer == "sgd":
            if isinstance(grad, tuple):
                param.baddbmm_(grad[0] * step, grad[1], alpha=-1)
            else:
                param.addcmul_(grad, step, value=-1)
            return
        if not isinstance(grad, tuple):
            param.addcmul_(self._adam_direction(name, param, grad, slice(None)), step, value=-1)
            return
        left, right = grad
        rows = self.block_rows
        for start in range(0, param.shape[1], rows):
            block = slice(start, start + rows)
            part = param[:, block]
            gradient = torch.bmm(left[:, block], right, out=self.buffer(name, "block", part))
            part.addcmul_(self._adam_direction(name, param, gradient, block), step, value=-1)

    def update_rows(
        self,
        name: str,
        param: torch.Tensor,
        rows: torch.Tensor | None,
        grad_rows: torch.Tensor,
        factor: float,
    ) -> None:
        """One step on embeddings ``param`` ``[R, N, d]`` whose gradient is ``grad_rows``
        ``[R, K, d]`` at flat rows ``rows`` ``[R, K]`` (repeats add up), or at every row in
        order if ``rows`` is ``None``. SGD moves only the rows given, and so does Adam on the
        CPU without moments or weight decay (elsewhere ``0 / (0 + eps) = 0`` moves nothing); Adam
        otherwise forms the dense gradient (its moments move every row)."""
        if rows is None:
            self.update(name, param, grad_rows, factor)
            return
        flat = param.view(-1, param.shape[-1])
        if self.setup.optimizer == "sgd":
            step = self.step_size(name, factor)
            if self.setup.weight_decay:
                param.mul_(1 - step * self.setup.weight_decay)
            flat.index_add_(0, rows.flatten(), (grad_rows * step).flatten(0, 1), alpha=-1)
            return
        stateless = self.setup.betas == (0.0, 0.0) and not self.setup.weight_decay
        if stateless and param.device.type == "cpu":
            self._adam_rows(name, param, rows, grad_rows, factor)
            return
        grad = self.buffer(name, "rows", param, zero=True)
        grad.view_as(flat).index_add_(0, rows.flatten(), grad_rows.flatten(0, 1))
        self.update(name, param, grad, factor)

    def _adam_rows(
        self,
        name: str,
        param: torch.Tensor,
        rows: torch.Tensor,
        grad_rows: torch.Tensor,
        factor: float,
    ) -> None:
        """Adam without moments on the distinct rows of ``rows`` only: their gradients summed in
        the batch's order, as in the dense gradient, then ``p − η g / (|g| + eps)``."""
        flat = param.view(-1, param.shape[-1])
        distinct, inverse = torch.unique(rows.flatten(), return_inverse=True)
        grad = torch.zeros(len(distinct), flat.shape[1], dtype=flat.dtype, device=flat.device)
        grad.index_add_(0, inverse, grad_rows.flatten(0, 1))
        direction = grad.div_(torch.abs(grad).add_(ADAM_EPS))
        step = self.step_size(name, factor).flatten()[distinct // param.shape[1], None]
        flat.index_copy_(0, distinct, flat[distinct].addcmul_(direction, step, value=-1))

    def _adam_direction(
        self, name: str, param: torch.Tensor, grad: torch.Tensor, block: slice
    ) -> torch.Tensor:
        """``m̂ / (√v̂ + eps)`` (torch's Adam formula) on rows ``block`` of ``param``, whose
        gradient there is ``grad``; overwrites ``grad``."""
        beta1, beta2 = self.setup.betas
        denominator = self.buffer(name, "denominator", grad)
        if beta1 == beta2 == 0:  # m = g and v = g²: no state to keep
            return grad.div_(torch.abs(grad, out=denominator).add_(ADAM_EPS))
        first = self.buffer(name, "first", param)[:, block]
        second = self.buffer(name, "second", param)[:, block]
        first.mul_(beta1).add_(grad, alpha=1 - beta1)
        second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        correction1, correction2 = 1 - beta1**self.count, 1 - beta2**self.count
        torch.sqrt(second, out=denominator).div_(math.sqrt(correction2)).add_(ADAM_EPS)
        return torch.div(first, denominator, out=grad).div_(correction1)


def _gather(embeddings: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """Rows ``[R, K, d]`` of embeddings ``[R, N, d]`` at flat indices ``rows`` (a copy), or all
    of them if ``rows`` is ``None`` (the embeddings themselves)."""
    if rows is None:
        return embeddings
    return torch.nn.functional.embedding(rows, embeddings.view(-1, embeddings.shape[-1]))


def _normalise(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer norm ``z = h / s``, ``s = sqrt(‖h‖² + eps)`` per row; returns ``z`` and ``s``."""
    scale = (h.square().sum(-1, keepdim=True) + LAYERNORM_EPS).sqrt()
    return h / scale, scale


def _normalise_backward(z: torch.Tensor, scale: torch.Tensor, grad_z: torch.Tensor) -> torch.Tensor:
    """Gradient through the layer norm: ``∂/∂h = (g − z (z·g)) / s``."""
    return (grad_z - z * (z * grad_z).sum(-1, keepdim=True)) / scale


def _logit_gradient(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | float
) -> torch.Tensor:
    """Gradient of the mean cross-entropy in the logits, ``w·(softmax − onehot(y))``, from the
    one-hot targets."""
    return torch.softmax(logits, dim=-1).sub_(targets).mul_(weights)


class _LowRank:
    """SGD on the matrix model: every gradient is ``P Uᵀ`` with ``P = E[x]ᵀ G'`` (``[d, M]``),
    so ``W = c·W₀ − A Uᵀ`` and the logits' matrix is ``S = W U = c·W₀U − A (UᵀU)``.

    Without layer norm ``G' = G``, the logits' gradient. With layer norm, ``h = e W`` must stay
    in the span of ``U``'s columns, which holds from ``W₀ = 0``: then ``h = v Uᵀ`` with
    ``v = −e A``, ``‖h‖² = (e W U)·v``, and the layer-norm backward pass gives
    ``G' = (G − (v/s)(logits·G)) / s``. ``A`` and ``S`` are kept transposed (``[R, M, d]``):
    CPU matrix products with an output of ``M`` columns are several times slower.
    """

    def __init__(
        self,
        setup: TrainingSetup,
        params: dict[str, torch.Tensor],
        optimizer: _Optimizer,
    ) -> None:
        self.setup, self.optimizer = setup, optimizer
        self.inputs, self.outputs, self.initial = params["E"], params["U"], params["W"]
        outputs_t = self.outputs.transpose(1, 2)
        self.initial_scores_t = torch.bmm(outputs_t, self.initial.transpose(1, 2))  # c·(W₀U)ᵀ
        self.gram = torch.bmm(outputs_t, self.outputs)  # UᵀU, symmetric, [R, M, M]
        self.update_t = torch.zeros_like(self.initial_scores_t)  # Aᵀ, [R, M, d]
        self.scale = torch.ones_like(self.initial_scores_t[:, :1, :1])  # c

    def _memory_scores_t(self) -> torch.Tensor:
        """``Sᵀ = (W U)ᵀ``, ``[R, M, d]``."""
        return torch.baddbmm(self.initial_scores_t, self.gram, self.update_t, alpha=-1)

    def step(
        self,
        rows: torch.Tensor | None,
        targets: torch.Tensor,
        weights: torch.Tensor | float,
        factor: float,
    ) -> None:
        e = _gather(self.inputs, rows)  # [R, K, d]
        logits = torch.bmm(e, self._memory_scores_t().transpose(1, 2))
        if self.setup.layernorm:
            v = -torch.bmm(e, self.update_t.transpose(1, 2))
            scale = ((logits * v).sum(-1, keepdim=True) + LAYERNORM_EPS).sqrt()
            logits = logits / scale
            grad = _logit_gradient(logits, targets, weights)
            grad = (grad - v / scale * (logits * grad).sum(-1, keepdim=True)) / scale
        else:
            grad = _logit_gradient(logits, targets, weights)
        step = self.optimizer.step_size("W", factor)
        if self.setup.weight_decay:
            decay = 1 - step * self.setup.weight_decay
            for tensor in (self.update_t, self.scale, self.initial_scores_t):
                tensor.mul_(decay)
        self.update_t.baddbmm_(grad.mul_(step).transpose(1, 2), e)

    def scores(self) -> torch.Tensor:
        return torch.bmm(self.inputs, self._memory_scores_t().transpose(1, 2))

    def parameters(self) -> dict[str, torch.Tensor]:
        memory = torch.baddbmm(
            self.initial * self.scale,
            self.update_t.transpose(1, 2),
            self.outputs.transpose(1, 2),
            alpha=-1,
        )
        return {"E": self.inputs, "W": memory, "U": self.outputs}


class _Hidden:
    """SGD on the matrix model with layer norm from a random ``W₀``: every gradient is
    ``E[x]ᵀ g_h``, so ``W = c·W₀ − Eᵀ A`` (``A`` ``[N, d]``, the steps scattered to the tokens'
    rows) and the model needs ``W`` only through the tokens' hidden vectors ``H = E W``
    (``[N, d]``, ``N ≪ d``), which a step moves by ``−Γ[:, x] (η g_h)`` (``Γ = E Eᵀ``):
    ``O(N·K·d)`` instead of ``O(K·d²)``, and no ``d × d`` tensor. ``W`` is formed only when asked
    for. (It rounds otherwise than the dense ``E[x] W``: of 3040 paper-grid runs compared, 2 final
    errors differed, by one rare token's mass; ``properties/test_training.py`` bounds the gap.)
    """

    def __init__(
        self,
        setup: TrainingSetup,
        params: dict[str, torch.Tensor],
        optimizer: _Optimizer,
    ) -> None:
        self.setup, self.optimizer = setup, optimizer
        self.inputs, self.initial, self.outputs = params["E"], params["W"], params["U"]
        self.outputs_t = self.outputs.transpose(1, 2).contiguous()  # Uᵀ, [R, M, d]
        self.hidden = torch.bmm(self.inputs, self.initial)  # H = E W, [R, N, d]
        self.gram = torch.bmm(self.inputs, self.inputs.transpose(1, 2))  # Γ = E Eᵀ, [R, N, N]
        self.update = torch.zeros_like(self.hidden)  # A, [R, N, d]
        self.scale = torch.ones_like(self.hidden[:, :1, :1])  # c

    def step(
        self,
        rows: torch.Tensor | None,
        targets: torch.Tensor,
        weights: torch.Tensor | float,
        factor: float,
    ) -> None:
        z, scale = _normalise(_gather(self.hidden, rows))  # [R, K, d]
        logits = torch.bmm(z, self.outputs)
        grad = _logit_gradient(logits, targets, weights)
        grad_h = _normalise_backward(z, scale, torch.bmm(grad, self.outputs_t))
        step = self.optimizer.step_size("W", factor)
        if self.setup.weight_decay:
            decay = 1 - step * self.setup.weight_decay
            for tensor in (self.hidden, self.update, self.scale):
                tensor.mul_(decay)
        moved = grad_h.mul_(step)  # η g_h, [R, K, d]
        self.hidden.baddbmm_(_gather(self.gram, rows).transpose(1, 2), moved, alpha=-1)
        if rows is None:
            self.update.add_(moved)
        else:
            flat = self.update.view(-1, self.update.shape[-1])
            flat.index_add_(0, rows.flatten(), moved.flatten(0, 1))

    def scores(self) -> torch.Tensor:
        return torch.bmm(self.hidden, self.outputs)  # layer norm never changes the argmax

    def parameters(self) -> dict[str, torch.Tensor]:
        memory = torch.baddbmm(
            self.initial * self.scale, self.inputs.transpose(1, 2), self.update, alpha=-1
        )
        return {"E": self.inputs, "W": memory, "U": self.outputs}


class _Dense:
    """Models with a memory ``W`` held densely: the learnable model, and the matrix model under
    Adam or under SGD with layer norm from a random ``W₀``.

    Without layer norm the logits are ``e S`` with ``S = W U`` and, with ``P = eᵀ G``,
    ``∇W = P Uᵀ``, ``∇U = Wᵀ P``, ``∇e = G Sᵀ``: ``O(d²M)``, whatever the batch. With layer
    norm, ``h = e W`` is needed: ``∇W = eᵀ g_h``, ``∇U = zᵀ G``, ``∇e = g_h Wᵀ``: ``O(K d²)``.
    Products with ``W`` keep the ``M``-sized side first (``Uᵀ Wᵀ``, ``Pᵀ W``): CPU matrix
    products with an output of ``M`` columns are several times slower.
    """

    def __init__(
        self,
        setup: TrainingSetup,
        params: dict[str, torch.Tensor],
        optimizer: _Optimizer,
    ) -> None:
        self.setup, self.optimizer = setup, optimizer
        self.inputs, self.memory, self.outputs = params["E"], params["W"], params["U"]

    def step(
        self,
        rows: torch.Tensor | None,
        targets: torch.Tensor,
        weights: torch.Tensor | float,
        factor: float,
    ) -> None:
        inputs, memory, outputs = self.inputs, self.memory, self.outputs
        learns_embeddings = self.setup.model == "learnable"
        outputs_t = outputs.transpose(1, 2).contiguous()  # Uᵀ, [R, M, d]
        e = _gather(inputs, rows)  # [R, K, d], E itself when the batch is folded
        if self.setup.layernorm:
            z, scale = _normalise(torch.bmm(e, memory))
            logits = torch.bmm(z, outputs_t.transpose(1, 2))
            grad = _logit_gradient(logits, targets, weights)
            grad_h = _normalise_backward(z, scale, torch.bmm(grad, outputs_t))
            grad_memory = (e.transpose(1, 2), grad_h)
            if learns_embeddings:
                grad_outputs = torch.bmm(grad.transpose(1, 2), z).transpose(1, 2)  # zᵀ G
                grad_e = torch.bmm(grad_h, memory.transpose(1, 2))
        else:
            scores_t = torch.bmm(outputs_t, memory.transpose(1, 2))  # Sᵀ = Uᵀ Wᵀ, [R, M, d]
            logits = torch.bmm(e, scores_t.transpose(1, 2))
            grad = _logit_gradient(logits, targets, weights)
            p_t = torch.bmm(grad.transpose(1, 2), e)  # Pᵀ, [R, M, d]
            grad_memory = (p_t.transpose(1, 2), outputs_t)
            if learns_embeddings:
                grad_outputs = torch.bmm(p_t, memory).transpose(1, 2)  # Wᵀ P
                grad_e = torch.bmm(grad, scores_t)
        self.optimizer.tick()
        self.optimizer.update("W", memory, grad_memory, factor)  # its factors may view E or U
        if learns_embeddings:
            self.optimizer.update_rows("E", inputs, rows, grad_e, factor)
            self.optimizer.update("U", outputs, grad_outputs, factor)

    def scores(self) -> torch.Tensor:
        return self.inputs @ (self.memory @ self.outputs)  # layer norm never changes the argmax

    def parameters(self) -> dict[str, torch.Tensor]:
        return {"E": self.inputs, "W": self.memory, "U": self.outputs}


class _Exponential:
    """The exponential model ``logits = N(ReLU(e)) U`` (``N`` the optional layer norm):
    ``∇U = zᵀ G``, ``∇e = 1{e > 0} · N'(G Uᵀ)``, ``O(K d M)``, products oriented as in
    ``_Dense``."""

    def __init__(
        self,
        setup: TrainingSetup,
        params: dict[str, torch.Tensor],
        optimizer: _Optimizer,
    ) -> None:
        self.setup, self.optimizer = setup, optimizer
        self.inputs, self.outputs = params["E"], params["U"]

    def step(
        self,
        rows: torch.Tensor | None,
        targets: torch.Tensor,
        weights: torch.Tensor | float,
        factor: float,
    ) -> None:
        e = _gather(self.inputs, rows)  # [R, K, d], E itself when the batch is folded
        outputs_t = self.outputs.transpose(1, 2).contiguous()  # Uᵀ, [R, M, d]
        hidden = torch.relu(e)
        z, scale = _normalise(hidden) if self.setup.layernorm else (hidden, None)
        logits = torch.bmm(z, outputs_t.transpose(1, 2))
        grad = _logit_gradient(logits, targets, weights)
        grad_z = torch.bmm(grad, outputs_t)
        grad_hidden = grad_z if scale is None else _normalise_backward(z, scale, grad_z)
        grad_e = grad_hidden.mul_(e > 0)
        grad_outputs = torch.bmm(grad.transpose(1, 2), z).transpose(1, 2)  # zᵀ G
        self.optimizer.tick()
        self.optimizer.update_rows("E", self.inputs, rows, grad_e, factor)
        self.optimizer.update("U", self.outputs, grad_outputs, factor)

    def scores(self) -> torch.Tensor:
        return torch.relu(self.inputs) @ self.outputs

    def parameters(self) -> dict[str, torch.Tensor]:
        return {"E": self.inputs, "U": self.outputs}


def _build(
    setup: TrainingSetup, params: dict[str, torch.Tensor], optimizer: _Optimizer
) -> _LowRank | _Hidden | _Dense | _Exponential:
    if setup.model == "exponential":
        return _Exponential(setup, params, optimizer)
    if setup.model == "matrix" and setup.optimizer == "sgd":
        if not setup.layernorm or setup.init == "zero":
            return _LowRank(setup, params, optimizer)
        return _Hidden(setup, params, optimizer)
    return _Dense(setup, params, optimizer)
