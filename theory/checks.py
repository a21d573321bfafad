"""The generic checks every law gets, as a library (in the manner of scikit-learn's
``parametrize_with_checks``): a plug-in's test file runs the whole suite on its laws with

    from memlaws.theory.checks import parametrize_with_checks

    @parametrize_with_checks([MyLaw()])
    def test_law(law, check):
        check(law)

The checks: the declaration is complete; prediction and rival are separable; the measurement
has the contract's shapes, is deterministic for given seeds and distinct across seeds; the law
holds with positive evidence at its reference configuration (the ``quick`` profile, as
``memlaws report --profile quick`` runs it); the same data reject the claim shifted past its
resolution (the verdict can go the other way); and a Hypothesis property over the check domain:
never contradicted, the rival always rejected. An open claim (``law.open_claim``) takes no side:
its holding check is an expected failure with the law's ``open_reason``, and its data must be
judgeable instead.

How hard the property searches follows ``MEMLAWS_PROFILE`` (``ci``, ``quick``, ``standard``,
``thorough``: a row of ``memlaws.theory.profiles.PROFILE_TABLE``), read when a check runs.
Needs pytest and Hypothesis (memlaws' ``test`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import current_build_context

from memlaws.theory.counterexamples import record_counterexample
from memlaws.theory.law import Config, Law, Measurement, Parameter
from memlaws.theory.profiles import SEED_SPACES, Profile, profile, property_profile_name
from memlaws.theory.registry import DECLARATION
from memlaws.theory.verify import FAILS, HOLDS, INCONCLUSIVE, Verdict, check, check_in_stages, judge

Check = Callable[[Law], None]
PROPERTY_SEEDS = profile("ci").seeds  # seeds of each configuration the property draws
REFERENCE_PROFILE = "quick"  # the profile of the reference check
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def hypothesis_settings(chosen: Profile, examples: int, shrink: bool) -> settings:
    """Hypothesis settings of property profile ``chosen`` with ``examples`` examples, shrinking
    failures when ``shrink`` (no deadline: a law's simulation takes seconds)."""
    return settings(
        max_examples=examples,
        derandomize=chosen.derandomize,
        phases=tuple(Phase) if shrink else NO_SHRINK,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    )


# ---------------------------------------------------------------------------------------------
# Strategies: each law's check domain and the properties' seed sets


def parameter_values(parameter: Parameter) -> st.SearchStrategy[float | int]:
    """Values of one law parameter: ``float`` and ``int`` uniformly, ``log_int`` in log scale."""
    if parameter.kind == "float":
        return st.floats(parameter.low, parameter.high, allow_nan=False)
    low, high = int(parameter.low), int(parameter.high)
    if parameter.kind == "int" or low == high:
        return st.integers(low, high)
    return st.floats(math.log(low), math.log(high)).map(
        lambda v: min(high, max(low, round(math.exp(v))))
    )


def _admissible(law: Law, values: Config) -> bool:
    try:
        law.config(**values)
    except ValueError:
        return False
    return True


def law_configs(law: Law) -> st.SearchStrategy[Config]:
    """Configurations inside ``law``'s check domain other than its reference configuration
    (unless the domain is that one point), which the holding check judges; shrinks toward each
    parameter's low end."""
    boxes = st.fixed_dictionaries({n: parameter_values(p) for n, p in law.parameters.items()})
    configs = boxes.filter(lambda values: _admissible(law, values)).map(lambda v: law.config(**v))
    if all(parameter.low == parameter.high for parameter in law.parameters.values()):
        return configs
    reference = law.config()
    return configs.filter(lambda config: config != reference)


def seed_sets(count: int) -> st.SearchStrategy[list[int]]:
    """``count`` consecutive seeds from a drawn base in the properties' own seed space
    (``memlaws.theory.profiles.SEED_SPACES["property"]``), disjoint from the report's and the
    calibration's."""
    low, high = SEED_SPACES["property"]
    return st.integers(low, high - count).map(lambda base: list(range(base, base + count)))


# ---------------------------------------------------------------------------------------------
# The checks


@cache
def reference_check(law: Law) -> tuple[Verdict, Measurement]:
    """``law``'s verdict and measurement at its default configuration and the ``quick``
    profile (16 seeds, more in stages where cheap), run once per process and shared by the
    checks that judge the same data in several ways."""
    return check_in_stages(law, law.config(), REFERENCE_PROFILE)


def check_declaration_is_complete(law: Law) -> None:
    """Every sentence declared, a valid statistic kind, parameter defaults inside their boxes,
    the default configuration admissible and unknown parameters refused."""
    for attribute in DECLARATION:
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


def check_prediction_and_rival_are_separable(law: Law) -> None:
    """A check whose rival's band touches the claim's could never reject it while holding."""
    config = law.config()
    claim_low, claim_high = law.predicted(config).band()
    rival_low, rival_high = law.rival(config).band()
    assert claim_high < rival_low or rival_high < claim_low


def check_measurement_contract_determinism_and_distinct_seeds(law: Law) -> None:
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


def check_holds_with_positive_evidence(law: Law) -> None:
    """At the reference configuration the whole interval lies in the claim's band and the
    rival is rejected."""
    verdict, _ = reference_check(law)
    assert verdict.verdict == HOLDS, verdict.reason
    low, high = law.predicted(law.config()).band()
    assert low <= verdict.ci_low and verdict.ci_high <= high  # the whole interval in the band
    assert verdict.rival_rejected


def check_open_claim_is_judgeable(law: Law) -> None:
    """An open claim is reported whichever way it goes, but its data must be judgeable."""
    verdict, _ = reference_check(law)
    assert math.isfinite(verdict.ci_low) and math.isfinite(verdict.ci_high), verdict.reason
    assert verdict.verdict != INCONCLUSIVE or verdict.n_seeds > profile(REFERENCE_PROFILE).seeds


class Shifted(Law):
    """The same law claiming a value moved by ``delta``: the same tolerance, the same rival."""

    def __init__(self, law: Law, delta: float) -> None:
        self.law, self.delta = law, delta
        for attribute in DECLARATION:
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


def check_a_shifted_claim_fails_on_the_same_data(law: Law) -> None:
    """The verdict can go the other way: moved a little past its resolution, in either
    direction a point claim allows (further into its side for a one-sided claim), the claim is
    contradicted by the very data on which the law was judged."""
    config = law.config()
    verdict, measurement = reference_check(law)
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


def law_property(
    law: Law, examples: int | None = None, shrink: bool | None = None
) -> Callable[[], None]:
    """The generic property of ``law`` over its check domain: never contradicted, and the rival
    rejected wherever the data can be judged (a measurement that cannot be, e.g. a boundary not
    found inside the d range, is inconclusive with its reason). Holding with positive evidence
    is asserted at the reference configuration, where the law states its resolution, by its own
    check: the property's examples are drawn elsewhere in the domain (unless the domain is that
    one point). A failure's final (shrunk, where the profile shrinks) configuration is recorded
    for the report. ``examples`` and ``shrink`` default to the ``MEMLAWS_PROFILE`` profile's."""
    name = property_profile_name()
    chosen = profile(name)
    if examples is None:
        examples = chosen.law_property_examples(law.seconds_per_seed)
    shrink = chosen.shrink if shrink is None else shrink

    @hypothesis_settings(chosen, examples, shrink)
    @given(config=law_configs(law), seeds=seed_sets(PROPERTY_SEEDS))
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
            record_counterexample(law.spec, config, outcome | {"reason": failure}, name)
        assert not failure, failure

    return never_contradicted_and_rival_rejected


def check_never_contradicted_over_the_check_domain(law: Law) -> None:
    """The Hypothesis property ``law_property`` at the ``MEMLAWS_PROFILE`` profile."""
    law_property(law)()


GENERIC_CHECKS: tuple[Check, ...] = (
    check_declaration_is_complete,
    check_prediction_and_rival_are_separable,
    check_measurement_contract_determinism_and_distinct_seeds,
    check_holds_with_positive_evidence,
    check_a_shifted_claim_fails_on_the_same_data,
    check_never_contradicted_over_the_check_domain,
)


def law_checks(law: Law) -> list[Check]:
    """The checks of ``law``, in order: the generic ones, with the judgeability check of an
    open claim after its (expected to fail) holding check."""
    checks = list(GENERIC_CHECKS)
    if law.open_claim:
        checks.insert(
            checks.index(check_holds_with_positive_evidence) + 1, check_open_claim_is_judgeable
        )
    return checks


def check_params(
    laws: Iterable[Law], expected_failed_checks: Mapping[str, Mapping[str, str]] | None = None
) -> list:
    """One ``pytest.param(law, check)`` per law and check, with id ``SPEC-check_name``. An open
    claim's holding check is a non-strict expected failure with its ``open_reason``; each
    ``expected_failed_checks[spec][check name]`` is a strict one with the reason given."""
    expected = expected_failed_checks or {}
    params = []
    for law in laws:
        names = {check_function.__name__ for check_function in law_checks(law)}
        unknown = set(expected.get(law.spec, {})) - names
        if unknown:
            raise ValueError(
                f"expected_failed_checks[{law.spec!r}] names no check {sorted(unknown)}"
            )
        for check_function in law_checks(law):
            name = check_function.__name__
            marks = []
            if name in expected.get(law.spec, {}):
                marks.append(pytest.mark.xfail(reason=expected[law.spec][name], strict=True))
            elif law.open_claim and check_function is check_holds_with_positive_evidence:
                reason = f"open claim: {law.open_reason}"
                marks.append(pytest.mark.xfail(reason=reason, strict=False))
            params.append(pytest.param(law, check_function, id=f"{law.spec}-{name}", marks=marks))
    return params


def parametrize_with_checks(
    laws: Iterable[Law], expected_failed_checks: Mapping[str, Mapping[str, str]] | None = None
) -> pytest.MarkDecorator:
    """A ``pytest.mark.parametrize`` over ``(law, check)`` for every check of every law: the
    decorated test receives both and calls ``check(law)``. ``expected_failed_checks`` maps a
    law's spec to ``{check name: reason}`` for checks known to fail (strict expected
    failures)."""
    laws = list(laws)
    specs = [law.spec for law in laws]
    if len(specs) != len(set(specs)):
        raise ValueError(f"laws must have distinct specs; got {specs}")
    return pytest.mark.parametrize(("law", "check"), check_params(laws, expected_failed_checks))
