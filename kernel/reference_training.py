"""The straightforward trainer: one run (one seed, one step size) at a time, torch autograd and
hand-rolled SGD / Adam steps, for the same models, draws, step scalings and schedules as
``memlaws.kernel.training.train``. It is the oracle the fast trainer is checked against and the
baseline its speed is measured against; it shares only the setup's definitions and the draws.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from memlaws.kernel.data import sample_tokens, zipf_probabilities
from memlaws.kernel.memory import population_error
from memlaws.kernel.setup import (
    ADAM_EPS,
    LAYERNORM_EPS,
    TrainingResult,
    TrainingSetup,
    initial_parameters,
    recorded_steps,
    training_targets,
)
from memlaws.kernel.validation import nonnegative_float, nonnegative_int, seed_list


def reference_logits(
    setup: TrainingSetup, params: dict[str, torch.Tensor], tokens: torch.Tensor
) -> torch.Tensor:
    """Logits ``[B, M]`` of tokens ``[B]``: ``N(E[x] W) U`` or ``N(ReLU(E[x])) U``, with ``N``
    the layer norm when the setup asks for it."""
    e = params["E"][tokens]
    hidden = torch.relu(e) if setup.model == "exponential" else e @ params["W"]
    if setup.layernorm:
        hidden = hidden / torch.sqrt(hidden.pow(2).sum(-1, keepdim=True) + LAYERNORM_EPS)
    return hidden @ params["U"]


def train_reference(
    setup: TrainingSetup,
    seed: int,
    lr: float,
    *,
    targets: object | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    record_every: int = 0,
) -> TrainingResult:
    """Train one run; a ``TrainingResult`` with ``S = L = 1`` and the final parameters."""
    if not isinstance(setup, TrainingSetup):
        raise ValueError(f"setup must be a TrainingSetup, got {type(setup).__name__}")
    (seed,) = seed_list("seed", seed)
    lr = nonnegative_float("lr", lr)
    nonnegative_int("record_every", record_every)
    labels = training_targets(setup, targets).to(device)
    probabilities = zipf_probabilities(setup.n_tokens, setup.alpha)
    initial = initial_parameters(setup, seed, dtype=dtype, device=device)
    params = {name: value[0].clone() for name, value in initial.items()}
    for name in setup.learned:
        params[name].requires_grad_(True)
    moments = {n: (torch.zeros_like(params[n]), torch.zeros_like(params[n])) for n in setup.learned}
    tokens = sample_tokens(probabilities, setup.n_samples, seed).to(device)
    all_tokens = torch.arange(setup.n_tokens, device=device)

    def error() -> torch.Tensor:
        with torch.no_grad():
            predictions = reference_logits(setup, params, all_tokens).argmax(-1)
        return population_error(predictions, labels, probabilities)

    steps = recorded_steps(setup.niter, record_every)
    recorded = set(steps)
    curve = [error()] if steps else []
    b = setup.batch_size
    for t in range(setup.niter):
        batch = tokens[t * b : (t + 1) * b]
        loss = F.cross_entropy(reference_logits(setup, params, batch), labels[batch])
        grads = torch.autograd.grad(loss, [params[name] for name in setup.learned])
        with torch.no_grad():
            for name, grad in zip(setup.learned, grads, strict=True):
                step = lr * setup.step_scale(name) * setup.schedule_factor(t)
                _descend(setup, params[name], grad, moments[name], step, t + 1)
        if (t + 1) in recorded:
            curve.append(error())
    final = curve[-1] if steps else error()
    finite = all(bool(value.isfinite().all()) for value in params.values())
    return TrainingResult(
        errors=final.view(1, 1),
        niter=setup.niter,
        diverged=torch.tensor([[not finite]]),
        steps=steps,
        curves=torch.stack(curve).view(1, 1, -1) if steps else None,
        params={name: value.detach().cpu()[None, None] for name, value in params.items()},
    )


def _descend(
    setup: TrainingSetup,
    param: torch.Tensor,
    grad: torch.Tensor,
    moments: tuple[torch.Tensor, torch.Tensor],
    step: float,
    count: int,
) -> None:
    """Decoupled weight decay, then an SGD or Adam step (torch's Adam formula) in place."""
    param.mul_(1 - step * setup.weight_decay)
    if setup.optimizer == "sgd":
        param.sub_(step * grad)
        return
    beta1, beta2 = setup.betas
    first, second = moments
    first.mul_(beta1).add_(grad, alpha=1 - beta1)
    second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    correction1, correction2 = 1 - beta1**count, 1 - beta2**count
    denominator = (second.sqrt() / math.sqrt(correction2)).add_(ADAM_EPS)
    param.addcdiv_(first, denominator, value=-step / correction1)
