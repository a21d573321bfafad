"""SGD and Adam on a replica axis: parameters ``[R, ·, ·]``, step sizes ``[R]``, in place.

Both take decoupled weight decay and the setup's step scales and schedule
(``memlaws.kernel.setup``). A gradient comes as a tensor, as the two factors of a batched
product (SGD applies it without forming it; Adam forms it a block of ``block_rows`` rows at a
time on the CPU, so the work stays in cache), or as the rows of embeddings a batch touched (SGD
moves only those rows, and so does Adam without moments or weight decay on the CPU).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import NamedTuple

import torch

from memlaws.kernel.setup import ADAM_EPS, TrainingSetup

CHUNK_ELEMENTS = 2**19  # on the CPU, Adam forms a product gradient in blocks this large
# off the CPU, a batch of at most this many rows per replica has its repeated rows summed by a
# product with their [K, K] equality matrix (``add_rows_``)
REPEAT_PRODUCT_MAX_ROWS = 512


def adam_block_rows(setup: TrainingSetup, n_replicas: int, device: str | torch.device) -> int:
    """Rows of ``W`` per block of a blocked Adam step (``CHUNK_ELEMENTS`` over all ``R`` replicas
    of the call, whichever shard runs them: the block sets the products' rounding); all rows off
    the CPU, where blocks help no cache."""
    if torch.device(device).type != "cpu":
        return setup.dim
    return max(1, CHUNK_ELEMENTS // (n_replicas * setup.dim))


def moves_distinct_rows(setup: TrainingSetup, device: str | torch.device) -> bool:
    """Whether ``Optimizer.update_rows`` moves only a batch's distinct rows of embeddings under
    Adam: without moments or weight decay, on the CPU (elsewhere Adam forms the dense gradient;
    SGD always moves the rows given)."""
    stateless = setup.betas == (0.0, 0.0) and not setup.weight_decay
    return setup.optimizer == "adam" and stateless and torch.device(device).type == "cpu"


class RowSet(NamedTuple):
    """The distinct flat rows ``[U]`` (sorted) of a batch's rows ``[R, K]`` into embeddings
    ``[R, N, d]`` viewed as ``[R·N, d]``, each batch row's index among them (``inverse``,
    ``[R·K]``) and each distinct row's replica ``[U]``."""

    rows: torch.Tensor
    inverse: torch.Tensor
    replicas: torch.Tensor


def row_set(rows: torch.Tensor, n_tokens: int) -> RowSet:
    """The ``RowSet`` of flat rows ``rows`` ``[R, K]`` into ``R`` blocks of ``n_tokens``."""
    distinct, inverse = torch.unique(rows.flatten(), return_inverse=True)
    return RowSet(distinct, inverse, distinct // n_tokens)


def row_sets(rows: torch.Tensor, n_tokens: int) -> list[RowSet]:
    """``row_set`` of every step's rows ``rows`` ``[C, R, K]`` at once (the same tensors)."""
    n_steps, n_replicas = rows.shape[:2]
    present = torch.zeros(n_steps, n_replicas * n_tokens, dtype=torch.bool, device=rows.device)
    present.scatter_(1, rows.flatten(1), True)
    rank = present.cumsum(1).sub_(1)  # a present row's index among its step's distinct rows
    inverse = rank.gather(1, rows.flatten(1))  # [C, R·K]
    distinct = present.nonzero()[:, 1]  # grouped by step, each sorted
    counts = present.sum(1).tolist()
    replicas = distinct // n_tokens
    return [
        RowSet(*parts)
        for parts in zip(
            distinct.split(counts), inverse.unbind(0), replicas.split(counts), strict=True
        )
    ]


def add_rows_(
    flat: torch.Tensor, rows: torch.Tensor, values: torch.Tensor, alpha: float = 1
) -> None:
    """``flat[rows] += alpha · values`` in place, a row repeated in the batch getting the sum of
    its values: ``flat`` ``[R·N, d]``, flat rows ``rows`` ``[R, K]`` (replica ``r``'s within
    ``[r·N, (r + 1)·N)``), ``values`` ``[R, K, d]``. The same numbers at every call on any device:

    - on the CPU, ``index_add_`` adds the values in the batch's order;
    - elsewhere ``index_add_``'s atomic adds meet a repeated row in whichever order the threads
      run, so its sum would change from run to run. There each replica's repeats are summed first,
      by a product with their ``[K, K]`` equality matrix (``summed_repeats``): a row then gets its
      sum once and exact zeros from its repeats, in any order the same number. Above
      ``REPEAT_PRODUCT_MAX_ROWS`` rows, torch's deterministic ``index_add_`` (a sort) does it.
    """
    index = rows.flatten()
    if flat.device.type == "cpu":
        flat.index_add_(0, index, values.flatten(0, 1), alpha=alpha)
    elif rows.shape[1] <= REPEAT_PRODUCT_MAX_ROWS:
        flat.index_add_(0, index, summed_repeats(rows, values).flatten(0, 1), alpha=alpha)
    else:
        with _deterministic_algorithms():
            flat.index_add_(0, index, values.flatten(0, 1), alpha=alpha)


def summed_repeats(rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``[R, K, d]``: at each row's first place in its replica's batch ``rows`` ``[R, K]``, the sum
    of its ``values`` ``[R, K, d]`` over the batch (a product with the equality matrix); exact
    zeros at its later places."""
    same = rows.unsqueeze(2) == rows.unsqueeze(1)  # [R, K, K]
    later = torch.tril(same, diagonal=-1).any(dim=2, keepdim=True)  # an earlier place has it
    return torch.bmm(same.to(values.dtype), values).masked_fill_(later, 0.0)


@contextlib.contextmanager
def _deterministic_algorithms() -> Iterator[None]:
    """Run with ``torch.use_deterministic_algorithms(True)``, then restore torch's setting."""
    previous = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=warn_only)


class Optimizer:
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
        distinct: RowSet | None = None,
    ) -> None:
        """One step on embeddings ``param`` ``[R, N, d]`` whose gradient is ``grad_rows``
        ``[R, K, d]`` at flat rows ``rows`` ``[R, K]`` (repeats add up), or at every row in
        order if ``rows`` is ``None``. SGD moves only the rows given, and so does Adam on the
        CPU without moments or weight decay (elsewhere ``0 / (0 + eps) = 0`` moves nothing), on
        ``rows``' ``distinct`` set if given (else found here); Adam otherwise forms the dense
        gradient (its moments move every row)."""
        if rows is None:
            self.update(name, param, grad_rows, factor)
            return
        flat = param.view(-1, param.shape[-1])
        if self.setup.optimizer == "sgd":
            step = self.step_size(name, factor)
            if self.setup.weight_decay:
                param.mul_(1 - step * self.setup.weight_decay)
            add_rows_(flat, rows, grad_rows * step, alpha=-1)
            return
        if moves_distinct_rows(self.setup, param.device):
            found = row_set(rows, param.shape[1]) if distinct is None else distinct
            self._adam_rows(name, param, found, grad_rows, factor)
            return
        grad = self.buffer(name, "rows", param, zero=True)
        add_rows_(grad.view_as(flat), rows, grad_rows)
        self.update(name, param, grad, factor)

    def _adam_rows(
        self,
        name: str,
        param: torch.Tensor,
        distinct: RowSet,
        grad_rows: torch.Tensor,
        factor: float,
    ) -> None:
        """Adam without moments on a batch's ``distinct`` rows only: their gradients summed in
        the batch's order, as in the dense gradient, then ``p − η g / (|g| + eps)``."""
        flat = param.view(-1, param.shape[-1])
        rows, inverse, replicas = distinct
        grad = torch.zeros(len(rows), flat.shape[1], dtype=flat.dtype, device=flat.device)
        grad.index_add_(0, inverse, grad_rows.flatten(0, 1))
        direction = grad.div_(torch.abs(grad).add_(ADAM_EPS))
        step = self.step_size(name, factor).flatten().index_select(0, replicas)[:, None]
        flat.index_copy_(0, rows, flat.index_select(0, rows).addcmul_(direction, step, value=-1))

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
