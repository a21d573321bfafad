"""Hypothesis profiles, one per row of the project's profile table (``memlaws.theory.profiles``),
chosen by the environment variable MEMLAWS_PROFILE:

- ``ci`` (default): derandomized and small, so CI is fast and reproducible, and a failing law
  reports the configuration it failed on without shrinking it (each shrink step is a full
  simulation);
- ``quick``: random draws, more examples, for working on a law; ``standard`` and ``thorough``:
  many examples over each law's whole check domain; these shrink to the smallest failing
  configuration.

``LAW_EXAMPLES`` is how many configurations each law's property draws under each profile: a law
check costs seconds, a kernel property milliseconds.
"""

from __future__ import annotations

import os

import torch
from hypothesis import HealthCheck, Phase, settings

from memlaws.theory.profiles import PROFILES, profile

# Under pytest-xdist there is already a process per core: one torch thread each.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

PROFILE = os.environ.get("MEMLAWS_PROFILE", "ci")
if PROFILE not in PROFILES:
    raise ValueError(f"MEMLAWS_PROFILE must be one of {', '.join(PROFILES)}; got {PROFILE!r}")
LAW_EXAMPLES = {name: profile(name).law_examples for name in PROFILES}
LAW_PHASES = {
    name: tuple(Phase) if profile(name).shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    for name in PROFILES
}

_common = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    "print_blob": True,
}
for name in PROFILES:
    settings.register_profile(
        name, derandomize=name == "ci", max_examples=profile(name).examples, **_common
    )
settings.load_profile(PROFILE)
