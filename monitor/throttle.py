"""Slows down repeated failed logins for one username."""

from __future__ import annotations

import time


class LoginThrottle:
    """After 3 failures each further try waits longer (doubling, at most `max_delay_s`)."""

    def __init__(self, free_failures: int = 3, max_delay_s: float = 8.0) -> None:
        self.free_failures = free_failures
        self.max_delay_s = max_delay_s
        self._failures: dict[str, tuple[int, float]] = {}

    def delay(self, username: str) -> float:
        count, last = self._failures.get(username, (0, 0.0))
        if time.monotonic() - last > 900:
            self._failures.pop(username, None)
            return 0.0
        extra = count - self.free_failures
        return 0.0 if extra < 0 else min(self.max_delay_s, 0.5 * 2**extra)

    def failed(self, username: str) -> None:
        count, _ = self._failures.get(username, (0, 0.0))
        if len(self._failures) > 10_000:
            self._failures.clear()
        self._failures[username] = (count + 1, time.monotonic())

    def succeeded(self, username: str) -> None:
        self._failures.pop(username, None)
