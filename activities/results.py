"""The result register (sổ đăng ký): register numbers for the documents a procedure issues.

A result document gets a number such as `0001/2026/KS`: the sequence in its register book, the
year, and the book's symbol. Each agency keeps one book per symbol per year, numbered from 1.
The register is a JSON lines file under `<data>/registers/`, appended under `flock`, and the
number is tied to the call id the workflow derived: a retried activity gets its number back
instead of consuming a second one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.jsonl import JsonlLog
from activities.payloads import AutoStepInput, AutoStepResult

log = structlog.get_logger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
"""Registers run on the local civil year."""


class RegisterLog(JsonlLog):
    """The register file, indexed by call id and by the last number of every book."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "call_id")
        self.numbers: dict[str, str] = {}
        self.last: dict[tuple[str, str, int], int] = {}

    def absorb(self, record: dict[str, Any]) -> None:
        """Remember the record's number and advance its book's counter."""
        book = (str(record["agency"]), str(record["series"]), int(record["year"]))
        self.last[book] = max(self.last.get(book, 0), int(record["sequence"]))
        self.numbers[str(record["call_id"])] = str(record["number"])
        super().absorb(record)

    def reset(self) -> None:
        """Forget numbers and counters too."""
        super().reset()
        self.numbers.clear()
        self.last.clear()

    def issue(
        self, call_id: str, agency: str, series: str, at: datetime, record: dict[str, Any]
    ) -> str:
        """The number of `call_id`, allocating the next one of its book on the first call; `at`
        (the issuing instant) picks the year's book and is recorded as `issued_at`."""
        with self.locked() as append:
            if call_id in self.numbers:
                return self.numbers[call_id]
            year = at.astimezone(LOCAL_TZ).year
            sequence = self.last.get((agency, series, year), 0) + 1
            number = f"{sequence:04d}/{year}/{series}"
            append(
                {
                    **record,
                    "issued_at": at.astimezone(LOCAL_TZ).isoformat(),
                    "call_id": call_id,
                    "agency": agency,
                    "series": series,
                    "year": year,
                    "sequence": sequence,
                    "number": number,
                }
            )
            return number


class Register:
    """The `issue_result` activity over the register of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.log = RegisterLog(data_dir / "registers" / "results.jsonl")

    @activity.defn(name="issue_result")
    def issue_result(self, call: AutoStepInput) -> AutoStepResult:
        """Give the result document `args.document` its register number.

        Arguments: `document` (a result id, required), `series` (the book's symbol, e.g. `KS`;
        default the document id) and `agency` (the agency code keeping the book; default the
        receiving agency, the prefix of the dossier code).
        """
        document = call.args.get("document")
        if not isinstance(document, str) or not document:
            raise ApplicationError(
                f"step {call.step!r} of {call.procedure_code}: issue_result needs a `document`"
                " argument (a result id)",
                type="BadArguments",
                non_retryable=True,
            )
        series = str(call.args.get("series") or document)
        agency = str(call.args.get("agency") or call.dossier_code.rsplit("-", 2)[0])
        # The dossier's clock, not this machine's: when the workflow scheduled the step (the
        # first attempt's, so a retry keeps it). A dry run skips time; so does a late worker.
        at = activity.info().scheduled_time
        number = self.log.issue(
            call.call_id,
            agency,
            series,
            at,
            {
                "dossier_code": call.dossier_code,
                "procedure_code": call.procedure_code,
                "step": call.step,
                "document": document,
            },
        )
        log.info(
            "result registered",
            dossier_code=call.dossier_code,
            document=document,
            number=number,
            call_id=call.call_id,
        )
        return AutoStepResult(outcome="issued", data={"number": number, "document": document})
