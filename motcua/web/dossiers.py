"""What the web app reads about a dossier besides its `state` query, and online submission.

The applicant's identity number and the frozen procedure (the steps' fields, the documents)
are in the input the dossier's current run started with: read from the first event of its
history, never from a copy the web app would have to keep in step.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from motcua import client
from motcua.web.auth import Officer
from motcua.web.problems import WebError
from motcua.web.storage import Attachment, OffLoop, sniff
from procedures.models import Channel, FrozenProcedure, TaskStep
from workflows import search_attributes as sa
from workflows.api import RATING_WORKFLOW, Applicant, DossierInput, DossierState, RateDossier
from workflows.rating import rating_id

MAX_CACHED = 64
_procedures: dict[str, FrozenProcedure] = {}
"""Frozen procedures by content hash: immutable, so caching them keeps no state that matters."""


async def dossier_input(temporal: Client, code: str) -> DossierInput:
    """The input of the dossier's current run, from the first event of its history."""
    request = GetWorkflowExecutionHistoryRequest(
        namespace=temporal.namespace,
        execution=WorkflowExecution(workflow_id=code),
        maximum_page_size=1,
    )
    try:
        answer = await temporal.workflow_service.get_workflow_execution_history(request)
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise client.DossierNotFound(code) from None
        if err.status is RPCStatusCode.UNAVAILABLE:
            raise client.ServerUnreachable(temporal.service_client.config.target_host) from None
        raise
    events = answer.history.events
    if not events or not events[0].HasField("workflow_execution_started_event_attributes"):
        raise client.DossierNotFound(code)
    started = events[0].workflow_execution_started_event_attributes
    if started.workflow_type.name != "Dossier":
        raise client.DossierNotFound(code)
    [found] = await temporal.data_converter.decode(started.input.payloads, [DossierInput])
    if not isinstance(found, DossierInput):
        raise client.DossierNotFound(code)
    if len(_procedures) >= MAX_CACHED:
        _procedures.clear()
    _procedures[found.procedure.content_hash] = found.procedure
    return found


async def frozen_procedure(temporal: Client, state: DossierState) -> FrozenProcedure:
    """The procedure the dossier was received with (the YAML may have changed since)."""
    cached = _procedures.get(state.content_hash)
    if cached is not None:
        return cached
    return (await dossier_input(temporal, state.code)).procedure


async def applicant_matches(temporal: Client, code: str, id_number: str) -> bool:
    """Whether `id_number` is the dossier's applicant's; False for an unknown dossier too."""
    if not id_number or len(id_number) > 32:
        return False
    try:
        found = await dossier_input(temporal, code)
    except client.DossierNotFound:
        return False
    return hmac.compare_digest(found.applicant.id_number.encode(), id_number.encode())


def officer_may_see(state: DossierState, officer: Officer) -> bool:
    """An officer sees the dossiers their agency received or has (had) a task in; no other."""
    if state.code.startswith(officer.agency + "-"):
        return True
    tasks = (*state.tasks, *((state.apology,) if state.apology else ()))
    return any(t.agency == officer.agency for t in tasks)


def task_step(frozen: FrozenProcedure, step: str) -> TaskStep | None:
    found = frozen.procedure.steps.get(step)
    return found if isinstance(found, TaskStep) else None


def check_scans(
    frozen: FrozenProcedure, scans: Mapping[str, bytes], *, max_bytes: int
) -> dict[str, str]:
    """Each scan's media type, refusing an undeclared document, an oversize or unknown file."""
    known = {d.id: d for d in frozen.procedure.documents}
    kinds = {}
    for doc_id, data in scans.items():
        doc = known.get(doc_id)
        if doc is None:
            raise WebError(422, "Invalid request", f"documents.{doc_id}: not a document of it")
        if not doc.digitised_accepted:
            raise WebError(422, "Invalid request", f"documents.{doc_id}: no scan accepted")
        if len(data) > max_bytes:
            raise WebError(
                413,
                "Too large",
                f"documents.{doc_id}: larger than {max_bytes // 1024} KiB",
                f"{doc.name}: tệp lớn hơn {max_bytes // 1024} KiB",
            )
        kind = sniff(data)
        if kind is None:
            raise WebError(
                415,
                "Unsupported type",
                f"documents.{doc_id}: not a PDF, JPEG or PNG",
                f"{doc.name}: chỉ nhận tệp PDF, JPEG hoặc PNG",
            )
        kinds[doc_id] = kind
    return kinds


async def stored_attachments(
    storage: OffLoop, scans: Mapping[str, bytes], kinds: Mapping[str, str], via: str
) -> list[Attachment]:
    """Store the scans; their attachments to record once the dossier has accepted them."""
    at = datetime.now(UTC)
    return [
        Attachment(
            document=doc_id,
            sha256=await storage.put(data),
            size=len(data),
            content_type=kinds[doc_id],
            at=at,
            via=via,
        )
        for doc_id, data in scans.items()
    ]


async def submit_online(
    temporal: Client,
    storage: OffLoop,
    frozen: FrozenProcedure,
    applicant: Applicant,
    form: Mapping[str, Any],
    scans: Mapping[str, bytes],
    *,
    max_bytes: int,
    request_id: str | None = None,
) -> client.Submitted:
    """Receive an online application with its scans: stored first, then the dossier."""
    kinds = check_scans(frozen, scans, max_bytes=max_bytes)
    client.check_submission(frozen.procedure, Channel.ONLINE, form, scans)
    missing = [
        d.id
        for d in frozen.procedure.documents
        if d.required and d.copies > 0 and d.digitised_accepted and d.id not in scans
    ]
    if missing:
        raise WebError(
            422,
            "Invalid request",
            "documents: missing " + ", ".join(missing),
            "Thiếu bản quét: " + ", ".join(missing),
        )
    attachments = await stored_attachments(storage, scans, kinds, "submission")
    if request_id is None:  # the same application sent twice (a double click) is one dossier;
        # the same data with other scans is another application
        digests = sorted((a.document, a.sha256) for a in attachments)
        base = client.default_request_id(frozen.procedure.code, applicant, form)
        request_id = hashlib.sha256(f"{base}:{digests}".encode()).hexdigest()
    done = await client.submit(
        temporal,
        frozen,
        applicant,
        Channel.ONLINE,
        form=form,
        documents=tuple(scans),
        request_id=request_id,
    )
    sent = sorted((a.document, a.sha256) for a in attachments)
    if not done.existing:
        await storage.attach(done.code, attachments)
    elif sent != sorted(
        (a.document, a.sha256)
        for a in await storage.attachments(done.code)
        if a.via == "submission"
    ):  # the counter compares document ids only; the scans themselves are compared here
        raise WebError(
            422,
            "Invalid request",
            "this request id was already used for a submission with other scans; "
            "send it with a new one",
        )
    return done


class AlreadyRated(WebError):
    def __init__(self, code: str) -> None:
        super().__init__(409, "Already rated", f"dossier {code} is already rated")


async def rating_of(temporal: Client, code: str) -> int | None:
    """The dossier's rating, or None while it has none."""
    handle: WorkflowHandle[Any, Any] = temporal.get_workflow_handle(rating_id(code))
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return described.typed_search_attributes.get(sa.RATING)


async def rate(temporal: Client, state: DossierState, score: int) -> None:
    """Record the applicant's rating of a finished dossier, once (the caller proved who)."""
    if state.result is None:
        raise client.UpdateRejected(state.code, "rate", "the dossier has no result yet")
    if not 1 <= score <= 5:
        raise client.InvalidRequest("score: between 1 and 5")
    frozen = await frozen_procedure(temporal, state)
    proc = frozen.procedure
    try:
        await temporal.start_workflow(
            RATING_WORKFLOW,
            RateDossier(dossier_code=state.code, procedure_code=proc.code, score=score),
            id=rating_id(state.code),
            task_queue=proc.agencies[proc.receiving_agency].task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.PROCEDURE_CODE, proc.code),
                    SearchAttributePair(sa.RATING, score),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        raise AlreadyRated(state.code) from None
