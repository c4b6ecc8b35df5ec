"""The web app's pure parts: working time in words, scan storage, sessions, form values."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from helpers import sweeps_only_old_unattached_scans
from starlette.requests import Request
from starlette.responses import Response

from motcua.web import fields
from motcua.web.auth import IdentityDirectory
from motcua.web.context import Web
from motcua.web.present import repetition_counts, repetition_where, time_left, timeliness
from motcua.web.ratelimit import MemoryRateLimiter
from motcua.web.revocations import FILE, RevokedSessions
from motcua.web.sessions import COOKIE, Session, SessionOfficer, Sessions
from motcua.web.settings import WebSettings
from motcua.web.storage import LocalStorage, sniff
from motcua.web.sweep import sweep_unattached
from procedures.legaltime.calendar import TimeLimit, TimeUnit
from procedures.models import FieldType, FormField
from workflows.api import PhaseView, RepetitionView


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


def test_a_tampered_session_cookie_counts_as_none(tmp_path: Path) -> None:
    revoked = RevokedSessions(tmp_path)
    sessions = Sessions("s" * 40, secure=True, max_age_hours=1, revoked=revoked)
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
    other_secret = Sessions("t" * 40, secure=True, max_age_hours=1, revoked=revoked)
    assert other_secret.load(request(value)).officer is None


def test_revoked_sessions_are_shared_private_and_bounded(tmp_path: Path) -> None:
    one, other = RevokedSessions(tmp_path), RevokedSessions(tmp_path, max_entries=2)
    assert not other.is_revoked("a")
    one.revoke("a", time.time() + 3600)
    assert other.is_revoked("a")  # another process on the folder sees it at once
    assert stat.S_IMODE((tmp_path / FILE).stat().st_mode) == 0o600
    one.revoke("expired", time.time() - 1)
    assert not RevokedSessions(tmp_path).is_revoked("expired")  # kept until its expiry only
    other.revoke("b", time.time() + 7200)
    other.revoke("c", time.time() + 60)
    other.revoke("d", time.time() + 9000)  # over the bound: the one closest to expiry goes
    after_restart = RevokedSessions(tmp_path)
    assert [after_restart.is_revoked(s) for s in "abcd"] == [False, True, False, True]


def test_rate_limits_count_per_key_and_window() -> None:
    limiter = MemoryRateLimiter()
    assert all(limiter.hit("lookup:code:A", 3, 60) for _ in range(3))
    assert not limiter.hit("lookup:code:A", 3, 60)
    assert limiter.hit("lookup:code:B", 3, 60)


def test_the_sweep_deletes_old_unattached_scans_from_the_folder_only(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "uploads")
    sweeps_only_old_unattached_scans(store)
    # Uploaded again after two days: renewed, so it is not swept as old.
    data = b"%PDF-1.4 sent again"
    digest = store.put(data)
    blob = store.blobs / digest[:2] / digest
    two_days_ago = time.time() - 48 * 3600
    os.utime(blob, (two_days_ago, two_days_ago))
    assert store.put(data) == digest
    assert sweep_unattached(store).deleted == 0 and store.get(digest) == data
    os.utime(blob, (two_days_ago, two_days_ago))
    assert sweep_unattached(store).deleted == 1 and store.get(digest) is None
    assert not list(store.root.glob(".sweep-*"))  # nothing left aside


def test_a_repeat_step_reads_as_report_n_of_m_with_misses_in_a_row() -> None:
    due = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    run = RepetitionView(
        step="monthly_report",
        title="Thông báo tìm việc",
        times=6,
        number=4,
        reported=1,
        missed=2,
        missed_in_row=2,
        awaiting=True,
        due_at=due,
    )
    assert repetition_where(run, "en") == "report 4 of 6, due 17:00 02/03/2026"
    assert repetition_where(run) == "Báo cáo lần 4/6, hạn 17:00 02/03/2026"
    assert repetition_counts(run, "en") == "reported 1, missed 2 (2 in a row)"
    assert repetition_counts(run) == "đã báo cáo 1, bỏ lỡ 2 (2 lần liên tiếp)"
    between = run.model_copy(update={"awaiting": False, "due_at": None, "opens_at": due})
    assert repetition_where(between, "en") == "report 5 of 6 opens 17:00 02/03/2026"
    done = run.model_copy(update={"finished": True})
    assert repetition_where(done) == "Đã xong sau báo cáo lần 4/6"
    assert timeliness("late", "en") == "late" and timeliness("on_time") == "Đúng hạn"


def test_an_overdue_phase_and_missed_reports_are_marked_on_the_page(tmp_path: Path) -> None:
    web = Web(
        WebSettings(data_dir=tmp_path, secret_key="s" * 40),
        directory=IdentityDirectory(tmp_path),
        storage=LocalStorage(tmp_path / "uploads"),
        limiter=MemoryRateLimiter(),
        catalog={},
    )
    started = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    late = PhaseView(
        phase="appraisal",
        title="Thẩm định hồ sơ",
        step="receive",
        started_at=started,
        due_at=started + timedelta(days=9),
        limit=TimeLimit(amount=7, unit=TimeUnit.WORKING_DAYS),
        remaining_minutes=-120,
        overdue=True,
        status="late",
    )
    missed = RepetitionView(
        step="monthly_report",
        title="Thông báo tìm việc",
        times=6,
        number=4,
        missed=2,
        missed_in_row=2,
        opens_at=started,
    )
    state = SimpleNamespace(phases=(late,), repetitions=(missed,))
    html = web.env.get_template("progress.html").render(state=state, lang="en")
    assert "Phase overdue" in html and "2 h overdue" in html and "7 working days" in html
    assert "report 5 of 6 opens 08:00 02/03/2026" in html
    assert "missed 2 (2 in a row)" in html and 'class="card overdue"' in html
    vi = web.env.get_template("progress.html").render(state=state, lang="vi")
    assert "Quá hạn giai đoạn" in vi and "Quá 2 giờ" in vi and "2 lần liên tiếp" in vi


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
