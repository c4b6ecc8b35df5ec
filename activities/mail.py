"""E-mail through SMTP (the standard library's `smtplib`): settings, the message, the send.

The Message-ID derives from the notification id, so a message sent again (see
`activities.sendlog`) is recognisably the same message to the receiving side.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Literal

from activities.sendlog import Refused

TlsMode = Literal["none", "starttls", "ssl"]

MAX_ATTACHMENTS = 10 * 1024 * 1024
"""Bytes of documents attached to one e-mail at most; a larger document is left out (the
applicant still gets it at the desk or the portal)."""

_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_SUBTYPES = {".html": ("text", "html"), ".pdf": ("application", "pdf")}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand e-mail over (`MOTCUA_SMTP_*` or `[smtp]` in delivery.toml)."""

    host: str
    port: int = 25
    sender: str = "motcua@localhost"
    tls: TlsMode = "none"
    user: str | None = None
    password: str | None = None
    timeout: float = 10.0
    """Seconds; below the activities' 15 s timeout, so an attempt ends before it is retried."""


def message_id(key: str, sender: str) -> str:
    """`<key@domain>` with the sender's domain: the same key always gives the same id."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{_ATEXT.sub('.', key)}@{_ATEXT.sub('.', domain)}>"


def build(
    settings: SmtpSettings,
    key: str,
    to: tuple[str, ...],
    subject: str,
    body: str,
    attachments: tuple[Path, ...] = (),
) -> EmailMessage:
    """The message: plain text body, documents attached while they fit `MAX_ATTACHMENTS`."""
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(key, settings.sender)
    msg.set_content(body)
    room = MAX_ATTACHMENTS
    for path in attachments:
        data = path.read_bytes()
        if len(data) > room:
            continue
        room -= len(data)
        maintype, subtype = _SUBTYPES.get(path.suffix, ("application", "octet-stream"))
        params = {"charset": "utf-8"} if maintype == "text" else {}
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype, filename=path.name, params=params
        )
    return msg


def send(settings: SmtpSettings, msg: EmailMessage) -> None:
    """Hand `msg` to the SMTP server; `Refused` if it refuses every recipient for good."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.tls == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        if settings.tls == "starttls":
            smtp.starttls(context=context)
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        try:
            smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as err:
            permanent = all(code >= 500 for code, _ in err.recipients.values())
            if permanent:
                raise Refused("every recipient refused") from None
            raise
