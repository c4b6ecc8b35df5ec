"""The plug-in point for single sign-on: OpenID Connect claims -> the officer to sign for.

A deployment whose officers log in through its own identity provider verifies the ID token
there (authlib's `jwt.decode` with the provider's JWKS, for example) and hands the verified
claims to a `ClaimsMapping`. The mapping says which user, agency and role the front door
then signs a motcua assertion for (`identity.assertions.issue`); the workflow never sees the
provider's token, only motcua's assertion.

`map_claims` is the default mapping: the login from `preferred_username`, the agency code from
a `motcua_agency` claim and the roles from `motcua_roles` (a list, or a space-separated
string), claim names a provider's mapper can be configured to emit. A deployment with other
names passes its own, or writes its own function of the same type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    """Who the front door will sign an assertion for."""

    user: str
    agency: str
    role: str


class MappingRefused(Exception):
    """The provider's claims do not name an officer motcua can sign for (one line)."""


ClaimsMapping = Callable[[Mapping[str, Any], str | None], Principal]
"""(verified ID-token claims, the role asked for or None) -> the principal to sign for."""


def map_claims(
    claims: Mapping[str, Any],
    role: str | None = None,
    *,
    user_claim: str = "preferred_username",
    agency_claim: str = "motcua_agency",
    roles_claim: str = "motcua_roles",
) -> Principal:
    """The default `ClaimsMapping`: the role asked for must be one the provider grants; with
    none asked, the only one granted (several -> the caller must choose)."""
    user = claims.get(user_claim)
    agency = claims.get(agency_claim)
    if not isinstance(user, str) or not user:
        raise MappingRefused(f"the ID token has no {user_claim!r} claim")
    if not isinstance(agency, str) or not agency:
        raise MappingRefused(f"{user}: the ID token has no {agency_claim!r} claim")
    raw = claims.get(roles_claim, ())
    granted = tuple(raw.split()) if isinstance(raw, str) else tuple(raw)
    if not granted or not all(isinstance(item, str) and item for item in granted):
        raise MappingRefused(f"{user}: the ID token grants no role ({roles_claim!r})")
    if role is None:
        if len(granted) > 1:
            raise MappingRefused(f"{user}: choose a role among {', '.join(granted)}")
        role = granted[0]
    elif role not in granted:
        raise MappingRefused(f"{user} may act as {', '.join(granted)}, not {role}")
    return Principal(user=user, agency=agency, role=role)
