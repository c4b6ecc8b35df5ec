"""The published catalogue: which procedure versions may run on real dossiers, signed.

Publishing is an explicit act: `motcua publish` lists the content hash of every procedure of
the catalogue (sub-procedures included) with its effective period, and signs the list with
the publisher's Ed25519 key. Workers are configured with the publishers' public keys and run
a dossier only if its frozen procedure's hash is in a manifest one of them signed; a file
written by hand (`motcua submit spoof.yaml`) has a hash no publisher signed.

The signature covers the canonical JSON of the manifest's body (sorted keys, no spaces,
UTF-8), so the file stays readable and any edit of it breaks the signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from identity.assertions import Keyset
from identity.keys import SigningKey, write_private_file
from procedures.models import FrozenProcedure

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""A manifest larger than this is refused unread (one entry is ~200 bytes)."""


class PublicationError(Exception):
    """A manifest that proves nothing (unreadable, unsigned, forged), in one line."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PublishedProcedure(_Model):
    """One procedure version allowed to run from `effective_from` (to `effective_to`)."""

    code: str = Field(max_length=32)
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    version: str = Field(max_length=64)
    effective_from: date
    effective_to: date | None = None

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


class ManifestBody(_Model):
    """What the publisher signs."""

    publisher: str = Field(min_length=1, max_length=128)
    published_at: datetime
    procedures: tuple[PublishedProcedure, ...]


class Manifest(_Model):
    """A body, the key id of the publisher's key and its Ed25519 signature (base64url)."""

    body: ManifestBody
    kid: str = Field(max_length=64)
    signature: str = Field(max_length=128)


def _canonical(body: ManifestBody) -> bytes:
    data = body.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entries(
    catalog: Mapping[str, FrozenProcedure], effective_from: date | None = None
) -> tuple[PublishedProcedure, ...]:
    """Every procedure version of a catalogue and of its sub-procedures, once each; in effect
    from `effective_from` when given, else from the procedure's own `effective_from`."""
    found: dict[str, PublishedProcedure] = {}

    def visit(procedures: Iterable[FrozenProcedure]) -> None:
        for frozen in procedures:
            proc = frozen.procedure
            found[frozen.content_hash] = PublishedProcedure(
                code=proc.code,
                content_hash=frozen.content_hash,
                version=proc.version,
                effective_from=effective_from or proc.effective_from,
                effective_to=proc.effective_to,
            )
            visit(frozen.subprocedures.values())

    visit(catalog.values())
    return tuple(sorted(found.values(), key=lambda entry: (entry.code, entry.content_hash)))


def sign(
    procedures: tuple[PublishedProcedure, ...], key: SigningKey, publisher: str, now: datetime
) -> Manifest:
    """The manifest of `procedures`, signed by `publisher`'s key."""
    body = ManifestBody(publisher=publisher, published_at=now, procedures=procedures)
    signature = key.private.sign(_canonical(body))
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return Manifest(body=body, kid=key.kid, signature=encoded)


def verify(manifest: Manifest, keys: Keyset) -> ManifestBody:
    """The body, if one of `keys` signed it; else `PublicationError` saying why."""
    public = keys.get(manifest.kid)
    if public is None:
        raise PublicationError(f"signed with key {manifest.kid!r}, not a configured publisher")
    try:
        signature = base64.urlsafe_b64decode(
            manifest.signature + "=" * (-len(manifest.signature) % 4)
        )
        public.verify(signature, _canonical(manifest.body))
    except (binascii.Error, ValueError, InvalidSignature):
        raise PublicationError(
            f"signature does not verify with publisher key {manifest.kid}: the manifest "
            "was changed after it was signed, or forged"
        ) from None
    return manifest.body


def published_set(body: ManifestBody, day: date) -> dict[str, str]:
    """Content hash -> procedure code of every version in effect on `day`."""
    return {entry.content_hash: entry.code for entry in body.procedures if entry.in_effect(day)}


def write(path: Path, manifest: Manifest) -> None:
    """The manifest as indented JSON, written atomically, 0600 like every file motcua writes
    (it holds no secret: copy it to the workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(path, (manifest.model_dump_json(indent=2) + "\n").encode())


def read(path: Path) -> Manifest:
    """A manifest file, refused (one line) when too big or not a manifest."""
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise PublicationError(f"{path}: larger than {MAX_MANIFEST_BYTES} bytes")
        text = path.read_bytes()
    except OSError as err:
        raise PublicationError(f"{path}: {err.strerror}") from None
    try:
        return Manifest.model_validate_json(text)
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise PublicationError(f"{path}: not a manifest: {where}: {problem['msg']}") from None


def load_published(path: Path, keys: Keyset, day: date) -> dict[str, str]:
    """The published set a worker runs: read, verified, filtered to `day`."""
    try:
        return published_set(verify(read(path), keys), day)
    except PublicationError as err:
        message = str(err)
        raise PublicationError(
            message if message.startswith(str(path)) else f"{path}: {message}"
        ) from None
