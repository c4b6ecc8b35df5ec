"""The ASGI app: citizens' pages, officers' pages and the JSON API on one Temporal client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from temporalio.client import Client

from motcua import client, metrics
from motcua.indicators import dashboard
from motcua.web import api, citizen, officer
from motcua.web.auth import IdentityDirectory, OfficerDirectory
from motcua.web.context import Web
from motcua.web.problems import in_vietnamese, problem, status_of
from motcua.web.ratelimit import MemoryRateLimiter, RateLimiter
from motcua.web.settings import WebSettings
from motcua.web.storage import LocalStorage, Storage
from procedures.loader import DEFAULT_CATALOG, load_catalog
from runtime.errors import UserError

log = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


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
        storage=storage or LocalStorage(settings.data_dir / "uploads"),
        limiter=rate_limiter or MemoryRateLimiter(),
        catalog=load_catalog(catalog_dir),
        inbox=inbox,
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

    app.include_router(citizen.router)
    app.include_router(officer.router)
    app.include_router(api.router)

    async def temporal_client() -> Client:
        return web.client()

    def signed_in_officer(request: Request) -> None:
        web.officer(web.session(request))  # the operations centre is for officers only

    procedures = [frozen.procedure for frozen in web.catalog.values()]
    app.include_router(metrics.router(temporal_client, procedures))
    app.include_router(
        dashboard.router(temporal_client, procedures, dependencies=[Depends(signed_in_officer)])
    )
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _install_handlers(app: FastAPI, web: Web) -> None:
    """Errors as problem details on the API and as a page elsewhere; headers; size limits."""

    def respond(request: Request, status: int, title: str, detail: str, vi: str = "") -> Response:
        if _is_api(request):
            return problem(status, title, detail)
        sess = web.session(request)
        return web.page(
            request,
            sess,
            "error.html",
            status,
            http_status=status,
            title=title,
            detail=detail,
            vi=vi,
        )

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
