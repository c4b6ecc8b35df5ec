"""What a worker trusts: the officers' public keys, and which procedure versions may run.

Update validators run in the workflow sandbox and may read no file, so the officers' keys
reach them through `identity.trusted`, set by the worker group while it runs (one trust per
process). The published set answers the dossier's first question (`activities.publication`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from activities.publication import ManifestReader, PublishedSet
from identity import layout
from identity.assertions import Keyset
from identity.keys import KeyFileError, read_keyset
from runtime.errors import UserError


@dataclass(frozen=True)
class Trust:
    """The officers' public keys, and the published set (`drafts` runs every procedure: for
    the dry run and tests only; without a published set, nothing runs)."""

    officer_keys: Keyset
    published: PublishedSet | None = None
    drafts: bool = False

    @classmethod
    def from_files(cls, officer_keys: Path, publisher_keys: Path, manifest: Path) -> Trust:
        """The officers' keyset (read now; a missing file trusts no key), and the manifest with
        the publishers' keyset that verifies it (both read when they change)."""
        try:
            officers = read_keyset(officer_keys) if officer_keys.exists() else {}
        except KeyFileError as err:
            raise UserError(str(err)) from None
        return cls(officers, ManifestReader(manifest, publisher_keys))

    @classmethod
    def of_data(cls, data: Path) -> Trust:
        """The embedded default's, from its data folder (`identity.layout`)."""
        return cls.from_files(
            layout.officers_signer(data).keyset_path,
            layout.publisher_signer(data).keyset_path,
            layout.manifest_path(data),
        )
