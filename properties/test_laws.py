"""Every registered law gets the same treatment (in the manner of scikit-learn's
``check_estimator``): contract checks on its declaration and measurement, a Hypothesis property
over its check domain asserting that it holds and its rival is rejected, and a check that the
same data would make a wrong prediction fail."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import Phase, given, note, settings
from hypothesis.control import current_build_context

from conftest import LAW_EXAMPLES, LAW_PHASES, PROFILE
from properties.strategies import law_configs, seed_sets
from theory.counterexamples import latest_counterexamples, record_counterexample
from theory.law import Law, Measurement, Parameter, Prediction
from theory.profiles import seeds_for
from theory.registry import all_laws
from theory.verify import FAILS, HOLDS, INCONCLUSIVE, check, judge

LAWS = all_laws()
IDS = [law.spec for law in LAWS]
SEEDS = len(seeds_for("ci"))


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
    for name, parameter in law.parameters.items():
        assert parameter.low <= parameter.default <= parameter.high, name
    config = law.config()  # the default configuration is admissible
    with pytest.raises(ValueError, match="unknown parameter"):
        law.config(not_a_parameter=1)
    assert law.predicted(config).kind in ("point", "above", "below")


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_prediction_and_rival_are_separable(law: Law):
    """A check whose rival sits inside its tolerance could never reject it."""
    config = law.config()
    predicted, rival = law.predicted(config), law.rival(config)
    if predicted.kind == "point" and rival.kind == "point":
        assert abs(predicted.value - rival.value) > predicted.tolerance + rival.tolerance
    else:
        assert predicted.kind != rival.kind


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_measurement_contract_and_determinism(law: Law):
    config = law.config()
    first = law.measure(config, [7, 8])
    second = law.measure(config, [7, 8])
    assert first.statistic.shape == (2,)
    assert np.all(np.diff(first.x) > 0)
    assert first.curves.shape[0] == 2 and first.curves.shape[-1] == first.x.size
    np.testing.assert_array_equal(first.statistic, second.statistic)


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_law_holds_at_its_reference_configuration(law: Law):
    verdict, _ = check(law, law.config(), seeds_for("ci"))
    if getattr(law, "open_claim", False):  # reported whichever way it goes
        assert verdict.verdict in (HOLDS, FAILS, INCONCLUSIVE) and verdict.reason
        return
    assert verdict.verdict == HOLDS, verdict.reason
    assert verdict.rival_rejected


def _swap(prediction: Prediction, rival: Prediction) -> tuple[Prediction, Prediction]:
    return replace(rival, tolerance=prediction.tolerance), prediction


class Swapped(Law):
    """The same law with its prediction and rival exchanged: a wrong conjecture."""

    def __init__(self, law: Law) -> None:
        self.law = law
        for attribute in ("spec", "source", "statement", "statistic", "variable", "domain"):
            setattr(self, attribute, getattr(law, attribute))
        self.parameters, self.tolerance_reason = law.parameters, law.tolerance_reason
        self.rival_name = "the law itself"

    def predicted(self, config):
        return _swap(self.law.predicted(config), self.law.rival(config))[0]

    def rival(self, config):
        return self.law.predicted(config)

    def measure(self, config, seeds, device="cpu"):
        return self.law.measure(config, seeds, device)


def _law_property(law: Law, max_examples: int = LAW_EXAMPLES[PROFILE], phases=LAW_PHASES[PROFILE]):
    """The generic property of ``law``: it holds over its check domain, rival rejected, and the
    same data make the swapped prediction fail. A failure's final (under ``dev`` and
    ``thorough``, shrunk) configuration is recorded for the report."""

    @settings(max_examples=max_examples, phases=phases)
    @given(config=law_configs(law), seeds=seed_sets(SEEDS))
    def holds_and_rival_rejected(config, seeds):
        note(f"{law.spec} configuration: {config}")
        verdict, measurement = check(law, config, seeds)
        note(f"measured {verdict.measured:+.3f} in [{verdict.ci_low:+.3f}, {verdict.ci_high:+.3f}]")
        wrong = judge(Swapped(law), config, measurement, seeds)
        if getattr(law, "open_claim", False):  # no side taken: the two readings must mirror
            mirrored = {HOLDS: FAILS, FAILS: HOLDS, INCONCLUSIVE: INCONCLUSIVE}
            assert wrong.verdict == mirrored[verdict.verdict]
            return
        failure = ""
        if verdict.verdict != HOLDS or not verdict.rival_rejected:
            failure = f"{law.spec} {verdict.verdict}: {verdict.reason}"
        elif wrong.verdict != FAILS:
            failure = "the same data must make the rival prediction fail"
        if failure and current_build_context().is_final:  # the smallest failing configuration
            outcome = {k: getattr(verdict, k) for k in ("verdict", "measured", "ci_low", "ci_high")}
            record_counterexample(law.spec, config, outcome | {"reason": failure}, PROFILE)
        assert not failure, failure

    return holds_and_rival_rejected


@pytest.mark.parametrize("law", LAWS, ids=IDS)
def test_law_holds_over_its_check_domain(law: Law):
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
