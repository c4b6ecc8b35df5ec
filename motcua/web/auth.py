"""Officers' sign-in: the directory interface the web app asks, and a local directory.

The web app only needs `OfficerDirectory.authenticate`: who the officer is (user, agency,
role), or None. `LocalDirectory` reads a JSON file of officers with scrypt password hashes
(0600 under the data folder); `motcua dev` writes one with a demo officer for every role of
every agency in the catalogue. A deployment plugs in its own directory (the signed officer
assertions of the identity package, OpenID Connect...) through `create_app(directory=...)`.
Signing in grants nothing by itself: the workflow's validators check the officer's agency and
role against every task.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from procedures.models import FrozenProcedure
from runtime.errors import UserError
from workflows.api import Actor

DEMO_PASSWORD = "motcua-demo"
"""Every demo officer's password: `motcua dev` prints it; never use the demo file in production."""
MAX_CREDENTIAL = 256
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class Officer(BaseModel):
    """A signed-in officer: the agency (national code) and the role they act in."""

    model_config = ConfigDict(frozen=True)
    user: str
    agency: str
    role: str
    name: str = ""

    def actor(self) -> Actor:
        """The actor updates carry; a login `name@AGENCY` is written `name@AGENCY/ROLE` once."""
        user = self.user.removesuffix(f"@{self.agency}") or self.user
        return Actor(user=user, agency=self.agency, role=self.role)


class OfficerDirectory(Protocol):
    def authenticate(self, user: str, password: str) -> Officer | None:
        """The officer when the password is theirs; None otherwise (never says which failed)."""
        ...


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        given = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), **_SCRYPT)
        return hmac.compare_digest(given, base64.b64decode(digest))
    except ValueError:
        return False


class _Entry(BaseModel):
    agency: str
    role: str
    name: str = ""
    password: str


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
"""Checked against for unknown users, so a wrong user name takes as long as a wrong password."""


class LocalDirectory:
    """Officers from a JSON file `{"user": {"agency", "role", "name", "password"}}`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _entries(self) -> dict[str, _Entry]:
        try:
            raw = json.loads(self.path.read_text())
            return {user: _Entry.model_validate(entry) for user, entry in raw.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, ValidationError, AttributeError) as err:
            raise UserError(f"{self.path}: not an officer directory ({err})") from None

    def authenticate(self, user: str, password: str) -> Officer | None:
        if len(user) > MAX_CREDENTIAL or len(password) > MAX_CREDENTIAL:
            return None
        entry = self._entries().get(user)
        if entry is None:
            check_password(password, _DUMMY_HASH)
            return None
        if not check_password(password, entry.password):
            return None
        return Officer(user=user, agency=entry.agency, role=entry.role, name=entry.name)


def demo_officers(catalog: Iterable[FrozenProcedure]) -> dict[str, tuple[str, str, str]]:
    """One demo officer per role of every agency: `role@AGENCY` -> (agency, role, agency name)."""
    found: dict[str, tuple[str, str, str]] = {}
    for frozen in catalog:
        for agency in frozen.procedure.agencies.values():
            for role in agency.roles:
                found.setdefault(f"{role}@{agency.code}", (agency.code, role, agency.name))
    return dict(sorted(found.items()))


def write_demo_directory(path: Path, catalog: Iterable[FrozenProcedure]) -> dict[str, str]:
    """Write (or complete) the demo directory; returns user -> agency name for printing."""
    existing = json.loads(path.read_text()) if path.exists() else {}
    shown = {}
    demo_hash = hash_password(DEMO_PASSWORD)  # one scrypt for all: the password is public anyway
    for user, (agency, role, agency_name) in demo_officers(catalog).items():
        shown[user] = agency_name
        if user not in existing:
            existing[user] = {
                "agency": agency,
                "role": role,
                "name": f"{role} · {agency_name}",
                "password": demo_hash,
            }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(existing, fh, ensure_ascii=False, indent=1)
    return shown
