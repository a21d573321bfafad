"""A small progress bar on stderr (no dependency), redrawn in place on a terminal and printed as
plain lines otherwise (CI logs)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``with Progress(total, "report") as bar: bar.advance("R1 holds")``."""

    def __init__(self, total: int, title: str, stream: TextIO | None = None) -> None:
        self.total, self.title, self.done = total, title, 0
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.interactive = self.stream.isatty()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def advance(self, message: str = "") -> None:
        self.done += 1
        width = 24
        filled = round(width * self.done / max(self.total, 1))
        elapsed = time.perf_counter() - self.start
        line = (
            f"{self.title} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"{elapsed:6.1f}s {message}"
        )
        if self.interactive:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
