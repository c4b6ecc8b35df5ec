"""One long-lived workflow per agency hands out dossier codes `<agency>-<YYMMDD>-<NNNN>`.

Numbers come from Temporal itself, with no external database: the day comes from
`workflow.now()` in Vietnam's time zone, and updates are serialised by the workflow, so codes
are unique and sequential per agency and day.

Built for the server's limits (docs/deployment.md, "Submission bursts"):

- **Batches.** Clients send `allocate_many` with up to `MAX_BATCH` tickets; a client process
  queues its concurrent submissions to an agency and sends them as one update while the
  previous one is in flight (`motcua.client.allocation`). A burst of 1,000 submissions is a handful
  of updates, far from the server's 10 updates in flight per workflow
  (`history.maxInFlightUpdates`), and a workflow task answers them all at once.
- **Short runs.** The workflow continues as new at each new day, when the server suggests it,
  and after `UPDATES_PER_RUN` updates (below `history.maxTotalUpdates`, 2,000 by default).
- **Compact memory.** Idempotency needs the request ids issued lately, carried through
  continue-as-new, whose input is one payload (2 MB at most). A request is remembered as a
  16-character ticket: an 11-character key (66 bits of SHA-256 of the request id) and a
  5-character fingerprint of the submission's content. A day's tickets are one string in
  number order (the position is the number, so no number is stored), 160 KB for a busy
  agency's 9,999 dossiers. Days are kept for `KEEP_DAYS`, but never more than
  `MAX_CARRIED` tickets (640 KB): a busy agency remembers fewer days.
- **Idempotency.** A ticket whose key is known gets its first code back (`existing`); a known
  key with another fingerprint is the same request id reused for a different submission,
  and is refused (an empty code) instead of handing out someone else's dossier. The dossier
  keeps the key in its memo, so two concurrent repeats of one request cannot both claim it.

The single `allocate` update of the first counter stays for clients of the previous release
and for the histories of counters started by it (their `recent` map is read once, on upgrade).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta, timezone

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.api import (
        ALLOCATE,
        ALLOCATE_MANY,
        COUNTER_WORKFLOW,
        Allocate,
        Allocated,
        AllocateMany,
        Allocation,
        CounterInput,
    )

VIETNAM = timezone(timedelta(hours=7))
MAX_PER_DAY = 9999
MAX_BATCH = 1000
KEEP_DAYS = 7
KEY_LEN = 11
TICKET_LEN = 16
MAX_CARRIED = 40_000
"""Tickets carried through continue-as-new: 640 KB, a third of the 2 MB payload limit."""
UPDATES_PER_RUN = 500
ANY_CONTENT = "*****"
"""Fingerprint of a request known only by its id (a first-release client, or an upgraded run)."""
LOST = "~" * TICKET_LEN
"""Placeholder for a number whose request is not known (never matches a key)."""


def _b64(data: str) -> str:
    digest = hashlib.sha256(data.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def ticket(request_id: str, content: str = "") -> str:
    """What the counter remembers of a request: its id's key and its content's fingerprint."""
    fingerprint = _b64("content\0" + content)[: TICKET_LEN - KEY_LEN] if content else ANY_CONTENT
    return _b64("request\0" + request_id)[:KEY_LEN] + fingerprint


def key_of(ticket_: str) -> str:
    """The request id's part of a ticket (what a dossier's memo keeps)."""
    return ticket_[:KEY_LEN]


def today() -> str:
    """The day being numbered, from workflow time."""
    return workflow.now().astimezone(VIETNAM).strftime("%y%m%d")


def carried(issued: dict[str, list[str]], day: str, horizon: str) -> dict[str, str]:
    """The tickets to carry: days from `horizon` on, newest first, within `MAX_CARRIED`; the
    day being numbered always (its tickets alone are at most `MAX_PER_DAY`)."""
    kept: dict[str, str] = {}
    total = 0
    for d in sorted(issued, reverse=True):
        total += len(issued[d])
        if d < horizon or (total > MAX_CARRIED and d != day):
            break
        kept[d] = "".join(issued[d])
    return kept


@workflow.defn(name=COUNTER_WORKFLOW)
class AgencyCounterWorkflow:
    @workflow.init
    def __init__(self, inp: CounterInput) -> None:
        self._agency = inp.agency_code
        self._day = inp.day
        self._last = inp.last_number
        self._started_day = inp.day
        self._updates = 0
        self._issued: dict[str, list[str]] = {
            d: [s[i : i + TICKET_LEN] for i in range(0, len(s), TICKET_LEN)]
            for d, s in inp.issued.items()
        }
        for request_id, allocation in inp.recent.items():
            _, day, number = allocation.code.rsplit("-", 2)
            tickets = self._issued.setdefault(day, [])
            tickets.extend([LOST] * (int(number) - len(tickets)))
            tickets[int(number) - 1] = ticket(request_id)
        self._known: dict[str, tuple[str, int, str]] = {
            t[:KEY_LEN]: (d, n, t[KEY_LEN:])
            for d, tickets in self._issued.items()
            for n, t in enumerate(tickets, 1)
            if t != LOST
        }

    @workflow.run
    async def run(self, inp: CounterInput) -> None:
        await workflow.wait_condition(
            lambda: (
                (self._started_day != "" and self._day != self._started_day)
                or self._updates >= UPDATES_PER_RUN
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        horizon = workflow.now().astimezone(VIETNAM) - timedelta(days=KEEP_DAYS)
        workflow.continue_as_new(
            CounterInput(
                agency_code=self._agency,
                day=self._day,
                last_number=self._last,
                issued=carried(self._issued, self._day, horizon.strftime("%y%m%d")),
            )
        )

    @workflow.update(name=ALLOCATE_MANY)
    def allocate_many(self, req: AllocateMany) -> Allocated:
        self._updates += 1
        codes: list[str] = []
        existing: list[bool] = []
        for t in req.tickets:
            code, repeat = self._number(t)
            codes.append(code)
            existing.append(repeat)
        return Allocated(received_at=workflow.now(), codes=codes, existing=existing)

    @allocate_many.validator
    def _check_many(self, req: AllocateMany) -> None:
        self._check_room(req.tickets)

    @workflow.update(name=ALLOCATE)
    def allocate(self, req: Allocate) -> Allocation:
        self._updates += 1
        code, repeat = self._number(ticket(req.request_id))
        return Allocation(code=code, received_at=workflow.now(), existing=repeat)

    @allocate.validator
    def _check(self, req: Allocate) -> None:
        self._check_room([ticket(req.request_id)])

    def _check_room(self, tickets: list[str]) -> None:
        """Refuse a batch whose new requests would pass the day's last number."""
        fresh = {t[:KEY_LEN] for t in tickets} - self._known.keys()
        used = self._last if today() == self._day else 0
        if used + len(fresh) > MAX_PER_DAY:
            raise ValueError(f"agency {self._agency} has numbered {MAX_PER_DAY} dossiers today")

    def _number(self, ticket_: str) -> tuple[str, bool]:
        """The ticket's code and whether it was issued before; `""` for a reused request id."""
        key, fingerprint = ticket_[:KEY_LEN], ticket_[KEY_LEN:]
        known = self._known.get(key)
        if known is not None:
            day, number, first = known
            if ANY_CONTENT not in (first, fingerprint) and first != fingerprint:
                return "", False
            return f"{self._agency}-{day}-{number:04d}", True
        day = today()
        if day != self._day:
            if self._started_day == "":
                self._started_day = day
            self._day, self._last = day, 0
        self._last += 1
        self._issued.setdefault(day, []).append(ticket_)
        self._known[key] = (day, self._last, fingerprint)
        return f"{self._agency}-{day}-{self._last:04d}", False
