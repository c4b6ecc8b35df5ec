"""SMS through a gateway: the interface, the embedded default, an HTTP gateway, a hook.

Which one a worker uses is `MOTCUA_SMS_GATEWAY` (or `gateway` under `[sms]` in
delivery.toml):

- `outbox` (the default): no network; each message is written once to `outbox/sms.jsonl`
  (0600) and counts as "sent via outbox gateway". A carrier connector can read that file.
- `https://…` (or `http://…`): `HttpGateway` POSTs `{"to", "text", "reference"}` as JSON, with
  `Authorization: Bearer $MOTCUA_SMS_TOKEN` when a token is set; any 2xx is accepted, a 4xx
  refuses the message for good, anything else is retried. `reference` is the notification id:
  a gateway that deduplicates by it never delivers a retried message twice.
- `package.module:function`: a function `(to, text, reference) -> None` of the deployment's
  own, for a carrier's SDK; it raises `activities.sendlog.Refused` for a bad number.
"""

from __future__ import annotations

import importlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from activities.jsonl import JsonlLog
from activities.sendlog import Refused

MAX_TEXT = 480
"""Characters of one SMS text at most (three concatenated Unicode parts, about)."""


class SmsGateway(Protocol):
    """Delivers one text message; raises `Refused` for good, anything else to retry."""

    name: str

    def send(self, to: str, text: str, reference: str) -> None: ...


class OutboxGateway:
    """The embedded default: writes each message once to a 0600 file."""

    name = "outbox gateway"

    def __init__(self, path: Path) -> None:
        self.log = JsonlLog(path, "reference")

    def send(self, to: str, text: str, reference: str) -> None:
        with self.log.locked() as append:
            if reference not in self.log.seen:
                at = datetime.now(UTC).isoformat()
                append({"reference": reference, "to": to, "text": text, "at": at, "via": self.name})


class HttpGateway:
    """An SMS provider's HTTP API taking one JSON POST per message."""

    name = "http gateway"

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, to: str, text: str, reference: str) -> None:
        body = json.dumps({"to": to, "text": text, "reference": reference}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):
                return
        except urllib.error.HTTPError as err:
            if 400 <= err.code < 500 and err.code not in (408, 429):
                raise Refused(f"gateway answered {err.code}") from None
            raise


class HookGateway:
    """A deployment's own function, named `module:function`."""

    name = "hook gateway"

    def __init__(self, function: Callable[[str, str, str], None]) -> None:
        self.function = function

    def send(self, to: str, text: str, reference: str) -> None:
        self.function(to, text, reference)


def gateway(spec: str, token: str | None, outbox_dir: Path) -> SmsGateway:
    """The gateway `spec` names (see the module's docstring); ValueError if it names none."""
    if spec == "outbox":
        return OutboxGateway(outbox_dir / "sms.jsonl")
    if spec.startswith(("https://", "http://")):
        return HttpGateway(spec, token)
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(
            f"SMS gateway {spec!r}: expected outbox, an http(s) URL or module:function"
        )
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"SMS gateway {spec!r}: {err}") from None
    if not callable(function):
        raise ValueError(f"SMS gateway {spec!r}: not a function")
    return HookGateway(function)


def text(subject: str, body: str) -> str:
    """One SMS: the subject, then the body, cut to `MAX_TEXT`."""
    whole = f"{subject}. {body}" if body else subject
    return whole if len(whole) <= MAX_TEXT else whole[: MAX_TEXT - 1] + "…"
