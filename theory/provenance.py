"""Where a result came from: the memlaws version and git commit, Python, torch, the device
actually used, the profile, the date and the command line. Written into ``laws.json``,
``REPORT.md`` and the header line of ``memlaws simulate``."""

from __future__ import annotations

import datetime
import platform
import re
import shlex
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PACKAGE = "memlaws"
ROOT = Path(__file__).resolve().parent.parent  # the checkout (or site-packages) holding theory/
GIT_TIMEOUT = 5.0  # seconds


@lru_cache(maxsize=1)
def version() -> str:
    """The installed distribution's version, else the one in the checkout's pyproject.toml."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        pass
    try:
        text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, flags=re.MULTILINE)
    return found.group(1) if found else "unknown"


def _git(*arguments: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *arguments],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the checkout memlaws runs from, with ``-dirty`` when it has
    uncommitted changes to tracked files; ``None`` when it is not a git checkout."""
    if not (ROOT / ".git").exists():
        return None
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    changed = _git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}-dirty" if changed else commit


def device_description(device: str) -> str:
    """The device as used, with its model where torch knows it: ``cuda:0 (NVIDIA H100)``,
    ``cpu (x86_64, 2 threads)``."""
    where = torch.device(device)
    if where.type == "cuda":
        index = where.index if where.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({platform.machine() or 'unknown'}, {torch.get_num_threads()} threads)"


def command_line(argv: Sequence[str]) -> str:
    """The command as typed: ``memlaws`` and its arguments, quoted for a shell."""
    return shlex.join(["memlaws", *argv])


def provenance(device: str, argv: Sequence[str], profile: str | None = None) -> dict[str, Any]:
    """The provenance record of one command run on ``device``."""
    record: dict[str, Any] = {
        "memlaws": version(),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device_description(device),
    }
    if profile is not None:
        record["profile"] = profile
    record["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record["command"] = command_line(argv)
    return record


def provenance_markdown(record: dict[str, Any]) -> str:
    """A REPORT.md section listing ``record``."""
    lines = ["## Provenance", ""]
    lines += [f"- {name}: `{value}`" for name, value in record.items() if value is not None]
    return "\n".join(lines) + "\n"
