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
from identity.keys import read_keyset

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
    """A `PublishedSet` read from a manifest file, verified with the publishers' keys (a keyset,
    or the JWKS file holding it), and read again when either file changes, so `motcua publish`
    and a new publisher key take effect without a restart.

    No manifest: nothing is published. A manifest that does not verify raises, so the local
    activity retries (and the dossier waits) until an operator fixes it, rather than stopping
    every new dossier.
    """

    def __init__(self, path: Path, publishers: Keyset | Path) -> None:
        self._path, self._publishers = path, publishers
        self._cached: tuple[object, publication.ManifestBody] | None = None

    def __call__(self, day: date) -> Mapping[str, str]:
        try:
            seen: object = (_stamp(self._path), self._publishers_stamp())
        except FileNotFoundError:
            return {}
        cached = self._cached  # one read: activities run in several threads
        if cached is None or cached[0] != seen:
            keys = (
                read_keyset(self._publishers)
                if isinstance(self._publishers, Path)
                else self._publishers
            )
            cached = (seen, publication.verify(publication.read(self._path), keys))
            self._cached = cached
        return publication.published_set(cached[1], day)

    def _publishers_stamp(self) -> tuple[int, int] | None:
        if not isinstance(self._publishers, Path):
            return None
        return _stamp(self._publishers) if self._publishers.exists() else (0, 0)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size
