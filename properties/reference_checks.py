"""Each law's check at its reference configuration and the ``quick`` profile (16 seeds, more in
stages where cheap: as ``memlaws report --profile quick`` runs it), run once per test session
and shared by the generic checks that judge the same data in several ways
(``memlaws.theory.checks.reference_check``, by spec id)."""

from __future__ import annotations

from memlaws.theory import checks
from memlaws.theory.law import Measurement
from memlaws.theory.registry import get_law
from memlaws.theory.verify import Verdict


def reference_check(spec: str) -> tuple[Verdict, Measurement]:
    """The verdict and measurement of law ``spec`` at its default configuration, profile quick."""
    return checks.reference_check(get_law(spec))
