"""Receiving a dossier: checks before Temporal, a code from the agency's counter (shared with
the process's other submissions to the agency: `motcua.client.allocation`), then the dossier
workflow."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from motcua.client import allocation
from motcua.client.dossier import show
from motcua.client.errors import InvalidRequest
from motcua.client.views import Submitted
from procedures import fields
from procedures.errors import ProcedureError
from procedures.legaltime.calendar import DEFAULT_OVERRIDES, WorkCalendar, load_calendar
from procedures.loader import load_catalog, load_procedure
from procedures.models import Channel, FrozenProcedure, Procedure
from procedures.text import MAX_LINE, control_problem, depth_problem, payload_problem
from runtime.errors import UserError
from workflows import search_attributes as sa
from workflows.api import (
    DOSSIER_WORKFLOW,
    INTERPRETER,
    Applicant,
    DossierInput,
    PortalStatus,
)
from workflows.counter import key_of, ticket

REQUEST_MEMO = "request"
"""Memo key of a dossier: its request's key (`workflows.counter.key_of`), never personal."""

log = structlog.get_logger(__name__)


def load_frozen(procedure: str, catalog_dir: Path | None = None) -> FrozenProcedure:
    """A procedure by code in a catalogue folder (default: the packaged one), or from a YAML
    file when given a path."""
    try:
        path = Path(procedure)
        if path.suffix in (".yaml", ".yml") or path.is_file():
            return load_procedure(path)
        catalog = load_catalog() if catalog_dir is None else load_catalog(catalog_dir)
    except (ProcedureError, OSError) as err:
        lines = str(err).splitlines() or ["unreadable"]
        more = f" (and {len(lines) - 1} more; run `motcua validate`)" if len(lines) > 1 else ""
        raise UserError(f"cannot load procedure {procedure}: {lines[0]}{more}") from None
    if procedure not in catalog:
        known = ", ".join(sorted(catalog)) or "none"
        where = "the catalogue" if catalog_dir is None else f"catalogue {catalog_dir}"
        raise UserError(
            f"no procedure {procedure!r} in {where} (known: {known}; "
            "--catalog DIR names another folder)"
        )
    return catalog[procedure]


def default_request_id(procedure_code: str, applicant: Applicant, form: Mapping[str, Any]) -> str:
    """The same application, sent again, gets the same request id and so the same dossier."""
    return _digest([procedure_code, applicant.model_dump(mode="json"), dict(form)])


def _digest(parts: list[Any]) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _ticket(
    request_id: str,
    procedure_code: str,
    applicant: Applicant,
    channel: Channel,
    form: Mapping[str, Any],
    documents: tuple[str, ...],
) -> str:
    """The counter's memory of this request: its id, and what was submitted under it."""
    content = _digest(
        [procedure_code, applicant.model_dump(mode="json"), channel, dict(form), documents]
    )
    return ticket(request_id, content)


def check_submission(
    procedure: Procedure, channel: Channel, form: Mapping[str, Any], documents: Iterable[str]
) -> None:
    """Refuse, before anything reaches Temporal, a submission the procedure does not accept:
    a channel it does not offer, an undeclared document, form data too large or holding
    control characters, (when it declares its `application`) form data with unknown, missing,
    mistyped or too long fields, all named at once, or a document its `required_if` asks for
    with this form."""
    if channel not in procedure.channels:
        accepted = ", ".join(c.value for c in procedure.channels)
        raise InvalidRequest(
            f"procedure {procedure.code} accepts channels {accepted}, not {channel}"
        )
    unknown = sorted(set(documents) - {d.id for d in procedure.documents})
    if unknown:
        known = ", ".join(d.id for d in procedure.documents)
        raise InvalidRequest(f"unknown document(s) {', '.join(unknown)} (known: {known})")
    too_much = depth_problem(dict(form)) or payload_problem(dict(form))
    if too_much is not None:
        raise InvalidRequest(f"form: {too_much}")
    if procedure.application:
        problems = fields.application_problems(procedure.application, form)
        if problems:
            raise InvalidRequest("form: " + "; ".join(problems))
    given = set(documents)
    missing = [
        f"{d.id} (as {d.required_if})"
        for d in procedure.documents
        if d.required_if is not None and d.id not in given and d.needed(form)
    ]
    if missing:
        raise InvalidRequest(f"missing document(s) {', '.join(missing)}")


async def submit(
    client: Client,
    procedure: str | FrozenProcedure,
    applicant: Applicant,
    channel: Channel,
    form: Mapping[str, Any] | None = None,
    documents: Iterable[str] = (),
    request_id: str | None = None,
    calendar: WorkCalendar | None = None,
) -> Submitted:
    """Receive a dossier: a code from the agency's counter, then the dossier workflow.

    The counter remembers request ids (`workflows.counter`), and a dossier code is never reused
    (REJECT_DUPLICATE), so repeating a submission returns the dossier it created first
    (`existing=True`); the same request id with different content is refused. A new dossier's
    appointment date is computed here as the workflow does, without waiting for its worker.
    """
    frozen = procedure if isinstance(procedure, FrozenProcedure) else load_frozen(procedure)
    proc = frozen.procedure
    form = dict(form or {})
    documents = tuple(documents)
    check_submission(proc, channel, form, documents)
    given = request_id is not None
    request_id = request_id or default_request_id(proc.code, applicant, form)
    if len(request_id) > MAX_LINE or control_problem(request_id) is not None:
        raise InvalidRequest(f"request id: at most {MAX_LINE} characters, no control characters")
    ticket_ = _ticket(request_id, proc.code, applicant, channel, form, documents)
    agency = proc.agencies[proc.receiving_agency]
    number = await allocation.number(client, agency.code, agency.task_queue, ticket_)
    code = number.code
    if not code:
        raise InvalidRequest(
            "this request id was already used for a different submission; send it with a new one"
            if given
            else f"this applicant's application for {proc.code} was already submitted with other"
            " documents or channel; give a new request id to submit it again"
        )
    inp = DossierInput(
        code=code,
        procedure=frozen,
        calendar=calendar or default_calendar(),
        received_at=number.received_at,
        channel=channel,
        applicant=applicant,
        form=form,
        documents=documents,
        request_id=request_id,
        interpreter=INTERPRETER,  # set, so that this input too says which version it runs
    )
    existing = number.existing
    try:
        await client.start_workflow(
            DOSSIER_WORKFLOW,
            inp,
            id=code,
            task_queue=agency.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            memo={REQUEST_MEMO: key_of(ticket_)},
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.PROCEDURE_CODE, proc.code),
                    SearchAttributePair(sa.PORTAL_STATUS, PortalStatus.RECEIVED.value),
                    SearchAttributePair(sa.OVERDUE, False),
                    # Given at the start, not upserted: old histories' commands stay unchanged.
                    SearchAttributePair(sa.INTERPRETER_VERSION, inp.interpreter),
                    *sa.at_start(
                        proc,
                        channel,
                        inp.received_at if inp.received_at_start() else None,
                        documents,
                    ),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        if not existing and not await _started_for(client, code, key_of(ticket_)):
            raise UserError(
                f"dossier code {code} is already taken although the counter of "
                f"{agency.code} just issued it: check the counter workflow"
            ) from None
        existing = True
    except Exception as err:
        # The number stays unused (a gap in the day's codes) unless the request is sent again.
        log.warning("dossier code issued but not started", code=code, error=type(err).__name__)
        raise
    if existing:
        state = await show(client, code)
        return Submitted(code=code, due_at=state.clock.due_at, existing=True)
    return Submitted(
        code=code, due_at=_due(inp), existing=False, awaiting_payment=inp.pays_before_receipt()
    )


def default_calendar() -> WorkCalendar:
    """The shipped calendar, built again only when its override file changes or the year turns:
    a burst of 1,000 submissions would otherwise build it 1,000 times (10-20 ms each)."""
    return _calendar((DEFAULT_OVERRIDES.stat().st_mtime_ns, date.today().year))


@functools.lru_cache(maxsize=1)
def _calendar(_key: tuple[int, int]) -> WorkCalendar:
    return load_calendar()


def _due(inp: DossierInput) -> datetime:
    """The appointment date of a dossier just received, as its workflow computes it first."""
    return inp.opening_clock().due(inp.calendar)


async def _started_for(client: Client, code: str, key: str) -> bool:
    """Whether the running dossier `code` was started for the request with this key (a
    concurrent repeat of the same request got there first)."""
    description = await client.get_workflow_handle(code).describe()
    return bool(await description.memo_value(REQUEST_MEMO, None) == key)
