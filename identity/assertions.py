"""Officer assertions: short-lived JWS (compact, EdDSA over Ed25519) saying who acts.

The front door signs one after checking a password (or a single sign-on); the dossier
workflow's update validators verify it with public keys only, so whoever reaches Temporal
without a key the front door holds cannot act as an officer. `verify` takes the instant to
check against as an argument (workflow time in a validator), never the machine's clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ALGORITHM = "EdDSA"
"""The only signature algorithm accepted: Ed25519 (RFC 8037)."""
MAX_TOKEN_LENGTH = 2048
"""Characters; a real assertion is about 400. Longer input is refused before it is parsed."""
MAX_LIFETIME = timedelta(hours=12)
"""The longest an assertion may live (`issue` refuses more): a working day and some."""
DEFAULT_LIFETIME = timedelta(hours=8)
"""What `motcua login` issues: one working day."""
CLOCK_SKEW = timedelta(seconds=60)
"""Tolerated difference between the issuer's clock and the verifier's for `iat`."""

Keyset = Mapping[str, Ed25519PublicKey]
"""Public keys by key id (`kid`): several at once while keys are rotated."""


class Claims(BaseModel):
    """What an assertion says: this officer of this agency, in this role, until `exp`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(min_length=1, max_length=64)
    agency: str = Field(min_length=1, max_length=32)
    role: str = Field(min_length=1, max_length=64)
    iat: int = Field(ge=0, description="Issued at, seconds since the epoch.")
    exp: int = Field(ge=0, description="Expires at, seconds since the epoch.")
    dossier: str | None = Field(None, max_length=64, description="Only for this dossier.")
    task: str | None = Field(None, max_length=64, description="Only for this step's task.")
    acting_for: str | None = Field(
        None, min_length=1, max_length=64, description="The officer `user` acts for (delegation)."
    )
    acting_from: int | None = Field(None, ge=0, description="The delegation's start, seconds.")
    acting_until: int | None = Field(None, ge=0, description="The delegation's end, seconds.")

    @model_validator(mode="after")
    def _bounded_delegation(self) -> Claims:
        """Acting for someone is always for a bounded period, stated in the assertion."""
        period = (self.acting_from, self.acting_until)
        if self.acting_for is None and period != (None, None):
            raise ValueError("a delegation period without `acting_for`")
        if self.acting_for is not None:
            if None in period:
                raise ValueError("`acting_for` without its period (acting_from, acting_until)")
            if self.acting_for == self.user:
                raise ValueError("an officer does not act for themselves")
        return self

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, tz=UTC)


@dataclass(frozen=True)
class Delegation:
    """Who an assertion's officer acts for, and the period the delegation covers."""

    acting_for: str
    start: datetime
    end: datetime


class Reason(StrEnum):
    """Why an assertion was refused: each names a different attack or mistake."""

    TOO_LONG = "too_long"
    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    WRONG_ALGORITHM = "wrong_algorithm"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


class Refused(Exception):
    """An assertion that proves nothing, with the reason (for the log) and a detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"officer assertion refused ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


def issue(
    key: Ed25519PrivateKey,
    kid: str,
    *,
    user: str,
    agency: str,
    role: str,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
    dossier: str | None = None,
    task: str | None = None,
    delegation: Delegation | None = None,
) -> str:
    """Sign an assertion valid from `now` for `lifetime` (at most `MAX_LIFETIME`); with a
    `delegation`, `user` acts for its officer during its period (the verifier checks it)."""
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError(f"an assertion lives between 0 and {MAX_LIFETIME}, not {lifetime}")
    issued = int(now.timestamp())
    claims = Claims(
        user=user,
        agency=agency,
        role=role,
        iat=issued,
        exp=issued + int(lifetime.total_seconds()),
        dossier=dossier,
        task=task,
        acting_for=delegation.acting_for if delegation else None,
        acting_from=int(delegation.start.timestamp()) if delegation else None,
        acting_until=int(delegation.end.timestamp()) if delegation else None,
    )
    payload = claims.model_dump(exclude_none=True)
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": kid})


def verify(token: str, keys: Keyset, now: datetime) -> Claims:
    """The claims of `token` if one of `keys` signed it and it is valid at `now`; else
    `Refused` with the precise reason. Checks run cheapest first, the signature before any
    claim is believed."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise Refused(Reason.TOO_LONG, f"{len(token)} characters, at most {MAX_TOKEN_LENGTH}")
    parts = token.split(".")
    if len(parts) != 3:
        raise Refused(Reason.MALFORMED, "not a compact JWS (three dot-separated parts)")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as err:
        raise Refused(Reason.MALFORMED, f"header: {err}") from None
    algorithm = header.get("alg")
    if algorithm in (None, "none") or not parts[2]:
        raise Refused(Reason.UNSIGNED, "the token carries no signature")
    if algorithm != ALGORITHM:
        raise Refused(Reason.WRONG_ALGORITHM, f"alg {str(algorithm)[:20]!r}, expected EdDSA")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise Refused(Reason.UNKNOWN_KID, f"key id {str(kid)[:64]!r} is not a configured key")
    try:
        signed = jwt.PyJWS().decode_complete(token, keys[kid], algorithms=[ALGORITHM])
    except jwt.InvalidSignatureError:
        raise Refused(Reason.BAD_SIGNATURE, f"signature does not verify with key {kid}") from None
    except jwt.PyJWTError as err:
        raise Refused(Reason.MALFORMED, str(err)) from None
    try:
        claims = Claims.model_validate(json.loads(signed["payload"]))
    except (ValueError, ValidationError) as err:
        first = str(err).splitlines()[0]
        raise Refused(Reason.MALFORMED, f"claims: {first}") from None
    instant = now.timestamp()
    if claims.iat > instant + CLOCK_SKEW.total_seconds():
        raise Refused(Reason.NOT_YET_VALID, f"issued {claims.iat - int(instant)} s in the future")
    if instant >= claims.exp:
        raise Refused(Reason.EXPIRED, f"expired {int(instant) - claims.exp} s ago")
    return claims
