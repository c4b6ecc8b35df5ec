"""Rate limits keyed by what is being protected (a client address, a dossier code, a user).

`RateLimiter` is the interface; `MemoryRateLimiter` keeps fixed-window counters in the process.
Behind a load balancer each process counts on its own, so N processes allow up to N times the
limit: a deployment that needs one shared budget plugs a limiter over a shared store (Redis,
the database) into `create_app(rate_limiter=...)`. Keys never hold personal data: an identity
number is counted under a keyed hash of it (`Web.pseudonym`), never the number itself.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

MAX_KEYS = 100_000
"""Counters kept before the oldest windows are dropped: the memory is bounded under attack."""


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        """Count one attempt under `key`; False when the window's limit is already spent."""
        ...


class MemoryRateLimiter:
    """Fixed windows in a dict: right for one process, or a per-process cap."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        window = int(time.time() // window_seconds)
        with self._lock:
            if len(self._counts) >= MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
                if len(self._counts) >= MAX_KEYS:
                    self._counts.clear()
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        return count <= limit
