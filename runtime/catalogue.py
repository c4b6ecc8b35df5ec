"""The catalogue as the worker sees it: loaded with a one-line error, and its task queues."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from procedures.errors import ProcedureError
from procedures.loader import load_catalog
from procedures.models import FrozenProcedure
from runtime.errors import UserError


def load_catalogue(folder: Path) -> dict[str, FrozenProcedure]:
    """The catalogue, or a one-line `UserError` naming its first problem."""
    try:
        return load_catalog(folder)
    except ProcedureError as err:
        first = str(err).splitlines()[0] if str(err) else "unknown problem"
        more = len(err.problems) - 1
        extra = f" (and {more} more; run `motcua validate`)" if more > 0 else ""
        raise UserError(f"broken catalogue {folder}: {first}{extra}") from None


def catalogue_task_queues(catalog: Mapping[str, FrozenProcedure]) -> list[str]:
    """Every task queue the catalogue's agencies (sub-procedures included) listen on."""
    queues: set[str] = set()

    def visit(procedures: Iterable[FrozenProcedure]) -> None:
        for frozen in procedures:
            queues.update(agency.task_queue for agency in frozen.procedure.agencies.values())
            visit(frozen.subprocedures.values())

    visit(catalog.values())
    return sorted(queues)


def select_task_queues(catalog: Mapping[str, FrozenProcedure], wanted: Sequence[str]) -> list[str]:
    """The queues to serve: those asked for (each must be in the catalogue), else all."""
    known = catalogue_task_queues(catalog)
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise UserError(
            f"task queue(s) {', '.join(unknown)} not used by the catalogue"
            f" (it uses: {', '.join(known)})"
        )
    return list(dict.fromkeys(wanted)) or known
