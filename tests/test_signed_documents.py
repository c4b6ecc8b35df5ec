"""Receipts and results that prove themselves: signed PDFs of a real dossier, checked offline."""

from __future__ import annotations

import io
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.x509.oid import NameOID
from helpers import catalogue_copy, eventually
from pypdf import PdfReader
from temporalio.client import Client

from activities.pdf import status_url
from activities.pki import LocalCA, load_certificate
from motcua import client as ops
from motcua.cli import main
from motcua.verify_document import check
from procedures.loader import load_catalog
from procedures.models import Channel, FrozenProcedure
from runtime import logs
from workflows.api import Actor, Applicant

POLICE = "000.09.20.H26"
POLICE_NAME = "Công an phường Phan Đình Phùng"
APPLICANT = Applicant(full_name="Đặng Thị Hồng Nhung", id_number="040190012345")


@pytest.fixture(scope="module", autouse=True)
def _logs_to_the_session_stream() -> None:
    """Configure structlog before a test's `capsys` swaps stderr (see test_audit.py)."""
    logs.configure()


@dataclass(frozen=True)
class Issued:
    code: str
    data_dir: Path
    receipt: Path
    result: Path
    started: datetime


_ISSUED: list[Issued] = []


@pytest_asyncio.fixture
async def issued(
    dev_env: Any, run_worker: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Issued:
    """A residence deregistration received, decided and approved by the police (once)."""
    if not _ISSUED:
        _ISSUED.append(await _run(dev_env.client, run_worker, tmp_path_factory))
    return _ISSUED[0]


async def _run(
    client: Client,
    run_worker: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
    frozen: FrozenProcedure | None = None,
) -> Issued:
    frozen = frozen or load_catalog()["1.010027"]
    started = datetime.now(UTC)
    data = tmp_path_factory.mktemp("data")
    officer = Actor.parse(f"tuan@{POLICE}/residence_officer")
    async with run_worker(client, "police", data):
        submitted = await ops.submit(
            client,
            frozen,
            APPLICANT,
            Channel.ONLINE,
            documents=[d.id for d in frozen.procedure.documents],
            request_id=f"signed-{started.timestamp()}",
        )
        code = submitted.code
        for step, actor, decision in (
            ("receive", officer, "accept"),
            ("deregister", officer, "deregistered"),
            ("approve", Actor.parse(f"hai@{POLICE}/head"), "approve"),
        ):
            await _when_open(client, code, step)
            await ops.claim(client, code, step, actor)
            await ops.complete(client, code, step, actor, decision)
        await client.get_workflow_handle(code).result()
        state = await ops.show(client, code)
    html = {doc.kind: Path(doc.path) for doc in state.documents}
    assert set(html) >= {"receipt", "result"}, html
    return Issued(
        code,
        data,
        html["receipt"].with_suffix(".pdf"),
        html["result"].with_suffix(".pdf"),
        started,
    )


async def _when_open(client: Client, code: str, step: str) -> None:
    async def opened() -> bool:
        state = await ops.show(client, code)
        return any(t.step == step and t.status.value in ("open", "claimed") for t in state.tasks)

    await eventually(opened, timeout=10, what=f"{step} open", every=0.05)


def _text(pdf: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(pdf).pages)


@pytest.mark.parametrize("kind", ["receipt", "result"])
async def test_receipt_and_result_are_pdfs_signed_by_the_issuing_agency(
    issued: Issued, kind: str
) -> None:
    pdf: Path = getattr(issued, kind)
    assert pdf.with_suffix(".html").is_file(), "the HTML preview stays"
    root = load_certificate(LocalCA(issued.data_dir).root_path)
    result = await check(pdf.read_bytes(), root)
    assert result.ok, result.lines()
    assert (result.agency, result.agency_code) == (POLICE_NAME, POLICE)
    assert result.signed_at is not None
    # A PDF signing time has whole seconds only.
    assert issued.started.replace(microsecond=0) <= result.signed_at <= datetime.now(UTC)
    assert result.lines()[-2:] == ["modified after signing: no", "valid"]


LONG_NAME = (
    "Bộ phận tiếp nhận và trả kết quả thuộc Công an phường Phan Đình Phùng, "
    "tỉnh Thái Nguyên (điểm tiếp nhận số 2, tổ số 109)"
)


async def test_an_agency_named_past_x509s_bounds_signs_a_receipt_that_verifies(
    dev_env: Any,
    run_worker: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    """A Vietnamese agency name of 120 characters (some 160 UTF-8 bytes) is more than an x509
    common name may hold (64 bytes): the certificate still signs, the name shown whole."""
    assert len(LONG_NAME) == 120 and len(LONG_NAME.encode()) > 150
    frozen = catalogue_copy(
        tmp_path, "residence-deregistration.yaml", (f'"{POLICE_NAME}"', f'"{LONG_NAME}"')
    )
    assert frozen.procedure.agencies["police"].name == LONG_NAME

    issued = await _run(dev_env.client, run_worker, tmp_path_factory, frozen)
    root = load_certificate(LocalCA(issued.data_dir).root_path)
    result = await check(issued.receipt.read_bytes(), root)
    assert result.ok, result.lines()
    assert (result.agency, result.agency_code) == (LONG_NAME, POLICE)
    assert f"signed by: {LONG_NAME} ({POLICE})" in result.lines()
    certificate = LocalCA(issued.data_dir).agency(POLICE, LONG_NAME).certificate
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(common_name, str) and len(common_name.encode()) <= 64
    assert common_name.endswith("…") and LONG_NAME.startswith(common_name[:-1].rstrip(" ,"))


@pytest.mark.parametrize("kind", ["receipt", "result"])
def test_the_pdf_prints_the_vietnamese_name_and_where_to_check_the_status(
    issued: Issued, kind: str
) -> None:
    text = _text(getattr(issued, kind))
    assert APPLICANT.full_name in text
    assert POLICE_NAME in text
    assert f"Mã tra cứu hồ sơ: {issued.code}" in text
    assert status_url(issued.code) in text.replace("\n", "")
    assert status_url(issued.code) == f"http://localhost:8000/tra-cuu/{issued.code}"


def test_keys_are_private(issued: Issued) -> None:
    pki = issued.data_dir / "pki"
    for key in (pki / "ca.key.pem", pki / "agencies" / f"{POLICE}.key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pki.stat().st_mode) == 0o700


@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
async def test_a_modified_byte_is_refused(issued: Issued, where: float) -> None:
    data = bytearray(issued.result.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    root = load_certificate(LocalCA(issued.data_dir).root_path)
    result = await check(bytes(data), root)
    assert not result.ok and result.modified, result.lines()
    assert result.lines()[-1] == "NOT valid"


async def test_an_update_appended_after_signing_is_refused(issued: Issued) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(issued.receipt.read_bytes()))
    writer.root["/Lang"] = generic.pdf_string("en")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    root = load_certificate(LocalCA(issued.data_dir).root_path)
    result = await check(out.getvalue(), root)
    assert not result.ok and result.modified
    assert "REFUSED bytes were added after the signature" in result.lines()


async def test_a_document_from_another_authority_is_not_trusted(
    issued: Issued, data_dir: Path
) -> None:
    _, other_root = LocalCA(data_dir).root()
    result = await check(issued.receipt.read_bytes(), other_root)
    assert not result.ok and not result.modified
    assert "REFUSED the signer's certificate does not chain to the trust root" in result.lines()


def test_cli_verify_document(
    issued: Issued,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("activities.DATA_DIR", issued.data_dir)
    assert main(["verify-document", str(issued.result)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"signed by: {POLICE_NAME} ({POLICE})"
    assert out[1].startswith("signed at: ") and out[1].endswith("+07:00")
    assert out[-2:] == ["modified after signing: no", "valid"]

    tampered = tmp_path / "tampered.pdf"
    data = bytearray(issued.result.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    assert main(["verify-document", str(tampered)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "modified after signing: YES" in out and out[-1] == "NOT valid"

    trust = issued.data_dir / "pki" / "ca.pem"
    assert main(["verify-document", str(issued.receipt), "--trust", str(trust)]) == 0
    capsys.readouterr()

    for argv, status, message in (
        (["verify-document", str(issued.result.with_suffix(".html"))], 1, "not a PDF file"),
        (["verify-document", str(tmp_path / "nope.pdf")], 1, "No such file"),
        (["verify-document", str(issued.result), "--trust", str(tampered)], 2, "certificate"),
    ):
        assert main(argv) == status
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err

    monkeypatch.setattr("activities.DATA_DIR", tmp_path / "empty")
    assert main(["verify-document", str(issued.result)]) == 2
    assert "give the trust root with --trust" in capsys.readouterr().err


def test_a_template_cannot_pull_local_files_into_a_pdf(data_dir: Path, tmp_path: Path) -> None:
    """Templates come from procedure authors: the PDF printer loads only `data:` URLs."""
    from temporalio.testing import ActivityEnvironment

    from activities.documents import Documents
    from activities.payloads import RenderForm
    from procedures.models import Form, FormKind

    css = tmp_path / "leak.css"
    css.write_text('body::after { content: "LEAKED FROM DISK"; }')
    source = f'<link rel="stylesheet" href="file://{css}"><p>{{{{ dossier_code }}}}</p>'
    request = RenderForm(
        doc_id="01",
        dossier_code="000.00.19.H26-260302-0001",
        kind=FormKind.RECEIPT,
        form=Form(number="01", title="Giấy tiếp nhận", template="receipt.html.j2", source=source),
        context={},
    )
    rendered = ActivityEnvironment().run(Documents(data_dir).render_form, request)
    assert rendered.pdf is not None
    text = _text(Path(rendered.pdf))
    assert "000.00.19.H26-260302-0001" in text and "LEAKED" not in text


def test_concurrent_first_signatures_make_one_certificate(data_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ca = LocalCA(data_dir)
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: ca.agency(POLICE, POLICE_NAME), range(8)))
    assert len({c.certificate.serial_number for c in made}) == 1
    assert len({c.chain[0].serial_number for c in made}) == 1
