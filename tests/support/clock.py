"""A clock a test advances itself, for :class:`docanchor.service.Clock`.

Time moves only when the test calls :meth:`FakeClock.advance` or the service
calls :meth:`FakeClock.sleep`, which returns at once having moved the clock
by the time asked for. So a wait for a transaction or for confirmations
lasts exactly what the service's policy says, whatever the machine's load,
and the sleeps are recorded for the test to check.
"""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """UTC time from ``start``, a monotonic clock from 0, and sleeps that only move both."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be an aware UTC time")
        self._start = start
        self._elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"sleep length must be non-negative, got {seconds}")
        self.sleeps.append(seconds)
        self._elapsed += seconds

    def advance(self, seconds: float) -> None:
        """Time passes between two calls of the service (not a sleep of the service's)."""
        if seconds < 0:
            raise ValueError(f"time does not go back: {seconds}")
        self._elapsed += seconds
