"""What every request handler reaches: the process's `Web` (settings, sessions, storage, the
directory, the rate limiter, the catalogue, the Temporal client and the page renderer)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from temporalio.client import Client

from motcua import client
from motcua.web import present
from motcua.web.auth import Officer, OfficerDirectory
from motcua.web.problems import WebError
from motcua.web.ratelimit import RateLimiter
from motcua.web.revocations import RevokedSessions
from motcua.web.sessions import Session, Sessions
from motcua.web.settings import WebSettings
from motcua.web.storage import OffLoop, Storage
from procedures.models import FrozenProcedure


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
        inbox: client.InboxSource = client.inbox,
    ) -> None:
        self.settings = settings
        self.sessions = Sessions(
            settings.secret_key,
            secure=settings.secure_cookies,
            max_age_hours=settings.session_hours,
            revoked=RevokedSessions(settings.data_dir),
        )
        self.directory = directory
        self.storage = OffLoop(storage)
        self.limiter = limiter
        self.catalog = catalog
        self.temporal: Client | None = None
        self.inbox = inbox
        self.inbox_cache = client.InboxCache(
            settings.inbox_count_seconds, settings.inbox_page_seconds
        )
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
            error_title=present.error_title,
            timeliness=present.timeliness,
            repetition_where=present.repetition_where,
            repetition_counts=present.repetition_counts,
        )
        self.env.filters["local"] = present.local_time
        self.env.filters["size"] = present.size

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
        """The client's address for rate limits (X-Forwarded-For only when trusted).

        The proxy appends the address it saw to whatever the client sent, so the last entry is
        the one to believe: the first is the client's own word, a new one every request."""
        if self.settings.trust_forwarded_for:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[-1].strip()[:64]
        return request.client.host if request.client else "unknown"

    def pseudonym(self, value: str) -> str:
        """A rate-limit key for a personal value (an identity number): a keyed hash, which the
        limiter (or the Redis behind it) can count by but nobody can read back or recompute
        without the app's secret."""
        digest = hmac.new(self.settings.secret_key.encode(), value.encode(), hashlib.sha256)
        return digest.hexdigest()[:24]

    def limit(self, key: str, limit: int, window: int) -> None:
        if not self.limiter.hit(key, limit, window):
            raise WebError(
                429,
                "Too many requests",
                "too many attempts; try again later",
                "Quá nhiều lần thử; vui lòng thử lại sau",
            )

    def check_csrf(self, sess: Session, given: str | None) -> None:
        if not sess.csrf_ok(given):
            raise WebError(
                403,
                "Forbidden",
                "the form expired or came from elsewhere; reload it",
                "Biểu mẫu đã hết hạn hoặc không hợp lệ; vui lòng tải lại trang",
            )

    def officer(self, sess: Session) -> Officer:
        if sess.officer is None:
            raise WebError(
                401, "Unauthorized", "sign in as an officer first", "Vui lòng đăng nhập trước"
            )
        if sess.officer.expires_at <= datetime.now(UTC):
            raise WebError(
                401,
                "Unauthorized",
                "your sign-in has expired: sign in again",
                "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại",
            )
        return Officer.model_validate(sess.officer.model_dump())


@pass_context
def _tr(context: Context, vi: str, en: str) -> str:
    return present.pick(context.get("lang", "vi"), vi, en)


def web_of(request: Request) -> Web:
    found: Web = request.app.state.web
    return found
