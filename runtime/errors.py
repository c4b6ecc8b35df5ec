"""Errors a user can act on; entry points print them in one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A user's mistake or an unreachable dependency, with the exit status to end with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
