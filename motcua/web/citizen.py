"""Citizens' pages: the published procedures, online submission, status, supplement, withdraw.

A citizen has no account: a dossier is theirs once they give its code and the applicant's
identity number (or after submitting it), remembered in the signed session cookie. Lookups are
rate-limited per address and per dossier, and a wrong pair says nothing about which was wrong.
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from motcua import client, feedback
from motcua.web import dossiers, fields
from motcua.web.context import Web, web_of
from motcua.web.problems import WebError
from motcua.web.sessions import Session
from procedures.models import Channel, FrozenProcedure
from workflows.api import Applicant, PortalStatus

router = APIRouter(include_in_schema=False)

PROOF_FLOOR_SECONDS = 0.25
"""The least time a refused proof takes: an unknown code (Temporal answers at once) and a known
one with a wrong number (its history is read and decrypted) look alike to a stopwatch."""

APPLICANT_FIELDS: tuple[tuple[str, str, str, int, bool], ...] = (
    ("full_name", "Họ và tên", "Full name", 200, True),
    ("id_number", "Số định danh cá nhân (CCCD) hoặc mã số thuế", "ID number or tax code", 20, True),
    ("phone", "Số điện thoại", "Phone", 20, False),
    ("email", "Thư điện tử", "E-mail", 200, False),
    ("address", "Địa chỉ", "Address", 200, False),
)


def fold(text: str) -> str:
    """Lower case without diacritics, so "ho kinh doanh" finds "hộ kinh doanh"."""
    text = text.lower().replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _procedure(web: Web, code: str) -> FrozenProcedure:
    found = web.catalog.get(code)
    if found is None:
        raise WebError(404, "Not Found", f"no procedure {code!r}")
    return found


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    return await catalogue(request)


@router.get("/procedures", response_class=HTMLResponse)
async def catalogue(request: Request, q: str = "") -> Response:
    web = web_of(request)
    sess = web.session(request)
    words = fold(q[:100]).split()
    shown = [
        f.procedure
        for f in sorted(web.catalog.values(), key=lambda f: f.procedure.name)
        if all(
            w in fold(f"{f.procedure.code} {f.procedure.name} {f.procedure.sector}") for w in words
        )
    ]
    return web.page(request, sess, "catalogue.html", procedures=shown, q=q[:100])


@router.get("/procedures/{code}", response_class=HTMLResponse)
async def procedure_page(request: Request, code: str) -> Response:
    web = web_of(request)
    sess = web.session(request)
    frozen = _procedure(web, code)
    return web.page(
        request, sess, "procedure.html", p=frozen.procedure, feedback=_feedback_url(web, code)
    )


def _feedback_url(web: Web, about_procedure: str, about_dossier: str = "") -> str | None:
    """Where a citizen writes feedback about a procedure or a dossier (none about feedback)."""
    channel = feedback.channel(web.catalog)
    if channel is None or feedback.is_feedback(about_procedure):
        return None
    about = {"about_procedure": about_procedure, "about_dossier": about_dossier}
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in about.items() if v)
    return f"/procedures/{channel.procedure.code}/apply?{query}"


def _scannable(frozen: FrozenProcedure) -> list[Any]:
    return [d for d in frozen.procedure.documents if d.copies > 0 and d.digitised_accepted]


@router.get("/procedures/{code}/apply", response_class=HTMLResponse)
async def apply_form(
    request: Request, code: str, about_procedure: str = "", about_dossier: str = ""
) -> Response:
    """The application form; a feedback's comes filled in with what it is about (from the
    procedure's or the dossier's page) and the agency concerned."""
    web = web_of(request)
    sess = web.session(request)
    frozen = _procedure(web, code)
    values: dict[str, str] = {}
    if feedback.is_feedback(code):
        about = feedback.form(
            frozen, web.catalog, "", about_procedure[:20], about_dossier[: feedback.MAX_CODE]
        )
        values = {f"form.{k}": str(v) for k, v in about.items() if v}
    return _apply_page(web, request, sess, frozen, values, {}, [])


def _apply_page(
    web: Web,
    request: Request,
    sess: Session,
    frozen: FrozenProcedure,
    values: dict[str, str],
    errors: dict[str, str],
    general: list[str],
    status: int = 200,
) -> Response:
    if Channel.ONLINE not in frozen.procedure.channels:
        raise WebError(
            404,
            "Not Found",
            "this procedure is not offered online",
            "Thủ tục này không nộp trực tuyến",
        )
    return web.page(
        request,
        sess,
        "apply.html",
        status,
        p=frozen.procedure,
        applicant_fields=APPLICANT_FIELDS,
        documents=_scannable(frozen),
        values=values,
        errors=errors,
        general=general,
        max_kib=web.settings.max_upload_bytes // 1024,
    )


async def read_form(web: Web, request: Request) -> FormData:
    settings = web.settings
    return await request.form(
        max_files=settings.max_files, max_fields=200, max_part_size=settings.max_form_bytes
    )


async def read_scans(web: Web, form: FormData, prefix: str) -> dict[str, bytes]:
    """The uploaded files named `prefix + document id`, read up to the size limit (+1 byte)."""
    scans: dict[str, bytes] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile) and name.startswith(prefix) and value.filename:
            data = await value.read(web.settings.max_upload_bytes + 1)
            if data:
                scans[name.removeprefix(prefix)] = data
    return scans


@router.post("/procedures/{code}/apply", response_class=HTMLResponse)
async def apply(request: Request, code: str) -> Response:
    web = web_of(request)
    sess = web.session(request)
    frozen = _procedure(web, code)
    form = await read_form(web, request)
    web.check_csrf(sess, _text(form, "csrf"))
    if feedback.is_feedback(code):  # no scan needed: cheap to send, so counted per address
        limit_feedback(web, request)
    values = {k: _text(form, k) for k in form if not isinstance(form.get(k), UploadFile)}
    values.pop("csrf", None)
    errors: dict[str, str] = {}
    for name, vi, _en, size, required in APPLICANT_FIELDS:
        if required and not values.get(name, "").strip():
            errors[name] = f"{vi}: bắt buộc"
        elif len(values.get(name, "")) > size:
            errors[name] = f"{vi}: tối đa {size} ký tự"
    application = fields.from_form(frozen.procedure.application, values, "form.")
    scans = await read_scans(web, form, "doc.")
    try:
        applicant = Applicant(**{n: values.get(n, "").strip() for n, *_ in APPLICANT_FIELDS})
    except ValidationError as err:  # control characters, line breaks: said by the field
        labels = {name: vi for name, vi, *_ in APPLICANT_FIELDS}
        for problem in err.errors():
            name = str(problem["loc"][0])
            errors.setdefault(name, f"{labels.get(name, name)}: {problem['msg']}")
    if errors:
        return _apply_page(web, request, sess, frozen, values, errors, [], 422)
    try:
        done = await dossiers.submit_online(
            web.client(),
            web.storage,
            frozen,
            applicant,
            application,
            scans,
            max_bytes=web.settings.max_upload_bytes,
        )
    except (client.InvalidRequest, WebError) as err:
        text = str(err).removeprefix("form: ")
        per_field, rest = fields.by_field(text, frozen.procedure.application)
        errors = {f"form.{k}": v for k, v in per_field.items()}
        return _apply_page(web, request, sess, frozen, values, errors, rest, 422)
    sess.prove(done.code)
    return web.redirect(f"/dossiers/{done.code}?submitted=1", sess)


def limit_feedback(web: Web, request: Request) -> None:
    """Feedback sent from one address: `feedbacks_per_window` per lookup window."""
    settings = web.settings
    key = f"feedback:addr:{web.address(request)}"
    web.limit(key, settings.feedbacks_per_window, settings.lookup_window_seconds)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.get("/lookup", response_class=HTMLResponse)
async def lookup_form(request: Request) -> Response:
    web = web_of(request)
    sess = web.session(request)
    return web.page(request, sess, "lookup.html", code="", failed=False)


@router.get("/tra-cuu/{code}", response_class=HTMLResponse)
async def lookup_code(request: Request, code: str) -> Response:
    """What the QR code on a signed receipt or result opens: the lookup, its code filled in
    (the identity number is still asked: the code alone reveals nothing)."""
    web = web_of(request)
    sess = web.session(request)
    return web.page(request, sess, "lookup.html", code=code[:64], failed=False)


@router.post("/lookup", response_class=HTMLResponse)
async def lookup(request: Request) -> Response:
    web = web_of(request)
    sess = web.session(request)
    form = await read_form(web, request)
    web.check_csrf(sess, _text(form, "csrf"))
    code = _text(form, "code").strip()[:64]
    id_number = _text(form, "id_number").strip()[:32]
    await prove(web, request, code, id_number)
    sess.prove(code)
    return web.redirect(f"/dossiers/{code}", sess)


async def prove(web: Web, request: Request, code: str, id_number: str) -> None:
    """Refuse unless the identity number is the dossier's applicant's; rate-limited."""
    settings = web.settings
    window = settings.lookup_window_seconds
    web.limit(f"lookup:addr:{web.address(request)}", settings.lookups_per_window, window)
    web.limit(f"lookup:code:{code}", settings.lookups_per_window, window)
    # One identity number tried against many codes, from many addresses: counted as one.
    web.limit(f"lookup:who:{web.pseudonym(id_number)}", settings.lookups_per_window, window)
    started = time.monotonic()
    if not await dossiers.applicant_matches(web.client(), code, id_number):
        await asyncio.sleep(max(0.0, PROOF_FLOOR_SECONDS - (time.monotonic() - started)))
        raise WebError(
            404,
            "Not Found",
            "no dossier with this code and identity number",
            "Không tìm thấy hồ sơ có mã và số định danh này",
        )


def _proved(sess: Session, code: str) -> None:
    if code not in sess.proved:
        raise WebError(
            403,
            "Forbidden",
            "look the dossier up with its identity number first",
            "Hãy tra cứu hồ sơ bằng mã và số định danh trước",
        )


async def _applicants_form(request: Request, code: str) -> tuple[Web, Session, FormData]:
    """A form the applicant posts about `code`: CSRF-checked, the dossier proved this session."""
    web = web_of(request)
    sess = web.session(request)
    form = await read_form(web, request)
    web.check_csrf(sess, _text(form, "csrf"))
    _proved(sess, code)
    return web, sess, form


@router.get("/dossiers/{code}", response_class=HTMLResponse)
async def status_page(request: Request, code: str, submitted: int = 0) -> Response:
    web = web_of(request)
    sess = web.session(request)
    if code not in sess.proved:
        return web.redirect("/lookup", sess)
    state = await client.show(web.client(), code)
    seen = await client.status(web.client(), code)
    asked = [e.detail for e in state.timeline if e.kind == "supplement_requested"]
    missing = (
        asked[-1].split("; ") if asked and state.status is PortalStatus.SUPPLEMENT_REQUESTED else []
    )
    frozen = await dossiers.frozen_procedure(web.client(), state)
    names = {d.id: d.name for d in frozen.procedure.documents}
    rating = await dossiers.rating_of(web.client(), code) if state.result else None
    about = _feedback_url(web, state.procedure_code, code)
    return web.page(
        request,
        sess,
        "status.html",
        s=seen,
        state=state,
        submitted=bool(submitted),
        missing=[(m, names.get(m, m)) for m in missing],
        attachments=await web.storage.attachments(code),
        names=names,
        rating=rating,
        max_kib=web.settings.max_upload_bytes // 1024,
        feedback=about,
        is_feedback=feedback.is_feedback(state.procedure_code),
    )


@router.get("/dossiers/{code}/documents", response_class=HTMLResponse)
async def documents_fragment(request: Request, code: str) -> Response:
    """The issued documents' list alone, which the status page polls until the receipt exists."""
    web = web_of(request)
    sess = web.session(request)
    _proved(sess, code)
    state = await client.show(web.client(), code)
    return web.page(request, sess, "issued.html", state=state, base=f"/dossiers/{code}")


def issued_file(web: Web, state: Any, name: str) -> Path:
    """An issued document's file under the data folder, by its name in the dossier's state."""
    for doc in state.documents:
        if Path(doc.path).name == name:
            path = web.settings.data_dir.resolve() / "results" / state.code / name
            if path.is_file():
                return path
    raise WebError(404, "Not Found", f"no document {name!r} for {state.code}")


ISSUED_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'"
}


@router.get("/dossiers/{code}/documents/{name}")
async def issued(request: Request, code: str, name: str) -> Response:
    web = web_of(request)
    sess = web.session(request)
    _proved(sess, code)
    state = await client.show(web.client(), code)
    return FileResponse(issued_file(web, state, name), headers=ISSUED_HEADERS)


@router.post("/dossiers/{code}/supplement", response_class=HTMLResponse)
async def supplement(request: Request, code: str) -> Response:
    web, sess, form = await _applicants_form(request, code)
    id_number = _text(form, "id_number").strip()[:32]
    scans = await read_scans(web, form, "doc.")
    if not scans:
        raise WebError(
            422,
            "Invalid request",
            "documents: attach at least one scan",
            "Hãy đính kèm ít nhất một bản quét",
        )
    state = await client.show(web.client(), code)
    frozen = await dossiers.frozen_procedure(web.client(), state)
    kinds = dossiers.check_scans(frozen, scans, max_bytes=web.settings.max_upload_bytes)
    attachments = await dossiers.stored_attachments(web.storage, scans, kinds, "supplement")
    await client.supplement(
        web.client(), code, tuple(scans), _text(form, "note")[:500], applicant_id=id_number
    )
    await web.storage.attach(code, attachments)
    return web.redirect(f"/dossiers/{code}", sess)


@router.post("/dossiers/{code}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, code: str) -> Response:
    web, sess, form = await _applicants_form(request, code)
    await client.withdraw(
        web.client(),
        code,
        _text(form, "reason")[:500],
        applicant_id=_text(form, "id_number").strip()[:32],
    )
    return web.redirect(f"/dossiers/{code}", sess)


@router.post("/dossiers/{code}/rating", response_class=HTMLResponse)
async def rate(request: Request, code: str) -> Response:
    """The applicant's satisfaction with a finished dossier (proved in this session)."""
    web, sess, form = await _applicants_form(request, code)
    score = _text(form, "score")
    if score not in ("1", "2", "3", "4", "5"):
        raise WebError(422, "Invalid request", "score: choose 1 to 5", "Hãy chọn mức 1 đến 5")
    state = await client.show(web.client(), code)
    await dossiers.rate(web.client(), state, int(score))
    return web.redirect(f"/dossiers/{code}", sess)


@router.get("/language/{lang}")
async def language(request: Request, lang: str, next: str = "/") -> Response:
    web = web_of(request)
    sess = web.session(request)
    if lang in ("vi", "en"):
        sess.lang = lang
    return web.redirect(next if on_this_site(next) else "/", sess)


def on_this_site(target: str) -> bool:
    """A path of this site: no scheme, no `//host` or `/\\host` (browsers read a backslash as a
    slash), no control characters (browsers drop tabs and new lines before reading it)."""
    return (
        target.startswith("/")
        and target[1:2] != "/"
        and "\\" not in target
        and all(ch.isprintable() for ch in target)
    )
