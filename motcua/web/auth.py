"""Officers' sign-in: the directory interface the web app asks, and the local directory.

The web app only needs `OfficerDirectory.authenticate`: who the officer is (user, agency,
role) with the signed assertion their actions carry, or None. `IdentityDirectory` checks the
password against the officer directory of the data folder (`motcua.officers`: argon2id
hashes, `motcua officers add`, demo officers made by `motcua dev`) and signs the assertion
with the data folder's officers key (`motcua.login`), as `motcua login` does for the CLI. A
deployment plugs in its own directory (OpenID Connect, `identity.oidc`) through
`create_app(directory=...)`. Signing in grants nothing by itself: the workflow's validators
verify the assertion and check the officer's agency and role against every task.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from motcua import login
from runtime.errors import UserError
from workflows.api import Actor

MAX_CREDENTIAL = 256


class Officer(BaseModel):
    """A signed-in officer: the agency (national code) and the role they act in, and the
    front door's signed assertion for them, which every action of theirs carries."""

    model_config = ConfigDict(frozen=True)
    user: str
    agency: str
    role: str
    name: str = ""
    assertion: str
    expires_at: datetime
    acting_for: str | None = None
    """The colleague this officer acts for under a delegation the assertion states."""

    def actor(self) -> Actor:
        """The actor updates carry: exactly who the assertion was signed for."""
        return Actor(user=self.user, agency=self.agency, role=self.role, acting_for=self.acting_for)


class OfficerDirectory(Protocol):
    def authenticate(
        self, user: str, password: str, acting_for: str | None = None
    ) -> Officer | None:
        """The officer when the password is theirs (and, with `acting_for`, a delegation to
        act for that colleague is active); None otherwise (never says which failed)."""
        ...


class IdentityDirectory:
    """The data folder's officer directory; assertions signed with its officers key."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def authenticate(
        self, user: str, password: str, acting_for: str | None = None
    ) -> Officer | None:
        if len(user) > MAX_CREDENTIAL or len(password) > MAX_CREDENTIAL:
            return None
        try:
            session = login.login(self.data_dir, user, password, acting_for=acting_for)
        except UserError:
            return None
        claims = session.claims
        return Officer(
            user=claims.user,
            agency=claims.agency,
            role=claims.role,
            assertion=session.token,
            expires_at=claims.expires_at,
            acting_for=claims.acting_for,
        )
