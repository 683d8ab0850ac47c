"""Progress lines for long stages: how far, how fast, how long to go, at a calm rate."""

from __future__ import annotations

import logging
import time


class Progress:
    """Logs `label: done/total (pct) rate unit/s, eta` at most every `every_s` seconds.

    Snakemake shows each rule's stderr, and our scripts also log to the rule's log file, so a
    user watching a long feature extraction or training sees it move.
    """

    def __init__(
        self,
        total: int,
        label: str,
        logger: logging.Logger,
        unit: str = "items",
        every_s: float = 5.0,
    ) -> None:
        self.total = total
        self.label = label
        self.logger = logger
        self.unit = unit
        self.every_s = every_s
        self.start = time.perf_counter()
        self._last = self.start
        self._logged = -1  # the count last logged: the end is logged once, not per caller
        self.done = 0

    def update(self, done: int) -> None:
        """Record that `done` items are finished; log if it is time (and at the end)."""
        self.done = done
        now = time.perf_counter()
        if done == self._logged or (now - self._last < self.every_s and done < self.total):
            return
        self._last = now
        self._logged = done
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        percent = 100.0 * done / self.total if self.total else 100.0
        self.logger.info(
            "%s: %d/%d (%.0f%%), %.1f %s/s, %.1f s elapsed, eta %.0f s",
            self.label,
            done,
            self.total,
            percent,
            rate,
            self.unit,
            elapsed,
            eta,
        )

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.start
