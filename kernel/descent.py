"""Full-batch deterministic descent on the associative memory ``s(x, y) = u_yᵀ W e_x``.

The population loss is ``L(W) = Σ_x p(x) ℓ(s(x, ·), q(· | x))`` over all ``N`` tokens, with
``q(· | x)`` the target law of token ``x`` over the ``M`` classes (one-hot rows for a
deterministic ``f*``, e.g. ``x mod M`` or one class per token; any row-stochastic matrix for a
bigram model) and ``ℓ`` the cross-entropy ``−Σ_y q(y|x) log softmax(s(x, ·))_y`` or the square
loss ``½ Σ_y (s(x, y) − q(y|x))²``. With ``E`` ``[N, d]`` (rows ``e_x``), ``U`` ``[M, d]`` (rows
``u_y``) and ``G[x, y] = p(x) ∂ℓ/∂s(x, y)``, the gradient is ``∇W = Uᵀ Gᵀ E`` (``[d, d]``), in
``O(N·M·d + N·d²)``.

Three steps from ``W``: gradient descent ``W − η ∇W``; sign descent ``W − η sign(∇W)`` (Adam with
``β₁ = β₂ = 0`` and no ``eps``); and the orthogonalised (Muon-like) step ``W − η polar(∇W)``,
``polar(A) = U_A V_Aᵀ`` from the SVD ``A = U_A Σ V_Aᵀ`` (a Newton–Schulz iteration is offered as
an approximation; the SVD is the reference).
"""

from __future__ import annotations

import torch

from memlaws.kernel.validation import choice, positive_float, positive_int

LOSSES = ("cross_entropy", "square")
POLAR_METHODS = ("svd", "newton_schulz")
GRID_OFFSETS = 13  # stream id (memlaws.kernel.streams) of seeded step-size grid offsets


def labels_or_law(targets: torch.Tensor, n_tokens: int, n_classes: int) -> torch.Tensor:
    """``targets`` checked: integer labels ``[N]`` in ``[0, M)``, or a target law ``[N, M]`` with
    non-negative rows summing to 1 (returned as given). Unlike ``memlaws.kernel.data.
    checked_targets`` it allows more classes than tokens (a gradient is defined for any M)."""
    positive_int("n_classes", n_classes)
    if targets.ndim == 1 and not targets.is_floating_point() and targets.shape[0] == n_tokens:
        if n_tokens and (int(targets.min()) < 0 or int(targets.max()) >= n_classes):
            raise ValueError(f"targets must lie in [0, M-1] = [0, {n_classes - 1}]")
        return targets
    if targets.shape != (n_tokens, n_classes) or not targets.is_floating_point():
        raise ValueError(
            f"targets must be integer labels [N={n_tokens}] or a law [N, M]=[{n_tokens}, "
            f"{n_classes}], got {targets.dtype} of shape {tuple(targets.shape)}"
        )
    sums = targets.sum(1, dtype=torch.float64)
    if bool((targets < 0).any()) or not torch.allclose(sums, torch.ones_like(sums)):
        raise ValueError("targets given as a law [N, M] must have non-negative rows summing to 1")
    return targets


def score_gradient(
    scores: torch.Tensor, targets: torch.Tensor, probabilities: torch.Tensor, loss: str
) -> torch.Tensor:
    """``G[x, y] = p(x) ∂ℓ/∂s(x, y)`` ``[N, M]`` for scores ``[N, M]``, checked targets (labels
    ``[N]`` or a law ``[N, M]``) and token probabilities ``[N]``; in the dtype of ``scores``."""
    choice("loss", loss, LOSSES)
    residual = torch.softmax(scores, dim=-1) if loss == "cross_entropy" else scores.clone()
    if targets.ndim == 1:
        residual[torch.arange(len(targets), device=scores.device), targets.to(scores.device)] -= 1
    else:
        residual -= targets.to(device=scores.device, dtype=scores.dtype)
    return residual.mul_(probabilities.to(device=scores.device, dtype=scores.dtype)[:, None])


def population_gradient(
    memory: torch.Tensor,
    inputs: torch.Tensor,
    outputs: torch.Tensor,
    probabilities: torch.Tensor,
    targets: torch.Tensor,
    loss: str = "cross_entropy",
) -> torch.Tensor:
    """``∇W L`` ``[d, d]`` of the population loss at ``memory`` ``[d, d]``; ``inputs`` ``[N, d]``,
    ``outputs`` ``[M, d]``, ``probabilities`` ``[N]``, ``targets`` labels ``[N]`` or a law
    ``[N, M]``. Computed in the dtype of ``memory``."""
    n_tokens, dim = inputs.shape
    if memory.shape != (dim, dim) or outputs.shape[1] != dim or probabilities.shape != (n_tokens,):
        raise ValueError(
            f"shapes must be memory [d, d], inputs [N, d], outputs [M, d], probabilities [N]; "
            f"got {tuple(memory.shape)}, {tuple(inputs.shape)}, {tuple(outputs.shape)}, "
            f"{tuple(probabilities.shape)}"
        )
    targets = labels_or_law(targets, n_tokens, outputs.shape[0])
    inputs, outputs = inputs.to(memory.dtype), outputs.to(memory.dtype)
    scores = (inputs @ memory.T) @ outputs.T  # s[x, y] = u_yᵀ W e_x
    grad = score_gradient(scores, targets, probabilities, loss)
    return outputs.T @ (grad.T @ inputs)


def zero_memory_gradient(
    inputs: torch.Tensor,
    outputs: torch.Tensor,
    probabilities: torch.Tensor,
    labels: torch.Tensor,
) -> torch.Tensor:
    """``∇W`` of the cross-entropy population loss at ``W = 0`` for integer ``labels`` ``[N]``,
    where every softmax is uniform: ``(1/M) (Σ_y u_y)(Σ_x p(x) e_x)ᵀ − Σ_x p(x) u_{f*(x)} e_xᵀ``,
    ``[d, d]`` in ``O(N·d²)`` (``population_gradient`` at ``W = 0`` costs ``O(N·M·d)``)."""
    n_tokens, dim = inputs.shape
    labels = labels_or_law(labels, n_tokens, outputs.shape[0])
    if labels.ndim != 1 or outputs.shape[1] != dim or probabilities.shape != (n_tokens,):
        raise ValueError(
            "need inputs [N, d], outputs [M, d], probabilities [N] and integer labels [N]"
        )
    weights = probabilities.to(inputs.dtype)
    mean_input = weights @ inputs  # Σ_x p(x) e_x, [d]
    uniform = torch.outer(outputs.sum(0), mean_input) / outputs.shape[0]
    return uniform - outputs[labels].T @ (weights[:, None] * inputs)


def polar_factor(matrix: torch.Tensor, method: str = "svd", steps: int = 30) -> torch.Tensor:
    """The orthogonal polar factor ``U Vᵀ`` of ``matrix`` ``[..., m, n]`` (thin SVD). With
    ``method="newton_schulz"``, ``steps`` cubic iterations ``X ← 1.5 X − 0.5 X Xᵀ X`` from
    ``X₀ = A / ‖A‖_F``: it converges to ``U Vᵀ`` on the non-zero singular directions, slowly for
    singular values far below the largest."""
    choice("method", method, POLAR_METHODS)
    if method == "svd":
        left, _, right_t = torch.linalg.svd(matrix, full_matrices=False)
        return left @ right_t
    positive_int("steps", steps)
    norm = torch.linalg.matrix_norm(matrix, keepdim=True)
    current = matrix / torch.where(norm > 0, norm, torch.ones_like(norm))
    for _ in range(steps):
        current = 1.5 * current - 0.5 * current @ current.transpose(-1, -2) @ current
    return current


def gradient_step(memory: torch.Tensor, gradient: torch.Tensor, lr: float) -> torch.Tensor:
    """``W − η ∇W`` (a new tensor)."""
    return memory - positive_float("lr", lr) * gradient


def sign_step(memory: torch.Tensor, gradient: torch.Tensor, lr: float) -> torch.Tensor:
    """``W − η sign(∇W)`` (a new tensor; entries with a zero gradient stay)."""
    return memory - positive_float("lr", lr) * torch.sign(gradient)


def orthogonal_step(
    memory: torch.Tensor, gradient: torch.Tensor, lr: float, method: str = "svd"
) -> torch.Tensor:
    """``W − η polar(∇W)`` (a new tensor), the polar factor by ``method``."""
    return memory - positive_float("lr", lr) * polar_factor(gradient, method)
