"""Every registered law gets the same treatment (in the manner of scikit-learn's
``check_estimator``): contract checks on its declaration and measurement, a check that it holds
with positive evidence at its reference configuration, a check that the same data reject the
claim shifted past its resolution (a slipped factor, a shifted exponent must fail), and a
Hypothesis property over its check domain: never contradicted, rival always rejected."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import Phase, given, note, settings
from hypothesis.control import current_build_context

from conftest import LAW_EXAMPLES, LAW_PHASES, PROFILE
from memlaws.theory.counterexamples import latest_counterexamples, record_counterexample
from memlaws.theory.law import Law, Measurement, Parameter, Prediction
from memlaws.theory.profiles import profile
from memlaws.theory.registry import all_laws
from memlaws.theory.verify import FAILS, HOLDS, INCONCLUSIVE, check, judge
from properties.reference_checks import reference_check
from properties.strategies import law_configs, seed_sets

LAWS = all_laws()
IDS = [law.spec for law in LAWS]
SEEDS = profile("ci").seeds


def test_spec_ids_are_unique():
    assert len(IDS) == len(set(IDS))


def test_the_paper_laws_are_registered():
    paper = {"R1", "R2a", "R2b", "R2c", "R2d", "R3a", "R3b", "R3c"}
    optimisation = {"R4a", "R4b", "R5a", "R5b", "R5c", "R5d", "R5e", "R6a", "R6b"}
    assert paper | optimisation <= set(IDS)


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_declaration_is_complete(law: Law):
    for attribute in ("spec", "source", "statement", "statistic", "variable", "domain"):
        assert isinstance(getattr(law, attribute), str) and getattr(law, attribute), attribute
    assert law.tolerance_reason and law.rival_name
    assert law.statistic_kind in ("continuous", "binary")
    assert not law.open_claim or law.open_reason, "an open claim says why it is open"
    for name, parameter in law.parameters.items():
        assert parameter.low <= parameter.default <= parameter.high, name
    config = law.config()  # the default configuration is admissible
    with pytest.raises(ValueError, match="unknown parameter"):
        law.config(not_a_parameter=1)
    assert law.predicted(config).kind in ("point", "above", "below")
    assert law.resolution_goal(config) > 0


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_prediction_and_rival_are_separable(law: Law):
    """A check whose rival's band touches the claim's could never reject it while holding."""
    config = law.config()
    claim_low, claim_high = law.predicted(config).band()
    rival_low, rival_high = law.rival(config).band()
    assert claim_high < rival_low or rival_high < claim_low


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_measurement_contract_determinism_and_distinct_seeds(law: Law):
    """Same seeds, same numbers; different seeds, different draws (a kernel that gave every
    seed the first seed's embeddings or data would make every seed's curve the same)."""
    config = law.config()
    first = law.measure(config, [7, 8])
    second = law.measure(config, [7, 8])
    assert first.statistic.shape == (2,)
    assert np.all(np.diff(first.x) > 0) or first.x.size == 1
    assert first.curves.shape[0] == 2 and first.curves.shape[-1] == first.x.size
    np.testing.assert_array_equal(first.statistic, second.statistic)
    assert not np.array_equal(first.curves[0], first.curves[1]), "seeds 7 and 8 drew alike"


NOT_YET_DECIDED = {  # inconclusive at the quick profile's budget: debt, named with why
    "R2c": "16 seeds of 4 draws leave an interval about ±0.09 wide around a slope near 0 inside "
    "a tolerance of 0.1, and a stage (12 s declared) exceeds quick's budget (10 s); it holds at "
    "standard (100 of 100 calibration repeats)",
    "R4b": "about 100 seeds of 4 trained memories are needed for positive evidence (spread 0.08 "
    "a seed, finite-range bias 0.05 inside an allowance of 0.08); quick stops at 16",
    "K1": "16 seeds of integer capacities over d = 6–10 leave an interval ±0.12 wide around a "
    "slope near the top of the claim's band (capacities near d² = n ln n, not 2 n ln n), and a "
    "stage (48 s declared) exceeds quick's budget (10 s)",
}


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_law_holds_with_positive_evidence_at_its_reference_configuration(law: Law, request):
    if law.spec in NOT_YET_DECIDED:
        request.applymarker(pytest.mark.xfail(reason=NOT_YET_DECIDED[law.spec], strict=True))
    verdict, _ = reference_check(law.spec)
    if law.open_claim:  # reported whichever way it goes: but the data must be judgeable
        assert math.isfinite(verdict.ci_low) and math.isfinite(verdict.ci_high), verdict.reason
        assert verdict.verdict != INCONCLUSIVE or verdict.n_seeds > profile("quick").seeds
        return
    assert verdict.verdict == HOLDS, verdict.reason
    low, high = law.predicted(law.config()).band()
    assert low <= verdict.ci_low and verdict.ci_high <= high  # the whole interval in the band
    assert verdict.rival_rejected


class Shifted(Law):
    """The same law claiming a value moved by ``delta``: the same tolerance, the same rival."""

    def __init__(self, law: Law, delta: float) -> None:
        self.law, self.delta = law, delta
        for attribute in ("spec", "source", "statement", "statistic", "variable", "domain"):
            setattr(self, attribute, getattr(law, attribute))
        self.parameters, self.tolerance_reason = law.parameters, law.tolerance_reason
        self.rival_name, self.statistic_kind = law.rival_name, law.statistic_kind
        self.open_claim = law.open_claim

    def predicted(self, config):
        return self.law.predicted(config).shifted(self.delta)

    def rival(self, config):
        return self.law.rival(config)

    def measure(self, config, seeds, device="cpu"):
        return self.law.measure(config, seeds, device)


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_a_claim_shifted_past_the_resolution_fails_on_the_same_data(law: Law):
    """The verdict can go the other way: moved a little past its resolution, in either
    direction a point claim allows (further into its side for a one-sided claim), the claim is
    contradicted by the very data on which the law was judged."""
    config = law.config()
    verdict, measurement = reference_check(law.spec)
    if not math.isfinite(verdict.resolution):
        pytest.skip(f"{law.spec}: no interval to judge ({verdict.reason})")
    step, level, seeds = verdict.resolution + 1e-9, verdict.level, verdict.seeds
    claim = law.predicted(config)
    directions = (1, -1) if claim.kind == "point" else (1 if claim.kind == "above" else -1,)
    for direction in directions:
        shifted = judge(Shifted(law, direction * step), config, measurement, seeds, level)
        assert shifted.verdict == FAILS, (direction, shifted.reason)
    if claim.kind == "point":  # just inside it, some direction is not yet contradicted
        inside = [
            judge(
                Shifted(law, sign * 0.999 * verdict.resolution), config, measurement, seeds, level
            )
            for sign in (1, -1)
        ]
        assert any(v.verdict != FAILS for v in inside)


def _law_property(law: Law, max_examples: int = LAW_EXAMPLES[PROFILE], phases=LAW_PHASES[PROFILE]):
    """The generic property of ``law`` over its check domain: never contradicted, and the rival
    rejected wherever the data can be judged (a measurement that cannot be, e.g. a boundary not
    found inside the d range, is inconclusive with its reason). Holding with positive evidence
    is asserted at the reference configuration, where the law states its resolution. A
    failure's final (under ``dev`` and ``thorough``, shrunk) configuration is recorded for the
    report."""

    @settings(max_examples=max_examples, phases=phases)
    @given(config=law_configs(law), seeds=seed_sets(SEEDS))
    def never_contradicted_and_rival_rejected(config, seeds):
        note(f"{law.spec} configuration: {config}")
        verdict, _ = check(law, config, seeds)
        note(f"measured {verdict.measured:+.3f} in [{verdict.ci_low:+.3f}, {verdict.ci_high:+.3f}]")
        if law.open_claim:  # no side taken: any verdict, on data that can be judged
            assert math.isfinite(verdict.ci_low), verdict.reason
            return
        failure = ""
        judgeable = math.isfinite(verdict.ci_low)  # else inconclusive, with the reason
        if verdict.verdict == FAILS or (judgeable and not verdict.rival_rejected):
            failure = f"{law.spec} {verdict.verdict}: {verdict.reason}"
        if failure and current_build_context().is_final:  # the smallest failing configuration
            outcome = {k: getattr(verdict, k) for k in ("verdict", "measured", "ci_low", "ci_high")}
            record_counterexample(law.spec, config, outcome | {"reason": failure}, PROFILE)
        assert not failure, failure

    return never_contradicted_and_rival_rejected


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_law_is_never_contradicted_over_its_check_domain(law: Law):
    _law_property(law)()


class BreaksAbove(Law):
    """A toy law that holds for ``x ≤ 7`` and turns into its rival above: its property must fail
    and shrink to ``x = 8``, the edge of the region where it holds."""

    spec, source, statement = "TOY", "test", "holds up to x = 7"
    statistic, variable, domain = "a number near 0", "x", "x in [1, 50]"
    parameters = {"x": Parameter(1, 50, 1, "int", "where the law is checked")}
    tolerance_reason, rival_name = "noise of 0.01", "one"

    def predicted(self, config):
        return Prediction("point", 0.0, 0.1)

    def rival(self, config):
        return Prediction("point", 1.0, 0.1)

    def measure(self, config, seeds, device="cpu"):
        centre = 0.0 if config["x"] <= 7 else 1.0
        noise = np.random.default_rng(seeds).normal(0, 0.01, len(seeds))
        return Measurement(centre + noise, np.arange(2.0), np.zeros((len(seeds), 2)), "x", "y")


def test_a_failing_law_shrinks_to_the_edge_of_its_region(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLAWS_COUNTEREXAMPLES", str(tmp_path / "found.jsonl"))
    with pytest.raises(AssertionError, match="TOY fails"):
        _law_property(BreaksAbove(), max_examples=60, phases=tuple(Phase))()
    found = latest_counterexamples()["TOY"]
    assert found["config"] == {"x": 8} and found["verdict"] == FAILS
