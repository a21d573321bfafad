"""Hypothesis profiles, chosen by the environment variable MEMLAWS_PROFILE (the table is
``memlaws.theory.profiles.PROPERTY_PROFILE_TABLE``):

- ``ci`` (default): derandomized and small, so CI is fast and reproducible;
- ``dev``: random draws, more examples, for working on a law;
- ``thorough``: many examples over each law's whole check domain.

Each law's property (``memlaws.theory.checks``) draws the profile's ``law_examples``
configurations: a law check costs seconds, a kernel property milliseconds. Under ``ci`` a
failing law reports the configuration it failed on without shrinking it (each shrink step is a
full simulation); ``dev`` and ``thorough`` shrink to the smallest failing configuration.
"""

from __future__ import annotations

import os

import torch
from hypothesis import settings

from memlaws.theory.checks import hypothesis_settings
from memlaws.theory.profiles import PROPERTY_PROFILE_TABLE, property_profile_name

# Under pytest-xdist there is already a process per core: one torch thread each.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

PROFILE = property_profile_name()
for _name, _profile in PROPERTY_PROFILE_TABLE.items():
    settings.register_profile(_name, hypothesis_settings(_profile, _profile.examples, shrink=True))
settings.load_profile(PROFILE)
