"""Does a frozen procedure carry the content hash its content gives?

A dossier's input comes from whoever started the workflow; with Temporal's own CLI anyone
who reaches the server can pair a published procedure's `content_hash` with a body of their
own. The hash is a function of the frozen content (`procedures.loader.content_hash`), so it
is computed again, sub-procedures first, before it is believed.
"""

from __future__ import annotations

from procedures.loader import content_hash
from procedures.models import FrozenProcedure


def genuine(frozen: FrozenProcedure) -> bool:
    """Whether `frozen` and every sub-procedure in it hash to the hashes they carry."""
    return all(genuine(sub) for sub in frozen.subprocedures.values()) and (
        content_hash(frozen.procedure, frozen.subprocedures) == frozen.content_hash
    )
