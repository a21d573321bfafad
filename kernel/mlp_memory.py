"""Linear and one-hidden-layer MLP associative memories of ``N`` random facts, trained
full-batch, and their storage capacity.

A fact maps input token ``x < N`` to an output token ``f*(x) < M`` drawn uniformly at random.
Token ``x`` has input embedding ``e_x ~ N(0, I_d/d)``, output ``y`` an embedding ``u_y`` uniform
on the unit sphere (``memlaws.kernel.embeddings``). A memory ``F: ℝ^d → ℝ^d`` answers
``argmax_y u_yᵀ F(e_x)`` (the setting of Nichani, Lee and Bietti, 2025):

- linear: ``F(z) = W z``, ``W`` ``[d, d]`` (``d²`` parameters), started at 0;
- MLP: ``F(z) = V relu(W z)``, ``W`` ``[m, d]`` started ``N(0, 1/d)`` (stream ``WEIGHTS``),
  ``V`` ``[d, m]`` started at 0 (``2 m d`` parameters).

Training is full-batch Adam on the mean cross-entropy of the scores ``u_yᵀ F(e_x)`` over the
``N`` facts, with hand-written gradients. Every tensor carries a leading replica axis ``R``
(one replica per seed), so the seeds of a sweep train as one batch. A seed fixes every draw:
the first ``N`` facts of a seed do not depend on ``N`` (nested fact sets).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from memlaws.kernel import streams
from memlaws.kernel.embeddings import input_embeddings, output_embeddings
from memlaws.kernel.validation import nonnegative_int, positive_float, positive_int, seed_list

Parameters = dict[str, torch.Tensor]

RETRIEVAL_LEVEL = 0.99  # a memory stores its facts when it retrieves at least this fraction
BETAS = (0.9, 0.999)  # Adam's moment decays
EPSILON = 1e-8  # Adam's denominator guard


@dataclass(frozen=True)
class Facts:
    """``N`` facts per replica: ``inputs`` ``[R, N, d]``, ``outputs`` ``[R, M, d]`` (one row per
    output token), ``targets`` ``[R, N]`` (int64, values in ``[0, M)``)."""

    inputs: torch.Tensor
    outputs: torch.Tensor
    targets: torch.Tensor


def fact_targets(seeds: int | Sequence[int], n_facts: int, n_outputs: int) -> torch.Tensor:
    """The targets ``f*(x)`` of the first ``n_facts`` facts of each seed, uniform on
    ``[0, n_outputs)``: ``[R, N]`` int64 (stream ``TOKENS``; a prefix of any longer draw)."""
    seed_values = seed_list("seeds", seeds)
    positive_int("N", n_facts)
    positive_int("M", n_outputs)
    draws = [streams.uniform(s, streams.TOKENS, n_facts) for s in seed_values]
    return (torch.stack(draws) * n_outputs).long()


def random_facts(seeds: int | Sequence[int], n_facts: int, n_outputs: int, dim: int) -> Facts:
    """The facts of each seed in dimension ``dim`` (float32, CPU)."""
    return Facts(
        input_embeddings(seeds, n_facts, dim),
        output_embeddings(seeds, n_outputs, dim, kind="sphere"),
        fact_targets(seeds, n_facts, n_outputs),
    )


def initial_parameters(seeds: int | Sequence[int], dim: int, width: int = 0) -> Parameters:
    """The starting memory of each seed: linear (``width = 0``, ``{"W": 0 [R, d, d]}``) or MLP of
    ``width`` hidden units (``{"W": N(0, 1/d) [R, m, d], "V": 0 [R, d, m]}``)."""
    seed_values = seed_list("seeds", seeds)
    positive_int("d", dim)
    nonnegative_int("width", width)
    if width == 0:
        return {"W": torch.zeros(len(seed_values), dim, dim)}
    rows = [streams.standard_normal(s, streams.WEIGHTS, slice(0, width), dim) for s in seed_values]
    return {
        "W": torch.stack(rows) / math.sqrt(dim),
        "V": torch.zeros(len(seed_values), dim, width),
    }


def parameter_count(dim: int, width: int = 0) -> int:
    """Trained parameters: ``d²`` for the linear memory, ``2 m d`` for the MLP of width ``m``."""
    return dim * dim if width == 0 else 2 * width * dim


def scores(params: Parameters, facts: Facts) -> torch.Tensor:
    """``u_yᵀ F(e_x)`` for every fact ``x`` and output ``y``: ``[R, N, M]``."""
    hidden = facts.inputs @ params["W"].transpose(1, 2)  # [R, N, d] or [R, N, m]
    if "V" in params:
        hidden = hidden.clamp_min(0) @ params["V"].transpose(1, 2)  # [R, N, d]
    return hidden @ facts.outputs.transpose(1, 2)


def retrieval_accuracy(params: Parameters, facts: Facts) -> torch.Tensor:
    """The fraction of each replica's ``N`` facts retrieved by top-1 decoding: ``[R]`` float64.
    (Ties go to the smallest output index, as ``argmax`` breaks them.)"""
    found = scores(params, facts).argmax(dim=2) == facts.targets
    return found.double().mean(dim=1)


def loss_and_gradients(params: Parameters, facts: Facts) -> tuple[torch.Tensor, Parameters]:
    """The mean cross-entropy of each replica, ``[R]``, and its gradient with respect to every
    parameter (same shapes as ``params``), by hand."""
    n_facts = facts.targets.shape[1]
    pre = facts.inputs @ params["W"].transpose(1, 2)  # [R, N, d] or [R, N, m]
    hidden = pre.clamp_min(0) if "V" in params else pre
    features = hidden @ params["V"].transpose(1, 2) if "V" in params else hidden  # [R, N, d]
    logits = features @ facts.outputs.transpose(1, 2)  # [R, N, M]
    log_probs = logits.log_softmax(dim=2)
    picked = log_probs.gather(2, facts.targets.unsqueeze(2)).squeeze(2)  # [R, N]
    loss = -picked.mean(dim=1)
    grad_logits = log_probs.exp()
    grad_logits.scatter_add_(
        2,
        facts.targets.unsqueeze(2),
        -torch.ones_like(facts.targets, dtype=logits.dtype)[..., None],
    )
    grad_features = grad_logits @ facts.outputs / n_facts  # [R, N, d]
    if "V" not in params:
        return loss, {"W": grad_features.transpose(1, 2) @ facts.inputs}
    grad_v = grad_features.transpose(1, 2) @ hidden  # [R, d, m]
    grad_pre = (grad_features @ params["V"]) * (pre > 0)  # [R, N, m]
    return loss, {"W": grad_pre.transpose(1, 2) @ facts.inputs, "V": grad_v}


def train_memory(
    params: Parameters,
    facts: Facts,
    steps: int,
    lr: float,
    check_every: int = 10,
    level: float = RETRIEVAL_LEVEL,
) -> tuple[Parameters, torch.Tensor]:
    """Full-batch Adam (step size ``lr``, ``BETAS``, no weight decay) for at most ``steps``
    steps. A replica stops (its parameters frozen) at the first check, every ``check_every``
    steps and at the start, where its retrieval accuracy reaches ``level``; the loop stops when
    every replica has. Returns the final parameters and whether each replica reached ``level``
    (``[R]`` bool)."""
    nonnegative_int("steps", steps)
    positive_float("lr", lr)
    positive_int("check_every", check_every)
    if not 0 < level <= 1:
        raise ValueError(f"level must lie in (0, 1], got {level!r}")
    params = {name: value.clone() for name, value in params.items()}
    first = {name: torch.zeros_like(value) for name, value in params.items()}
    second = {name: torch.zeros_like(value) for name, value in params.items()}
    reached = torch.zeros(facts.targets.shape[0], dtype=torch.bool)
    for step in range(steps + 1):
        if step % check_every == 0 or step == steps:
            reached |= retrieval_accuracy(params, facts) >= level
            if bool(reached.all()) or step == steps:
                break
        _, grads = loss_and_gradients(params, facts)
        active = (~reached).to(facts.inputs.dtype)[:, None, None]
        correction_1 = 1 - BETAS[0] ** (step + 1)
        correction_2 = 1 - BETAS[1] ** (step + 1)
        for name, grad in grads.items():
            first[name].lerp_(grad, 1 - BETAS[0])
            second[name].mul_(BETAS[1]).addcmul_(grad, grad, value=1 - BETAS[1])
            direction = (first[name] / correction_1) / (
                (second[name] / correction_2).sqrt() + EPSILON
            )
            params[name] -= lr * active * direction
    return params, reached


def stores(
    seeds: Sequence[int],
    n_facts: int,
    n_outputs: int,
    dim: int,
    width: int,
    steps: int,
    lr: float,
    level: float = RETRIEVAL_LEVEL,
) -> torch.Tensor:
    """Whether a memory (linear for ``width = 0``) trained on each seed's first ``n_facts``
    facts retrieves at least a fraction ``level`` of them within ``steps`` steps: ``[R]``
    bool."""
    facts = random_facts(seeds, n_facts, n_outputs, dim)
    params = initial_parameters(seeds, dim, width)
    _, reached = train_memory(params, facts, steps, lr, level=level)
    return reached


def capacity(
    seeds: Sequence[int],
    start: int,
    n_outputs: int,
    dim: int,
    width: int,
    steps: int,
    lr: float,
    refinements: int = 2,
    level: float = RETRIEVAL_LEVEL,
    patience: int = 1,
) -> torch.Tensor:
    """Each seed's capacity, ``[R]`` float64: the largest load its memory stores (``stores`` at
    ``level``), found by a scan up the loads ``start · 2^(k/2)`` (rounded, repeats skipped)
    until ``patience`` loads in a row fail, then ``refinements`` halvings in log scale of the
    bracket between the last load stored and the failure after it (resolution
    ``2^(1/2^(1+r))``: 9 % for ``r = 2``). NaN for a seed that stores none of the loads
    scanned. Loads beyond the stopping failures are never tried: with ``patience = 1`` the
    capacity is the load before the *first* failure; a larger ``patience`` passes over
    isolated failures of training."""
    seed_values = seed_list("seeds", seeds)
    positive_int("start", start)
    nonnegative_int("refinements", refinements)
    positive_int("patience", patience)
    low = torch.full((len(seed_values),), math.nan, dtype=torch.float64)
    high = torch.full((len(seed_values),), math.nan, dtype=torch.float64)
    misses = [0] * len(seed_values)  # failures in a row since the last load stored
    pending = list(range(len(seed_values)))
    previous = 0
    for step in itertools.count():
        load = round(start * 2 ** (step / 2))
        if load <= previous:
            continue  # rounding repeated a load
        previous = load
        chosen = [seed_values[i] for i in pending]
        ok = stores(chosen, load, n_outputs, dim, width, steps, lr, level)
        for i, stored in zip(pending, ok.tolist(), strict=True):
            if stored:
                low[i], high[i], misses[i] = load, math.nan, 0
            else:
                high[i] = load if misses[i] == 0 else high[i]
                misses[i] += 1
        pending = [i for i in pending if misses[i] < patience]
        if not pending:
            break
    for _ in range(refinements):
        groups: dict[int, list[int]] = {}
        for i in range(len(seed_values)):
            if not math.isnan(low[i]):
                middle = round(math.sqrt(low[i].item() * high[i].item()))
                if low[i] < middle < high[i]:
                    groups.setdefault(middle, []).append(i)
        for middle, members in groups.items():
            chosen = [seed_values[i] for i in members]
            ok = stores(chosen, middle, n_outputs, dim, width, steps, lr, level)
            for i, stored in zip(members, ok.tolist(), strict=True):
                (low if stored else high)[i] = middle
    return low
