"""Scans in an S3-compatible bucket: a citizen's upload through the web app lands in the bucket
(content-addressed, encrypted, private) and the officer's dossier page reads it back.

The S3 server is moto's standalone server (`moto_server`, from the `moto[server]` dev
dependency): an HTTP server speaking the S3 REST API, run here as a separate process on a free
local port, which the app reaches over real HTTP through boto3 exactly as it would reach AWS or
MinIO. It is an emulator written for tests, not an object store built for production; it was
chosen because the pip-installable S3 servers tried (pys3server 0.1.0b9: HEAD answers with
two Content-Length values and a missing key with 500; local-s3-server: no authentication at
all) cannot serve boto3's basic calls or keep a bucket private, and Debian 12 ships no S3
server that runs alone (rclone 1.60 predates `serve s3`, radosgw needs a Ceph cluster).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from helpers import sweeps_only_old_unattached_scans
from temporalio.testing import WorkflowEnvironment
from webserver import PASSWORD, PDF, free_port, serve_web, web_trust

from motcua.web import s3storage
from motcua.web.app import open_storage
from motcua.web.s3storage import S3Settings, S3Storage
from motcua.web.settings import WebSettings
from motcua.web.storage import Attachment, now
from runtime.errors import UserError

HOUSEHOLD = "2.000720"
COMMUNE = "000.20.20.H26"
QUEUES = ["commune", "business", "justice", "police"]
BUCKET = "motcua-scans"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-API server in its own process; the bucket made private as a deployment would."""
    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None and time.monotonic() < deadline, "moto_server"
                time.sleep(0.1)
        yield endpoint
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


@pytest.fixture
def aws_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """boto3's own configuration, as a deployment sets it, for the app and for the checks."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "motcua-test",
        "AWS_SECRET_ACCESS_KEY": "motcua-test-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3 = boto3.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)
        s3.put_public_access_block(
            Bucket=BUCKET,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    return s3


def keys(s3: Any, prefix: str) -> list[str]:
    found = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return [item["Key"] for item in found]


async def test_a_scan_uploaded_by_a_citizen_is_stored_in_s3_and_shown_to_the_officer(
    dev_env: WorkflowEnvironment,
    data_dir: Path,
    run_worker: Callable[..., Any],
    aws_env: Any,
    s3_endpoint: str,
) -> None:
    s3 = aws_env
    prefix = f"run-{uuid.uuid4().hex[:8]}"
    scan = PDF + f"% {prefix}\n".encode()  # bytes of this run only
    digest = hashlib.sha256(scan).hexdigest()
    async with (
        run_worker(dev_env.client, QUEUES, data_dir, trust=web_trust(data_dir)),
        serve_web(
            dev_env.client, data_dir, scans=f"s3://{BUCKET}/{prefix}", scans_sse="AES256"
        ) as base,
    ):
        async with httpx.AsyncClient(base_url=base) as citizen:
            uploaded = await citizen.post("/api/v1/uploads", content=scan)
            again = await citizen.post("/api/v1/uploads", content=scan)
            assert uploaded.status_code == again.status_code == 201, uploaded.text
            assert uploaded.json()["sha256"] == again.json()["sha256"] == digest
            huge = await citizen.post("/api/v1/uploads", content=b"%PDF-" + b"0" * (11 << 20))
            assert huge.status_code == 413  # the size limit holds before anything is stored
            submitted = await citizen.post(
                "/api/v1/dossiers",
                json={
                    "procedure": HOUSEHOLD,
                    "applicant": {"full_name": "Trần Thị Mai", "id_number": "019190000123"},
                    "documents": {"application": digest},
                },
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert submitted.status_code == 201, submitted.text
            code = submitted.json()["code"]

        # In the bucket: once, under its SHA-256, encrypted by the server, owner-only.
        blob = f"{prefix}/blobs/{digest[:2]}/{digest}"
        assert keys(s3, f"{prefix}/blobs/") == [blob]
        head = s3.head_object(Bucket=BUCKET, Key=blob)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["ContentLength"] == len(scan)
        grants = s3.get_object_acl(Bucket=BUCKET, Key=blob)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
        assert httpx.get(f"{s3_endpoint}/{BUCKET}/{blob}").status_code == 403  # no anonymous
        assert len(keys(s3, f"{prefix}/dossiers/{code}/")) == 1
        assert not (data_dir / "uploads").exists()  # nothing went to the local folder

        async with httpx.AsyncClient(base_url=base) as desk:
            signed_in = await desk.post(
                "/api/v1/session", json={"user": f"one_stop.{COMMUNE}", "password": PASSWORD}
            )
            assert signed_in.status_code == 200, signed_in.text
            page = await desk.get(f"/officer/dossiers/{code}")
            assert page.status_code == 200
            link = f"/officer/dossiers/{code}/scans/{digest}"
            assert link in page.text
            read_back = await desk.get(link)
            assert read_back.status_code == 200
            assert read_back.content == scan
            assert read_back.headers["content-type"] == "application/pdf"


def test_s3_storage_writes_once_keeps_order_and_refuses_altered_or_oversized_objects(
    aws_env: Any,
) -> None:
    s3 = aws_env
    prefix = f"unit-{uuid.uuid4().hex[:8]}"
    store = S3Storage(S3Settings.parse(f"s3://{BUCKET}/{prefix}"), max_bytes=1024)
    digest = store.put(PDF)
    key = f"{prefix}/blobs/{digest[:2]}/{digest}"
    first = s3.head_object(Bucket=BUCKET, Key=key)["ETag"]
    assert store.put(PDF) == digest and keys(s3, f"{prefix}/blobs/") == [key]
    assert s3.head_object(Bucket=BUCKET, Key=key)["ETag"] == first
    assert store.get(digest) == PDF
    assert store.get("0" * 64) is None and store.get("../etc/passwd") is None

    def record(document: str) -> Attachment:
        return Attachment(
            document=document,
            sha256=digest,
            size=len(PDF),
            content_type="application/pdf",
            at=now(),
        )

    store.attach("D-1", [record("application")])
    store.attach("D-1", [record("id_card"), record("household_book")])
    assert [a.document for a in store.attachments("D-1")] == [
        "application",
        "id_card",
        "household_book",
    ]
    assert store.attachments("D-2") == [] and store.attachments("../D-1") == []

    s3.put_object(Bucket=BUCKET, Key=key, Body=PDF + b"altered")  # changed behind our back
    assert store.get(digest) is None
    big = b"%PDF-" + b"0" * 2000
    big_digest = hashlib.sha256(big).hexdigest()
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/blobs/{big_digest[:2]}/{big_digest}", Body=big)
    assert store.get(big_digest) is None  # over max_bytes: not read into memory


def test_a_wrong_scans_setting_stops_start_up_in_one_line(aws_env: Any, data_dir: Path) -> None:
    def settings(scans: str, scans_sse: str = "") -> WebSettings:
        return WebSettings(data_dir=data_dir, secret_key="t" * 40, scans=scans, scans_sse=scans_sse)

    with pytest.raises(UserError) as missing:
        open_storage(settings(scans="s3://no-such-bucket-here"))
    assert str(missing.value).startswith("MOTCUA_SCANS: bucket 'no-such-bucket-here' cannot")
    assert "\n" not in str(missing.value)
    with pytest.raises(UserError, match="MOTCUA_SCANS: expected local or s3://"):
        open_storage(settings(scans="https://bucket"))
    with pytest.raises(UserError, match="MOTCUA_SCANS_SSE: expected AES256 or aws:kms"):
        open_storage(settings(scans=f"s3://{BUCKET}", scans_sse="rot13"))
    assert S3Settings.parse(f"s3://{BUCKET}/a/b/").prefix == "a/b/"


def test_motcua_web_reads_the_scans_setting_from_the_environment(
    aws_env: Any, tmp_path: Path
) -> None:
    """`motcua web` with an unreachable bucket stops at once, one line, exit 2."""
    repo = Path(__file__).resolve().parent.parent
    command = ["motcua", "web", "--port", str(free_port()), "--data", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=repo,
        env=os.environ | {"PYTHONPATH": str(repo), "MOTCUA_SCANS": "s3://no-such-bucket-here"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "MOTCUA_SCANS: bucket 'no-such-bucket-here' cannot be reached" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_sweep_deletes_old_unattached_scans_from_the_bucket_only(
    aws_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = aws_env
    prefix = f"sweep-{uuid.uuid4().hex[:8]}"
    store = S3Storage(S3Settings.parse(f"s3://{BUCKET}/{prefix}"), max_bytes=1024)
    sweeps_only_old_unattached_scans(store)
    # Uploaded again: past the renewal interval the object is copied onto itself, so its age
    # (LastModified, which the sweep reads) starts again.
    digest = store.put(PDF + b"% again")
    key = f"{prefix}/blobs/{digest[:2]}/{digest}"
    first = s3.head_object(Bucket=BUCKET, Key=key)["LastModified"]
    time.sleep(1.1)
    monkeypatch.setattr(s3storage, "RENEW_AFTER", timedelta(0))
    assert store.put(PDF + b"% again") == digest
    assert s3.head_object(Bucket=BUCKET, Key=key)["LastModified"] > first
    assert store.get(digest) == PDF + b"% again"
