"""Rate limits keyed by what is being protected (a client address, a dossier code, a user).

`RateLimiter` is the interface; `MemoryRateLimiter` keeps, per key, one "theoretical arrival
time" in the process (GCRA, the generic cell rate algorithm): `limit` attempts per window, earned
back one every `window / limit` seconds. Unlike fixed windows, no boundary lets a client spend two
windows' budget back to back (`limit` at 4:59 and `limit` again at 5:00).
Behind a load balancer each process counts on its own, so N processes allow up to N times the
limit: a deployment that needs one shared budget plugs a limiter over a shared store (Redis,
the database) into `create_app(rate_limiter=...)`. Keys never hold personal data: an identity
number is counted under a keyed hash of it (`Web.pseudonym`), never the number itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

MAX_KEYS = 100_000
"""Keys kept before the idle ones are dropped: the memory is bounded under attack."""


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        """Count one attempt under `key`; False when the window's limit is already spent."""
        ...


class MemoryRateLimiter:
    """GCRA in a dict: right for one process, or a per-process cap."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._due: dict[str, float] = {}
        """Per key, the instant at which its budget is whole again."""
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        now = self._clock()
        interval = window_seconds / limit
        with self._lock:
            if len(self._due) >= MAX_KEYS:
                self._due = {k: due for k, due in self._due.items() if due > now}
                if len(self._due) >= MAX_KEYS:
                    self._due.clear()
            due = max(self._due.get(key, now), now) + interval
            if due - now > window_seconds + 1e-9:
                return False
            self._due[key] = due
        return True
