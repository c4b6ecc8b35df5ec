"""Scans of a dossier's documents, stored content-addressed by SHA-256.

`Storage` is the interface the web app uses; `LocalStorage` keeps blobs under
`<data>/uploads/blobs/ab/<sha256>` (files 0600, folders 0700: scans are personal data) and,
per dossier, an append-only list of which document each blob is
(`<data>/uploads/dossiers/<code>.jsonl`).
The same bytes uploaded twice are stored once. Scans no dossier names are deleted after a
day by `motcua.web.sweep`. A deployment with several web processes on
different machines shares the folder or sets `MOTCUA_SCANS=s3://BUCKET[/PREFIX]` for
`S3Storage` (motcua/web/s3storage.py), the same four methods over an S3-compatible bucket.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
"""What a scan may be, judged from its first bytes, never from the name or the sender's word."""
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def sniff(data: bytes) -> str | None:
    """The scan's media type from its magic bytes; None when it is not an accepted kind."""
    for magic, kind in SIGNATURES:
        if data.startswith(magic):
            return kind
    return None


class Attachment(BaseModel):
    """One scan attached to a dossier: which document it is, and its content address."""

    model_config = ConfigDict(frozen=True)
    document: str
    sha256: str
    size: int
    content_type: str
    at: datetime
    via: str = "submission"
    """`submission` or `supplement`."""


class Storage(Protocol):
    def put(self, data: bytes) -> str:
        """Store the bytes; their SHA-256 (hex) addresses them."""
        ...

    def get(self, sha256: str) -> bytes | None:
        """The bytes stored under the address, or None."""
        ...

    def attach(self, code: str, attachments: list[Attachment]) -> None:
        """Record that these scans belong to the dossier."""
        ...

    def attachments(self, code: str) -> list[Attachment]:
        """Every scan recorded for the dossier, oldest first."""
        ...

    def referenced(self) -> set[str]:
        """Every SHA-256 any dossier's list names (`motcua.web.sweep` never deletes those)."""
        ...

    def stored(self) -> Iterator[tuple[str, datetime]]:
        """Every stored scan's address and when it was last stored: a `put` of bytes already
        there renews it, so a scan about to be attached again is never old."""
        ...

    def delete_unless_renewed(self, sha256: str, before: datetime) -> int:
        """Delete the scan unless it was stored at or after `before`; the bytes freed (0: kept)."""
        ...


def valid_digest(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


def valid_code(text: str) -> bool:
    """Whether `text` may name a dossier's list of scans (a file or key name)."""
    return bool(_CODE.fullmatch(text))


class LocalStorage:
    """Blobs and per-dossier lists under a folder of the data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.dossiers = root / "dossiers"
        for folder in (root, self.blobs, self.dossiers):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _blob(self, sha256: str) -> Path:
        if not valid_digest(sha256):
            raise ValueError("not a SHA-256 digest")
        return self.blobs / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._blob(digest)
        try:
            os.utime(path)  # stored again: renewed, so the sweep counts its age from now
            return digest
        except FileNotFoundError:
            pass
        path.parent.mkdir(exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")  # 0600 by default
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes | None:
        try:
            return self._blob(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def _list(self, code: str) -> Path:
        if not valid_code(code):
            raise ValueError(f"not a dossier code: {code!r}")
        return self.dossiers / f"{code}.jsonl"

    def attach(self, code: str, attachments: list[Attachment]) -> None:
        if not attachments:
            return
        lines = "".join(a.model_dump_json() + "\n" for a in attachments).encode()
        fd = os.open(self._list(code), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines)  # one write of a few lines: appends do not interleave
        finally:
            os.close(fd)

    def attachments(self, code: str) -> list[Attachment]:
        try:
            text = self._list(code).read_text()
        except (FileNotFoundError, ValueError):
            return []
        found = []
        for line in text.splitlines():
            try:
                found.append(Attachment.model_validate(json.loads(line)))
            except ValueError:
                continue  # a torn last line after a crash
        return found

    def referenced(self) -> set[str]:
        found: set[str] = set()
        for path in self.dossiers.glob("*.jsonl"):
            found.update(_SHA256.findall(path.read_text(errors="replace")))
        return found

    def stored(self) -> Iterator[tuple[str, datetime]]:
        for path in self.blobs.glob("??/*"):
            if valid_digest(path.name):
                try:
                    mtime = path.stat().st_mtime
                except FileNotFoundError:
                    continue
                yield path.name, datetime.fromtimestamp(mtime, UTC)

    def delete_unless_renewed(self, sha256: str, before: datetime) -> int:
        """Moved aside first, then judged: a `put` renewing it just before the move shows in
        its time (it goes back), one just after finds no file and writes it anew."""
        path = self._blob(sha256)
        aside = self.root / f".sweep-{sha256}-{secrets.token_hex(6)}"
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return 0
        st = aside.stat()
        if datetime.fromtimestamp(st.st_mtime, UTC) >= before:
            os.replace(aside, path)
            return 0
        aside.unlink()
        return st.st_size


class OffLoop:
    """A `Storage` whose calls run in a worker thread: an S3 round trip or a 10 MiB write must
    not stall every other request of the process's event loop."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self.storage.put, data)

    async def get(self, sha256: str) -> bytes | None:
        return await asyncio.to_thread(self.storage.get, sha256)

    async def attach(self, code: str, attachments: list[Attachment]) -> None:
        await asyncio.to_thread(self.storage.attach, code, attachments)

    async def attachments(self, code: str) -> list[Attachment]:
        return await asyncio.to_thread(self.storage.attachments, code)


def now() -> datetime:
    return datetime.now(UTC)
