"""Activities: forms render safely and identically on retry; nothing is written twice."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import all_activities
from activities.documents import Documents
from activities.outbox import Outbox
from activities.payloads import (
    AutoStepInput,
    Notification,
    OfficerNotice,
    OfficerNoticeKind,
    OfficerNotices,
    PortalRecord,
    RenderForm,
)
from activities.results import Register
from procedures.models import ACTIVITY_NAMES, Form, FormKind

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TEMPLATE = """<h1>{{ form.number }}. {{ form.title }}</h1>
<p>{{ dossier.code }}: {{ dossier.applicant.full_name }}</p>
<p>{{ details.note | default('', true) }}</p>"""


def render_request(source: str | None = TEMPLATE, **changes: Any) -> RenderForm:
    fields: dict[str, Any] = {
        "doc_id": "01",
        "dossier_code": "000.00.19.H26-260302-0001",
        "kind": FormKind.RECEIPT,
        "form": Form(
            number="01", title="Giấy tiếp nhận", template="receipt.html.j2", source=source
        ),
        "context": {
            "dossier": {
                "code": "000.00.19.H26-260302-0001",
                "applicant": {"full_name": "<script>alert('x')</script> Nguyễn Văn A"},
            },
            "details": {},
        },
    }
    return RenderForm(**(fields | changes))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_activity_names_are_the_language_s_plus_the_interpreter_s(data_dir: Path) -> None:
    names = {activity._Definition.must_from_callable(fn).name for fn in all_activities(data_dir)}
    assert names == ACTIVITY_NAMES | {"sync_portal", "notify_officers"}


# ------------------------------------------------------------------------------ render_form


def test_render_form_escapes_and_a_retry_writes_the_same_file(data_dir: Path) -> None:
    documents = Documents(data_dir)
    first = ActivityEnvironment().run(documents.render_form, render_request())
    path = Path(first.path)
    assert path == data_dir.resolve() / "results" / "000.00.19.H26-260302-0001" / "01-receipt.html"
    html = path.read_text()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Nguyễn Văn A" in html and "01. Giấy tiếp nhận" in html

    again = ActivityEnvironment().run(documents.render_form, render_request())
    assert again == first
    # No temp files left; a receipt is also a signed PDF (tests/test_signed_documents.py).
    assert sorted(p.name for p in path.parent.iterdir()) == ["01-receipt.html", "01-receipt.pdf"]
    assert first.pdf == str(path.with_suffix(".pdf"))


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ dossier.nope }}", "UndefinedError"),
        ("{% if %}", "TemplateSyntaxError"),
        ("{{ ''.__class__.__mro__ }}", "SecurityError"),  # the sandbox hides internals
        ("{% set x = [] %}{{ x.append(1) }}", "SecurityError"),  # immutable sandbox
        (None, "no template source"),
    ],
)
def test_template_errors_are_clear_and_not_retried(
    data_dir: Path, source: str | None, reason: str
) -> None:
    with pytest.raises(ApplicationError) as caught:
        ActivityEnvironment().run(Documents(data_dir).render_form, render_request(source))
    assert caught.value.non_retryable and caught.value.type == "TemplateError"
    assert reason in str(caught.value) and "form 01 (receipt" in str(caught.value)
    assert not (data_dir / "results" / "000.00.19.H26-260302-0001" / "01-receipt.html").exists()


def test_a_dossier_code_cannot_escape_the_results_folder(data_dir: Path) -> None:
    with pytest.raises(ApplicationError, match="unsafe file name"):
        ActivityEnvironment().run(
            Documents(data_dir).render_form, render_request(dossier_code="../../etc")
        )


# ------------------------------------------------------------------------------ outbox


def notification(notification_id: str) -> Notification:
    return Notification(
        notification_id=notification_id,
        dossier_code="000.00.19.H26-260302-0001",
        channel="email",
        subject="Hồ sơ đã được tiếp nhận",
        body="Kính gửi ông Nguyễn Văn A",
        at=NOW,
    )


def portal_record(record_id: str, status: int = 2) -> PortalRecord:
    return PortalRecord(
        record_id=record_id,
        dossier_code="000.00.19.H26-260302-0001",
        procedure_code="1.001193",
        status=status,
        at=NOW,
    )


def test_notify_and_sync_append_once_per_id(data_dir: Path) -> None:
    outbox = Outbox(data_dir)
    env = ActivityEnvironment()
    for _ in range(2):
        env.run(outbox.notify_applicant, notification("n-1"))
        env.run(outbox.sync_portal, portal_record("p-1"))
    env.run(outbox.sync_portal, portal_record("p-2", status=4))
    # A restarted worker (a new process) knows what was written before.
    Outbox(data_dir).notify_applicant(notification("n-1"))

    sent = lines(data_dir / "outbox" / "notifications.jsonl")
    assert [n["notification_id"] for n in sent] == ["n-1"]
    assert sent[0]["body"] == "Kính gửi ông Nguyễn Văn A"
    portal = lines(data_dir / "outbox" / "portal.jsonl")
    assert [(r["record_id"], r["status"]) for r in portal] == [("p-1", 2), ("p-2", 4)]


def officer_notices(seq: int, *kinds: OfficerNoticeKind) -> OfficerNotices:
    code = "000.00.19.H26-260302-0001"
    return OfficerNotices(
        notices=tuple(
            OfficerNotice(
                notice_id=f"{code}:o{seq}:{kind.value}",
                dossier_code=code,
                procedure_code="1.001193",
                step="process",
                agency="000.00.19.H26",
                role="head" if kind is OfficerNoticeKind.ESCALATED else "specialist",
                kind=kind,
                share=0.5 if kind is OfficerNoticeKind.REMINDER else None,
                escalated_from="specialist" if kind is OfficerNoticeKind.ESCALATED else None,
                due=NOW,
                at=NOW,
            )
            for kind in kinds
        )
    )


def test_notify_officers_appends_once_per_notice(data_dir: Path) -> None:
    """A retried activity, in this worker or a restarted one, writes no notice twice."""
    env = ActivityEnvironment()
    overdue = officer_notices(2, OfficerNoticeKind.OVERDUE, OfficerNoticeKind.ESCALATED)
    for _ in range(2):
        env.run(Outbox(data_dir).notify_officers, officer_notices(1, OfficerNoticeKind.REMINDER))
        env.run(Outbox(data_dir).notify_officers, overdue)
    written = lines(data_dir / "outbox" / "officers.jsonl")
    assert [(n["notice_id"].split(":", 1)[1], n["role"]) for n in written] == [
        ("o1:reminder", "specialist"),
        ("o2:overdue", "specialist"),
        ("o2:escalated", "head"),
    ]
    assert written[0]["share"] == 0.5 and written[2]["escalated_from"] == "specialist"


def test_threads_never_duplicate(data_dir: Path) -> None:
    shared, other = Outbox(data_dir), Outbox(data_dir)
    ids = [f"p-{i % 20}" for i in range(200)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(
            pool.map(
                lambda pair: pair[1].sync_portal(portal_record(pair[0])),
                [(rid, shared if i % 2 else other) for i, rid in enumerate(ids)],
            )
        )
    assert sorted(r["record_id"] for r in lines(data_dir / "outbox" / "portal.jsonl")) == sorted(
        set(ids)
    )


def _append_all(data_dir: str, ids: list[str]) -> None:
    outbox = Outbox(Path(data_dir))
    for rid in ids:
        outbox.notify_applicant(notification(rid))


def test_two_processes_never_duplicate(data_dir: Path) -> None:
    ids = [f"n-{i}" for i in range(60)]
    spawn = multiprocessing.get_context("spawn")  # no fork of a process with native threads
    workers = [spawn.Process(target=_append_all, args=(str(data_dir), ids)) for _ in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    written = [n["notification_id"] for n in lines(data_dir / "outbox" / "notifications.jsonl")]
    assert sorted(written) == sorted(ids)


def test_a_torn_last_line_does_not_corrupt_the_next_record(data_dir: Path) -> None:
    path = data_dir / "outbox" / "portal.jsonl"
    path.parent.mkdir()
    path.write_text('{"record_id": "p-1", "status": 2}\n{"record_id": "p-2", "sta')
    outbox = Outbox(data_dir)
    outbox.sync_portal(portal_record("p-1"))  # seen before the torn line: nothing written
    outbox.sync_portal(portal_record("p-3"))
    Outbox(data_dir).sync_portal(portal_record("p-3"))
    text = path.read_text().splitlines()
    assert len(text) == 3 and json.loads(text[2])["record_id"] == "p-3"


# ------------------------------------------------------------------------------ issue_result


def issue(register: Register, call_id: str, **args: Any) -> str:
    call = AutoStepInput(
        call_id=call_id,
        dossier_code="000.00.19.H26-260302-0001",
        procedure_code="1.001193",
        step="issue",
        args={"document": "birth_certificate", "series": "KS"} | args,
    )
    result = ActivityEnvironment().run(register.issue_result, call)
    assert result.outcome == "issued"
    return str(result.data["number"])


def test_issue_result_numbers_are_sequential_and_stable_per_call(data_dir: Path) -> None:
    year = datetime.now().year
    register = Register(data_dir)
    assert issue(register, "c-1") == f"0001/{year}/KS"
    assert issue(register, "c-2") == f"0002/{year}/KS"
    assert issue(register, "c-1") == f"0001/{year}/KS"  # a retry gets its number back
    assert issue(register, "c-3", series="TT") == f"0001/{year}/TT"  # another book
    assert issue(register, "c-4", agency="000.00.09.H26") == f"0001/{year}/KS"  # another agency
    restarted = Register(data_dir)
    assert issue(restarted, "c-2") == f"0002/{year}/KS"
    assert issue(restarted, "c-5") == f"0003/{year}/KS"


def test_issue_result_in_parallel_gives_distinct_numbers(data_dir: Path) -> None:
    registers = [Register(data_dir) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda i: issue(registers[i % 4], f"c-{i % 30}"), range(90)))
    assert len(set(numbers)) == 30
    assert sorted(int(n.split("/")[0]) for n in set(numbers)) == list(range(1, 31))


def test_issue_result_without_document_is_not_retried(data_dir: Path) -> None:
    call = AutoStepInput(
        call_id="c", dossier_code="X-260302-0001", procedure_code="1.001193", step="issue"
    )
    with pytest.raises(ApplicationError, match="needs a `document`") as caught:
        ActivityEnvironment().run(Register(data_dir).issue_result, call)
    assert caught.value.non_retryable
