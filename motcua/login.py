"""The embedded identity service: a password checked, a signed assertion cached for the CLI.

`motcua login` checks the officer's password against the directory (`motcua.officers`) and
signs an assertion (`identity.assertions`) with the officers' signing key under
`<data>/identity/` (created on first use, with the public keyset workers are configured
with). The token is cached, 0600, in the user's config folder; officers' commands send it
with every update, and the workflow verifies it. Nothing here is trusted by the workflow
except the signature.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from identity import assertions, layout
from identity.keys import KeyFileError, Signer
from motcua import officers
from runtime.errors import UserError

TOKEN_ENV = "MOTCUA_TOKEN_FILE"


def signer(data: Path) -> Signer:
    """The officers' signer of a data folder (the embedded front door)."""
    return layout.officers_signer(data)


def keyset_path(data: Path) -> Path:
    """The public keyset a worker of the embedded default verifies assertions with."""
    return signer(data).keyset_path


def token_path() -> Path:
    """Where the CLI caches the token: `$MOTCUA_TOKEN_FILE`, else the user's config folder."""
    explicit = os.environ.get(TOKEN_ENV)
    if explicit:
        return Path(explicit)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "motcua" / "token"


@dataclass(frozen=True)
class Session:
    """A signed assertion and what it says."""

    token: str
    claims: assertions.Claims


def login(
    data: Path,
    user: str,
    password: str,
    *,
    role: str | None = None,
    lifetime: timedelta = assertions.DEFAULT_LIFETIME,
    now: datetime | None = None,
    acting_for: str | None = None,
) -> Session:
    """Check the password and sign an assertion for one of the officer's roles, or, with
    `acting_for`, for acting for that officer under a delegation active now."""
    directory = officers.load(officers.path_in(data))
    officer = officers.authenticate(directory, user, password)
    if acting_for is not None:
        return _acting(data, directory, user, acting_for, role, lifetime, now)
    chosen = role or officer.roles[0]
    if chosen not in officer.roles:
        raise UserError(f"{user} may act as {', '.join(officer.roles)}, not {chosen}", 2)
    return sign(data, user, officer.agency, chosen, lifetime=lifetime, now=now)


def reissue(
    data: Path,
    user: str,
    acting_for: str | None,
    *,
    lifetime: timedelta,
    now: datetime | None = None,
) -> Session:
    """A new assertion for an officer whose password a session already checked (the web app's
    choice after sign-in): as themselves (their first role), or acting for a colleague under a
    delegation active now. `lifetime` is what is left of that session: nothing is extended."""
    directory = officers.load(officers.path_in(data))
    officer = directory.officers.get(user)
    if officer is None:
        raise UserError(f"no officer {user[:64]!r} in the directory", 2)
    if acting_for is not None:
        return _acting(data, directory, user, acting_for, None, lifetime, now)
    return sign(data, user, officer.agency, officer.roles[0], lifetime=lifetime, now=now)


def _acting(
    data: Path,
    directory: officers.Directory,
    user: str,
    acting_for: str,
    role: str | None,
    lifetime: timedelta,
    now: datetime | None,
) -> Session:
    """An assertion for `user` acting for `acting_for` under today's delegation: in its role,
    stating its period, and living no longer than it."""
    at = now or datetime.now(UTC)
    granted = officers.active_delegation(directory, acting_for, user, at)
    if role is not None and role != granted.role:
        raise UserError(f"the delegation to act for {acting_for} is as {granted.role}", 2)
    absent, delegate = directory.officers.get(acting_for), directory.officers[user]
    if absent is None or absent.agency != delegate.agency or granted.role not in absent.roles:
        raise UserError(f"the delegation to act for {acting_for} no longer fits the directory")
    start, end = granted.period()
    return sign(
        data,
        user,
        delegate.agency,
        granted.role,
        lifetime=min(lifetime, end - at),
        now=at,
        delegation=assertions.Delegation(acting_for=acting_for, start=start, end=end),
    )


def sign(
    data: Path,
    user: str,
    agency: str,
    role: str,
    *,
    lifetime: timedelta = assertions.DEFAULT_LIFETIME,
    now: datetime | None = None,
    dossier: str | None = None,
    task: str | None = None,
    delegation: assertions.Delegation | None = None,
) -> Session:
    """An assertion signed with the data folder's officers key, without a password: for the
    login above, and for the dry run's and tests' played officers (`--as`)."""
    try:
        key = signer(data).key()
    except KeyFileError as err:
        raise UserError(str(err)) from None
    token = assertions.issue(
        key.private,
        key.kid,
        user=user,
        agency=agency,
        role=role,
        now=now or datetime.now(UTC),
        lifetime=lifetime,
        dossier=dossier,
        task=task,
        delegation=delegation,
    )
    return Session(token, assertions.verify(token, {key.kid: key.public}, now or datetime.now(UTC)))


def cache(session: Session, path: Path | None = None) -> Path:
    """Keep the token for later commands, 0600 in a 0700 folder."""
    target = path or token_path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(session.token + "\n")
    os.replace(temporary, target)
    return target


def cached(path: Path | None = None, now: datetime | None = None) -> Session:
    """The cached token, with its claims as it states them (the workflow verifies them); a
    missing or expired one is a one-line error telling the officer to log in."""
    source = path or token_path()
    try:
        token = source.read_text()[: assertions.MAX_TOKEN_LENGTH + 1].strip()
    except FileNotFoundError:
        raise UserError("not logged in: run `motcua login --user USER` first") from None
    except OSError as err:
        raise UserError(f"{source}: {err.strerror}") from None
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
        claims = assertions.Claims.model_validate(payload)
    except (jwt.PyJWTError, ValueError):
        raise UserError(f"{source}: not a motcua token; run `motcua login` again") from None
    if (now or datetime.now(UTC)).timestamp() >= claims.exp:
        raise UserError(
            f"your login as {claims.user} expired at {claims.expires_at:%Y-%m-%d %H:%M} UTC: "
            "run `motcua login` again"
        )
    return Session(token, claims)
