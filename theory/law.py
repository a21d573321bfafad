"""What a law is: a predicted value for a per-seed statistic, a rival that the same data must
reject, a declared tolerance with its reason, the domain where the check applies, and the
simulation that measures the statistic.

A new law (or conjecture) subclasses ``Law``, fills in the class attributes and the four methods,
and is registered (``memlaws.theory.registry``); every generic property, the report and the
calibration then apply to it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

Config = dict[str, Any]
RESOLUTION_FLOOR = 0.05  # the smallest resolution goal of a point claim, in the statistic's units


@dataclass(frozen=True)
class Parameter:
    """One coordinate of a law's check domain: ``kind`` is ``"float"``, ``"int"`` or ``"log_int"``
    (an integer drawn uniformly in log scale), between ``low`` and ``high`` inclusive."""

    low: float
    high: float
    default: float
    kind: str = "float"
    meaning: str = ""

    def validate(self, name: str, value: object) -> float | int:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if self.kind != "float" and not is_int:
            raise ValueError(
                f"{name} must be an integer in [{self.low}, {self.high}], got {value!r}"
            )
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
            raise ValueError(f"{name} must be a number in [{self.low}, {self.high}], got {value!r}")
        if not self.low <= value <= self.high:
            raise ValueError(f"{name} must lie in [{self.low}, {self.high}], got {value!r}")
        return value


@dataclass(frozen=True)
class Prediction:
    """A claim about the mean of a per-seed statistic.

    ``kind="point"``: the mean lies in ``value ± tolerance`` (the claim's band). ``kind="above"``
    / ``"below"``: the mean is greater / smaller than ``value`` (for an ordering, ``value`` is the
    minimum effect the claim asserts).

    Judged against a confidence interval ``[low, high]`` of that mean, a claim is *supported*
    only by positive evidence, the whole interval inside its band (two one-sided tests), and
    *contradicted* when the whole interval lies outside its band.
    """

    kind: str
    value: float
    tolerance: float = 0.0
    label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if not (math.isfinite(self.value) and self.tolerance >= 0):
            raise ValueError(
                f"value must be finite and tolerance >= 0; got {self.value!r}, {self.tolerance!r}"
            )

    def band(self) -> tuple[float, float]:
        """The values of the mean this claim allows, ``(low, high)``."""
        if self.kind == "point":
            return self.value - self.tolerance, self.value + self.tolerance
        if self.kind == "above":
            return self.value, math.inf
        return -math.inf, self.value

    def supported(self, low: float, high: float) -> bool:
        """Whether the whole interval ``[low, high]`` lies inside the band (strictly beyond the
        bound of a one-sided claim)."""
        if self.kind == "point":
            band_low, band_high = self.band()
            return band_low <= low and high <= band_high
        return low > self.value if self.kind == "above" else high < self.value

    def contradicted(self, low: float, high: float) -> bool:
        """Whether the whole interval ``[low, high]`` lies outside the band."""
        band_low, band_high = self.band()
        return high < band_low or low > band_high

    def shifted(self, delta: float) -> Prediction:
        """The same claim with its value moved by ``delta`` (its tolerance unchanged)."""
        return replace(self, value=self.value + delta, label=f"{self.label} shifted {delta:+g}")

    def resolution(self, low: float, high: float) -> float:
        """The smallest shift of this claim that an interval ``[low, high]`` contradicts: a
        point claim moved by more than this in either direction is contradicted; a one-sided
        claim moved further into its own side by more than this is."""
        if self.kind == "point":
            return max(high + self.tolerance - self.value, self.value + self.tolerance - low, 0.0)
        if self.kind == "above":
            return max(high - self.value, 0.0)
        return max(self.value - low, 0.0)

    def describe(self) -> str:
        if self.kind == "point":
            return f"{self.value:+.3f} ± {self.tolerance:.3f}"
        return f"{'>' if self.kind == 'above' else '<'} {self.value:+.3f}"


KINDS = ("point", "above", "below")


@dataclass
class Measurement:
    """What a simulation measured: one statistic per seed, and the curves behind it.

    ``x`` is the swept variable (``[K]``), ``curves`` the measured quantity per seed
    (``[R, K]``, or ``[R, J, K]`` for a family of curves labelled by ``series``). ``scales``:
    how the curves are read, ``("log" | "linear", "log" | "linear")`` for ``x`` and the curves;
    ``fitted_slope``: the statistic is each seed's slope of ``log curve`` against ``log x``, so a
    figure draws the fitted, predicted and rival slopes through the data. ``extras``: further
    values the report keeps beside the verdict (its scalars go into ``laws.json``: e.g. C1's
    every-item threshold slope); ``exact``: the theory's expected curve over ``x`` where it
    gives one (``[K]``), drawn in the law's figure with the legend ``exact_label``.
    """

    statistic: np.ndarray
    x: np.ndarray
    curves: np.ndarray
    xlabel: str
    ylabel: str
    series: Sequence[str] = ()
    invalid: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    scales: tuple[str, str] = ("linear", "linear")
    fitted_slope: bool = False
    exact: np.ndarray | None = None
    exact_label: str = "exact expectation"


class Law(ABC):
    """A scaling law or conjecture, checked by simulation over seeds."""

    spec: str
    source: str
    statement: str
    statistic: str  # what the per-seed statistic is, e.g. "slope of log error in log d"
    variable: str  # the variable the law scales in
    domain: str  # where the theory applies, in words
    parameters: Mapping[str, Parameter]  # the check domain, drawn from by the properties
    tolerance_reason: str
    rival_name: str
    open_claim: bool = False  # a claim reported whichever way it goes (no side taken)
    open_reason: str = ""  # why it is open; required when ``open_claim``
    statistic_kind: str = "continuous"  # or "binary": 0/1 per seed, judged by an exact interval
    seconds_per_seed: float = 0.05  # declared cost of one seed on 2 CPU cores (plans stages)

    def config(self, **overrides: Any) -> Config:
        """The default configuration with ``overrides`` applied and every value checked."""
        unknown = set(overrides) - set(self.parameters)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {sorted(unknown)} for {self.spec}; "
                f"allowed: {sorted(self.parameters)}"
            )
        merged = {name: p.default for name, p in self.parameters.items()} | overrides
        for name, parameter in self.parameters.items():
            merged[name] = parameter.validate(name, merged[name])
        self.check_admissible(merged)
        return merged

    beyond: Sequence[Mapping[str, Any]] = ()  # changes that leave the stated region

    def beyond_configs(self) -> list[Config]:
        """Configurations outside the check domain (the default changed by each of ``beyond``),
        unchecked on purpose: the report shows the verdicts there, where a claim may stop
        holding."""
        default = {name: p.default for name, p in self.parameters.items()}
        return [default | dict(change) for change in self.beyond]

    def check_admissible(self, config: Config) -> None:
        """Raise ``ValueError`` when a configuration lies outside the check domain in a way the
        parameter boxes cannot express (e.g. ``ρ > 1/(2α)``). Every configuration is admissible
        unless a law says otherwise."""
        return None

    @abstractmethod
    def predicted(self, config: Config) -> Prediction:
        """The law's prediction for the statistic, with its tolerance."""

    @abstractmethod
    def rival(self, config: Config) -> Prediction:
        """A rival prediction that the same data must reject."""

    @abstractmethod
    def measure(self, config: Config, seeds: Sequence[int], device: str = "cpu") -> Measurement:
        """Simulate with the given seeds and return the per-seed statistic."""

    def resolution_goal(self, config: Config) -> float:
        """The shift of the claim the law promises to reject at the ``standard`` profile: the
        calibration measures its power against the claim moved by this much. Point claims:
        ``max(0.25·|value|, RESOLUTION_FLOOR)``; orderings: their minimum effect (the near
        alternative is "no effect beyond it")."""
        claim = self.predicted(config)
        if claim.kind == "point":
            return max(0.25 * abs(claim.value), RESOLUTION_FLOOR)
        return abs(claim.value)
