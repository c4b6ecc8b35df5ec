"""The web app's pure parts: working time in words, scan storage, sessions, form values."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from motcua.web import fields
from motcua.web.present import time_left
from motcua.web.ratelimit import MemoryRateLimiter
from motcua.web.sessions import COOKIE, Session, SessionOfficer, Sessions
from motcua.web.storage import LocalStorage, sniff
from procedures.models import FieldType, FormField


def test_time_left_reads_as_working_days_and_hours() -> None:
    assert time_left(480 + 180) == "Còn 1 ngày 3 giờ"
    assert time_left(-120) == "Quá 2 giờ"
    assert time_left(45) == "Còn 45 phút"
    assert time_left(480 + 180, "en") == "1 day 3 h left"
    assert time_left(-120, "en") == "2 h overdue"


def test_scans_are_stored_once_by_content_and_private(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "uploads")
    data = b"%PDF-1.4 scan"
    digest = store.put(data)
    assert store.put(data) == digest
    blob = store.blobs / digest[:2] / digest
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert store.get(digest) == data
    assert store.get("../../etc/passwd") is None
    assert sniff(data) == "application/pdf" and sniff(b"GIF89a") is None


def test_form_values_take_their_declared_types() -> None:
    declared = {
        "capital": FormField(type=FieldType.INTEGER),
        "ok": FormField(type=FieldType.BOOLEAN),
        "name": FormField(),
    }
    raw = {"f.capital": "5000", "f.ok": "true", "f.name": "  An  "}
    assert fields.from_form(declared, raw, "f.") == {"capital": 5000, "ok": True, "name": "An"}
    # Text that is no integer goes on as text: the validator names the field.
    assert fields.from_form(declared, {"f.capital": "nhiều"}, "f.") == {"capital": "nhiều"}
    per_field, rest = fields.by_field(
        "field 'capital' must be integer; decision 'x' is not allowed", declared
    )
    assert per_field == {"capital": "field 'capital' must be integer"}
    assert rest == ["decision 'x' is not allowed"]


def test_a_tampered_session_cookie_counts_as_none() -> None:
    sessions = Sessions("s" * 40, secure=True, max_age_hours=1)
    officer = SessionOfficer(
        user="lan",
        agency="000.00.19.H26",
        role="head",
        assertion="a.b.c",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    signed_in = Session(officer=officer)
    response = Response()
    sessions.save(response, signed_in)
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "Secure" in header and "SameSite=lax" in header
    value = header.split(";")[0].split("=", 1)[1]

    def request(cookie: str) -> Request:
        return Request({"type": "http", "headers": [(b"cookie", f"{COOKIE}={cookie}".encode())]})

    assert sessions.load(request(value)).officer == signed_in.officer
    forged = value.replace(value[5], "A" if value[5] != "A" else "B", 1)
    assert sessions.load(request(forged)).officer is None
    assert Sessions("t" * 40, secure=True, max_age_hours=1).load(request(value)).officer is None


def test_rate_limits_count_per_key_and_window() -> None:
    limiter = MemoryRateLimiter()
    assert all(limiter.hit("lookup:code:A", 3, 60) for _ in range(3))
    assert not limiter.hit("lookup:code:A", 3, 60)
    assert limiter.hit("lookup:code:B", 3, 60)


def test_a_spent_rate_limit_is_earned_back_gradually_not_at_a_window_boundary() -> None:
    """3 per minute: spent at once, one more after 20 s, never 6 across a boundary."""
    now = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert [limiter.hit("login:ip", 3, 60) for _ in range(4)] == [True, True, True, False]
    now[0] += 19.0
    assert not limiter.hit("login:ip", 3, 60)
    now[0] += 1.5
    assert limiter.hit("login:ip", 3, 60)
    assert not limiter.hit("login:ip", 3, 60)
    now[0] += 60.0
    assert [limiter.hit("login:ip", 3, 60) for _ in range(4)] == [True, True, True, False]
