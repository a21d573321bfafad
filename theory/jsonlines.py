"""JSON-lines files that commands append to and resume from (``simulate --out``,
``calibrate --out``): read back with every bad line named by its number, and a last line cut off
by a kill set aside rather than fatal."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPAIR = "repair or delete that line, or give another --out file"


@dataclass
class JsonLines:
    """What a file holds: its records by key (the last one of each key), the keys, how many
    records, and a last line cut off by a kill (``partial``, its bytes, from byte
    ``partial_at``)."""

    records: dict[Hashable, dict[str, Any]] = field(default_factory=dict)
    keys: set[Hashable] = field(default_factory=set)
    count: int = 0
    partial: bytes = b""
    partial_at: int = 0
    needs_newline: bool = False  # a complete last line without its newline


def read_json_lines(
    path: Path, key: Callable[[dict[str, Any]], Hashable | None], what: str
) -> JsonLines:
    """Read ``path`` (missing: empty). ``key`` gives a record's key, ``None`` to skip a line
    (a header), or raises ``ValueError`` saying what is wrong; ``what`` names the records in
    messages. A last line without its newline that is not JSON is returned as ``partial``."""
    if not path.exists():
        return JsonLines()
    data = path.read_bytes()
    lines = data.split(b"\n")
    found = JsonLines()
    tail = lines[-1]  # the text after the last newline, empty when the file ends cleanly
    if tail.strip():
        try:
            json.loads(tail)
            found.needs_newline = True
        except (UnicodeDecodeError, json.JSONDecodeError):
            found.partial, found.partial_at = tail, len(data) - len(tail)
            lines = lines[:-1]
    for number, text in enumerate(lines, start=1):
        if text.strip():
            record = _parsed(text, f"{path} line {number}")
            try:
                value = key(record)
            except ValueError as error:
                message = f"{path} line {number} is not {what}: {error}; {REPAIR}"
                raise ValueError(message) from None
            if value is not None:
                found.records[value] = record
                found.keys.add(value)
                found.count += 1
    return found


def _parsed(text: bytes, where: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{where} is not a JSON line ({error}); {REPAIR}") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where} is not a JSON object; {REPAIR}")
    return record


def set_aside_partial(path: Path, found: JsonLines, warn: TextIO) -> None:
    """Move a cut-off last line of ``path`` to ``PATH.partial`` (appended), cut it from the
    file and say so on ``warn``; end a complete last line that lacks its newline with one."""
    if found.partial:
        aside = path.with_name(path.name + ".partial")
        with aside.open("ab") as stream:
            stream.write(found.partial + b"\n")
        with path.open("r+b") as stream:
            stream.truncate(found.partial_at)
            stream.seek(0)
            number = stream.read().count(b"\n") + 1
        print(
            f"memlaws: warning: {path} line {number} was cut off by an interrupted run "
            f"({len(found.partial)} bytes); moved it to {aside}",
            file=warn,
        )
        found.partial = b""
    if found.needs_newline:
        with path.open("ab") as stream:
            stream.write(b"\n")
        found.needs_newline = False
