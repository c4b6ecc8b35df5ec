"""Officers' updates are signed: the check behind every officer update's validator.

From interpreter behaviour `signed_officers` on, an officer's update carries the front door's
assertion (`identity.assertions`) and the `actor` it names must be the one the assertion was
signed for; the signature and expiry are checked against workflow time, with the keys the
worker trusts (`identity.trusted`). Who may act on which task is then `workflows.rules`'s
business, as before.
"""

from __future__ import annotations

from datetime import UTC, datetime

from identity import assertions, trusted
from workflows.api import Actor
from workflows.rules import Rejected


def check_officer(
    token: str | None,
    actor: Actor,
    *,
    dossier: str,
    step: str | None,
    now: datetime,
    delegation: bool = False,
) -> assertions.Claims:
    """The verified claims for `actor`, or `Rejected` with the precise reason. With
    `delegation` (behaviour `acting_for`), an assertion may say its officer acts for another
    during a period, which must hold at `now` (workflow time)."""
    if not token:
        raise Rejected(
            f"officer assertion refused ({assertions.Reason.UNSIGNED}): officers' updates carry "
            "a signed assertion (`motcua login`), none was given"
        )
    try:
        claims = assertions.verify(token, trusted.officer_keys(), now)
    except assertions.Refused as err:
        raise Rejected(str(err)) from None
    signed_for = Actor.signed(claims)
    if claims.acting_for is not None:
        if not delegation:
            raise Rejected("this dossier's interpreter does not accept acting for another officer")
        check_period(claims, now)
    if signed_for != actor:
        raise Rejected(f"the assertion is signed for {signed_for}, not for {actor}")
    if claims.dossier is not None and claims.dossier != dossier:
        raise Rejected(f"the assertion is for dossier {claims.dossier}, not this one")
    if claims.task is not None and claims.task != step:
        raise Rejected(f"the assertion is for task {claims.task!r}, not {step!r}")
    return claims


def check_period(claims: assertions.Claims, now: datetime) -> None:
    """The delegation an assertion states covers `now`; else `Rejected` saying when it ran."""
    assert claims.acting_from is not None and claims.acting_until is not None
    instant = int(now.timestamp())
    start, end = (
        datetime.fromtimestamp(t, tz=UTC) for t in (claims.acting_from, claims.acting_until)
    )
    if instant < claims.acting_from:
        raise Rejected(
            f"the delegation to act for {claims.acting_for} starts {start:%Y-%m-%d %H:%M} UTC"
        )
    if instant >= claims.acting_until:
        raise Rejected(
            f"the delegation to act for {claims.acting_for} ended {end:%Y-%m-%d %H:%M} UTC"
        )
