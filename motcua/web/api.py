"""The JSON API for the National Public Service Portal and other systems (`/api/v1`).

The same operations and the same authentication as the pages: citizens prove a dossier with
its applicant's identity number, officers sign in for a session cookie and send its CSRF token
in `X-CSRF-Token` with every change. Scans are uploaded first (`POST /api/v1/uploads`, the
bytes as the body) and then named by their SHA-256 in a submission or a supplement. Errors are
RFC 9457 problem details. OpenAPI at `/openapi.json`.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from motcua import client, feedback
from motcua.web import actions, dossiers
from motcua.web.auth import ActiveDelegation, Officer
from motcua.web.citizen import limit_feedback, prove
from motcua.web.context import Web, web_of
from motcua.web.inbox import officer_inbox
from motcua.web.officer import _dossier
from motcua.web.problems import PROBLEM, WebError
from motcua.web.sessions import COOKIE, Session, SessionOfficer
from motcua.web.storage import Attachment, sniff, valid_digest
from workflows.api import Applicant, DocumentView, DossierState, PortalStatus

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": title, "content": {PROBLEM: {}}}
    for code, title in {
        401: "Not signed in",
        403: "CSRF token missing or wrong",
        404: "No such dossier (or not yours)",
        409: "The workflow rejected the action",
        422: "Invalid request",
        429: "Too many attempts",
        503: "Temporal or the worker does not answer",
    }.items()
}
router = APIRouter(prefix="/api/v1", tags=["v1"], responses=_PROBLEMS)

Short = Annotated[str, Field(max_length=500)]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
IdNumber = Annotated[str, Field(min_length=1, max_length=32)]
CSRF = Annotated[str | None, Header(alias="X-CSRF-Token", max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(_In):
    user: str = Field(max_length=256)
    password: str = Field(max_length=256)
    acting_for: str | None = Field(
        None, max_length=64, description="Act for this colleague under an active delegation."
    )


class SignedInOfficer(BaseModel):
    """Who signed in (the assertion itself stays in the session cookie)."""

    user: str
    agency: str
    role: str
    name: str = ""
    expires_at: datetime
    acting_for: str | None = None


class SignedIn(BaseModel):
    officer: SignedInOfficer
    csrf: str = Field(description="Send as `X-CSRF-Token` with every officer action.")
    delegations: list[ActiveDelegation] = Field(
        [], description="Colleagues this officer may act for now (sign in with `acting_for`)."
    )


class Uploaded(BaseModel):
    sha256: str
    size: int
    content_type: str


class Submission(_In):
    procedure: str = Field(max_length=32, description="Catalogue code, e.g. `2.000720`.")
    applicant: Applicant
    form: dict[str, Any] = Field({}, description="The procedure's declared application form.")
    documents: dict[str, Digest] = Field(
        {}, max_length=50, description="Document id -> SHA-256 of an uploaded scan."
    )


class FeedbackIn(_In):
    """A citizen's feedback (phản ánh, kiến nghị) about a procedure and/or a dossier."""

    applicant: Applicant = Field(description="The sender: name, identity number, contact.")
    content: str = Field(min_length=1, max_length=feedback.MAX_CONTENT)
    about_procedure: str = Field("", max_length=20, description="Procedure code, if any.")
    about_dossier: str = Field("", max_length=feedback.MAX_CODE, description="Dossier code.")


class Proof(_In):
    id_number: IdNumber


class SupplementIn(_In):
    id_number: IdNumber
    documents: dict[str, Digest] = Field(min_length=1, max_length=50)
    note: Short = ""


class WithdrawIn(_In):
    id_number: IdNumber
    reason: Short = ""


class Rating(_In):
    id_number: IdNumber
    score: int = Field(ge=1, le=5, description="1 (very dissatisfied) to 5 (very satisfied).")


class Complete(_In):
    decision: str = Field(max_length=64)
    fields: dict[str, Any] = Field({}, max_length=100)


class Reassign(_In):
    to_user: str | None = Field(None, max_length=200)
    to_role: str | None = Field(None, max_length=64)


class Supplement(_In):
    missing: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=50)
    reason: Short = ""


class Apology(_In):
    reason: Short


class ActedOut(BaseModel):
    acted: client.Acted
    state: DossierState = Field(description="The dossier right after the action.")


class Documents(BaseModel):
    issued: tuple[DocumentView, ...]
    scans: list[Attachment]


def _officer(web: Web, request: Request, csrf: str | None, *, change: bool) -> Officer:
    sess = web.session(request)
    officer = web.officer(sess)
    if change:
        web.check_csrf(sess, csrf)
    return officer


async def _scans(web: Web, documents: dict[str, str]) -> dict[str, bytes]:
    scans = {}
    for doc_id, digest in documents.items():
        data = await web.storage.get(digest) if valid_digest(digest) else None
        if data is None:
            raise WebError(422, "Invalid request", f"documents.{doc_id}: no upload {digest[:12]}")
        scans[doc_id] = data
    return scans


@router.post("/session", response_model=SignedIn)
async def sign_in(request: Request, body: Credentials, response: Response) -> SignedIn:
    """Sign an officer in: the session cookie comes back with its CSRF token."""
    web = web_of(request)
    settings = web.settings
    web.limit(f"login:addr:{web.address(request)}", settings.logins_per_window * 5, 300)
    web.limit(f"login:user:{body.user}", settings.logins_per_window, 300)
    officer = await asyncio.to_thread(
        web.directory.authenticate, body.user, body.password, body.acting_for
    )
    if officer is None:
        why = " or no delegation active today" if body.acting_for else ""
        raise WebError(401, "Unauthorized", f"wrong user name or password{why}")
    sess = Session(officer=SessionOfficer(**officer.model_dump()))
    web.sessions.save(response, sess)
    found = [] if body.acting_for else await asyncio.to_thread(web.directory.delegations, body.user)
    return SignedIn(
        officer=SignedInOfficer(**officer.model_dump()), csrf=sess.csrf, delegations=found
    )


@router.delete("/session", status_code=204)
async def sign_out(request: Request, x_csrf: CSRF = None) -> Response:
    """Sign out: the session is revoked, so no copy of its cookie works any more."""
    web = web_of(request)
    sess = web.session(request)
    web.officer(sess)
    web.check_csrf(sess, x_csrf)
    await asyncio.to_thread(web.sessions.end, sess)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/uploads", response_model=Uploaded, status_code=201)
async def upload(request: Request) -> Uploaded:
    """Store a scan (the request body: PDF, JPEG or PNG); name it by `sha256` afterwards."""
    web = web_of(request)
    web.limit(f"upload:addr:{web.address(request)}", 100, 300)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > web.settings.max_upload_bytes:
            raise WebError(413, "Too large", f"a scan may be {web.settings.max_upload_bytes} bytes")
    kind = sniff(bytes(data))
    if kind is None:
        raise WebError(415, "Unsupported type", "body: not a PDF, JPEG or PNG")
    digest = await web.storage.put(bytes(data))
    return Uploaded(sha256=digest, size=len(data), content_type=kind)


@router.post("/dossiers", response_model=client.Submitted, status_code=201)
async def submit(
    request: Request,
    body: Submission,
    idempotency_key: Annotated[str, Header(min_length=8, max_length=200)],
) -> client.Submitted:
    """Submit online; the same `Idempotency-Key` again returns the same dossier."""
    web = web_of(request)
    frozen = web.catalog.get(body.procedure)
    if frozen is None:
        raise WebError(422, "Invalid request", f"procedure: no procedure {body.procedure!r}")
    request_id = hashlib.sha256(f"api:{idempotency_key}".encode()).hexdigest()
    return await dossiers.submit_online(
        web.client(),
        web.storage,
        frozen,
        body.applicant,
        body.form,
        await _scans(web, body.documents),
        max_bytes=web.settings.max_upload_bytes,
        request_id=request_id,
    )


@router.post("/feedback", response_model=client.Submitted, status_code=201)
async def send_feedback(
    request: Request,
    body: FeedbackIn,
    idempotency_key: Annotated[str, Header(min_length=8, max_length=200)],
) -> client.Submitted:
    """Send feedback: a dossier of the catalogue's feedback procedure, routed to the agency the
    procedure or dossier it is about belongs to; its answer is the dossier's result (`reason`
    of `POST /dossiers/{code}/status`). Rate-limited per address."""
    web = web_of(request)
    frozen = feedback.channel(web.catalog)
    if frozen is None:
        raise WebError(404, "Not Found", "this catalogue has no feedback procedure")
    limit_feedback(web, request)
    form = feedback.form(
        frozen, web.catalog, body.content, body.about_procedure, body.about_dossier
    )
    request_id = hashlib.sha256(f"api:feedback:{idempotency_key}".encode()).hexdigest()
    return await dossiers.submit_online(
        web.client(),
        web.storage,
        frozen,
        body.applicant,
        form,
        {},
        max_bytes=web.settings.max_upload_bytes,
        request_id=request_id,
    )


@router.post("/dossiers/{code}/status", response_model=client.CitizenStatus)
async def status(request: Request, code: str, body: Proof) -> client.CitizenStatus:
    """What the applicant sees; 404 unless `id_number` is the dossier's applicant's."""
    web = web_of(request)
    await prove(web, request, code[:64], body.id_number)
    return await client.status(web.client(), code)


@router.post("/dossiers/{code}/supplement", response_model=client.Acted)
async def supplement(request: Request, code: str, body: SupplementIn) -> client.Acted:
    web = web_of(request)
    await prove(web, request, code[:64], body.id_number)
    state = await client.show(web.client(), code)
    frozen = await dossiers.frozen_procedure(web.client(), state)
    scans = await _scans(web, body.documents)
    kinds = dossiers.check_scans(frozen, scans, max_bytes=web.settings.max_upload_bytes)
    attachments = await dossiers.stored_attachments(web.storage, scans, kinds, "supplement")
    acted = await client.supplement(
        web.client(), code, tuple(scans), body.note, applicant_id=body.id_number
    )
    await web.storage.attach(code, attachments)
    return acted


@router.post("/dossiers/{code}/withdraw", response_model=client.Acted)
async def withdraw(request: Request, code: str, body: WithdrawIn) -> client.Acted:
    web = web_of(request)
    await prove(web, request, code[:64], body.id_number)
    return await client.withdraw(web.client(), code, body.reason, applicant_id=body.id_number)


@router.post("/dossiers/{code}/rating", status_code=201)
async def rating(request: Request, code: str, body: Rating) -> dict[str, int]:
    """The applicant rates a finished dossier, once; indicators count the `Rating` attribute."""
    web = web_of(request)
    await prove(web, request, code[:64], body.id_number)
    await dossiers.rate(web.client(), await client.show(web.client(), code), body.score)
    return {"score": body.score}


@router.get("/inbox", response_model=client.InboxPage)
async def inbox(
    request: Request,
    scope: str = "role",
    overdue: bool = False,
    procedure: str | None = None,
    status: PortalStatus | None = None,
    page: Annotated[str | None, Field(max_length=4000)] = None,
    page_size: int = 50,
) -> client.InboxPage:
    """The signed-in officer's inbox (their role's, or `scope=agency`), overdue first; the
    dossiers they acted on in the last two minutes as they are now (the session remembers)."""
    web = web_of(request)
    sess = web.session(request)
    officer = web.officer(sess)
    return await officer_inbox(
        web,
        sess,
        officer,
        by_role=scope == "role",
        overdue_only=overdue,
        page_size=page_size,
        page=page,
        procedure=procedure,
        status=status,
    )


@router.get("/dossiers/{code}", response_model=DossierState)
async def dossier(request: Request, code: str) -> DossierState:
    web = web_of(request)
    return await _dossier(web, _officer(web, request, None, change=False), code)


@router.get("/dossiers/{code}/documents", response_model=Documents)
async def documents(request: Request, code: str) -> Documents:
    web = web_of(request)
    state = await _dossier(web, _officer(web, request, None, change=False), code)
    return Documents(issued=state.documents, scans=await web.storage.attachments(code))


async def _act(
    request: Request, response: Response, code: str, csrf: str | None, operation: actions.Operation
) -> ActedOut:
    """An officer's action through the API: signed in, CSRF checked, on a dossier their agency
    is part of (else 404); the workflow's answer and the dossier's state right after it. The
    session cookie comes back remembering the action, so their inbox shows it at once."""
    web = web_of(request)
    sess = web.session(request)
    officer = web.officer(sess)
    web.check_csrf(sess, csrf)
    await _dossier(web, officer, code)
    acted = await actions.perform(web, officer, operation)
    sess.acted(code)
    web.sessions.save(response, sess)
    return ActedOut(acted=acted, state=await client.show(web.client(), code))


@router.post("/dossiers/{code}/tasks/{step}/claim", response_model=ActedOut)
async def claim(
    request: Request, response: Response, code: str, step: str, x_csrf: CSRF = None
) -> ActedOut:
    return await _act(request, response, code, x_csrf, actions.claim(code, step))


@router.post("/dossiers/{code}/tasks/{step}/complete", response_model=ActedOut)
async def complete(
    request: Request, response: Response, code: str, step: str, body: Complete, x_csrf: CSRF = None
) -> ActedOut:
    operation = actions.complete(code, step, body.decision, body.fields)
    return await _act(request, response, code, x_csrf, operation)


@router.post("/dossiers/{code}/tasks/{step}/reassign", response_model=ActedOut)
async def reassign(
    request: Request, response: Response, code: str, step: str, body: Reassign, x_csrf: CSRF = None
) -> ActedOut:
    operation = actions.reassign(code, step, body.to_user, body.to_role)
    return await _act(request, response, code, x_csrf, operation)


@router.post("/dossiers/{code}/tasks/{step}/request-supplement", response_model=ActedOut)
async def request_supplement(
    request: Request,
    response: Response,
    code: str,
    step: str,
    body: Supplement,
    x_csrf: CSRF = None,
) -> ActedOut:
    operation = actions.request_supplement(code, step, body.missing, body.reason)
    return await _act(request, response, code, x_csrf, operation)


@router.post("/dossiers/{code}/apology/approve", response_model=ActedOut)
async def approve_apology(
    request: Request, response: Response, code: str, body: Apology, x_csrf: CSRF = None
) -> ActedOut:
    return await _act(request, response, code, x_csrf, actions.approve_apology(code, body.reason))
