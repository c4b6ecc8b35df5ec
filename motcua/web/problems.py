"""Errors as RFC 9457 problem details (`application/problem+json`), in one line each.

The client's user errors map to HTTP statuses here, once, for the API and the pages alike;
nothing unexpected ever reaches a caller as a stack trace (the server logs it instead).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from motcua import client
from runtime.errors import UserError

PROBLEM = "application/problem+json"


class WebError(UserError):
    """A request the web app refuses itself: bad input, a missing proof, too many attempts."""

    def __init__(self, status: int, title: str, detail: str, vi: str = "") -> None:
        super().__init__(detail)
        self.status, self.title, self.vi = status, title, vi
        """`vi`: the same in Vietnamese, for the pages (the API answers in English)."""


def status_of(err: UserError) -> tuple[int, str]:
    """The HTTP status and title for a user error."""
    if isinstance(err, WebError):
        return err.status, err.title
    if isinstance(err, client.DossierNotFound):
        return 404, "Not Found"
    if isinstance(err, client.UpdateRejected):
        return 409, "Action rejected"
    if isinstance(err, client.InvalidRequest):
        return 422, "Invalid request"
    if isinstance(err, client.ServerUnreachable | client.NoWorker | client.NotReady):
        return 503, "Service unavailable"
    return 400, "Bad request"


def in_vietnamese(err: UserError) -> str:
    """The error for a page in Vietnamese, where it is known (validators speak English)."""
    if isinstance(err, WebError):
        return err.vi
    if isinstance(err, client.DossierNotFound):
        return f"Không có hồ sơ {err.code}"
    if isinstance(err, client.UpdateRejected):
        return f"Thao tác bị từ chối: {err.reason}"
    if isinstance(err, client.ServerUnreachable | client.NoWorker | client.NotReady):
        return "Hệ thống xử lý hồ sơ tạm thời không phản hồi; vui lòng thử lại sau"
    return ""


def problem(status: int, title: str, detail: str) -> JSONResponse:
    one_line = " ".join(detail.split())[:500]
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": one_line},
        status_code=status,
        media_type=PROBLEM,
    )
