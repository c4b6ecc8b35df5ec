"""The ASGI app: citizens' pages, officers' pages and the JSON API on one Temporal client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.exceptions import HTTPException
from temporalio.client import Client

from motcua import client
from motcua.errors import UserError
from motcua.web import present
from motcua.web.auth import LocalDirectory, Officer, OfficerDirectory
from motcua.web.problems import WebError, problem, status_of
from motcua.web.ratelimit import MemoryRateLimiter, RateLimiter
from motcua.web.sessions import Session, Sessions
from motcua.web.settings import WebSettings
from motcua.web.storage import LocalStorage, Storage
from procedures.loader import DEFAULT_CATALOG, load_catalog
from procedures.models import FrozenProcedure

log = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class Web:
    """What every request handler needs, built once per process and holding no user state."""

    def __init__(
        self,
        settings: WebSettings,
        *,
        directory: OfficerDirectory,
        storage: Storage,
        limiter: RateLimiter,
        catalog: dict[str, FrozenProcedure],
    ) -> None:
        self.settings = settings
        self.sessions = Sessions(
            settings.secret_key,
            secure=settings.secure_cookies,
            max_age_hours=settings.session_hours,
        )
        self.directory = directory
        self.storage = storage
        self.limiter = limiter
        self.catalog = catalog
        self.temporal: Client | None = None
        self.env = Environment(
            loader=PackageLoader("motcua.web", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            tr=_tr,
            time_left=present.time_left,
            vnd=present.vnd,
            limit_text=present.limit_text,
            event_word=present.event_word,
            status_label=present.status_label,
        )
        self.env.filters["local"] = present.local_time

    def client(self) -> Client:
        if self.temporal is None:
            raise client.ServerUnreachable(self.settings.temporal_address or "Temporal")
        return self.temporal

    def session(self, request: Request) -> Session:
        sess = self.sessions.load(request)
        lang = request.query_params.get("lang")
        if lang in present.LANGS:
            sess.lang = lang
        return sess

    def page(
        self, request: Request, sess: Session, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = self.env.get_template(name).render(
            request=request, session=sess, lang=sess.lang, officer=sess.officer, **context
        )
        response = HTMLResponse(html, status_code=status)
        self.sessions.save(response, sess)
        return response

    def redirect(self, url: str, sess: Session) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303)
        self.sessions.save(response, sess)
        return response

    def address(self, request: Request) -> str:
        """The client's address for rate limits (X-Forwarded-For only when trusted)."""
        if self.settings.trust_forwarded_for:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[0].strip()[:64]
        return request.client.host if request.client else "unknown"

    def limit(self, key: str, limit: int, window: int) -> None:
        if not self.limiter.hit(key, limit, window):
            raise WebError(429, "Too many requests", "too many attempts; try again later")

    def check_csrf(self, sess: Session, given: str | None) -> None:
        if not sess.csrf_ok(given):
            raise WebError(403, "Forbidden", "the form expired or came from elsewhere; reload it")

    def officer(self, sess: Session) -> Officer:
        if sess.officer is None:
            raise WebError(401, "Unauthorized", "sign in as an officer first")
        return Officer.model_validate(sess.officer.model_dump())


@pass_context
def _tr(context: Context, vi: str, en: str) -> str:
    return present.pick(context.get("lang", "vi"), vi, en)


def web_of(request: Request) -> Web:
    found: Web = request.app.state.web
    return found


def create_app(
    settings: WebSettings,
    *,
    temporal: Client | None = None,
    directory: OfficerDirectory | None = None,
    storage: Storage | None = None,
    rate_limiter: RateLimiter | None = None,
    catalog_dir: Path = DEFAULT_CATALOG,
) -> FastAPI:
    """The app; `temporal` is connected at start-up (envconfig) unless one is given."""
    web = Web(
        settings,
        directory=directory or LocalDirectory(settings.officers_file),
        storage=storage or LocalStorage(settings.data_dir / "uploads"),
        limiter=rate_limiter or MemoryRateLimiter(),
        catalog=load_catalog(catalog_dir),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        web.temporal = temporal or await client.connect(settings.temporal_address)
        yield

    app = FastAPI(
        title="motcua",
        summary="Một cửa: dossiers of Vietnamese administrative procedures",
        version="1",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.web = web
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_handlers(app, web)

    from motcua.web import api, citizen, officer  # the routers import `web_of` from here

    app.include_router(citizen.router)
    app.include_router(officer.router)
    app.include_router(api.router)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _install_handlers(app: FastAPI, web: Web) -> None:
    """Errors as problem details on the API and as a page elsewhere; headers; size limits."""

    def respond(request: Request, status: int, title: str, detail: str) -> Response:
        if _is_api(request):
            return problem(status, title, detail)
        sess = web.session(request)
        return web.page(request, sess, "error.html", status, title=title, detail=detail)

    @app.exception_handler(UserError)
    async def user_error(request: Request, err: UserError) -> Response:
        status, title = status_of(err)
        return respond(request, status, title, str(err))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return respond(request, 422, "Invalid request", f"{where}: {first.get('msg')}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        return respond(request, err.status_code, str(err.detail), str(err.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> Response:
        log.error("web request failed", path=request.url.path, error=type(err).__name__)
        return respond(request, 500, "Internal error", "internal error; it has been logged")

    limit = web.settings.max_files * web.settings.max_upload_bytes + web.settings.max_form_bytes

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method in ("POST", "PUT", "PATCH"):
            length = request.headers.get("content-length")
            if length is None and request.headers.get("transfer-encoding"):
                return respond(request, 411, "Length Required", "send a Content-Length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                return respond(request, 413, "Too large", f"the request exceeds {limit} bytes")
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
