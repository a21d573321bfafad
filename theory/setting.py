"""The paper's setting, defined once: its reference run in the paper's own vocabulary, the one
translation from that vocabulary to the kernel's ``TrainingSetup``, and the Zipf setting and
grids every law builds on.

The paper's vocabulary (reference-setting.md): ``model``, ``optimizer`` ("SGD" or "Adam"),
``lr`` (γ), ``N`` tokens, ``M`` classes, ``d``, ``alpha``, ``ntrain`` tokens seen once in
batches of ``batch_size``, ``layernorm``. The kernel's: ``n_tokens``, ``n_classes``, ``dim``,
``n_samples``, lower-case optimizer names. Laws, the paper's figures and ``memlaws simulate``
all reach the kernel through ``training_setup``; the kernel validates the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from memlaws.kernel import modular_targets, zipf_probabilities
from memlaws.kernel.setup import TrainingSetup
from memlaws.theory.law import Config, Parameter
from memlaws.theory.statistics import geometric_grid

PAPER_RUN: dict[str, Any] = {  # the reference setting, in the paper's vocabulary
    "model": "matrix",
    "optimizer": "SGD",
    "lr": 1.0,
    "N": 100,
    "M": 5,
    "d": 100,
    "ntrain": 10240,
    "batch_size": 16,
    "layernorm": False,
    "seed": 0,
    "alpha": 2.0,
}
OPTIMIZER_NAMES = ("SGD", "Adam")  # the paper's spelling; the kernel's names are lower case
THRESHOLD_FRACTION = 8  # thresholding keeps P = d/8 tokens, as in the paper's figures
POINTS_PER_OCTAVE = 2

ALPHA = Parameter(1.5, 2.5, 2.0, "float", "Zipf exponent α of the token law")
CLASSES = Parameter(2, 10, 5, "int", "number of classes M")


def fixed(value: float, meaning: str) -> Parameter:
    """A check-domain coordinate held at one value."""
    kind = "float" if isinstance(value, float) else "int"
    return Parameter(value, value, value, kind, meaning)


REFERENCE = {  # check-domain coordinates fixed at the paper's reference setting
    "N": fixed(PAPER_RUN["N"], "number of tokens"),
    "M": fixed(PAPER_RUN["M"], "number of classes"),
    "alpha": fixed(PAPER_RUN["alpha"], "Zipf exponent α"),
}


def training_setup(run: Mapping[str, Any], **kernel_options: Any) -> TrainingSetup:
    """The kernel's setup of a run in the paper's vocabulary (missing fields take ``PAPER_RUN``;
    ``seed`` and ``lr`` are not part of a setup); ``kernel_options`` are setup fields the paper
    does not name (``init``, ``outputs``, ``schedule``, ``decay_step``, ``decay_factor`` …)."""
    full = PAPER_RUN | dict(run)
    return TrainingSetup(
        model=full["model"],
        optimizer=full["optimizer"].lower(),
        n_tokens=full["N"],
        n_classes=full["M"],
        dim=full["d"],
        alpha=full["alpha"],
        n_samples=full["ntrain"],
        batch_size=full["batch_size"],
        layernorm=full["layernorm"],
        **kernel_options,
    )


def zero_start_setup(config: Config, dim: int, batch_size: int, n_samples: int) -> TrainingSetup:
    """Plain SGD on the matrix model from ``W₀ = 0`` with unit-norm outputs (the setting of the
    update approximation, R4) for a configuration's ``N``, ``M`` and ``alpha``."""
    run = {"N": config["N"], "M": config["M"], "alpha": config["alpha"], "d": dim}
    run |= {"batch_size": batch_size, "ntrain": n_samples}
    return training_setup(run, init="zero", outputs="sphere")


def kept_tokens(dim: int) -> int:
    """``P = max(1, d / 8)``: how many tokens thresholding keeps at dimension ``d``."""
    return max(1, dim // THRESHOLD_FRACTION)


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
