"""Located problems in procedure files: what an author sees, as `file:line:col: message`.

Every mistake an author can make in a procedure file ends as a `Problem` pointing at the YAML
node at fault, so that editors and the command line can jump to it; a file's problems travel
together in one `ProcedureError`, so the author fixes them all in one round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake, at a 1-based line and column of a file, with an optional hint."""

    file: str
    line: int
    column: int
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: {self.message}"
        return f"{where} (hint: {self.hint})" if self.hint else where


class ProcedureError(Exception):
    """All the problems found in one or more procedure files, sorted by file and position."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(dict.fromkeys(problems)))
        super().__init__("\n".join(str(problem) for problem in self.problems))
