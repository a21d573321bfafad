"""How much simulation a run spends: seeds per law, and the seed sets of calibration runs."""

from __future__ import annotations

from kernel.validation import choice

SEEDS_PER_PROFILE = {"ci": 16, "quick": 16, "standard": 32, "thorough": 64}
PROFILES = tuple(SEEDS_PER_PROFILE)
CALIBRATION_STRIDE = 100_000  # seed sets of calibration repeat i start at (i + 1) * stride


def seeds_for(profile: str, repeat: int = -1) -> list[int]:
    """The seeds of a profile: ``0 … n−1`` for reports, disjoint sets for calibration repeats."""
    choice("profile", profile, PROFILES)
    count = SEEDS_PER_PROFILE[profile]
    start = (repeat + 1) * CALIBRATION_STRIDE
    return list(range(start, start + count))
