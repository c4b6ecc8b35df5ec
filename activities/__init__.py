"""Activities: everything the dossier workflow does to the outside world (files, outbox).

They are plain (synchronous) functions run in the worker's thread pool, because they write
files and take `flock`s; each one is idempotent by an id the workflow derived, so Temporal may
retry it freely. All of them write under one data directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from activities.delivery import DeliverySettings

DATA_DIR = Path(os.environ.get("MOTCUA_DATA", ".data"))
"""Where results, outbox, registers and the embedded server's SQLite file live."""


def all_activities(
    data_dir: Path, delivery: DeliverySettings | None = None
) -> list[Callable[..., Any]]:
    """Every activity, bound to `data_dir`, for a `Worker(activities=...)`; `delivery`
    (`activities.delivery.DeliverySettings`) replaces the settings read from the environment."""
    # Imported here, not at the top: workflow code imports `activities.payloads`, which runs
    # this file first, and must not drag file-writing modules into the workflow sandbox.
    from activities.delivery import Delivery
    from activities.documents import Documents
    from activities.outbox import Outbox
    from activities.results import Register

    outbox = Outbox(data_dir, Delivery(data_dir, delivery))
    documents, register = Documents(data_dir), Register(data_dir)
    return [
        documents.render_form,
        outbox.notify_applicant,
        outbox.notify_officers,
        outbox.sync_portal,
        register.issue_result,
    ]
