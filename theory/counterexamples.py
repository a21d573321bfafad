"""The smallest configurations where a law failed its property, kept for the report.

When a law's Hypothesis property fails, Hypothesis shrinks the configuration (under the ``quick``
and ``thorough`` profiles) and replays the smallest one last; that replay appends it here, one
JSON line per failure, so that ``memlaws report`` can show, beside each law, the boundary of the
region where it holds. The file is ``.memlaws/counterexamples.jsonl`` in the working directory,
or the path in the environment variable ``MEMLAWS_COUNTEREXAMPLES``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(".memlaws") / "counterexamples.jsonl"


def counterexample_path() -> Path:
    """Where failing configurations are recorded and read."""
    return Path(os.environ.get("MEMLAWS_COUNTEREXAMPLES", DEFAULT_PATH))


def record_counterexample(
    spec: str, config: Mapping[str, Any], outcome: Mapping[str, Any], profile: str
) -> None:
    """Append one failing configuration of law ``spec`` with what was measured there."""
    path = counterexample_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "spec": spec,
        "config": dict(config),
        "profile": profile,
        "recorded": time.strftime("%Y-%m-%d %H:%M:%S"),
        **outcome,
    }
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(line, allow_nan=True) + "\n")


def latest_counterexamples(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The most recent failing configuration of each law, by spec id (empty if none)."""
    path = path or counterexample_path()
    if not path.exists():
        return {}
    latest = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
                latest[row["spec"]] = row
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                message = f"{path} line {number} is not a recorded counterexample"
                raise ValueError(message) from error
    return latest
