"""Delivering the outbox's messages: e-mail through SMTP, SMS through a gateway, once each.

Configuration, read when a worker starts: `<data>/delivery.toml`, overridden by the
environment.

    [smtp]                      # MOTCUA_SMTP_HOST, _PORT, _FROM, _TLS, _USER, _PASSWORD
    host = "smtp.example.gov.vn"
    port = 587
    from = "motcua@example.gov.vn"
    tls = "starttls"            # none | starttls | ssl
    user = "motcua"
    password = "…"
    [sms]                       # MOTCUA_SMS_GATEWAY, MOTCUA_SMS_TOKEN
    gateway = "outbox"          # outbox | https://… | module:function (activities.sms)
    token = "…"

Without an SMTP host (the embedded default; an empty MOTCUA_SMTP_HOST also turns it off)
e-mails stay in `outbox/notifications.jsonl` only.
Officers' notices go to the addresses `<data>/officer-contacts.yaml` lists for their agency
and role (`"AGENCY/ROLE": [address, …]`). What was delivered, how and when is in
`outbox/deliveries.jsonl` (`activities.sendlog`, which also states the at-most-once rule).
Logs name notification ids only, never an address or a text.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from activities import mail, sms
from activities.mail import SmtpSettings
from activities.payloads import Notification, OfficerNotice, OfficerNoticeKind
from activities.sendlog import Refused, SendLog

SETTINGS_FILE = "delivery.toml"
CONTACTS_FILE = "officer-contacts.yaml"
MAX_FILE = 256 * 1024
"""Bytes of a settings or contacts file at most."""

GIVE_UP_AFTER = 8
"""Attempts of one activity after which a failing delivery is given up (the message stays
queued in the outbox, its state "failed"), so a dead SMTP server does not stall dossiers:
about two minutes with Temporal's default backoff (1 s doubling)."""

_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")
_PHONE = re.compile(r"\+?[0-9 .-]{6,20}")
_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class DeliveryError(ValueError):
    """A settings or contacts file a worker cannot use: one line naming the file and key."""


@dataclass(frozen=True)
class DeliverySettings:
    smtp: SmtpSettings | None = None
    sms_gateway: str = "outbox"
    sms_token: str | None = None

    @classmethod
    def load(cls, data_dir: Path, environ: Mapping[str, str] = os.environ) -> DeliverySettings:
        """From `<data>/delivery.toml` and `MOTCUA_SMTP_*`/`MOTCUA_SMS_*` (which win)."""
        path = data_dir / SETTINGS_FILE
        table: dict[str, Any] = {}
        if path.is_file():
            raw = _read(path)
            try:
                table = tomllib.loads(raw)
            except tomllib.TOMLDecodeError as err:
                raise DeliveryError(f"{path}: {err}") from None
        smtp = _section(table, "smtp", path)
        smtp_env = {
            k: environ[f"MOTCUA_SMTP_{k.upper()}"]
            for k in _SMTP_KEYS
            if f"MOTCUA_SMTP_{k.upper()}" in environ
        }
        smtp.update(smtp_env)
        sms_cfg = _section(table, "sms", path)
        for key in ("gateway", "token"):
            if f"MOTCUA_SMS_{key.upper()}" in environ:
                sms_cfg[key] = environ[f"MOTCUA_SMS_{key.upper()}"]
        return cls(
            smtp=_smtp(smtp, path) if smtp.get("host") else None,
            sms_gateway=str(sms_cfg.get("gateway") or "outbox"),
            sms_token=str(sms_cfg["token"]) if sms_cfg.get("token") else None,
        )


_SMTP_KEYS = ("host", "port", "from", "tls", "user", "password")


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_FILE:
        raise DeliveryError(f"{path}: larger than {MAX_FILE // 1024} KiB")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DeliveryError(f"{path}: not UTF-8 text") from None


def _section(table: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    section = table.get(name, {})
    if not isinstance(section, dict):
        raise DeliveryError(f"{path}: [{name}] must be a table")
    unknown = set(section) - set(_SMTP_KEYS if name == "smtp" else ("gateway", "token"))
    if unknown:
        raise DeliveryError(f"{path}: [{name}] unknown key {sorted(unknown)[0]!r}")
    return dict(section)


def _smtp(values: dict[str, Any], path: Path) -> SmtpSettings:
    try:
        port = int(values.get("port", 25))
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise DeliveryError(f"{path} or MOTCUA_SMTP_PORT: smtp port {values.get('port')!r}")
    tls = str(values.get("tls", "none"))
    if tls not in ("none", "starttls", "ssl"):
        raise DeliveryError(f"{path} or MOTCUA_SMTP_TLS: tls must be none, starttls or ssl")
    sender = str(values.get("from") or "motcua@localhost")
    if not _EMAIL.fullmatch(sender) and sender != "motcua@localhost":
        raise DeliveryError(f"{path} or MOTCUA_SMTP_FROM: not an e-mail address")
    return SmtpSettings(
        host=str(values["host"]),
        port=port,
        sender=sender,
        tls=tls,  # type: ignore[arg-type]
        user=str(values["user"]) if values.get("user") else None,
        password=str(values["password"]) if values.get("password") else None,
    )


class OfficerContacts:
    """`<data>/officer-contacts.yaml`, read again whenever it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._roles: dict[str, tuple[str, ...]] = {}

    def addresses(self, agency: str, role: str) -> tuple[str, ...]:
        """The addresses of `agency`'s `role`; none if the file does not list it."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return ()
        if (st.st_mtime_ns, st.st_size) != self._stamp:
            self._roles = self._parse(_read(self.path))
            self._stamp = (st.st_mtime_ns, st.st_size)
        return self._roles.get(f"{agency}/{role}", ())

    def _parse(self, raw: str) -> dict[str, tuple[str, ...]]:
        try:
            data = yaml.safe_load(raw) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise DeliveryError(f"{self.path}{where}: not YAML") from None
        if not isinstance(data, dict):
            raise DeliveryError(f"{self.path}: expected a mapping AGENCY/ROLE -> addresses")
        roles = {}
        for key, value in data.items():
            listed = [value] if isinstance(value, str) else value
            if "/" not in str(key) or not isinstance(listed, list):
                raise DeliveryError(f"{self.path}: {key!r}: expected AGENCY/ROLE: [addresses]")
            if not all(isinstance(a, str) and _EMAIL.fullmatch(a) for a in listed):
                raise DeliveryError(f"{self.path}: {key!r}: not an e-mail address among them")
            roles[str(key)] = tuple(listed)
        return roles


class Delivery:
    """Sends what the outbox queued, through the send log: the outbox activities call it."""

    def __init__(self, data_dir: Path, settings: DeliverySettings | None = None) -> None:
        settings = settings or DeliverySettings.load(data_dir)
        self.data_dir = data_dir.resolve()
        self.smtp = settings.smtp
        self.sms = sms.gateway(settings.sms_gateway, settings.sms_token, data_dir / "outbox")
        self.log = SendLog(data_dir / "outbox" / "deliveries.jsonl")
        self.contacts = OfficerContacts(data_dir / CONTACTS_FILE)

    def applicant(self, n: Notification) -> str:
        """Deliver one notification; its state in the send log, or why it is queued only."""
        if n.to is None:
            return "queued only: no recipient"  # post, no contact given, or interpreter < 5
        to = n.to
        if n.channel == "email":
            smtp = self.smtp
            if smtp is None:
                return "queued only: no SMTP server configured"

            def send_email() -> None:
                if not _EMAIL.fullmatch(to):
                    raise Refused("not an e-mail address")
                attached = self._documents(n.documents)
                mail.send(
                    smtp, mail.build(smtp, n.notification_id, (to,), n.subject, n.body, attached)
                )

            return self.log.deliver(n.notification_id, "smtp", send_email)
        if n.channel == "sms":

            def send_sms() -> None:
                if not _PHONE.fullmatch(to):
                    raise Refused("not a phone number")
                self.sms.send(to, sms.text(n.subject, n.body), n.notification_id)

            return self.log.deliver(n.notification_id, self.sms.name, send_sms)
        return f"queued only: channel {n.channel}"

    def officers(self, notice: OfficerNotice) -> str:
        """E-mail one notice to the addresses of its role; its state, or why it is not sent."""
        smtp = self.smtp
        if smtp is None:
            return "queued only: no SMTP server configured"
        to = self.contacts.addresses(notice.agency, notice.role)
        if not to:
            return "queued only: no address for the role"
        subject, body = _officer_text(notice)
        msg = mail.build(smtp, notice.notice_id, to, subject, body)
        return self.log.deliver(notice.notice_id, "smtp", lambda: mail.send(smtp, msg))

    def _documents(self, paths: tuple[str, ...]) -> tuple[Path, ...]:
        """The documents' HTML and signed PDF, only from under the data folder."""
        found: list[Path] = []
        for raw in paths:
            html = Path(raw).resolve()
            if not html.is_relative_to(self.data_dir):
                continue
            found.extend(p for p in (html, html.with_suffix(".pdf")) if p.is_file())
        return tuple(found)


_KIND_WORDS = {
    OfficerNoticeKind.REMINDER: "Nhắc việc",
    OfficerNoticeKind.OVERDUE: "Quá hạn",
    OfficerNoticeKind.ESCALATED: "Chuyển xử lý",
}


def _officer_text(notice: OfficerNotice) -> tuple[str, str]:
    """Subject and body of an officer's notice: codes and instants, nothing of the applicant."""
    due = notice.due.astimezone(_TZ).strftime("%H:%M %d/%m/%Y")
    subject = f"{_KIND_WORDS[notice.kind]}: hồ sơ {notice.dossier_code}, bước {notice.step}"
    lines = [f"Thủ tục {notice.procedure_code}; hạn xử lý {due}."]
    if notice.share is not None:
        lines.append(f"Đã dùng {notice.share:.0%} thời gian của bước.")
    if notice.escalated_from:
        lines.append(f"Hết thời hạn của {notice.escalated_from}; nay {notice.role} xử lý.")
    return subject, "\n".join(lines)
