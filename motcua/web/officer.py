"""Officers' pages: sign-in, the inbox, a dossier, a task, and every action on them.

Every action is a client operation, so the workflow's validators decide who may do what; a
rejection is shown on the page it came from. After an action the officer is taken to the
dossier, rendered from its `state` query, so they see what they did at once; the inbox
(`motcua.web.inbox`, shared with the JSON API) overlays their own recent actions.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from motcua import client, metrics
from motcua.client.officers import assigned_to
from motcua.web import actions, dossiers, fields
from motcua.web.auth import Officer
from motcua.web.citizen import ISSUED_HEADERS, _text, issued_file, read_form
from motcua.web.context import Web, web_of
from motcua.web.inbox import officer_inbox, open_tasks
from motcua.web.problems import WebError
from motcua.web.sessions import Session, SessionOfficer
from workflows.api import DossierState, PortalStatus, TaskStatus, TaskView

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
PANEL_BYTES = 512 * 1024
"""How much of the end of the officers' outbox the panel reads."""


def _signed_in(web: Web, sess: Session) -> Officer | None:
    return None if sess.officer is None else web.officer(sess)


@router.get("/officer/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    web = web_of(request)
    sess = web.session(request)
    return web.page(request, sess, "login.html", failed=False, user="", acting_for="")


@router.post("/officer/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    web = web_of(request)
    sess = web.session(request)
    form = await read_form(web, request)
    web.check_csrf(sess, _text(form, "csrf"))
    user = _text(form, "user").strip()[:256]
    settings = web.settings
    web.limit(f"login:addr:{web.address(request)}", settings.logins_per_window * 5, 300)
    web.limit(f"login:user:{user}", settings.logins_per_window, 300)
    acting_for = _text(form, "acting_for").strip()[:64] or None
    officer = await asyncio.to_thread(
        web.directory.authenticate, user, _text(form, "password"), acting_for
    )
    if officer is None:
        return web.page(
            request, sess, "login.html", 401, failed=True, user=user, acting_for=acting_for or ""
        )
    fresh = Session(lang=sess.lang, officer=SessionOfficer(**officer.model_dump()))
    if acting_for is None:
        choices = await asyncio.to_thread(web.directory.delegations, officer.user)
        if choices:  # let them choose whom to act for, or to work as themselves
            return web.redirect("/officer/delegations", fresh)
    return web.redirect("/officer", fresh)


@router.get("/officer/delegations", response_class=HTMLResponse)
async def delegations_page(request: Request) -> Response:
    """The delegations to the signed-in officer active now: act for one of them, or not."""
    web = web_of(request)
    sess = web.session(request)
    officer = _signed_in(web, sess)
    if officer is None:
        return web.redirect("/officer/login", sess)
    return await _delegations(web, request, sess, officer)


async def _delegations(
    web: Web, request: Request, sess: Session, officer: Officer, error: str = "", status: int = 200
) -> Response:
    found = await asyncio.to_thread(web.directory.delegations, officer.user)
    return web.page(request, sess, "delegations.html", status, delegations=found, error=error)


@router.post("/officer/delegations", response_class=HTMLResponse)
async def choose_delegation(request: Request) -> Response:
    """Act for the chosen colleague (or as oneself again): a new assertion, bounded by the
    delegation and by the sign-in; no password again, the session proved it."""
    web = web_of(request)
    sess = web.session(request)
    officer = web.officer(sess)
    form = await read_form(web, request)
    web.check_csrf(sess, _text(form, "csrf"))
    acting_for = _text(form, "acting_for").strip()[:64] or None
    chosen = await asyncio.to_thread(web.directory.act_for, officer, acting_for)
    if chosen is None:
        error = f"no delegation to act for {acting_for} is active now"
        return await _delegations(web, request, sess, officer, error, 409)
    fresh = Session(lang=sess.lang, officer=SessionOfficer(**chosen.model_dump()))
    await asyncio.to_thread(web.sessions.end, sess)  # the sign-in it replaces ends with it
    return web.redirect("/officer", fresh)


@router.post("/officer/logout")
async def logout(request: Request) -> Response:
    web = web_of(request)
    sess = web.session(request)
    form = await read_form(web, request)
    web.check_csrf(sess, _text(form, "csrf"))
    await asyncio.to_thread(web.sessions.end, sess)
    return web.redirect("/officer/login", Session(lang=sess.lang))


@router.get("/officer", response_class=HTMLResponse)
async def inbox(
    request: Request,
    scope: str = "role",
    overdue: int = 0,
    procedure: str = "",
    status: int = 0,
    page: str = "",
    q: str = "",
) -> Response:
    web = web_of(request)
    sess = web.session(request)
    officer = _signed_in(web, sess)
    if officer is None:
        return web.redirect("/officer/login", sess)
    if q.strip():
        return web.redirect(f"/officer/dossiers/{q.strip()[:64]}", sess)
    if procedure and procedure not in web.catalog:
        raise WebError(422, "Invalid request", f"procedure: no procedure {procedure!r}")
    wanted = PortalStatus(status) if status in PortalStatus._value2member_map_ else None
    found = await officer_inbox(
        web,
        sess,
        officer,
        by_role=scope == "role",
        overdue_only=bool(overdue),
        page_size=PAGE_SIZE,
        page=page[:4000] or None,
        procedure=procedure or None,
        status=wanted,
    )
    return web.page(
        request,
        sess,
        "inbox.html",
        page=found,
        rows=found.rows,
        names={code: f.procedure.name for code, f in web.catalog.items()},
        procedures=sorted(
            (c, f.procedure.name)
            for c, f in web.catalog.items()
            if any(a.code == officer.agency for a in f.procedure.agencies.values())
        ),
        statuses=list(PortalStatus),
        filters={"scope": scope, "overdue": overdue, "procedure": procedure, "status": status},
        notices=_notices(web, officer),
    )


def _notices(web: Web, officer: Officer, limit: int = 20) -> list[dict[str, Any]]:
    """The officer's role's latest reminders, overdue tasks and escalations, newest first."""
    path = web.settings.data_dir / "outbox" / "officers.jsonl"
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - PANEL_BYTES))
            tail = fh.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in reversed(tail):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("agency") == officer.agency and record.get("role") == officer.role:
            try:
                record["due"] = datetime.fromisoformat(record["due"])
            except (KeyError, TypeError, ValueError):
                record["due"] = None
            found.append(record)
            if len(found) >= limit:
                break
    return found


async def _dossier(web: Web, officer: Officer, code: str) -> DossierState:
    """The dossier, if the officer's agency is part of it; the same answer as none otherwise."""
    if len(code) > 64:
        raise client.DossierNotFound(code[:64])
    state = await client.show(web.client(), code)
    if not dossiers.officer_may_see(state, officer):
        raise client.DossierNotFound(code)
    return state


@router.get("/officer/dossiers/{code}", response_class=HTMLResponse)
async def dossier_page(request: Request, code: str) -> Response:
    web = web_of(request)
    sess = web.session(request)
    officer = _signed_in(web, sess)
    if officer is None:
        return web.redirect("/officer/login", sess)
    state = await _dossier(web, officer, code)
    frozen = await dossiers.frozen_procedure(web.client(), state)
    return web.page(
        request,
        sess,
        "dossier.html",
        state=state,
        p=frozen.procedure,
        open_tasks=open_tasks(state),
        attachments=await web.storage.attachments(code),
        names={d.id: d.name for d in frozen.procedure.documents},
        error="",
    )


def _task(state: DossierState, step: str) -> TaskView:
    for task in (*state.tasks, *((state.apology,) if state.apology else ())):
        if task.step == step and task.status in (TaskStatus.OPEN, TaskStatus.CLAIMED):
            return task
    raise WebError(404, "Not Found", f"no open task {step!r} in {state.code}")


async def _task_page(
    web: Web,
    request: Request,
    sess: Session,
    officer: Officer,
    code: str,
    step: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    state = await _dossier(web, officer, code)
    task = _task(state, step)
    frozen = await dossiers.frozen_procedure(web.client(), state)
    spec = dossiers.task_step(frozen, step)
    roles = next((a.roles for a in frozen.procedure.agencies.values() if a.code == task.agency), ())
    declared = frozen.procedure.application
    application = (await dossiers.dossier_input(web.client(), code)).form if declared else {}
    return web.page(
        request,
        sess,
        "task.html",
        status,
        state=state,
        task=task,
        declared=spec.fields if spec else {},
        documents=frozen.procedure.documents,
        roles=roles,
        p=frozen.procedure,
        application=application,
        values=values or {},
        errors=errors or {},
        general=general or [],
    )


@router.get("/officer/dossiers/{code}/tasks/{step}", response_class=HTMLResponse)
async def task_page(request: Request, code: str, step: str) -> Response:
    web = web_of(request)
    sess = web.session(request)
    officer = _signed_in(web, sess)
    if officer is None:
        return web.redirect("/officer/login", sess)
    return await _task_page(web, request, sess, officer, code, step)


@router.post("/officer/dossiers/{code}/tasks/{step}/{action}", response_class=HTMLResponse)
async def act(request: Request, code: str, step: str, action: str) -> Response:
    web = web_of(request)
    sess = web.session(request)
    officer = web.officer(sess)
    form = await read_form(web, request)
    web.check_csrf(sess, _text(form, "csrf"))
    state = await _dossier(web, officer, code)
    values = {k: _text(form, k) for k in form if k != "csrf"}
    declared: dict[str, Any] = {}
    operation: actions.Operation
    if action == "claim":
        operation = actions.claim(code, step)
    elif action == "complete":
        frozen = await dossiers.frozen_procedure(web.client(), state)
        spec = dossiers.task_step(frozen, step)
        declared = dict(spec.fields) if spec else {}
        given = fields.from_form(declared, values, "field.")
        operation = actions.complete(code, step, values.get("decision", ""), given)
    elif action == "reassign":
        to_user = values.get("to_user", "").strip()[:200] or None
        to_role = values.get("to_role", "").strip()[:64] or None
        operation = actions.reassign(code, step, to_user, to_role)
    elif action == "supplement":
        missing = [m[:64] for m in form.getlist("missing") if isinstance(m, str)][:50]
        operation = actions.request_supplement(code, step, missing, values.get("reason", "")[:500])
    elif action == "apology":
        operation = actions.approve_apology(code, values.get("reason", "")[:500])
    else:
        raise WebError(404, "Not Found", f"no action {action!r}")
    try:
        await actions.perform(web, officer, operation)
    except (client.UpdateRejected, client.InvalidRequest) as err:
        if isinstance(err, client.UpdateRejected):
            metrics.record_rejection(err.action, err.reason)
        reason = err.reason if isinstance(err, client.UpdateRejected) else str(err)
        per_field, rest = fields.by_field(reason, declared)
        return await _task_page(
            web,
            request,
            sess,
            officer,
            code,
            step,
            values=values,
            errors={f"field.{k}": v for k, v in per_field.items()},
            general=rest,
            status=409 if isinstance(err, client.UpdateRejected) else 422,
        )
    sess.acted(code)
    if action == "claim":
        return web.redirect(f"/officer/dossiers/{code}/tasks/{step}", sess)
    return web.redirect(f"/officer/dossiers/{code}", sess)


@router.get("/officer/redistribute", response_class=HTMLResponse)
async def redistribute_form(request: Request, absent: str = "") -> Response:
    """A head's page for an officer on leave or gone: the tasks they have claimed in the
    head's agency, and the form handing them all over."""
    web = web_of(request)
    sess = web.session(request)
    officer = _signed_in(web, sess)
    if officer is None:
        return web.redirect("/officer/login", sess)
    absent = absent.strip()[:64]
    tasks = await assigned_to(web.client(), officer.agency, absent) if absent else []
    return web.page(
        request, sess, "redistribute.html", absent=absent, tasks=tasks, results=None, values={}
    )


@router.post("/officer/redistribute", response_class=HTMLResponse)
async def redistribute(request: Request) -> Response:
    """Hand every task of the absent officer over, with the reason; one result per task (the
    workflow's validators decide: a non-head, or a head of another agency, is refused)."""
    web = web_of(request)
    sess = web.session(request)
    officer = web.officer(sess)
    form = await read_form(web, request)
    web.check_csrf(sess, _text(form, "csrf"))
    values = {k: _text(form, k).strip()[:2000] for k in ("absent", "to_user", "to_role", "reason")}
    absent = values["absent"][:64]
    try:
        results = await client.redistribute(
            web.client(),
            officer.actor(),
            absent,
            reason=values["reason"],
            to_user=values["to_user"][:64] or None,
            to_role=values["to_role"][:64] or None,
            assertion=officer.assertion,
        )
    except client.InvalidRequest as err:
        tasks = await assigned_to(web.client(), officer.agency, absent) if absent else []
        return web.page(
            request,
            sess,
            "redistribute.html",
            422,
            absent=absent,
            tasks=tasks,
            results=None,
            values=values,
            general=str(err),
        )
    for result in results:
        if result.done:
            sess.acted(result.dossier)
        else:
            metrics.record_rejection("reassign", result.message)
    return web.page(
        request,
        sess,
        "redistribute.html",
        absent=absent,
        tasks=[],
        results=results,
        values=values,
    )


@router.get("/officer/dossiers/{code}/documents/{name}")
async def officer_issued(request: Request, code: str, name: str) -> Response:
    web = web_of(request)
    sess = web.session(request)
    state = await _dossier(web, web.officer(sess), code)
    return FileResponse(issued_file(web, state, name), headers=ISSUED_HEADERS)


@router.get("/officer/dossiers/{code}/scans/{sha256}")
async def scan(request: Request, code: str, sha256: str) -> Response:
    web = web_of(request)
    sess = web.session(request)
    await _dossier(web, web.officer(sess), code)
    attached = {a.sha256: a for a in await web.storage.attachments(code)}
    data = await web.storage.get(sha256) if sha256 in attached else None
    if data is None:
        raise WebError(404, "Not Found", f"no scan {sha256[:12]} in {code}")
    return Response(
        data,
        media_type=attached[sha256].content_type,
        headers={"Content-Disposition": "inline", **ISSUED_HEADERS},
    )
