"""Where the embedded default keeps the published catalogue and the publisher's keys.

`<data>/identity/publisher-key.pem` (0600) signs, `<data>/identity/publisher-keys.json` is the
keyset workers verify with, `<data>/published.json` is the manifest (`identity.publication`).
A deployment keeps the private key with its publishers, and gives workers only the keyset and
the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from identity import layout, publication
from identity.keys import KeyFileError, Signer
from procedures.models import FrozenProcedure
from runtime.errors import UserError


def signer(data: Path) -> Signer:
    return layout.publisher_signer(data)


def manifest_path(data: Path) -> Path:
    return layout.manifest_path(data)


def publish(
    data: Path,
    catalog: Mapping[str, FrozenProcedure],
    publisher: str,
    *,
    effective_from: date | None = None,
    out: Path | None = None,
    now: datetime | None = None,
) -> tuple[Path, publication.Manifest]:
    """Sign the catalogue's procedure versions with the data folder's publisher key."""
    try:
        key = signer(data).key()
    except KeyFileError as err:
        raise UserError(str(err)) from None
    entries = publication.entries(catalog, effective_from)
    manifest = publication.sign(entries, key, publisher, now or datetime.now(UTC))
    target = out or manifest_path(data)
    publication.write(target, manifest)
    return target, manifest


def published(data: Path, day: date, manifest: Path | None = None) -> dict[str, str]:
    """The published set of the data folder (content hash -> procedure code) on `day`,
    verified with its publisher keyset; a missing or forged manifest is a one-line error."""
    path = manifest or manifest_path(data)
    try:
        keys = signer(data).keyset()
        if not path.exists():
            raise UserError(f"{path}: no published catalogue; run `motcua publish`")
        return publication.load_published(path, keys, day)
    except (KeyFileError, publication.PublicationError) as err:
        raise UserError(str(err)) from None
