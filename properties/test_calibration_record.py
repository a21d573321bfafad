"""The stored calibration: every law's verifier has one, measured at the standard profile, and
none raises a flag (false-alarm rate above 5% or power below 90%); the flag logic itself."""

from __future__ import annotations

import math

import pytest

from theory.calibration import summarise
from theory.calibration_record import (
    calibration_status,
    load_calibration,
    rate_interval,
    store_calibration,
)
from theory.registry import all_laws, get_law

LAWS = all_laws()
STORED = load_calibration()


@pytest.mark.parametrize("law", LAWS, ids=[law.spec for law in LAWS])
def test_every_law_is_calibrated_and_sound_at_the_standard_profile(law):
    status = calibration_status(law, STORED)
    assert status["flag"] == "", f"{law.spec}: {status['flag']}"


def _rows(spec: str, fails: int, rejections: int, repeats: int = 100) -> list[dict]:
    return [
        {
            "spec": spec,
            "verdict": "fails" if i < fails else "holds",
            "rival_rejected": i < rejections,
        }
        for i in range(repeats)
    ]


@pytest.mark.parametrize(
    ("fails", "rejections", "repeats", "profile", "flag"),
    [
        (5, 100, 100, "standard", ""),
        (6, 100, 100, "standard", "false-alarm rate 6% above 5%"),
        (0, 89, 100, "standard", "power 89% below 90%"),
        (0, 50, 50, "standard", "only 50 calibration repeats"),
        (0, 100, 100, "ci", "calibrated at profile ci"),
    ],
)
def test_flags(tmp_path, fails, rejections, repeats, profile, flag):
    law = get_law("R1")
    path = tmp_path / "calibration.json"
    store_calibration(
        path, [summarise(_rows("R1", fails, rejections, repeats), "R1")], [law], profile
    )
    status = calibration_status(law, load_calibration(path))
    assert status["flag"].startswith(flag) and bool(status["flag"]) == bool(flag)
    assert status["false_alarm_rate"] == fails / repeats


def test_a_changed_reference_configuration_makes_the_calibration_stale(tmp_path):
    law = get_law("R1")
    path = tmp_path / "calibration.json"
    store_calibration(path, [summarise(_rows("R1", 0, 100), "R1")], [law], "standard")
    stored = load_calibration(path)
    stored["R1"]["config"]["N"] += 1
    assert calibration_status(law, stored)["flag"].startswith("stale")


def test_a_law_without_calibration_is_flagged_and_its_rates_unknown():
    status = calibration_status(get_law("R1"), {})
    assert status["flag"].startswith("not calibrated")
    assert math.isnan(status["false_alarm_rate"]) and math.isnan(status["power"])


def test_exact_rate_intervals():
    low, high = rate_interval(0, 100)
    assert low == 0 and high == pytest.approx(1 - 0.025 ** (1 / 100))
    low, high = rate_interval(100, 100)
    assert low == pytest.approx(0.025 ** (1 / 100)) and high == 1


def test_a_broken_calibration_file_is_refused(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        load_calibration(path)
