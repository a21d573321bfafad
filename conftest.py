"""Hypothesis profiles, one per row of the project's profile table
(``memlaws.theory.profiles.PROFILE_TABLE``), chosen by the environment variable MEMLAWS_PROFILE:

- ``ci`` (default): derandomized and small, so CI is fast and reproducible, and a failing law
  reports the configuration it failed on without shrinking it (each shrink step is a full
  simulation);
- ``quick``: random draws, more examples, for working on a law; ``standard`` and ``thorough``:
  many examples over each law's whole check domain; these shrink to the smallest failing
  configuration.

Each law's property (``memlaws.theory.checks``) draws the profile's ``law_examples``
configurations, fewer where their first looks would cost more than the profile's
``law_property_seconds`` of the law's declared cost (under ``ci``: K1 gets one): a law check
costs seconds, a kernel property milliseconds.
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

from memlaws.theory.checks import hypothesis_settings
from memlaws.theory.profiles import PROFILE_TABLE, property_profile_name

# Under pytest-xdist there is already a process per core: one torch thread each.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that take a law run first, the costliest laws first (by their declared
    ``seconds_per_seed``): a parallel run (``tox``: pytest-xdist) then starts its longest
    tests early and ends on short ones, instead of waiting on one long test at the end."""
    items.sort(key=lambda item: -_law_seconds_per_seed(item))


def _law_seconds_per_seed(item: pytest.Item) -> float:
    params = item.callspec.params if hasattr(item, "callspec") else {}
    return float(getattr(params.get("law"), "seconds_per_seed", -1.0))


PROFILE = property_profile_name()
for _name, _profile in PROFILE_TABLE.items():
    settings.register_profile(_name, hypothesis_settings(_profile, _profile.examples, shrink=True))
settings.load_profile(PROFILE)
