"""How many times a dossier's applicant proof (the identity number) may be wrong.

Withdrawing or supplementing a dossier takes the applicant's identity number. Without a
limit it can be guessed (1,000 tries in 3 s, issue 15), so wrong numbers are counted in the
dossier's own state, in workflow time: `MAX_FAILURES` in a row lock the dossier's citizen
actions for `LOCK`. The count is kept by accepted updates (a validator's rejection leaves no
trace in history to count from), so it replays exactly and survives continue-as-new.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

MAX_FAILURES = 5
"""Wrong identity numbers in a row before the dossier locks."""
LOCK = timedelta(minutes=30)
"""How long a lock lasts: at most 10 guesses an hour, 240 a day, against 10^12 numbers."""


class ProofAttempts(BaseModel):
    """Wrong proofs since the last right one (or the last lock), and the lock's end."""

    model_config = ConfigDict(extra="forbid")

    failures: int = 0
    locked_until: datetime | None = None
    locks: int = 0

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def fail(self, now: datetime) -> bool:
        """Count one wrong proof at `now`; True when it locks the dossier."""
        if self.locked_until is not None and now >= self.locked_until:
            self.locked_until = None
        self.failures += 1
        if self.failures < MAX_FAILURES:
            return False
        self.failures, self.locked_until, self.locks = 0, now + LOCK, self.locks + 1
        return True

    def succeed(self) -> None:
        """A right proof: the count starts again."""
        self.failures = 0
