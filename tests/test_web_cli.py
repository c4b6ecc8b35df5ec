"""`motcua web`: the web app alone, reaching Temporal through the environment configuration."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment
from webserver import PDF, free_port, serve_web

from motcua.web.storage import Attachment, LocalStorage, now

REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def socket_listening(port: int) -> Iterator[None]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield


async def test_motcua_web_serves_against_the_configured_temporal_until_interrupted(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    port = free_port()
    address = dev_env.client.service_client.config.target_host
    process = subprocess.Popen(
        [sys.executable, "-m", "motcua", "web", "--port", str(port), "--data", str(tmp_path)],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO), "TEMPORAL_ADDRESS": address},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json") as answer:
                    assert "/api/v1/dossiers" in json.load(answer)["paths"]
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline and process.poll() is None, process.stderr
                time.sleep(0.2)
        # Temporal is reached: an unknown dossier is "not found", not "unreachable".
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/dossiers/X-1/status",
            data=b'{"id_number": "1"}',
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request)
        except urllib.error.HTTPError as refused:
            assert refused.code == 404
        assert (tmp_path / "web-secret").stat().st_mode & 0o777 == 0o600
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out


def test_motcua_web_says_in_one_line_when_its_port_is_taken(tmp_path: Path) -> None:
    port = free_port()
    with socket_listening(port):
        done = subprocess.run(
            [sys.executable, "-m", "motcua", "web", "--port", str(port), "--data", str(tmp_path)],
            cwd=REPO,
            env=os.environ | {"PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip() == f"motcua: port {port} is in use; choose another with --port"


def test_motcua_web_refuses_an_inbox_cache_out_of_range_in_one_line(tmp_path: Path) -> None:
    options = ["--inbox-cache", "600", "--data", str(tmp_path), "--port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-m", "motcua", "web", *options],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "motcua: --inbox-cache: between 0 and 60 seconds"


def sweep_scans(data: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "motcua", "sweep-scans", "--data", str(data), *options],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO), "MOTCUA_SCANS": "local"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_motcua_sweep_scans_deletes_old_unattached_scans_only(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "uploads")
    loose, named = store.put(PDF + b"% loose"), store.put(PDF + b"% named")
    record = Attachment(
        document="application", sha256=named, size=1, content_type="application/pdf", at=now()
    )
    store.attach("D-1", [record])
    three_days_ago = time.time() - 72 * 3600
    for digest in (loose, named):
        os.utime(store.blobs / digest[:2] / digest, (three_days_ago, three_days_ago))
    looked = sweep_scans(tmp_path, "--dry-run", "--json")
    assert looked.returncode == 0, looked.stderr
    assert json.loads(looked.stdout)["deleted"] == 1 and store.get(loose) is not None
    done = sweep_scans(tmp_path, "--older-than", "48")
    assert done.returncode == 0, done.stderr
    assert "2 scans examined, 1 named by a dossier (kept), deleted 1" in done.stdout
    assert store.get(loose) is None and store.get(named) == PDF + b"% named"
    refused = sweep_scans(tmp_path, "--older-than", "0.5")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "motcua: --older-than: between 2 and 8784 hours"


async def test_the_web_app_sweeps_unattached_scans_by_itself(
    dev_env: WorkflowEnvironment, data_dir: Path
) -> None:
    store = LocalStorage(data_dir / "uploads")
    named = store.put(PDF + b"% named")
    record = Attachment(
        document="application", sha256=named, size=1, content_type="application/pdf", at=now()
    )
    store.attach("D-1", [record])
    settings = {"sweep_every_seconds": 0.2, "unattached_scan_hours": 1 / 3600}  # a second
    async with (
        serve_web(dev_env.client, data_dir, **settings) as base,
        httpx.AsyncClient(base_url=base) as citizen,
    ):
        uploaded = await citizen.post("/api/v1/uploads", content=PDF + b"% never attached")
        assert uploaded.status_code == 201, uploaded.text
        loose = uploaded.json()["sha256"]
        assert store.get(loose) is not None
        for _ in range(100):
            if store.get(loose) is None:
                break
            await asyncio.sleep(0.1)
        assert store.get(loose) is None
        assert store.get(named) == PDF + b"% named"


def test_motcua_web_refuses_a_sweep_bound_below_two_hours_in_one_line(tmp_path: Path) -> None:
    options = ["--sweep-after", "1", "--data", str(tmp_path), "--port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-m", "motcua", "web", *options],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "motcua: --sweep-after: 0, or between 2 and 8784 hours"
