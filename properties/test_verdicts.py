"""The verdict rule: positive evidence to hold, a wholly outside interval to fail, degenerate
data inconclusive, exact intervals for 0/1 statistics, staged looks that spend the error rate,
disjoint seed spaces; and, on every rate law's own data, claims 40% off its exponent and
factor-2 slips fail."""

from __future__ import annotations

import itertools
import math
import types

import numpy as np
import pytest

from memlaws.kernel import expected_memoriser_error, zipf_probabilities
from memlaws.theory import checks
from memlaws.theory.law import RESOLUTION_FLOOR, Law, Measurement, Parameter, Prediction
from memlaws.theory.profiles import (
    PROFILE_TABLE,
    SEED_SPACES,
    draws,
    seed_block,
    stage_sizes,
    tuning_seeds,
)
from memlaws.theory.registry import all_laws, get_law
from memlaws.theory.shapes import allocation_exponent
from memlaws.theory.statistics import loglog_slopes
from memlaws.theory.verify import FAILS, HOLDS, INCONCLUSIVE, check_in_stages, judge, look_levels
from properties.reference_checks import reference_check


class Toy(Law):
    """A point claim 0 ± 0.1 with rival 1 ± 0.1, measuring ``centre + spread·noise``."""

    spec, source, statement = "TOY", "test", "a number near 0"
    statistic, variable, domain = "a number", "x", "anywhere"
    parameters = {"centre": Parameter(-2, 2, 0, "float"), "spread": Parameter(0, 1, 0.01, "float")}
    tolerance_reason, rival_name = "declared", "one"
    seconds_per_seed = 0.0

    def predicted(self, config):
        return Prediction("point", 0.0, 0.1)

    def rival(self, config):
        return Prediction("point", 1.0, 0.1)

    def measure(self, config, seeds, device="cpu"):
        noise = np.array([np.random.default_rng(s).normal() for s in seeds])
        values = config["centre"] + config["spread"] * noise
        return Measurement(values, np.arange(2.0), np.zeros((len(seeds), 2)), "x", "y")


def _verdict(centre: float, spread: float, n: int = 16):
    law = Toy()
    config = law.config(centre=centre, spread=spread)
    seeds = list(range(n))
    return judge(law, config, law.measure(config, seeds), seeds)


def test_holds_needs_the_whole_interval_inside_the_band():
    assert _verdict(0.02, 0.01).verdict == HOLDS
    straddling = _verdict(0.1, 0.05)  # the mean at the band's edge: no positive evidence
    assert straddling.verdict == INCONCLUSIVE and "band" in straddling.reason


def test_noisier_data_do_not_make_holding_easier():
    assert _verdict(0.0, 0.5).verdict == INCONCLUSIVE


def test_fails_when_the_interval_is_wholly_outside_the_band():
    assert _verdict(0.3, 0.01).verdict == FAILS


def test_an_inconclusive_verdict_says_how_many_seeds_would_decide():
    verdict = _verdict(0.05, 0.1)
    assert verdict.verdict == INCONCLUSIVE and verdict.seeds_to_decide > 16
    assert _verdict(0.05, 0.1, verdict.seeds_to_decide + 64).verdict == HOLDS


def test_seeds_that_all_agree_are_inconclusive():
    verdict = _verdict(0.0, 0.0)
    assert verdict.verdict == INCONCLUSIVE and "shared randomness" in verdict.reason


def test_resolution_is_the_smallest_shift_the_data_reject():
    verdict = _verdict(0.02, 0.01)
    assert verdict.resolution == pytest.approx(max(verdict.ci_high + 0.1, 0.1 - verdict.ci_low))


class Coin(Toy):
    statistic_kind = "binary"

    def predicted(self, config):
        return Prediction("above", 0.75)

    def rival(self, config):
        return Prediction("below", 0.5)

    def measure(self, config, seeds, device="cpu"):
        values = np.array([float(s % 10 != 0) for s in seeds])  # 90% successes
        return Measurement(values, np.arange(2.0), np.zeros((len(seeds), 2)), "x", "y")


def test_a_binary_statistic_gets_an_exact_interval_and_more_seeds_in_stages():
    law = Coin()
    first = judge(law, law.config(), law.measure(law.config(), range(10)), list(range(10)))
    assert first.verdict == INCONCLUSIVE and first.ci_low < 0.75  # 9/10: not yet above 0.75
    staged, _ = check_in_stages(law, law.config(), "quick")
    assert staged.verdict == HOLDS and staged.looks > 1 and staged.n_seeds > 16


def test_looks_spend_at_most_the_stated_error_rate():
    for looks in (1, 2, 3, 5):
        levels = look_levels(looks)
        assert len(levels) == looks and sum(1 - level for level in levels) == pytest.approx(0.01)


def test_stages_grow_fourfold_within_the_profile_budget():
    assert stage_sizes("standard") == [32, 128, 512]
    assert stage_sizes("quick") == [16, 64, 256]


def test_a_law_property_has_as_many_examples_as_its_budget_allows():
    ci = PROFILE_TABLE["ci"]  # 16 seeds a first look, 2 examples, 40 declared seconds
    assert ci.law_property_examples(1.2) == 2  # 19.2 s a first look: two fit
    assert ci.law_property_examples(1.3) == 1  # 20.8 s: one fits
    assert ci.law_property_examples(60.0) == 1  # none fits: still one
    assert ci.law_property_examples(0.0) == 2
    assert PROFILE_TABLE["standard"].law_property_examples(60.0) == 12  # no budget set
    assert ci.law_property_examples(get_law("K1").seconds_per_seed) == 1
    assert ci.law_property_examples(get_law("K4b").seconds_per_seed) == 2


@pytest.mark.parametrize(("spec", "examples"), [("K1", 1), ("R6a", 6), ("K4b", 6)])
def test_a_law_property_draws_beyond_the_reference_configuration(monkeypatch, spec, examples):
    """The reference configuration is judged by the holding check; the property's examples go
    elsewhere (K1, R6a and K4b drew it first before; no simulation runs here)."""
    law, drawn = get_law(spec), []

    def holding(law, config, seeds):
        drawn.append(config)
        verdict = types.SimpleNamespace(
            verdict=HOLDS, measured=0.0, ci_low=0.0, ci_high=0.0, rival_rejected=True, reason=""
        )
        return verdict, None

    monkeypatch.setattr(checks, "check", holding)
    checks.law_property(law, examples=examples, shrink=False)()
    assert len(drawn) == examples and law.config() not in drawn


def test_seed_spaces_are_disjoint_by_construction():
    spaces = sorted(SEED_SPACES.values())
    for (_, high), (low, _) in itertools.pairwise(spaces):
        assert high <= low
    report, calibration = seed_block("thorough"), seed_block("thorough", 998)
    assert SEED_SPACES["report"][0] <= min(report) and max(report) < SEED_SPACES["report"][1]
    low, high = SEED_SPACES["calibration"]
    assert low <= min(calibration) and max(calibration) < high
    assert not set(seed_block("standard", 0)) & set(seed_block("standard", 1))
    low, high = SEED_SPACES["tuning"]
    assert all(low <= s < high for s in tuning_seeds(seed_block("thorough", 998)))


def test_draws_of_distinct_seeds_are_distinct():
    first, second = draws([10_000, 10_001], 8), draws([10_002], 8)
    assert len(set(first)) == 16 and not set(first) & set(second)


def test_the_exact_memoriser_slope_tends_to_its_asymptote():
    """R1 predicts the exact finite-range slope; as the range grows it tends to −(1 − 1/α)."""
    law = get_law("R1")
    probabilities = zipf_probabilities(10**7, 2.0)
    gaps = []
    for t_min, t_max in ((100, 10_000), (1_000, 100_000), (10_000, 1_000_000)):
        config = {"alpha": 2.0, "N": 10**7, "T_min": t_min, "T_max": t_max}
        sizes = [int(t) for t in np.geomspace(t_min, t_max, 9).round()]
        exact = expected_memoriser_error(probabilities, sizes)
        slope = loglog_slopes(np.array(sizes, float), exact.numpy()[None])[0]
        gaps.append(abs(slope - law.asymptotic(config)))
    assert gaps[0] > gaps[-1] and gaps[-1] < 0.002


@pytest.mark.parametrize("spec", ["R3b", "R3c"])
def test_the_modelled_boundary_slope_tends_to_one_over_alpha(spec):
    """R3b and R3c predict the finite-range slope of their modelled boundary; over ranges of T
    further from both ends (N ≫ T^(1/α), T ≫ 1) it tends to 1/α."""
    law = get_law(spec)
    config = {"alpha": 2.0, "N": 10**6}
    gaps = []
    for t_min in (100, 10_000, 1_000_000):
        sizes = [int(t) for t in np.geomspace(t_min, 100 * t_min, 5).round()]
        boundary = law.modelled_boundary(config, sizes)
        slope = loglog_slopes(np.array(sizes, float), boundary[None])[0]
        gaps.append(abs(slope - allocation_exponent(config["alpha"])))
    assert gaps[0] > gaps[-1] and gaps[-1] < 0.005, gaps


def test_the_overflow_model_slope_tends_to_zero():
    """R2c predicts the overflow model's finite-range slope; deeper in overflow (N/d growing) it
    tends to 0, the theorem's 'order one'."""
    law = get_law("R2c")
    slopes = [abs(law.exponent(law.config(N=n_tokens))) for n_tokens in (20_480, 40_960, 80_000)]
    assert slopes[0] > slopes[1] > slopes[2] and slopes[2] < 0.01, slopes


RATE_LAWS = [law for law in all_laws() if law.predicted(law.config()).kind == "point"]
NOT_YET_SHARP: dict[str, str] = {}  # 40% off not yet rejected at quick: debt, named with why


@pytest.mark.parametrize("law", RATE_LAWS, ids=[law.spec for law in RATE_LAWS])
def test_slipped_claims_fail_on_the_laws_own_data(law, request):
    """Claims 40% off the predicted exponent fail at the quick profile, and so do factor-2
    slips."""
    config = law.config()
    claim = law.predicted(config)
    if 0.4 * abs(claim.value) < RESOLUTION_FLOOR:
        pytest.skip(
            f"{law.spec} predicts {claim.value:+.3f}, a slope of order zero: a 40% slip is "
            f"below the floor {RESOLUTION_FLOOR} of every resolution goal"
        )
    verdict, measurement = reference_check(law.spec)
    assert math.isfinite(verdict.ci_low), verdict.reason
    for factor in (2.0, 0.5):
        slipped = judge(
            _Claiming(law, claim.value * factor), config, measurement, verdict.seeds, verdict.level
        )
        assert slipped.verdict == FAILS, (factor, slipped.reason)
    if law.spec in NOT_YET_SHARP:
        request.applymarker(pytest.mark.xfail(reason=NOT_YET_SHARP[law.spec], strict=True))
    for factor in (1.4, 0.6):
        slipped = judge(
            _Claiming(law, claim.value * factor), config, measurement, verdict.seeds, verdict.level
        )
        assert slipped.verdict == FAILS, (factor, slipped.reason)


class _Claiming(Law):
    """``law`` claiming ``value`` instead of its prediction, with the same tolerance."""

    def __init__(self, law: Law, value: float) -> None:
        self.law, self.value = law, value
        self.spec, self.source, self.statement = law.spec, law.source, law.statement
        self.statistic, self.variable, self.domain = law.statistic, law.variable, law.domain
        self.parameters, self.tolerance_reason = law.parameters, law.tolerance_reason
        self.rival_name, self.statistic_kind = law.rival_name, law.statistic_kind

    def predicted(self, config):
        claim = self.law.predicted(config)
        return Prediction(claim.kind, self.value, claim.tolerance)

    def rival(self, config):
        return self.law.rival(config)

    def measure(self, config, seeds, device="cpu"):
        return self.law.measure(config, seeds, device)
