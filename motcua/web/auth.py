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

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from motcua import login, officers
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


class ActiveDelegation(BaseModel):
    """A delegation the signed-in officer may use now: for whom, in which role, until when."""

    model_config = ConfigDict(frozen=True)
    acting_for: str
    name: str
    role: str
    until: date
    """The last day it covers (Vietnam's days), included."""


class OfficerDirectory(Protocol):
    def authenticate(
        self, user: str, password: str, acting_for: str | None = None
    ) -> Officer | None:
        """The officer when the password is theirs (and, with `acting_for`, a delegation to
        act for that colleague is active); None otherwise (never says which failed)."""
        ...

    def delegations(self, user: str) -> list[ActiveDelegation]:
        """The delegations to `user` active now; expired and future ones are left out."""
        ...

    def act_for(self, officer: Officer, acting_for: str | None) -> Officer | None:
        """The signed-in `officer` acting for `acting_for` (None: as themselves), re-signed no
        longer than their sign-in lasts; None when no such delegation is active now."""
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
        return _signed_in(session)

    def delegations(self, user: str) -> list[ActiveDelegation]:
        try:
            directory = officers.load(officers.path_in(self.data_dir))
        except UserError:
            return []
        return [
            ActiveDelegation(
                acting_for=d.from_user,
                name=directory.officers[d.from_user].name,
                role=d.role,
                until=d.end,
            )
            for d in officers.delegations_to(directory, user, datetime.now(UTC))
        ]

    def act_for(self, officer: Officer, acting_for: str | None) -> Officer | None:
        now = datetime.now(UTC)
        left = officer.expires_at - now
        if left <= timedelta(0):
            return None
        try:
            session = login.reissue(self.data_dir, officer.user, acting_for, lifetime=left, now=now)
        except UserError:
            return None
        return _signed_in(session)


def _signed_in(session: login.Session) -> Officer:
    claims = session.claims
    return Officer(
        user=claims.user,
        agency=claims.agency,
        role=claims.role,
        assertion=session.token,
        expires_at=claims.expires_at,
        acting_for=claims.acting_for,
    )
