"""Is a procedure version published? The dossier's first question (a local activity).

The answer depends on the worker's configuration (the manifest and the publishers' keys), not
on the dossier, so the workflow asks it once, at its start, through a local activity whose
result history records: replay reads the recorded answer, whatever is published by then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from temporalio import activity

from activities.payloads import PublishedQuery

IS_PUBLISHED = "is_published"

PublishedSet = Callable[[date], Mapping[str, str]]
"""The published set on a day: content hash -> procedure code (e.g. reading a manifest)."""


class Publication:
    """Answers `is_published` from a published set; `drafts=True` (the dry run only) runs
    every procedure."""

    def __init__(self, published: PublishedSet | None, *, drafts: bool = False) -> None:
        self._published = published
        self._drafts = drafts

    @activity.defn(name=IS_PUBLISHED)
    def is_published(self, query: PublishedQuery) -> bool:
        if self._drafts:
            return True
        if self._published is None:
            return False
        return self._published(query.day).get(query.content_hash) == query.code
