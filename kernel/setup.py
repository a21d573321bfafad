"""What a training run is, shared by the fast trainer (``memlaws.kernel.training``) and the
autograd oracle (``memlaws.kernel.reference_training``): the setup, validated once, its
initial parameters, targets and recorded steps, and the result both return.

For a batch of tokens ``x``, with input embeddings ``E`` (``[N, d]``, rows ``e_x``), a memory
``W`` (``[d, d]``) and output embeddings ``U`` (``[d, M]``, column ``y`` is ``u_y``):

- ``matrix``: ``logits = E[x] W U``, learning ``W`` only;
- ``learnable``: the same logits, learning ``E``, ``W`` and ``U``;
- ``exponential``: ``logits = ReLU(E[x]) U``, learning ``E`` and ``U`` (no ``W``);

optionally with layer norm ``z ↦ z / sqrt(‖z‖² + LAYERNORM_EPS)`` on the ``d``-vector just
before ``U``. The loss is the mean cross-entropy over the batch. Adam divides by
``√v̂ + ADAM_EPS`` (torch's formula). Weight decay is decoupled (``p ← (1 − η·λ) p`` before the
step, ``η`` the parameter's scheduled step size); for SGD this is the same as an L2 penalty
``λ‖p‖²/2``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from memlaws.kernel import streams
from memlaws.kernel.data import checked_targets, modular_targets
from memlaws.kernel.embeddings import OUTPUT_KINDS, input_embeddings, output_embeddings
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
    run overflowed; its error is then the readout of non-finite scores, not a learned one).
    ``checkpoints``: for each checkpoint step asked for, its ``(errors, diverged)``, shaped as
    the final ones."""

    errors: torch.Tensor
    niter: int
    diverged: torch.Tensor
    steps: list[int] = field(default_factory=list)
    curves: torch.Tensor | None = None
    params: dict[str, torch.Tensor] = field(default_factory=dict)
    checkpoints: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)


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
