"""Scans in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW...), through boto3.

For web processes on several machines: every one reaches the same bucket, so a scan uploaded
through one is read back through another. The layout mirrors `LocalStorage`:
`<prefix>blobs/ab/<sha256>` holds the bytes (content-addressed: the same scan is stored once,
and a put is idempotent: it is skipped when the key exists and sent with `If-None-Match: *`),
and `<prefix>dossiers/<code>/<time>-<hash>.jsonl` holds one `attach` call's records (S3 has no
append: a dossier's list is every object under its folder, in key order, oldest first).

Objects are private: no ACL is ever sent (the bucket owner alone reads them) and no public or
presigned address is ever made; the web app hands a scan out only to a signed-in officer of the
dossier's agency. Server-side encryption is asked for on every put when configured. Credentials,
region and endpoint come from boto3's own configuration (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL_S3`, `AWS_PROFILE`...): docs/web.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from motcua.web.storage import Attachment, valid_code, valid_digest
from runtime.errors import UserError

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

log = structlog.get_logger(__name__)

SSE_KINDS = ("AES256", "aws:kms")
MAX_RECORD_BYTES = 64 * 1024
"""Largest per-dossier record object read back (one `attach` call: a few lines)."""
MAX_RECORDS = 1000
"""Most record objects read for one dossier (a submission and its supplements)."""
_MISSING = ("404", "NoSuchKey", "NotFound")
_DIGESTS = re.compile(r"[0-9a-f]{64}")
RENEW_AFTER = timedelta(hours=1)
"""A scan uploaded again is renewed (copied onto itself) when older than this: far below the
sweep's smallest age, so a scan about to be attached is never old enough to be swept."""


@dataclass(frozen=True)
class S3Settings:
    """Where the scans go: the bucket, a key prefix, and the encryption asked of the server."""

    bucket: str
    prefix: str = ""
    sse: str | None = None
    """`AES256` (keys the server manages) or `aws:kms`; None: the bucket's default."""
    kms_key_id: str | None = None
    """With `aws:kms`: the key; None: the account's default KMS key for S3."""
    endpoint_url: str | None = None
    """None: boto3's configuration (`AWS_ENDPOINT_URL_S3`, else AWS itself)."""

    @classmethod
    def parse(
        cls, url: str, *, sse: str = "", kms_key_id: str = "", where: str = "MOTCUA_SCANS"
    ) -> S3Settings:
        """From `s3://bucket[/prefix]`; a mistake is one line naming `where`."""
        parts = urlsplit(url.strip())
        bucket = parts.netloc
        if parts.scheme != "s3" or not (3 <= len(bucket) <= 63) or parts.query:
            raise UserError(f"{where}: expected local or s3://BUCKET[/PREFIX], got {url!r}", 2)
        prefix = parts.path.strip("/")
        if len(prefix) > 200:
            raise UserError(f"{where}: the prefix has at most 200 characters", 2)
        sse = sse.strip()
        if sse and sse not in SSE_KINDS:
            raise UserError(f"{where}_SSE: expected AES256 or aws:kms, got {sse!r}", 2)
        if kms_key_id.strip() and sse != "aws:kms":
            raise UserError(f"{where}_KMS_KEY_ID goes with {where}_SSE=aws:kms", 2)
        return cls(
            bucket=bucket,
            prefix=f"{prefix}/" if prefix else "",
            sse=sse or None,
            kms_key_id=kms_key_id.strip() or None,
        )


class S3Storage:
    """The `Storage` interface over an S3-compatible bucket."""

    def __init__(
        self, settings: S3Settings, *, max_bytes: int, client: S3Client | None = None
    ) -> None:
        self.settings = settings
        self.max_bytes = max_bytes
        self.s3: S3Client = client or boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 4}
            ),
        )

    def check(self) -> None:
        """Fail at start-up, in one line, when the bucket cannot be reached."""
        try:
            self.s3.head_bucket(Bucket=self.settings.bucket)
        except (ClientError, BotoCoreError) as err:
            raise UserError(
                f"MOTCUA_SCANS: bucket {self.settings.bucket!r} cannot be reached: {_why(err)}", 2
            ) from None

    def _blob(self, sha256: str) -> str:
        if not valid_digest(sha256):
            raise ValueError("not a SHA-256 digest")
        return f"{self.settings.prefix}blobs/{sha256[:2]}/{sha256}"

    def _folder(self, code: str) -> str:
        if not valid_code(code):
            raise ValueError(f"not a dossier code: {code!r}")
        return f"{self.settings.prefix}dossiers/{code}/"

    def _encryption(self) -> dict[str, Any]:
        if self.settings.sse is None:
            return {}
        extra: dict[str, Any] = {"ServerSideEncryption": self.settings.sse}
        if self.settings.kms_key_id:
            extra["SSEKMSKeyId"] = self.settings.kms_key_id
        return extra

    def _put_once(self, key: str, data: bytes, content_type: str) -> None:
        """Write the object unless it exists: the same key always holds the same bytes."""
        try:
            self.s3.head_object(Bucket=self.settings.bucket, Key=key)
            return
        except ClientError as err:
            if _code(err) not in _MISSING:
                raise
        try:
            self.s3.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                IfNoneMatch="*",
                **self._encryption(),
            )
        except ClientError as err:
            # 412: written meanwhile by another process; 409: a concurrent write of it
            if _code(err) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise

    def put(self, data: bytes) -> str:
        if len(data) > self.max_bytes:
            raise ValueError(f"a scan may be {self.max_bytes} bytes")
        digest = hashlib.sha256(data).hexdigest()
        key = self._blob(digest)
        try:
            found = self.s3.head_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as err:
            if _code(err) not in _MISSING:
                raise
        else:
            if datetime.now(UTC) - found["LastModified"] >= RENEW_AFTER:
                self._renew(key)
            return digest
        self._put_once(key, data, "application/octet-stream")
        return digest

    def _renew(self, key: str) -> None:
        """Copy the object onto itself: its LastModified is now, so the sweep counts its age
        from this upload (S3 has no other way to touch an object)."""
        self.s3.copy_object(
            Bucket=self.settings.bucket,
            Key=key,
            CopySource={"Bucket": self.settings.bucket, "Key": key},
            MetadataDirective="REPLACE",
            ContentType="application/octet-stream",
            **self._encryption(),
        )

    def _read(self, key: str, limit: int) -> bytes | None:
        """The object's bytes; None when it is missing or larger than `limit`."""
        try:
            answer = self.s3.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as err:
            if _code(err) in _MISSING:
                return None
            raise
        body = answer["Body"]
        try:
            data = None if answer.get("ContentLength", 0) > limit else body.read(limit + 1)
        finally:
            body.close()
        if data is None or len(data) > limit:
            log.warning("stored object over the size limit", key=key.rsplit("/", 1)[-1][:12])
            return None
        return data

    def get(self, sha256: str) -> bytes | None:
        try:
            key = self._blob(sha256)
        except ValueError:
            return None
        data = self._read(key, self.max_bytes)
        if data is None:
            return None
        if hashlib.sha256(data).hexdigest() != sha256:  # the address is the integrity check
            log.warning("stored scan does not match its address", sha256=sha256[:12])
            return None
        return data

    def attach(self, code: str, attachments: list[Attachment]) -> None:
        if not attachments:
            return
        lines = "".join(a.model_dump_json() + "\n" for a in attachments).encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        key = f"{self._folder(code)}{stamp}-{hashlib.sha256(lines).hexdigest()[:16]}.jsonl"
        self._put_once(key, lines, "application/x-ndjson")

    def attachments(self, code: str) -> list[Attachment]:
        try:
            folder = self._folder(code)
        except ValueError:
            return []
        keys: list[str] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.bucket, Prefix=folder
        )
        for page in pages:
            keys += (item["Key"] for item in page.get("Contents", ()) if "Key" in item)
            if len(keys) >= MAX_RECORDS:
                break
        found = []
        for key in sorted(keys)[:MAX_RECORDS]:
            data = self._read(key, MAX_RECORD_BYTES)
            for line in (data or b"").decode(errors="replace").splitlines():
                try:
                    found.append(Attachment.model_validate(json.loads(line)))
                except ValueError:
                    continue
        return found

    def referenced(self) -> set[str]:
        """Read from every record object: one that cannot be read stops the sweep (raises),
        never counts as naming nothing."""
        found: set[str] = set()
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.bucket, Prefix=f"{self.settings.prefix}dossiers/"
        )
        for page in pages:
            for item in page.get("Contents", ()):
                data = self._read(item["Key"], MAX_RECORD_BYTES)
                if data is None:
                    raise RuntimeError("a dossier's scan record cannot be read; sweep stopped")
                found.update(_DIGESTS.findall(data.decode(errors="replace")))
        return found

    def stored(self) -> Iterator[tuple[str, datetime]]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.bucket, Prefix=f"{self.settings.prefix}blobs/"
        )
        for page in pages:
            for item in page.get("Contents", ()):
                name = item["Key"].rsplit("/", 1)[-1]
                if valid_digest(name):
                    yield name, item["LastModified"]

    def delete_unless_renewed(self, sha256: str, before: datetime) -> int:
        """Checked right before the delete; a renewal in between the two calls is lost with
        the scan (docs/web.md: the sweep's one race on S3)."""
        key = self._blob(sha256)
        try:
            found = self.s3.head_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as err:
            if _code(err) in _MISSING:
                return 0
            raise
        if found["LastModified"] >= before:
            return 0
        self.s3.delete_object(Bucket=self.settings.bucket, Key=key)
        return int(found.get("ContentLength", 0))


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _why(err: Exception) -> str:
    if isinstance(err, ClientError):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{_code(err) or 'error'} (HTTP {status})"
    return str(err).splitlines()[0][:200]
