"""The three models (``memlaws.kernel.setup``) on a replica axis, gradients written out by hand.

Every tensor has a leading axis of ``R`` replicas and a step is a handful of batched products.
A step gets a ``Batch``: the ``K`` rows it touches (``K = min(B, N)``: a batch of ``B > N``
tokens is folded into per-token counts), their one-hot targets and loss weights. Each model
class is one way to train a setup; ``build_model`` picks the fastest. Cost of a step per
replica:

- SGD on the matrix model without layer norm, or with layer norm from ``W₀ = 0``:
  ``W = c·W₀ − A Uᵀ`` with ``A`` ``[d, M]``, ``O(K·d·M)`` (``LowRank``);
- SGD on the matrix model with layer norm from a random ``W₀``: only ``H = E W`` (``[N, d]``),
  ``O(N·K·d)`` (``Hidden``; it rounds otherwise than ``E[x] W``, see its docstring);
- Adam, or the learnable model, without layer norm: ``O(d²·M + K·d·M)`` (``Dense``; on the
  CPU Adam forms ``∇W`` a block of rows at a time, in cache);
- Adam or the learnable model with layer norm: ``O(K·d²)`` (``Dense``);
- the exponential model: ``O(K·d·M)`` (``Exponential``); SGD, and Adam without moments or
  weight decay on the CPU, move only the batch's rows of ``E``.

Every op gives each replica the same result whatever the number of replicas or threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch

from memlaws.kernel.optimizers import Optimizer, RowSet, add_rows_
from memlaws.kernel.setup import LAYERNORM_EPS, TrainingSetup


class Batch(NamedTuple):
    """What one step trains on: flat indices ``rows`` ``[R, K]`` into the replicas' stacked
    token rows (replica ``r``'s token ``x`` is row ``r·N + x``), or ``None`` for every token in
    order (a folded batch); one-hot ``targets`` ``[R, K, M]``; loss ``weights``, ``1/B`` or the
    folded batch's per-token counts ``/ B``, ``[R, N, 1]``; optionally ``rows``' ``RowSet``
    (``memlaws.kernel.optimizers``), found for many steps at once."""

    rows: torch.Tensor | None
    targets: torch.Tensor
    weights: torch.Tensor | float
    distinct: RowSet | None = None  # for an optimizer that moves distinct rows of ``E`` only


class Model(ABC):
    """A model on ``R`` replicas whose parameters ``params`` (``E`` ``[R, N, d]``, ``U``
    ``[R, d, M]``, ``W`` ``[R, d, d]`` for models with a memory) ``optimizer`` moves in place."""

    def __init__(
        self, setup: TrainingSetup, params: dict[str, torch.Tensor], optimizer: Optimizer
    ) -> None:
        self.setup, self.optimizer = setup, optimizer
        self.inputs, self.outputs = params["E"], params["U"]

    @abstractmethod
    def step(self, batch: Batch, factor: float) -> None:
        """One step on ``batch``, the step sizes times the schedule's ``factor``."""

    @abstractmethod
    def scores(self) -> torch.Tensor:
        """Every token's scores ``[R, N, M]``, whose argmax is the prediction (layer norm, a
        positive rescaling, never changes it, so it is left out)."""

    @abstractmethod
    def parameters(self) -> dict[str, torch.Tensor]:
        """The current ``E``, ``W`` (models with a memory) and ``U``, shaped as ``params``."""


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


class LowRank(Model):
    """SGD on the matrix model: every gradient is ``P Uᵀ`` with ``P = E[x]ᵀ G'`` (``[d, M]``),
    so ``W = c·W₀ − A Uᵀ`` and the logits' matrix is ``S = W U = c·W₀U − A (UᵀU)``.

    Without layer norm ``G' = G``, the logits' gradient. With layer norm, ``h = e W`` must stay
    in the span of ``U``'s columns, which holds from ``W₀ = 0``: then ``h = v Uᵀ`` with
    ``v = −e A``, ``‖h‖² = (e W U)·v``, and the layer-norm backward pass gives
    ``G' = (G − (v/s)(logits·G)) / s``. ``A`` and ``S`` are kept transposed (``[R, M, d]``):
    CPU matrix products with an output of ``M`` columns are several times slower.
    """

    def __init__(
        self, setup: TrainingSetup, params: dict[str, torch.Tensor], optimizer: Optimizer
    ) -> None:
        super().__init__(setup, params, optimizer)
        self.initial = params["W"]
        outputs_t = self.outputs.transpose(1, 2)
        self.initial_scores_t = torch.bmm(outputs_t, self.initial.transpose(1, 2))  # c·(W₀U)ᵀ
        self.gram = torch.bmm(outputs_t, self.outputs)  # UᵀU, symmetric, [R, M, M]
        self.update_t = torch.zeros_like(self.initial_scores_t)  # Aᵀ, [R, M, d]
        self.scale = torch.ones_like(self.initial_scores_t[:, :1, :1])  # c

    def _memory_scores_t(self) -> torch.Tensor:
        """``Sᵀ = (W U)ᵀ``, ``[R, M, d]``."""
        return torch.baddbmm(self.initial_scores_t, self.gram, self.update_t, alpha=-1)

    def step(self, batch: Batch, factor: float) -> None:
        rows, targets, weights = batch[:3]
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


class Hidden(Model):
    """SGD on the matrix model with layer norm from a random ``W₀``: every gradient is
    ``E[x]ᵀ g_h``, so ``W = c·W₀ − Eᵀ A`` (``A`` ``[N, d]``, the steps scattered to the tokens'
    rows) and the model needs ``W`` only through the tokens' hidden vectors ``H = E W``
    (``[N, d]``, ``N ≪ d``), which a step moves by ``−Γ[:, x] (η g_h)`` (``Γ = E Eᵀ``):
    ``O(N·K·d)`` instead of ``O(K·d²)``, and no ``d × d`` tensor. ``W`` is formed only when asked
    for. (It rounds otherwise than the dense ``E[x] W``: of 3040 paper-grid runs compared, 2 final
    errors differed, by one rare token's mass; ``properties/test_training.py`` bounds the gap.)
    """

    def __init__(
        self, setup: TrainingSetup, params: dict[str, torch.Tensor], optimizer: Optimizer
    ) -> None:
        super().__init__(setup, params, optimizer)
        self.initial = params["W"]
        self.outputs_t = self.outputs.transpose(1, 2).contiguous()  # Uᵀ, [R, M, d]
        self.hidden = torch.bmm(self.inputs, self.initial)  # H = E W, [R, N, d]
        self.gram = torch.bmm(self.inputs, self.inputs.transpose(1, 2))  # Γ = E Eᵀ, [R, N, N]
        self.update = torch.zeros_like(self.hidden)  # A, [R, N, d]
        self.scale = torch.ones_like(self.hidden[:, :1, :1])  # c

    def step(self, batch: Batch, factor: float) -> None:
        rows, targets, weights = batch[:3]
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
            add_rows_(self.update.view(-1, self.update.shape[-1]), rows, moved)

    def scores(self) -> torch.Tensor:
        return torch.bmm(self.hidden, self.outputs)  # layer norm never changes the argmax

    def parameters(self) -> dict[str, torch.Tensor]:
        memory = torch.baddbmm(
            self.initial * self.scale, self.inputs.transpose(1, 2), self.update, alpha=-1
        )
        return {"E": self.inputs, "W": memory, "U": self.outputs}


class Dense(Model):
    """Models with a memory ``W`` held densely: the learnable model and the matrix model under
    Adam (it trains any setup with a memory: ``Hidden`` is checked against it).

    Without layer norm the logits are ``e S`` with ``S = W U`` and, with ``P = eᵀ G``,
    ``∇W = P Uᵀ``, ``∇U = Wᵀ P``, ``∇e = G Sᵀ``: ``O(d²M)``, whatever the batch. With layer
    norm, ``h = e W`` is needed: ``∇W = eᵀ g_h``, ``∇U = zᵀ G``, ``∇e = g_h Wᵀ``: ``O(K d²)``.
    Products with ``W`` keep the ``M``-sized side first (``Uᵀ Wᵀ``, ``Pᵀ W``): CPU matrix
    products with an output of ``M`` columns are several times slower.
    """

    def __init__(
        self, setup: TrainingSetup, params: dict[str, torch.Tensor], optimizer: Optimizer
    ) -> None:
        super().__init__(setup, params, optimizer)
        self.memory = params["W"]
        # Uᵀ, [R, M, d]: once for the matrix model, whose U is fixed
        self.outputs_t = None if setup.model == "learnable" else self._outputs_t()

    def _outputs_t(self) -> torch.Tensor:
        return self.outputs.transpose(1, 2).contiguous()

    def step(self, batch: Batch, factor: float) -> None:
        rows, targets, weights = batch[:3]
        inputs, memory, outputs = self.inputs, self.memory, self.outputs
        learns_embeddings = self.setup.model == "learnable"
        outputs_t = self._outputs_t() if self.outputs_t is None else self.outputs_t
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
            self.optimizer.update_rows("E", inputs, rows, grad_e, factor, batch.distinct)
            self.optimizer.update("U", outputs, grad_outputs, factor)

    def scores(self) -> torch.Tensor:
        return self.inputs @ (self.memory @ self.outputs)  # layer norm never changes the argmax

    def parameters(self) -> dict[str, torch.Tensor]:
        return {"E": self.inputs, "W": self.memory, "U": self.outputs}


class Exponential(Model):
    """The exponential model ``logits = N(ReLU(e)) U`` (``N`` the optional layer norm):
    ``∇U = zᵀ G``, ``∇e = 1{e > 0} · N'(G Uᵀ)``, ``O(K d M)``, products oriented as in
    ``Dense``."""

    def step(self, batch: Batch, factor: float) -> None:
        rows, targets, weights = batch[:3]
        e = _gather(self.inputs, rows)  # [R, K, d], E itself when the batch is folded
        outputs_t = self.outputs.transpose(1, 2).contiguous()  # Uᵀ, [R, M, d]
        hidden = torch.relu(e)
        z, scale = _normalise(hidden) if self.setup.layernorm else (hidden, None)
        logits = torch.bmm(z, outputs_t.transpose(1, 2))
        grad = _logit_gradient(logits, targets, weights)
        grad_z = torch.bmm(grad, outputs_t)
        grad_hidden = grad_z if scale is None else _normalise_backward(z, scale, grad_z)
        # the mask as 1.0 / 0.0 in e's dtype: a bool mask is 4 times slower to form and apply
        grad_e = grad_hidden.mul_(torch.gt(e, 0, out=torch.empty_like(e)))
        grad_outputs = torch.bmm(grad.transpose(1, 2), z).transpose(1, 2)  # zᵀ G
        self.optimizer.tick()
        self.optimizer.update_rows("E", self.inputs, rows, grad_e, factor, batch.distinct)
        self.optimizer.update("U", self.outputs, grad_outputs, factor)

    def scores(self) -> torch.Tensor:
        return torch.relu(self.inputs) @ self.outputs

    def parameters(self) -> dict[str, torch.Tensor]:
        return {"E": self.inputs, "U": self.outputs}


def model_class(setup: TrainingSetup) -> type[Model]:
    """The model class that trains ``setup`` fastest (see the module docstring)."""
    if setup.model == "exponential":
        return Exponential
    if setup.model == "matrix" and setup.optimizer == "sgd":
        return LowRank if not setup.layernorm or setup.init == "zero" else Hidden
    return Dense


def build_model(
    setup: TrainingSetup, params: dict[str, torch.Tensor], optimizer: Optimizer
) -> Model:
    """``setup``'s ``model_class`` on ``params``, moved by ``optimizer``."""
    return model_class(setup)(setup, params, optimizer)
