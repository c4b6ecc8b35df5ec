"""Benchmark: due-date computations per second for a 20-working-day budget.

Receipt instants are spread over 2025-2026 (seeded, so runs are comparable), and every
computation goes through `DossierClock.due`: receipt cut-off, budget, ledger, calendar.
Run: `python bench/clock.py [seconds]`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from procedures.legaltime.calendar import TimeLimit, load_calendar
from procedures.legaltime.clock import DossierClock, deadline, receipt_start

VN = timezone(timedelta(hours=7))
SAMPLES = 10_000
T = TypeVar("T")


def _receipts(n: int) -> list[datetime]:
    """`n` receipt instants spread over 2025-2026, local time, to the second."""
    rng = random.Random(20260216)
    first = datetime(2025, 1, 1, tzinfo=VN)
    span = int((datetime(2027, 1, 1, tzinfo=VN) - first).total_seconds())
    return [first + timedelta(seconds=rng.randrange(span)) for _ in range(n)]


def _rate(work: Sequence[T], compute: Callable[[T], object], seconds: float) -> float:
    """Calls of `compute` per second over `work`, for at least `seconds`."""
    done = 0
    began = time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        for item in work:
            compute(item)
        done += len(work)
    return done / elapsed


def main() -> None:
    """Print the rate of the bare arithmetic, then of the full clock (the figure to record)."""
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    cal = load_calendar(range(2024, 2030))
    budget = TimeLimit(amount=20)
    receipts = _receipts(SAMPLES)
    clocks = [DossierClock(budget=budget, max_extensions=1).start(r) for r in receipts]
    hours = clocks[0].hours

    def bare(received: datetime) -> datetime:
        return deadline(cal, receipt_start(cal, received, hours), budget, hours)

    def full(clock: DossierClock) -> datetime:
        return clock.due(cal)

    assert bare(receipts[0]) == full(clocks[0])  # same answer both ways
    print(f"calendar {cal.version}, {SAMPLES} receipt instants over 2025-2026")
    print(f"receipt_start + deadline (20 working days): {_rate(receipts, bare, seconds):.0f} /s")
    print(f"DossierClock.due (20 working days): {_rate(clocks, full, seconds):.0f} /s")


if __name__ == "__main__":
    main()
