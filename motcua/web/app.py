"""The ASGI app: citizens' pages, officers' pages and the JSON API on one Temporal client."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from pathlib import Path

import fastapi_offline
import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from temporalio.client import Client
from temporalio.service import RPCError

from motcua import client, metrics
from motcua.indicators import dashboard, portal
from motcua.web import api, citizen, officer
from motcua.web.auth import IdentityDirectory, OfficerDirectory
from motcua.web.context import Web
from motcua.web.operators import check_metrics_reader
from motcua.web.problems import in_vietnamese, problem, status_of
from motcua.web.ratelimit import MemoryRateLimiter, RateLimiter
from motcua.web.settings import WebSettings
from motcua.web.storage import LocalStorage, Storage
from motcua.web.sweep import sweep_periodically
from procedures.loader import DEFAULT_CATALOG, load_catalog
from runtime.errors import UserError

log = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"
API_DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI's bundle and style as the `fastapi-offline` package ships them (no CDN)."""
API_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>motcua API</title>
<link rel="stylesheet" href="/static/apidocs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/apidocs/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script></body></html>
"""
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = {"Strict-Transport-Security": "max-age=31536000"}
"""Sent when the app is served over HTTPS (`--https`): browsers never fall back to HTTP."""
SCAN_FORMS = re.compile(r"/procedures/[^/]+/apply|/dossiers/[^/]+/supplement")
"""The pages whose form carries scans; every other body is held to `max_json_bytes`."""


def create_app(
    settings: WebSettings,
    *,
    temporal: Client | None = None,
    directory: OfficerDirectory | None = None,
    storage: Storage | None = None,
    rate_limiter: RateLimiter | None = None,
    catalog_dir: Path = DEFAULT_CATALOG,
    inbox: client.InboxSource = client.inbox,
) -> FastAPI:
    """The app; `temporal` is connected at start-up (envconfig) unless one is given; inbox
    pages come from visibility (`client.inbox`) unless a read model's `inbox` is given."""
    web = Web(
        settings,
        directory=directory or IdentityDirectory(settings.data_dir),
        storage=storage or open_storage(settings),
        limiter=rate_limiter or MemoryRateLimiter(),
        catalog=load_catalog(catalog_dir),
        inbox=inbox,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        web.temporal = temporal or await client.connect(settings.temporal_address)
        sweeper = None
        if settings.sweep_every_seconds > 0:
            max_age = timedelta(hours=settings.unattached_scan_hours)
            sweeper = asyncio.create_task(
                sweep_periodically(web.storage.storage, max_age, settings.sweep_every_seconds)
            )
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with suppress(asyncio.CancelledError):
                    await sweeper

    app = FastAPI(
        title="motcua",
        summary="Một cửa: dossiers of Vietnamese administrative procedures",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN with an inline script
        redoc_url=None,
    )
    app.state.web = web
    app.mount("/static/apidocs", StaticFiles(directory=API_DOCS_ASSETS), name="apidocs")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        """The OpenAPI browsable with Swagger UI served from here, under the app's own CSP."""
        return HTMLResponse(API_DOCS_PAGE)

    _install_handlers(app, web)

    app.include_router(citizen.router)
    app.include_router(officer.router)
    app.include_router(api.router)

    async def temporal_client() -> Client:
        return web.client()

    def signed_in_officer(request: Request) -> None:
        web.officer(web.session(request))  # the operations centre is for officers only

    def metrics_reader(request: Request) -> None:
        check_metrics_reader(settings.metrics_token, request)

    procedures = [frozen.procedure for frozen in web.catalog.values()]
    app.include_router(
        metrics.router(temporal_client, procedures, dependencies=[Depends(metrics_reader)])
    )
    app.include_router(
        dashboard.router(
            temporal_client,
            procedures,
            dependencies=[Depends(signed_in_officer)],
            portal_feed=portal.feed_of(settings.data_dir),
        )
    )
    return app


def open_storage(settings: WebSettings) -> Storage:
    """The scan storage `settings.scans` names; an unreachable bucket stops start-up."""
    if settings.scans == "local":
        return LocalStorage(settings.data_dir / "uploads")
    from motcua.web.s3storage import S3Settings, S3Storage  # boto3: only where S3 is used

    store = S3Storage(
        S3Settings.parse(
            settings.scans, sse=settings.scans_sse, kms_key_id=settings.scans_kms_key_id
        ),
        max_bytes=settings.max_upload_bytes,
    )
    store.check()
    return store


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def body_limit(settings: WebSettings, path: str) -> int:
    """The largest body a request to `path` may send: scans only where scans are taken."""
    if path == "/api/v1/uploads":
        return settings.max_upload_bytes
    if SCAN_FORMS.fullmatch(path):
        return settings.max_files * settings.max_upload_bytes + settings.max_form_bytes
    return settings.max_json_bytes


def _install_handlers(app: FastAPI, web: Web) -> None:
    """Errors as problem details on the API and as a page elsewhere; headers; size limits."""
    headers = SECURITY_HEADERS | (HSTS if web.settings.secure_cookies else {})

    def secured(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    def respond(
        request: Request,
        status: int,
        title: str,
        detail: str,
        vi: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> Response:
        if _is_api(request):
            response: Response = problem(status, title, detail)
        else:
            sess = web.session(request)
            response = web.page(
                request,
                sess,
                "error.html",
                status,
                http_status=status,
                title=title,
                detail=detail,
                vi=vi,
            )
        response.headers.update(extra or {})
        return secured(response)

    @app.exception_handler(UserError)
    async def user_error(request: Request, err: UserError) -> Response:
        if isinstance(err, client.UpdateRejected):
            metrics.record_rejection(err.action, err.reason)
        status, title = status_of(err)
        return respond(request, status, title, str(err), in_vietnamese(err))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return respond(request, 422, "Invalid request", f"{where}: {first.get('msg')}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        if err.status_code == 400 and err.__cause__ is not None:  # a body FastAPI cannot parse
            why = unreadable_body(err.__cause__)
            return respond(request, 422, "Invalid request", f"body: {why}")
        return respond(request, err.status_code, str(err.detail), str(err.detail), "", err.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> Response:  # the guard's backstop
        return failed(request, err)

    def failed(request: Request, err: Exception) -> Response:
        """An error no rule expected: a Temporal that cannot answer now (overloaded, restarting:
        "Namespace default is not found" under load) is a 503 to retry, anything else a 500."""
        log.error("web request failed", path=request.url.path, error=type(err).__name__)
        if isinstance(err, RPCError):
            return respond(
                request,
                503,
                "Service unavailable",
                "Temporal cannot serve this request now; try again in a moment",
                in_vietnamese(client.ServerUnreachable("Temporal")),
                {"Retry-After": "2"},
            )
        return respond(request, 500, "Internal error", "internal error; it has been logged")

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method in ("POST", "PUT", "PATCH"):
            limit = body_limit(web.settings, request.url.path)
            length = request.headers.get("content-length")
            if length is None and request.headers.get("transfer-encoding"):
                return respond(request, 411, "Length Required", "send a Content-Length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                return respond(request, 413, "Too large", f"the request exceeds {limit} bytes")
        try:
            response = await call_next(request)
        except Exception as err:  # answered here, so no server log holds a stack trace
            return failed(request, err)
        return secured(response)


def unreadable_body(cause: BaseException) -> str:
    """Why FastAPI could not read a body, in words (never the body itself)."""
    if isinstance(cause, RecursionError):
        return "JSON nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "not UTF-8"
    return f"unreadable ({type(cause).__name__})"
