"""A small progress bar on stderr (no dependency), redrawn in place on a terminal and printed as
plain lines otherwise (CI logs)."""

from __future__ import annotations

import sys
import time
from collections.abc import Hashable, Mapping
from typing import TextIO

from memlaws.theory.cost import readable_seconds


class Progress:
    """``with Progress(total, "report") as bar: bar.advance("R1 holds")``.

    With ``expected``, a cost model's time of each item by key (in any unit), the bar also shows
    the time left: the elapsed seconds times the expected cost of the items not yet done over
    that of the items done, ``advance``'s ``key`` naming the item done. The model's scale, and so
    this machine's speed, cancels; its relative costs of the items are what it must get right.
    """

    def __init__(
        self,
        total: int,
        title: str,
        stream: TextIO | None = None,
        expected: Mapping[Hashable, float] | None = None,
    ) -> None:
        self.total, self.title, self.done = total, title, 0
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.interactive = self.stream.isatty()
        self.expected = expected or {}
        self.expected_total = sum(self.expected.values())
        self.expected_done = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def advance(self, message: str = "", key: Hashable | None = None) -> None:
        self.done += 1
        self.expected_done += self.expected.get(key, 0.0)
        width = 24
        filled = round(width * self.done / max(self.total, 1))
        elapsed = time.perf_counter() - self.start
        line = (
            f"{self.title} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"{elapsed:6.1f}s{self._time_left(elapsed)} {message}"
        )
        if self.interactive:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _time_left(self, elapsed: float) -> str:
        """`` (about 3 min left)`` from the expected costs, or nothing without them."""
        if self.expected_done <= 0 or self.done >= self.total:
            return ""
        left = elapsed * max(self.expected_total - self.expected_done, 0.0) / self.expected_done
        return f" (about {readable_seconds(left)} left)"
