"""Who may read the operators' endpoints (`/metrics`): explicit, never anyone who reaches the
app. With a metrics token set (`MOTCUA_METRICS_TOKEN`, `motcua web --metrics-token-file`)
a scrape must send it as a bearer token; without one only a client on this machine may read,
and a request that came through a proxy (any forwarding header) is not on this machine, even
when the proxy itself connects from loopback."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request
from starlette.exceptions import HTTPException

FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def check_metrics_reader(token: str, request: Request) -> None:
    """Let the request read `/metrics`, or refuse it (401 without the token, 403 not local)."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return
        raise HTTPException(
            401, "send the metrics token as a bearer token", {"WWW-Authenticate": "Bearer"}
        )
    if not is_local(request):
        raise HTTPException(
            403, "/metrics answers this machine only; set MOTCUA_METRICS_TOKEN to scrape it"
        )


def is_local(request: Request) -> bool:
    """Whether the request comes from this machine, not through a proxy."""
    if any(request.headers.get(name) for name in FORWARDING_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
