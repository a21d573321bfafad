"""The update approximation of one-pass SGD (law R4): ``W_t ≈ Σ_x q_t(x) u_{f*(x)} e_xᵀ`` where
each occurrence of ``x`` moves ``q(x)`` by the softmax mass left off the right class when the
other logits are zero, ``q ← φ_γ(q) = q + γ / (1 + e^q / (M − 1))``, from ``q = 0``.

With batches of ``B`` tokens, each token's ``q`` moves once per batch, by
``n_{x,batch} · (γ/B) / (1 + e^q / (M − 1))`` with ``q`` from before the batch (``B = 1`` gives
``q_T(x) = φ_γ^{n_x}(0)``). The data are the trainer's: seed ``s`` draws
``memlaws.kernel.data.sample_tokens(p, T, s)``, so the memory
``memlaws.kernel.memory.scheme_errors(q, …, outputs="sphere")`` is comparable, step by step, with
``memlaws.kernel.training.train`` from ``W₀ = 0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from memlaws.kernel.data import sample_tokens
from memlaws.kernel.memory import scheme_errors
from memlaws.kernel.setup import recorded_steps
from memlaws.kernel.validation import nonnegative_float, positive_int, seed_list, weights_tensor


def update_map(q: torch.Tensor, gamma: float, n_classes: int) -> torch.Tensor:
    """One occurrence's update ``φ_γ(q) = q + γ / (1 + e^q / (M − 1))``, elementwise (``M = 1``
    leaves ``q`` unchanged: the softmax of one class is 1)."""
    nonnegative_float("gamma", gamma)
    positive_int("M", n_classes)
    return q + gamma / (1 + torch.exp(q) / (n_classes - 1))


def approximate_weights(
    probabilities: torch.Tensor,
    n_samples: int,
    seeds: int | Sequence[int],
    n_classes: int,
    gamma: float,
    batch_size: int = 1,
) -> torch.Tensor:
    """``q_T`` after one pass over each seed's ``T`` tokens in batches of ``B``; float64
    ``[R, N]``."""
    _, curves = approximate_weight_curves(
        probabilities, n_samples, seeds, n_classes, gamma, batch_size, record_every=n_samples
    )
    return curves[:, -1]


def approximate_weight_curves(
    probabilities: torch.Tensor,
    n_samples: int,
    seeds: int | Sequence[int],
    n_classes: int,
    gamma: float,
    batch_size: int = 1,
    record_every: int = 1,
) -> tuple[list[int], torch.Tensor]:
    """``q`` after step 0 (``q = 0``), every ``record_every``-th step and the last step
    (``T / B`` steps), as in ``memlaws.kernel.training.train``'s curves: the steps and float64
    ``[R, len(steps), N]``."""
    probabilities = torch.as_tensor(probabilities)
    if probabilities.ndim != 1:
        raise ValueError(f"probabilities must have shape [N], got {tuple(probabilities.shape)}")
    n_tokens = weights_tensor("probabilities", probabilities, probabilities.shape[0]).shape[0]
    positive_int("n_samples", n_samples)
    seed_values = seed_list("seeds", seeds)
    positive_int("M", n_classes)
    nonnegative_float("gamma", gamma)
    positive_int("batch_size", batch_size)
    if n_samples % batch_size:
        raise ValueError(
            f"n_samples must be a multiple of batch_size = {batch_size}, got {n_samples}"
        )
    positive_int("record_every", record_every)
    tokens = torch.stack([sample_tokens(probabilities, n_samples, s) for s in seed_values])
    niter = n_samples // batch_size
    batches = tokens.view(len(seed_values), niter, batch_size)
    ones = torch.ones(len(seed_values), batch_size, dtype=torch.float64)
    steps = recorded_steps(niter, record_every)
    recorded = set(steps)
    q = torch.zeros(len(seed_values), n_tokens, dtype=torch.float64)
    curve = [q.clone()]
    for t in range(niter):
        counts = torch.zeros_like(q).scatter_add_(1, batches[:, t], ones)
        q += counts * (gamma / batch_size) / (1 + torch.exp(q) / (n_classes - 1))
        if (t + 1) in recorded:
            curve.append(q.clone())
    return steps, torch.stack(curve, dim=1)


def approximate_error_curves(
    weight_curves: torch.Tensor,
    probabilities: torch.Tensor,
    targets: torch.Tensor,
    n_classes: int,
    dim: int,
    seeds: Sequence[int],
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Population error of the ``q_γ`` memory at every recorded step: ``weight_curves`` ``[S, K,
    N]`` from ``approximate_weight_curves``, unit-norm outputs as the trainer's from ``W₀ = 0``;
    float64 ``[S, K]``."""
    return torch.stack(
        [
            scheme_errors(
                weight_curves[:, k],
                probabilities,
                targets,
                n_classes,
                [dim],
                seeds,
                outputs="sphere",
                device=device,
            )[:, 0]
            for k in range(weight_curves.shape[1])
        ],
        dim=1,
    )
