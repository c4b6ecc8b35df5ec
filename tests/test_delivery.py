"""Notifications delivered for real (issue 17): e-mail through a real SMTP server (aiosmtpd on a
free local port), SMS through the gateway interface (the outbox gateway, a real HTTP gateway),
each message once, even when the activity is retried after a crash between send and record.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from helpers import APPLICANT, eventually, make_setup, submit
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities import all_activities
from activities.delivery import (
    CONTACTS_FILE,
    GIVE_UP_AFTER,
    SETTINGS_FILE,
    Delivery,
    DeliveryError,
    DeliverySettings,
)
from activities.mail import SmtpSettings
from activities.outbox import Outbox
from activities.payloads import Notification, OfficerNotice, OfficerNoticeKind, OfficerNotices
from procedures.models import Channel
from runtime import logs

REPO = Path(__file__).resolve().parents[1]
EMAIL = "nguyen.thi.hoa@example.vn"
PHONE = "0912345678"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    """What the SMTP server accepted; `kill` is a process to SIGKILL before answering 250."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.kill: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        if self.kill is not None:  # the sender dies with the message accepted, unrecorded
            os.kill(self.kill, signal.SIGKILL)
            self.kill = None
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, SmtpSettings("127.0.0.1", controller.port, sender="motcua@ubnd.example.vn")
    finally:
        controller.stop()


def notification(channel: str = "email", to: str | None = EMAIL, **kw: Any) -> Notification:
    return Notification(
        notification_id=kw.pop("notification_id", f"T{uuid.uuid4().hex[:8]}:n3"),
        dossier_code="000.00.19.H26-261130-0001",
        channel=channel,
        subject="Hồ sơ 000.00.19.H26-261130-0001 đã được tiếp nhận",
        body="Ngày hẹn trả kết quả: 16:00 04/12/2026.",
        at=datetime.now(UTC),
        to=to,
        **kw,
    )


def deliveries(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "outbox" / "deliveries.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_receipt_arrives_by_email_and_sms_once_with_no_address_logged(
    dev_env: WorkflowEnvironment,
    run_worker: Any,
    tmp_path: Path,
    data_dir: Path,
    smtp: tuple[Inbox, SmtpSettings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    inbox, settings = smtp
    logs.configure()
    s = make_setup(dev_env.client, tmp_path)
    activities = all_activities(data_dir, DeliverySettings(smtp=settings))
    async with run_worker(dev_env.client, s.queue, data_dir, activities=activities):
        online = APPLICANT.model_copy(update={"id_number": "079199001122", "email": EMAIL})
        by_mail = await submit(s, applicant=online, channel=Channel.ONLINE)
        at_desk = APPLICANT.model_copy(update={"id_number": "079199003344", "phone": PHONE})
        by_sms = await submit(s, applicant=at_desk, channel=Channel.IN_PERSON)

        async def arrived() -> bool | None:
            return bool(inbox.messages) or None

        await eventually(arrived)
        sms_file = data_dir / "outbox" / "sms.jsonl"

        async def texted() -> bool | None:
            return sms_file.is_file() or None

        await eventually(texted)

    assert len(inbox.messages) == 1, "one e-mail: the online dossier's receipt"
    recipients, msg = inbox.messages[0]
    assert recipients == [EMAIL] and msg["To"] == EMAIL
    assert msg["From"] == "motcua@ubnd.example.vn"
    assert msg["Subject"] == f"Hồ sơ {by_mail.code} đã được tiếp nhận"
    assert by_mail.code in msg["Message-ID"]
    text = msg.get_body(("plain",))
    assert text is not None and "Ngày hẹn trả kết quả" in text.get_content()
    attached = {str(part.get_filename()): part for part in msg.iter_attachments()}
    receipt = next(name for name in attached if name.endswith("-receipt.html"))
    assert "Giấy tiếp nhận" in attached[receipt].get_content()
    assert receipt.replace(".html", ".pdf") in attached, "the signed PDF rides along"

    texts = [json.loads(line) for line in sms_file.read_text().splitlines()]
    assert [(t["to"], t["via"]) for t in texts] == [(PHONE, "outbox gateway")]
    assert texts[0]["text"].startswith(f"Hồ sơ {by_sms.code} đã được tiếp nhận")

    sent = {
        (d["key"].split(":")[0], d["via"]) for d in deliveries(data_dir) if d["state"] == "sent"
    }
    assert sent == {(by_mail.code, "smtp"), (by_sms.code, "outbox gateway")}
    for name in ("notifications.jsonl", "deliveries.jsonl", "sms.jsonl"):
        assert stat.S_IMODE((data_dir / "outbox" / name).stat().st_mode) == 0o600

    logged = capsys.readouterr().err
    assert f"{by_mail.code}:n" in logged and "notification delivery" in logged
    for secret in (EMAIL, PHONE, "Ngày hẹn trả kết quả"):
        assert secret not in logged


def test_a_retried_activity_sends_nothing_twice(
    data_dir: Path, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    outbox = Outbox(data_dir, Delivery(data_dir, DeliverySettings(smtp=settings)))
    message = notification()
    outbox.notify_applicant(message)
    outbox.notify_applicant(message)  # Temporal retried: the first attempt's result was lost
    assert len(inbox.messages) == 1
    assert [d["state"] for d in deliveries(data_dir)] == ["sending", "sent"]


def test_a_crash_between_send_and_record_is_not_sent_again(
    data_dir: Path, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    """A worker killed after the SMTP server took the message, before it recorded "sent":
    the retried activity sends nothing and records the delivery as unconfirmed."""
    inbox, settings = smtp
    message = notification()
    script = (
        "import sys; from pathlib import Path; from activities.outbox import Outbox;"
        "from activities.payloads import Notification;"
        "Outbox(Path(sys.argv[1])).notify_applicant(Notification.model_validate_json(sys.argv[2]))"
    )
    env = {**os.environ, "MOTCUA_SMTP_HOST": "127.0.0.1", "MOTCUA_SMTP_PORT": str(settings.port)}
    worker = subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir), message.model_dump_json()],
        cwd=REPO,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    inbox.kill = worker.pid
    assert worker.wait(timeout=60) == -signal.SIGKILL
    assert len(inbox.messages) == 1
    assert [d["state"] for d in deliveries(data_dir)] == ["sending"]

    Outbox(data_dir, Delivery(data_dir, DeliverySettings(smtp=settings))).notify_applicant(message)
    assert len(inbox.messages) == 1, "at most once: the message is not sent a second time"
    assert [d["state"] for d in deliveries(data_dir)] == ["sending", "unconfirmed"]


def test_an_unreachable_server_fails_the_attempt_and_a_retry_sends(
    data_dir: Path, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    down = SmtpSettings("127.0.0.1", free_port(), sender=settings.sender)
    message = notification()
    with pytest.raises(ConnectionRefusedError):
        Outbox(data_dir, Delivery(data_dir, DeliverySettings(smtp=down))).notify_applicant(message)
    Outbox(data_dir, Delivery(data_dir, DeliverySettings(smtp=settings))).notify_applicant(message)
    assert len(inbox.messages) == 1
    assert [d["state"] for d in deliveries(data_dir)] == ["sending", "failed", "sending", "sent"]


def test_without_smtp_or_recipient_the_message_stays_queued(data_dir: Path) -> None:
    outbox = Outbox(data_dir, Delivery(data_dir, DeliverySettings()))
    outbox.notify_applicant(notification())
    outbox.notify_applicant(notification(to=None))  # a dossier of interpreter 4, or no e-mail
    queued = (data_dir / "outbox" / "notifications.jsonl").read_text().splitlines()
    assert len(queued) == 2
    assert not (data_dir / "outbox" / "deliveries.jsonl").exists()


class Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str | None, dict[str, Any]]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        Gateway.received.append((self.headers.get("Authorization"), body))
        self.send_response(Gateway.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_gateway() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Gateway.received, Gateway.status = [], 200
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms"
    finally:
        server.shutdown()
        server.server_close()


def test_sms_through_an_http_gateway_once_and_refusals_not_retried(
    data_dir: Path, http_gateway: str
) -> None:
    settings = DeliverySettings(sms_gateway=http_gateway, sms_token="s3cret")
    outbox = Outbox(data_dir, Delivery(data_dir, settings))
    message = notification("sms", PHONE)
    outbox.notify_applicant(message)
    outbox.notify_applicant(message)
    assert len(Gateway.received) == 1
    auth, body = Gateway.received[0]
    assert auth == "Bearer s3cret"
    assert body["to"] == PHONE and body["reference"] == message.notification_id
    assert body["text"].startswith("Hồ sơ 000.00.19.H26-261130-0001 đã được tiếp nhận. Ngày hẹn")

    Gateway.status = 400  # the gateway says the number is wrong: retrying cannot help
    bad = notification("sms", "0999999999")
    outbox.notify_applicant(bad)
    outbox.notify_applicant(bad)
    assert len(Gateway.received) == 2
    assert deliveries(data_dir)[-1] == {**deliveries(data_dir)[-1], "state": "refused"}
    assert not (data_dir / "outbox" / "sms.jsonl").exists()


def test_officers_notices_go_to_the_roles_addresses(
    data_dir: Path, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, settings = smtp
    (data_dir / CONTACTS_FILE).write_text(
        '"000.00.19.H26/one_stop": [lan@ubnd.example.vn, minh@ubnd.example.vn]\n'
    )
    outbox = Outbox(data_dir, Delivery(data_dir, DeliverySettings(smtp=settings)))
    due = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    notices = OfficerNotices(
        notices=tuple(
            OfficerNotice(
                notice_id=f"000.00.19.H26-261130-0001:o7:{kind.value}",
                dossier_code="000.00.19.H26-261130-0001",
                procedure_code="1.001193",
                step="review",
                agency="000.00.19.H26",
                role=role,
                kind=kind,
                due=due,
                at=due,
            )
            for kind, role in (
                (OfficerNoticeKind.OVERDUE, "one_stop"),
                (OfficerNoticeKind.ESCALATED, "head"),
            )
        )
    )
    outbox.notify_officers(notices)
    outbox.notify_officers(notices)
    assert len(inbox.messages) == 1, "the head has no address listed: queued only"
    recipients, msg = inbox.messages[0]
    assert recipients == ["lan@ubnd.example.vn", "minh@ubnd.example.vn"]
    assert msg["Subject"] == "Quá hạn: hồ sơ 000.00.19.H26-261130-0001, bước review"
    assert "16:00 04/12/2026" in msg.get_content()


def test_settings_from_file_and_environment_with_one_line_errors(data_dir: Path) -> None:
    (data_dir / SETTINGS_FILE).write_text(
        '[smtp]\nhost = "mail.example.vn"\nport = 587\ntls = "starttls"\n'
        'from = "motcua@example.vn"\n[sms]\ngateway = "outbox"\n'
    )
    loaded = DeliverySettings.load(data_dir, {"MOTCUA_SMTP_PORT": "2525"})
    assert loaded.smtp == SmtpSettings(
        "mail.example.vn", 2525, sender="motcua@example.vn", tls="starttls"
    )
    off = DeliverySettings.load(data_dir, {"MOTCUA_SMTP_HOST": ""})
    assert off.smtp is None, "an empty MOTCUA_SMTP_HOST turns e-mail off"
    with pytest.raises(DeliveryError, match=r"MOTCUA_SMTP_TLS: tls must be none, starttls or ssl"):
        DeliverySettings.load(data_dir, {"MOTCUA_SMTP_TLS": "maybe"})
    (data_dir / SETTINGS_FILE).write_text("[smtp]\nhots = 1\n")
    with pytest.raises(DeliveryError, match=r"delivery.toml: \[smtp\] unknown key 'hots'"):
        DeliverySettings.load(data_dir, {})
    (data_dir / CONTACTS_FILE).write_text('"H26/one_stop": [not-an-address]\n')
    with pytest.raises(
        DeliveryError, match=r"officer-contacts.yaml: 'H26/one_stop': not an e-mail"
    ):
        Delivery(data_dir, DeliverySettings()).contacts.addresses("H26", "one_stop")


def test_motcua_dev_refuses_bad_delivery_settings_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from motcua.cli import main

    assert main(["dev", "--data", str(tmp_path), "--smtp", "localhost"]) == 1
    assert capsys.readouterr().err == (
        "motcua: --smtp 'localhost': expected HOST:PORT, e.g. localhost:1025\n"
    )
    (tmp_path / SETTINGS_FILE).write_text('[smtp]\nhost = "mail.example.vn"\nport = 99999\n')
    assert main(["dev", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("motcua: ") and err.endswith("smtp port 99999\n")
    assert err.count("\n") == 1


def test_a_dead_server_is_given_up_after_the_last_attempt(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dossier is not held back for ever: at attempt `GIVE_UP_AFTER` the activity ends,
    the message left queued and its delivery "failed"."""
    logs.configure()
    down = SmtpSettings("127.0.0.1", free_port())
    outbox = Outbox(data_dir, Delivery(data_dir, DeliverySettings(smtp=down)))
    env = ActivityEnvironment()
    message = notification()
    with pytest.raises(ConnectionRefusedError):
        env.run(outbox.notify_applicant, message)
    env.info = dataclasses.replace(env.info, attempt=GIVE_UP_AFTER)
    env.run(outbox.notify_applicant, message)
    assert [d["state"] for d in deliveries(data_dir)] == ["sending", "failed"] * 2
    assert "delivery given up" in capsys.readouterr().err
