"""Helpers shared by the laws: the Zipf setting of a configuration and its grids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from memlaws.kernel import modular_targets, zipf_probabilities
from memlaws.theory.law import Config, Parameter
from memlaws.theory.statistics import geometric_grid

POINTS_PER_OCTAVE = 2

ALPHA = Parameter(1.5, 2.5, 2.0, "float", "Zipf exponent α of the token law")
CLASSES = Parameter(2, 10, 5, "int", "number of classes M")


@dataclass(frozen=True)
class ZipfSetting:
    """Token probabilities ``[N]`` and targets ``f*(x) = x mod M`` ``[N]`` of a configuration."""

    probabilities: torch.Tensor
    targets: torch.Tensor
    n_classes: int


def zipf_setting(config: Config) -> ZipfSetting:
    n_tokens, n_classes = int(config["N"]), int(config.get("M", 1))
    return ZipfSetting(
        zipf_probabilities(n_tokens, float(config["alpha"])),
        modular_targets(n_tokens, n_classes),
        n_classes,
    )


def grid(config: Config, low: str, high: str, per_octave: int = POINTS_PER_OCTAVE) -> list[int]:
    """The geometric grid between ``config[low]`` and ``config[high]``."""
    return geometric_grid(int(config[low]), int(config[high]), per_octave)


def as_array(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=float)


def seed_means(values: np.ndarray, per_seed: int) -> np.ndarray:
    """Average consecutive groups of ``per_seed`` draws: ``[R·k, ...]`` → ``[R, ...]`` (the
    draws of a seed are ``memlaws.theory.profiles.draws``)."""
    values = np.asarray(values, dtype=float)
    return values.reshape(-1, per_seed, *values.shape[1:]).mean(axis=1)
