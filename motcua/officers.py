"""The officer directory of the embedded default: who may log in, for which agency and roles.

A YAML file (0600, under `<data>/identity/`) of officers with an argon2id hash of their
password (argon2-cffi, memory-hard: a stolen file is slow to guess from). Deployments with
their own directory plug in single sign-on instead (`identity.oidc`); either way the front
door ends by issuing a signed assertion (`motcua.login`).

    officers:
      lan:
        name: Nguyễn Thị Lan
        agency: 000.00.19.H26
        roles: [one_stop]
        password: $argon2id$v=19$m=65536,t=3,p=4$...
    delegations:
      - {from: lan, to: hoa, role: one_stop, start: 2026-12-01, end: 2026-12-15}

A delegation lets `to` act for `from` in `role`, from the start of `start` to the end of
`end` (Vietnam's days): `motcua login --acting-for` then signs a bounded assertion.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from procedures.models import FrozenProcedure
from runtime.errors import UserError
from workflows.forms import VIETNAM

FILE_NAME = "officers.yaml"
MAX_DIRECTORY_BYTES = 4 * 1024 * 1024
MAX_PASSWORD_LENGTH = 1024
"""Characters; longer input is refused before it reaches the KDF (no hashing floods)."""
MIN_PASSWORD_LENGTH = 8
USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""Officer logins: letters, digits, `.`, `_`, `-`; no `@`, `/` or control characters."""
DEMO_PASSWORD_FILE = "demo-password"
MAX_DELEGATIONS = 10_000
MAX_DELEGATION_DAYS = 366
"""A delegation covers a leave, not a career: longer ones are refused."""

_hasher = PasswordHasher()


class Officer(BaseModel):
    """One officer: the agency they work for and the roles they may act in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    agency: str = Field(pattern=r"^[0-9A-Za-z.]{1,32}$")
    roles: tuple[str, ...] = Field(min_length=1)
    password: str = Field(max_length=256, description="argon2id hash (PHC string).")


class Delegation(BaseModel):
    """`to` may act for `from` (an officer on leave) in `role`, over whole days, both included."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_user: str = Field(alias="from", pattern=USER_PATTERN)
    to_user: str = Field(alias="to", pattern=USER_PATTERN)
    role: str = Field(min_length=1, max_length=64)
    start: date
    end: date

    def period(self) -> tuple[datetime, datetime]:
        """The instants it covers: from midnight of `start` to midnight after `end`, in
        Vietnam's time, whatever the server's zone."""
        return (
            datetime.combine(self.start, time(), VIETNAM),
            datetime.combine(self.end + timedelta(days=1), time(), VIETNAM),
        )

    def active(self, now: datetime) -> bool:
        start, end = self.period()
        return start <= now < end


class Directory(BaseModel):
    """Officers by login, and the delegations between them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    officers: dict[str, Officer] = {}
    delegations: tuple[Delegation, ...] = Field((), max_length=MAX_DELEGATIONS)


def path_in(data: Path) -> Path:
    return data / "identity" / FILE_NAME


def load(path: Path) -> Directory:
    """The directory in `path` (empty when the file does not exist yet)."""
    if not path.exists():
        return Directory()
    try:
        if path.stat().st_size > MAX_DIRECTORY_BYTES:
            raise UserError(f"{path}: larger than {MAX_DIRECTORY_BYTES} bytes")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Directory.model_validate(data)
    except OSError as err:
        raise UserError(f"{path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise UserError(f"{where}: not YAML") from None
    except ValidationError as err:
        problem = err.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise UserError(f"{path}: {field}: {problem['msg']}") from None


def save(path: Path, directory: Directory) -> None:
    """Write the directory 0600 (it holds password hashes), in a 0700 folder, atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    dumped = directory.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    text = yaml.safe_dump({"officers": {}, **dumped}, allow_unicode=True, sort_keys=True, width=200)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)
    os.replace(temporary, path)


def check_password(password: str) -> str:
    """A new password, refused (one line) when too short or too long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise UserError(
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            exit_code=2,
        )
    return password


def with_officer(
    directory: Directory,
    user: str,
    *,
    name: str,
    agency: str,
    roles: Iterable[str],
    password_hash: str,
) -> Directory:
    """The directory with `user` added (or replaced)."""
    if not re.fullmatch(USER_PATTERN, user):
        raise UserError(f"login {user[:64]!r}: letters, digits, . _ - only (64 at most)", 2)
    try:
        officer = Officer(name=name, agency=agency, roles=tuple(roles), password=password_hash)
    except ValidationError as err:
        problem = err.errors()[0]
        raise UserError(f"officer {user}: {problem['loc'][0]}: {problem['msg']}", 2) from None
    return Directory(officers={**directory.officers, user: officer})


def with_delegation(
    directory: Directory, from_user: str, to_user: str, role: str, start: date, end: date
) -> Directory:
    """The directory with `to_user` allowed to act for `from_user` in `role` from `start` to
    `end` (replacing an earlier delegation between them): both officers of one agency, the
    role one of the absent officer's, a bounded period."""
    absent, delegate = (_officer(directory, user) for user in (from_user, to_user))
    if from_user == to_user:
        raise UserError(f"{from_user} cannot act for themselves", 2)
    if absent.agency != delegate.agency:
        raise UserError(
            f"{to_user} works for {delegate.agency}, {from_user} for {absent.agency}: a "
            "delegation stays within one agency",
            2,
        )
    if role not in absent.roles:
        raise UserError(f"{from_user} acts as {', '.join(absent.roles)}, not {role}", 2)
    if not timedelta(0) <= end - start < timedelta(days=MAX_DELEGATION_DAYS):
        raise UserError(
            f"a delegation runs from its start to its end, {MAX_DELEGATION_DAYS} days at most", 2
        )
    kept = tuple(
        d for d in directory.delegations if (d.from_user, d.to_user) != (from_user, to_user)
    )
    added = Delegation(from_user=from_user, to_user=to_user, role=role, start=start, end=end)
    return directory.model_copy(update={"delegations": (*kept, added)})


def without_delegation(directory: Directory, from_user: str, to_user: str) -> Directory:
    """The directory with the delegation from `from_user` to `to_user` revoked."""
    kept = tuple(
        d for d in directory.delegations if (d.from_user, d.to_user) != (from_user, to_user)
    )
    if len(kept) == len(directory.delegations):
        raise UserError(f"{to_user} has no delegation to act for {from_user}", 2)
    return directory.model_copy(update={"delegations": kept})


def active_delegation(
    directory: Directory, from_user: str, to_user: str, now: datetime
) -> Delegation:
    """The delegation letting `to_user` act for `from_user` at `now`, else a one-line error."""
    for delegation in directory.delegations:
        if (delegation.from_user, delegation.to_user) == (from_user, to_user):
            if delegation.active(now):
                return delegation
            raise UserError(
                f"the delegation to act for {from_user} runs {delegation.start} to "
                f"{delegation.end}: not today"
            )
    raise UserError(f"{to_user} has no delegation to act for {from_user}")


def delegations_to(directory: Directory, to_user: str, now: datetime) -> list[Delegation]:
    """The delegations `to_user` may use at `now` (the web login offers them): active, and
    still fitting the directory (the absent officer in the same agency, with that role)."""
    delegate = directory.officers.get(to_user)
    found = []
    for d in directory.delegations:
        absent = directory.officers.get(d.from_user)
        if (
            d.to_user == to_user
            and d.active(now)
            and delegate is not None
            and absent is not None
            and absent.agency == delegate.agency
            and d.role in absent.roles
        ):
            found.append(d)
    return found


def _officer(directory: Directory, user: str) -> Officer:
    officer = directory.officers.get(user)
    if officer is None:
        raise UserError(f"no officer {user[:64]!r} in the directory", 2)
    return officer


def hash_password(password: str) -> str:
    """The argon2id hash of a checked password."""
    return _hasher.hash(check_password(password))


_DUMMY_HASH = _hasher.hash("not a password of anyone")


def authenticate(directory: Directory, user: str, password: str) -> Officer:
    """The officer, if the password is theirs; one message for unknown users and wrong
    passwords, and a hash computed either way, so a caller learns nothing about who exists."""
    refused = UserError("unknown user or wrong password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise refused
    officer = directory.officers.get(user)
    try:
        _hasher.verify(officer.password if officer else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise refused from None
    if officer is None:
        raise refused
    return officer


def demo_logins(catalog: Mapping[str, FrozenProcedure]) -> dict[str, tuple[str, str, str]]:
    """One demo officer per agency code and role the catalogue uses (sub-procedures too):
    login `ROLE.AGENCY_CODE` -> (agency code, role, agency name)."""
    found: dict[str, tuple[str, str, str]] = {}

    def visit(procedures: Iterable[FrozenProcedure]) -> None:
        for frozen in procedures:
            for agency in frozen.procedure.agencies.values():
                for role in agency.roles:
                    found[f"{role}.{agency.code}"] = (agency.code, role, agency.name)
            visit(frozen.subprocedures.values())

    visit(catalog.values())
    return dict(sorted(found.items()))


def ensure_demo_officers(data: Path, catalog: Mapping[str, FrozenProcedure]) -> tuple[str, str]:
    """Add the catalogue's demo officers missing from the directory of `data`, all with one
    random password kept (0600) in `<data>/identity/demo-password`; returns (password, file).
    """
    folder = data / "identity"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    password_file = folder / DEMO_PASSWORD_FILE
    if password_file.exists():
        password = password_file.read_text(encoding="utf-8").strip()
    else:
        password = secrets.token_urlsafe(12)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(password + "\n")
    path = path_in(data)
    directory = load(path)
    missing = {
        user: spec for user, spec in demo_logins(catalog).items() if user not in directory.officers
    }
    if missing:
        shared = hash_password(password)  # one hash (salted once) for every demo officer
        for user, (agency, role, agency_name) in missing.items():
            directory = with_officer(
                directory,
                user,
                name=f"Demo {role} ({agency_name})"[:200],
                agency=agency,
                roles=(role,),
                password_hash=shared,
            )
        save(path, directory)
    return password, str(password_file)


def demo_report(data: Path, catalog: Mapping[str, FrozenProcedure]) -> str:
    """Create the demo officers and say how to log in as one (for `motcua dev` too)."""
    password, where = ensure_demo_officers(data, catalog)
    users = list(demo_logins(catalog))
    example = next((user for user in users if user.startswith("one_stop.")), users[0])
    return (
        f"Demo officers ({len(users)}, login ROLE.AGENCY_CODE, password {password!r}, kept in "
        f"{where}):\n  " + "\n  ".join(users) + f"\nLog in: motcua login --user {example}"
    )
