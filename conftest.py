"""Hypothesis profiles, chosen by the environment variable MEMLAWS_PROFILE:

- ``ci`` (default): derandomized and small, so CI is fast and reproducible;
- ``dev``: random draws, more examples, for working on a law;
- ``thorough``: many examples over each law's whole check domain.

``LAW_EXAMPLES`` is how many configurations each law's property draws under each profile: a law
check costs seconds, a kernel property milliseconds. ``LAW_PHASES``: under ``ci`` a failing law
reports the configuration it failed on without shrinking it (each shrink step is a full
simulation); ``dev`` and ``thorough`` shrink to the smallest failing configuration.
"""

from __future__ import annotations

import os

import torch
from hypothesis import HealthCheck, Phase, settings

# Under pytest-xdist there is already a process per core: one torch thread each.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

PROFILE = os.environ.get("MEMLAWS_PROFILE", "ci")
LAW_EXAMPLES = {"ci": 2, "dev": 6, "thorough": 30}
LAW_PHASES = {
    "ci": (Phase.explicit, Phase.reuse, Phase.generate),
    "dev": tuple(Phase),
    "thorough": tuple(Phase),
}

_common = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    "print_blob": True,
}
settings.register_profile("ci", derandomize=True, max_examples=25, **_common)
settings.register_profile("dev", max_examples=100, **_common)
settings.register_profile("thorough", max_examples=500, **_common)
if PROFILE not in LAW_EXAMPLES:
    raise ValueError(f"MEMLAWS_PROFILE must be one of {', '.join(LAW_EXAMPLES)}; got {PROFILE!r}")
settings.load_profile(PROFILE)
