"""Personal data at rest, end to end (issue 16's "done when"), on `motcua dev` as a user runs it.

A dossier with a distinctive id number is submitted and withdrawn by its applicant (both put
the id number into history). Afterwards the id number is nowhere in plain text, nor base64:
not in `temporal workflow show --output json` without the codec, not in the server's SQLite
file and WAL, not in any log or outbox, not in a default `motcua audit export`; the codec
endpoint the Web UI is wired to decodes it for an auditor and refuses a caller without a token
(401) or whose role may not read (403). Everything motcua wrote is 0600 in 0700 folders
(public certificates and keys excepted).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from motcua.codec_server import TOKENS_FILE, TokenFile
from motcua.devserver import find_binary

REPO = Path(__file__).resolve().parents[1]
ID_NUMBER = "038299771234"
NAME = "Đinh Thị Hương Giang"
WEB_NAME = "Lò Văn Quỳnh Khuê"
WEB_PHONE = "0912345678"
"""The applicant of a second dossier, submitted through the web front door with a scan."""
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def needles(secret: str) -> list[bytes]:
    """The secret as text, and as base64 at each of the three alignments it can start at."""
    found = [secret.encode()]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret.encode())
        found.append(encoded[4 if shift else 0 : -4])
    return found


def leaks(blob: bytes) -> list[bytes]:
    return [n for n in needles(ID_NUMBER) if n in blob]


class Dev:
    """`motcua dev` in a subprocess on free ports, its output kept in files to search."""

    def __init__(self, tmp: Path) -> None:
        self.data = tmp / "data"
        self.port, self.ui_port, self.codec_port = free_port(), free_port(), free_port()
        self.web_port = free_port()
        self.out, self.err = tmp / "dev.out", tmp / "dev.err"
        self.env = os.environ | {
            "PYTHONPATH": str(REPO),
            "MOTCUA_LOG": "json",
            "MOTCUA_DATA": str(self.data),
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "motcua", "dev", "--data", str(self.data)]
        command += ["--port", str(self.port), "--ui-port", str(self.ui_port)]
        command += ["--codec-port", str(self.codec_port), "--web-port", str(self.web_port)]
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=out, stderr=err)
        deadline = time.monotonic() + 90
        while "Ctrl-C" not in self.out.read_text():
            assert self.process.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, self.err.read_text()
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def motcua(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "motcua", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def temporal(self, *args: str) -> str:
        command = [str(find_binary("temporal")), *args, "--address", f"127.0.0.1:{self.port}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    @property
    def codec_url(self) -> str:
        return f"http://127.0.0.1:{self.codec_port}"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """A dossier submitted and withdrawn on `motcua dev`; yields while the server runs."""
    running = Dev(tmp_path_factory.mktemp("personal"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def code(dev: Dev) -> str:
    applicant = dev.data.parent / "me.json"
    applicant.write_text(
        json.dumps({"full_name": NAME, "id_number": ID_NUMBER, "phone": "0987654321"}),
        encoding="utf-8",
    )
    dev.motcua("publish")  # only published procedures run (docs/security.md)
    submitted = dev.motcua("submit", "1.001193", "--applicant", str(applicant))
    found = re.search(r"\b(\S+-\d{6}-\d{4})\b", submitted)
    assert found, submitted
    dossier = found.group(1)
    deadline = time.monotonic() + 60
    while not list((dev.data / "results" / dossier).glob("*receipt*")):
        assert time.monotonic() < deadline, "no receipt rendered"
        time.sleep(0.2)
    dev.motcua("citizen", "withdraw", dossier, "--id-number", ID_NUMBER, "--reason", "đổi ý")
    while "COMPLETED" not in dev.temporal("workflow", "describe", "-w", dossier):
        assert time.monotonic() < deadline + 60, "the withdrawn dossier did not end"
        time.sleep(0.3)
    return dossier


@pytest.fixture(scope="module")
def web_code(dev: Dev, code: str) -> str:
    """A dossier applied for online, with a scan, through the web app of `motcua dev`."""
    with httpx.Client(base_url=f"http://127.0.0.1:{dev.web_port}", timeout=30) as http:
        page = http.get("/procedures/1.001193/apply").text
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, page[:500]
        scans = {
            name: ("scan.pdf", PDF, "application/pdf")
            for name in re.findall(r'name="(doc\.[a-z_]+)"', page)
        }
        applicant = {"full_name": WEB_NAME, "id_number": ID_NUMBER, "phone": WEB_PHONE}
        sent = http.post(
            "/procedures/1.001193/apply", data={"csrf": found.group(1), **applicant}, files=scans
        )
        assert sent.status_code == 303, sent.text[:2000]
        dossier = sent.headers["location"].split("/")[2].split("?")[0]
    deadline = time.monotonic() + 60
    while not list((dev.data / "results" / dossier).glob("*receipt*")):
        assert time.monotonic() < deadline, "no receipt rendered"
        time.sleep(0.2)
    return dossier


def test_a_web_submission_puts_no_applicant_data_in_logs_attributes_ids_or_feeds(
    dev: Dev, web_code: str
) -> None:
    """The name, phone and id number the citizen typed are in no log line, search attribute,
    workflow id or portal record; the scans are stored 0600 (see the next tests)."""
    listed = dev.temporal("workflow", "list", "--output", "json")
    described = dev.temporal("workflow", "describe", "-w", web_code, "--output", "json")
    portal = (dev.data / "outbox" / "portal.jsonl").read_bytes()
    logs = dev.out.read_bytes() + dev.err.read_bytes()
    for secret in (ID_NUMBER, WEB_NAME, WEB_PHONE):
        for where, blob in (
            ("workflow list", listed.encode()),
            ("describe", described.encode()),
            ("portal feed", portal),
            ("logs", logs),
        ):
            assert not [n for n in needles(secret) if n in blob], (secret, where)
    assert web_code in listed and any((dev.data / "uploads" / "blobs").rglob("*"))


def test_the_history_shows_no_id_number_without_the_codec(dev: Dev, code: str) -> None:
    shown = dev.temporal("workflow", "show", "-w", code, "--output", "json")
    assert "encryption-key-id" in shown or "ZW5jcnlwdGlvbi1rZXktaWQ" in shown
    assert not leaks(shown.encode()), "id number readable in `temporal workflow show`"


def test_the_cli_reads_it_through_the_codec_endpoint_with_a_token(dev: Dev, code: str) -> None:
    token = (dev.data / "keys" / "codec-token").read_text().strip()
    shown = dev.temporal(
        "workflow", "show", "-w", code, "--output", "json",
        "--codec-endpoint", dev.codec_url, "--codec-auth", f"Bearer {token}",
    )  # fmt: skip
    started = json.loads(shown)["events"][0]["workflowExecutionStartedEventAttributes"]
    [payload] = started["input"]["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert ID_NUMBER in base64.b64decode(payload["data"]).decode()


def test_the_codec_endpoint_refuses_the_unauthorised(dev: Dev, code: str) -> None:
    shown = json.loads(dev.temporal("workflow", "show", "-w", code, "--output", "json"))
    started = shown["events"][0]["workflowExecutionStartedEventAttributes"]["input"]
    body = json.dumps(started)
    officer = TokenFile(dev.data / TOKENS_FILE).issue("lan", "one_stop", "000.00.19.H26")
    auditor = (dev.data / "keys" / "codec-token").read_text().strip()
    url = f"{dev.codec_url}/default/decode"
    assert httpx.post(url, content=body).status_code == 401
    assert (
        httpx.post(url, content=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    refused = httpx.post(url, content=body, headers={"Authorization": f"Bearer {officer}"})
    assert refused.status_code == 403
    decoded = httpx.post(url, content=body, headers={"Authorization": f"Bearer {auditor}"})
    assert decoded.status_code == 200
    [payload] = decoded.json()["payloads"]
    assert ID_NUMBER in base64.b64decode(payload["data"]).decode()
    assert not leaks(refused.content)
    # The Web UI's origin may call it from the browser (CORS preflight).
    preflight = httpx.options(
        url,
        headers={
            "Origin": f"http://localhost:{dev.ui_port}",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.headers["access-control-allow-origin"] == f"http://localhost:{dev.ui_port}"
    # Every decode is traced: who read which dossier, how many payloads; never a value.
    lines = [json.loads(x) for x in dev.err.read_text().splitlines() if x.startswith("{")]
    reads = [x for x in lines if x.get("event") == "codec.decode"]
    assert reads and reads[-1]["reader"] == "dev-auditor" and reads[-1]["dossiers"] == [code]
    refusals = [x for x in lines if x.get("event") == "codec.refused"]
    assert {x.get("why") for x in refusals} >= {"no bearer token", "role may not read"}


def test_the_default_audit_export_holds_no_id_number(dev: Dev, code: str) -> None:
    """The export decrypts with the auditor's keys and masks personal data by default."""
    out = dev.data.parent / "export"
    dev.motcua("audit", "export", code, "--out", str(out))
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "trail.json" for p in files)
    assert {str(p): leaks(p.read_bytes()) for p in files if leaks(p.read_bytes())} == {}
    assert NAME not in "".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


def test_an_auditor_reads_a_saved_encrypted_history_with_the_keys_only(dev: Dev, code: str) -> None:
    saved = dev.data.parent / "history.json"
    saved.write_text(dev.temporal("workflow", "show", "-w", code, "--output", "json"))
    trail = json.loads(dev.motcua("audit", "trail", "--file", str(saved), "--format", "json"))
    assert trail["code"] == code and trail["applicant"]  # masked, but read
    keyless = subprocess.run(
        [sys.executable, "-m", "motcua", "audit", "trail", "--file", str(saved)],
        cwd=REPO,
        env=dev.env | {"MOTCUA_DATA": str(dev.data.parent / "elsewhere")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert keyless.returncode == 1
    assert keyless.stderr.startswith("motcua: ") and "no data key in these keys" in keyless.stderr
    assert len(keyless.stderr.strip().splitlines()) == 1


def test_the_embedded_web_ui_is_wired_to_the_codec_endpoint(dev: Dev) -> None:
    settings = httpx.get(f"http://127.0.0.1:{dev.ui_port}/api/v1/settings", timeout=10).json()
    assert settings["Codec"]["Endpoint"] == dev.codec_url, settings.get("Codec")


def test_nothing_stored_or_logged_holds_the_id_number(dev: Dev, code: str, web_code: str) -> None:
    """While the server runs (the WAL holds recent commits) and after it stopped."""

    def scan() -> dict[str, list[bytes]]:
        found = {}
        for path in [*dev.data.rglob("*"), dev.out, dev.err]:
            # documents and scans are the citizen's records: private, see below
            if path.is_file() and "results" not in path.parts and "uploads" not in path.parts:
                hits = leaks(path.read_bytes())
                if hits:
                    found[str(path)] = hits
        return found

    assert list(dev.data.glob("temporal.sqlite*")), "the server's database is a file"
    assert scan() == {}
    dev.stop()
    assert scan() == {}
    assert (dev.data / "outbox").is_dir() and any((dev.data / "outbox").iterdir())


def test_everything_written_is_private(dev: Dev, code: str, web_code: str) -> None:
    """The data folder and every file in it (documents, outboxes, registers, keys, tokens,
    the server's database and log) are the owner's alone; only public certificates and keys
    are 0644, inside 0700 folders."""
    receipt = next((dev.data / "results" / code).glob("*receipt*"))
    assert ID_NUMBER in receipt.read_text(encoding="utf-8")  # the citizen's document: private
    wrong = {}
    for path in [dev.data, *dev.data.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        head = path.read_bytes()[:64] if path.is_file() else b""
        if head.startswith((b"-----BEGIN CERTIFICATE-----", b"-----BEGIN PUBLIC KEY-----")):
            continue  # public certificates and keys (docs/documents.md); their folder is 0700
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[str(path.relative_to(dev.data))] = oct(mode)
    assert wrong == {}
