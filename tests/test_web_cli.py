"""`motcua web`: the web app alone, reaching Temporal through the environment configuration."""

from __future__ import annotations

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

from temporalio.testing import WorkflowEnvironment
from webserver import free_port

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
