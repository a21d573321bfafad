"""A law's fingerprint: what its stored calibration was measured on.

It hashes (1) the law's claim, rival, tolerance and stated resolution at its reference
configuration and its statistic's kind, (2) the source of the verdict rule (``law.py``,
``verify.py``, ``statistics.py``, ``profiles.py``) and of the law's own class, and (3) the
statistic its simulation returns on two fixed probe seeds from the exploration space (rounded to
9 significant digits). The probe covers everything the measurement runs, kernel included, by
what it computes: a kernel change that alters any number alters the fingerprint, while a
refactor that keeps every number does not. A different platform (torch build, BLAS) may round
differently; its fingerprint then differs and the calibration shows as stale there.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from functools import cache
from pathlib import Path

import numpy as np

from theory.law import Law

PROBE_SEEDS = [9_000, 9_001]  # from the exploration space of theory.profiles
RULE_MODULES = ("law.py", "verify.py", "statistics.py", "profiles.py")


@cache
def _rule_source() -> str:
    here = Path(__file__).parent
    return "".join((here / name).read_text(encoding="utf-8") for name in RULE_MODULES)


def _class_sources(law: Law) -> str:
    """The source of the law's class and of its bases up to ``Law``."""
    parts = []
    for cls in type(law).__mro__:
        if cls is Law or cls is object:
            break
        try:
            parts.append(inspect.getsource(cls))
        except (OSError, TypeError):  # defined where no source is kept (an interactive session)
            parts.append(cls.__qualname__)
    return "".join(parts)


def law_fingerprint(law: Law) -> str:
    """A short hex digest of the law's claim, verdict rule, code and probe measurement
    (computed once per law object: it costs a two-seed simulation)."""
    key = id(law)
    if key not in _COMPUTED:
        _COMPUTED[key] = (law, _digest(law))
    return _COMPUTED[key][1]


_COMPUTED: dict[int, tuple[Law, str]] = {}  # keeps the law alive, so its id stays its own


def _digest(law: Law) -> str:
    config = law.config()
    claim, rival = law.predicted(config), law.rival(config)
    probe = law.measure(config, PROBE_SEEDS)
    declared = {
        "config": config,
        "claim": [claim.kind, claim.value, claim.tolerance],
        "rival": [rival.kind, rival.value, rival.tolerance],
        "resolution_goal": law.resolution_goal(config),
        "statistic_kind": law.statistic_kind,
        "probe": [f"{v:.9g}" for v in np.asarray(probe.statistic, dtype=float)],
    }
    digest = hashlib.sha256(json.dumps(declared, sort_keys=True, default=str).encode())
    digest.update(_rule_source().encode())
    digest.update(_class_sources(law).encode())
    return digest.hexdigest()[:16]
