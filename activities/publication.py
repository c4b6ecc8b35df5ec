"""Is a procedure version published? The dossier's first question (a local activity).

The answer depends on the worker's configuration (the manifest and the publishers' keys), not
on the dossier, so the workflow asks it once, at its start, through a local activity whose
result history records: replay reads the recorded answer, whatever is published by then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

from temporalio import activity

from activities.payloads import PublishedQuery
from identity import publication
from identity.assertions import Keyset

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


class ManifestReader:
    """A `PublishedSet` read from a manifest file, verified with the publishers' keys, and
    read again when the file changes (so `motcua publish` takes effect without a restart).

    No manifest: nothing is published. A manifest that does not verify raises, so the local
    activity retries (and the dossier waits) until an operator fixes it, rather than stopping
    every new dossier.
    """

    def __init__(self, path: Path, keys: Keyset) -> None:
        self._path, self._keys = path, keys
        self._cached: tuple[tuple[int, int], publication.ManifestBody] | None = None

    def __call__(self, day: date) -> Mapping[str, str]:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return {}
        seen = (stat.st_mtime_ns, stat.st_size)
        cached = self._cached  # one read: activities run in several threads
        if cached is None or cached[0] != seen:
            cached = (seen, publication.verify(publication.read(self._path), self._keys))
            self._cached = cached
        return publication.published_set(cached[1], day)
