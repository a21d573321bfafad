"""Slow checks (``tox -e calibrate``): each law's false-alarm rate and power over 100 independent
seed sets at the standard profile (as the report runs), and the kernel's memory at N = 10⁶,
d = 1024."""

from __future__ import annotations

import subprocess
import sys

import pytest

from memlaws.theory.calibration import calibrate
from memlaws.theory.registry import all_laws

REPEATS = 100
LAWS = all_laws()


@pytest.mark.slow
@pytest.mark.parametrize("law", LAWS, ids=[law.spec for law in LAWS])
def test_false_alarm_rate_below_one_in_a_hundred(law, tmp_path):
    (summary,) = calibrate(REPEATS, "standard", [law.spec], tmp_path / "calibration.jsonl")
    print(summary)
    assert summary["false_alarms"] <= REPEATS / 100, summary
    assert summary["power"] >= 0.9, summary


PEAK_MEMORY = """
import resource, torch
from memlaws.kernel import modular_targets, power_weights, scheme_errors, zipf_probabilities
p = zipf_probabilities(1_000_000, 2.0)
scheme_errors(power_weights(p, 1.0), p, modular_targets(1_000_000, 5), 5, [1024], [0])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_a_million_tokens_at_d_1024_fit_in_2_gb():
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY], capture_output=True, text=True, check=True
    )
    peak_kib = int(result.stdout.split()[-1])
    assert peak_kib < 2 * 2**20, f"peak resident memory {peak_kib / 2**20:.2f} GiB"
