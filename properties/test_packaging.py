"""The installed distribution: one top-level import name, ``memlaws``, and every package of the
repository's ``kernel/`` and ``theory/`` folders listed for it (a package left out of
``pyproject.toml`` works from a checkout but is missing from the wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setuptools["package-dir"]
    folders = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            folders.add(".".join([name, *relative.parts]))
    assert folders == set(setuptools["packages"])
    assert {name.split(".")[0] for name in setuptools["packages"]} == {"memlaws"}
