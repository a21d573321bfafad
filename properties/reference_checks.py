"""Each law's check at its reference configuration and the ``quick`` profile (16 seeds, more in
stages where cheap: as ``memlaws report --profile quick`` runs it), run once per test session
and shared by the generic checks that judge the same data in several ways."""

from __future__ import annotations

from functools import cache

from memlaws.theory.law import Measurement
from memlaws.theory.registry import get_law
from memlaws.theory.verify import Verdict, check_in_stages


@cache
def reference_check(spec: str) -> tuple[Verdict, Measurement]:
    """The verdict and measurement of law ``spec`` at its default configuration, profile quick."""
    law = get_law(spec)
    return check_in_stages(law, law.config(), "quick")
