"""The send log: which notifications left through SMTP or an SMS gateway, and when.

Temporal runs an activity at least once, and a worker may die between handing a message to the
gateway and recording it. So every delivery is claimed in this log *before* it is sent
("sending"), and its outcome is recorded after ("sent", "failed", "refused"). A retried
activity that finds:

- "sent" or "refused": sends nothing (the first attempt's outcome stands);
- "failed" (the gateway said no, or could not be reached): sends again, the claim renewed;
- "sending" with no outcome (a crash, or an attempt still running after its timeout): sends
  nothing and records "unconfirmed", for an operator to check.

Delivery is therefore **at most once** per notification id: a message is never sent twice by
motcua, and one lost in the crash window is reported as unconfirmed rather than repeated. A
failure the gateway reports after accepting (an SMTP timeout after the final dot) may still
repeat a message; e-mails carry a Message-ID derived from the notification id
(`activities.mail.message_id`), so the receiving side can drop such a copy.

Each line: key, state, via (the channel's gateway), at; ids and states only, no address.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from activities.jsonl import JsonlLog

State = Literal["sending", "sent", "failed", "refused", "unconfirmed"]

FINAL: frozenset[str] = frozenset({"sent", "refused", "unconfirmed"})
"""States after which nothing is sent again for the key."""


class Refused(Exception):
    """The gateway refused the message for good (a bad address): retrying cannot help."""


class SendLog(JsonlLog):
    """`outbox/deliveries.jsonl`: the last state of each delivery, by notification id."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "key")
        self.state: dict[str, str] = {}

    def absorb(self, record: dict[str, Any]) -> None:
        super().absorb(record)
        self.state[str(record["key"])] = str(record["state"])

    def reset(self) -> None:
        super().reset()
        self.state.clear()

    def deliver(self, key: str, via: str, send: Callable[[], None]) -> State:
        """Call `send` unless `key` was claimed before; the state recorded for `key` now.

        `send` raises `Refused` for a permanent refusal, anything else for a failure worth
        retrying (recorded "failed", then raised again so Temporal retries the activity)."""
        with self.locked() as append:
            before = self.state.get(key)
            if before in FINAL:
                return before  # type: ignore[return-value]
            if before == "sending":
                append(_line(key, "unconfirmed", via))
                return "unconfirmed"
            append(_line(key, "sending", via))
        try:
            send()
        except Refused:
            self._record(key, "refused", via)
            return "refused"
        except Exception:
            self._record(key, "failed", via)
            raise
        self._record(key, "sent", via)
        return "sent"

    def _record(self, key: str, state: State, via: str) -> None:
        with self.locked() as append:
            append(_line(key, state, via))


def _line(key: str, state: State, via: str) -> dict[str, Any]:
    return {"key": key, "state": state, "via": via, "at": datetime.now(UTC).isoformat()}
