"""Sessions in signed cookies: no server-side session store, so any process can serve any
request.

The cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) carries a random session id, the
signed-in officer, a CSRF token, the dossiers a citizen has proved to be theirs (code + identity
number) and the officer's recent actions, so the inbox can show them before visibility catches
up. It is signed, not encrypted: it holds no personal data, only codes, user names and roles.
Logging out revokes the session id server-side (`motcua.web.revocations`), so a copy of the
cookie taken before is refused afterwards.
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, Field, ValidationError

from motcua.web.revocations import RevokedSessions

COOKIE = "motcua_session"
MAX_PROVED = 10
MAX_RECENT = 10
RECENT_SECONDS = 120
"""How long an officer's own action overrides what visibility says about the dossier."""


class SessionOfficer(BaseModel):
    user: str
    agency: str
    role: str
    name: str = ""
    assertion: str
    """The front door's signed assertion (`motcua.web.auth`): in the signed cookie only."""
    expires_at: datetime
    acting_for: str | None = None


class Session(BaseModel):
    sid: str = Field(default_factory=lambda: secrets.token_urlsafe(18))
    """Names the session for revocation; a new one at every sign-in."""
    csrf: str = Field(default_factory=lambda: secrets.token_urlsafe(24))
    officer: SessionOfficer | None = None
    proved: list[str] = []
    """Dossier codes whose applicant's identity number this visitor gave."""
    recent: list[tuple[str, float]] = []
    """(dossier code, unix time) of this officer's last actions."""
    lang: str = "vi"

    def prove(self, code: str) -> None:
        kept = [c for c in self.proved if c != code]
        self.proved = [*kept[-(MAX_PROVED - 1) :], code]

    def acted(self, code: str) -> None:
        now = time.time()
        kept = [(c, t) for c, t in self.recent if c != code and now - t < RECENT_SECONDS]
        self.recent = [*kept[-(MAX_RECENT - 1) :], (code, now)]

    def recent_codes(self) -> set[str]:
        now = time.time()
        return {c for c, t in self.recent if now - t < RECENT_SECONDS}

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf, given or "")


class Sessions:
    """Reads and writes the session cookie; refuses the ones of ended sessions."""

    def __init__(
        self, secret: str, *, secure: bool, max_age_hours: int, revoked: RevokedSessions
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="motcua-session")
        self.secure = secure
        self.max_age = max_age_hours * 3600
        self.revoked = revoked

    def load(self, request: Request) -> Session:
        """The request's session; a fresh, signed-out one when its cookie is missing, forged,
        expired, revoked or from before session ids (such an officer signs in again)."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data: Any = self._serializer.loads(raw, max_age=self.max_age)
                if isinstance(data, dict) and isinstance(data.get("sid"), str):
                    sess = Session.model_validate(data)
                    if not self.revoked.is_revoked(sess.sid):
                        return sess
            except (BadSignature, ValidationError, ValueError):
                pass
        return Session()

    def end(self, session: Session) -> None:
        """Revoke the session: every copy of its cookie is refused from now on."""
        self.revoked.revoke(session.sid, time.time() + self.max_age)

    def save(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(session.model_dump(mode="json")),
            max_age=self.max_age,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )
