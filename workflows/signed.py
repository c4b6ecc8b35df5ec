"""Officers' updates are signed: the check behind every officer update's validator.

From interpreter behaviour `signed_officers` on, an officer's update carries the front door's
assertion (`identity.assertions`) and the `actor` it names must be the one the assertion was
signed for; the signature and expiry are checked against workflow time, with the keys the
worker trusts (`identity.trusted`). Who may act on which task is then `workflows.rules`'s
business, as before.
"""

from __future__ import annotations

from datetime import datetime

from identity import assertions, trusted
from workflows.api import Actor
from workflows.rules import Rejected


def check_officer(
    token: str | None, actor: Actor, *, dossier: str, step: str | None, now: datetime
) -> assertions.Claims:
    """The verified claims for `actor`, or `Rejected` with the precise reason."""
    if not token:
        raise Rejected(
            f"officer assertion refused ({assertions.Reason.UNSIGNED}): officers' updates carry "
            "a signed assertion (`motcua login`), none was given"
        )
    try:
        claims = assertions.verify(token, trusted.officer_keys(), now)
    except assertions.Refused as err:
        raise Rejected(str(err)) from None
    signed_for = Actor(user=claims.user, agency=claims.agency, role=claims.role)
    if signed_for != actor:
        raise Rejected(f"the assertion is signed for {signed_for}, not for {actor}")
    if claims.dossier is not None and claims.dossier != dossier:
        raise Rejected(f"the assertion is for dossier {claims.dossier}, not this one")
    if claims.task is not None and claims.task != step:
        raise Rejected(f"the assertion is for task {claims.task!r}, not {step!r}")
    return claims
