"""Argument checks shared by the kernel: every bad input raises ``ValueError`` naming the
argument and the values it accepts. Nothing is clipped or coerced."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def nonnegative_int(name: str, value: object) -> int:
    """Return ``value`` if it is an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def int_in_range(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` if it is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return value


def nonnegative_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number >= 0."""
    real = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not real or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def flag(name: str, value: object) -> bool:
    """Return ``value`` if it is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def choice(name: str, value: object, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value  # type: ignore[return-value]


def dimension_list(name: str, dims: object) -> list[int]:
    """Return ``dims`` as a list if it is a non-empty sequence of integers ``d >= 1``."""
    values = list(dims)
    if not values:
        raise ValueError(f"{name} must be a non-empty list of integers d >= 1")
    return [positive_int(f"{name}[{i}]", dim) for i, dim in enumerate(values)]


def seed_list(name: str, seeds: object) -> list[int]:
    """Return the seeds as a non-empty list of integers >= 0 (one per replica)."""
    values = _one_or_more(name, seeds, int, "an integer >= 0")
    return [nonnegative_int(f"{name}[{i}]", s) for i, s in enumerate(values)]


def step_size_list(name: str, values: object) -> list[float]:
    """Return step sizes as a non-empty list of finite numbers >= 0."""
    values = _one_or_more(name, values, (int, float), "a number >= 0")
    return [nonnegative_float(f"{name}[{i}]", v) for i, v in enumerate(values)]


def _one_or_more(name: str, values: object, kind: type | tuple[type, ...], what: str) -> Sequence:
    """``values`` as a non-empty sequence: a lone ``kind`` (never a bool) becomes ``[values]``."""
    if isinstance(values, kind) and not isinstance(values, bool):
        return [values]
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) == 0:
        raise ValueError(f"{name} must be {what} or a non-empty list of them, got {values!r}")
    return values


def weights_tensor(name: str, weights: object, n_tokens: int) -> torch.Tensor:
    """Return memory weights as float64 of shape ``[N]`` or ``[R, N]``: finite and >= 0."""
    tensor = torch.as_tensor(weights)
    if tensor.dtype == torch.bool or not (tensor.is_floating_point() or _is_integer(tensor)):
        raise ValueError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    tensor = tensor.to(torch.float64)
    if tensor.ndim not in (1, 2) or tensor.shape[-1] != n_tokens:
        raise ValueError(
            f"{name} must have shape [N] or [R, N] with N = {n_tokens}, got {tuple(tensor.shape)}"
        )
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite; it holds NaN or infinite values")
    if bool((tensor < 0).any()):
        raise ValueError(f"{name} must be >= 0 everywhere; it holds negative values")
    return tensor


def _is_integer(tensor: torch.Tensor) -> bool:
    return tensor.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
