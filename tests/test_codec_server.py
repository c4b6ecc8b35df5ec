"""The codec server over real HTTP (uvicorn on a free port), with the session's keys."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import Codec
from google.protobuf.json_format import Parse
from temporalio.api.common.v1 import Payloads
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import WorkflowSerializationContext

from identity import assertions, keys, layout
from motcua.codec_server import create_app, load_verifier, payload_json
from runtime import logs
from runtime.codec import EncryptionCodec, key_id_of
from runtime.connection import data_converter

DOSSIER = "000.00.19.H26-261130-0901"


def body(*values: object) -> str:
    return payload_json(pydantic_data_converter.payload_converter.to_payloads(list(values)))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(url: str, content: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(url, content=content, headers=headers)


async def test_encode_seals_under_the_named_dossier_and_decode_opens_it(
    codec_server: Codec,
) -> None:
    sealed = await post(
        f"{codec_server.url}/encode",
        body({"id_number": "079300001111"}),
        **auth(codec_server.officer),  # encoding needs a valid token, not a reader's role
        **{"X-Motcua-Dossier": DOSSIER},
    )
    assert sealed.status_code == 200
    [payload] = Parse(sealed.text, Payloads()).payloads
    assert key_id_of(payload) == f"dossier:{DOSSIER}"
    assert b"079300001111" not in payload.data
    opened = await post(f"{codec_server.url}/decode", sealed.text, **auth(codec_server.auditor))
    assert opened.status_code == 200
    [plain] = opened.json()["payloads"]
    assert json.loads(base64.b64decode(plain["data"])) == {"id_number": "079300001111"}


async def test_malformed_and_oversized_requests_are_refused_in_one_line(
    codec_server: Codec,
) -> None:
    url = f"{codec_server.url}/default/decode"
    bad = await post(url, "{not json", **auth(codec_server.auditor))
    assert bad.status_code == 400 and bad.json()["error"].startswith("not proto3-JSON Payloads")
    huge = await post(url, " " * (8 << 20 | 1), **auth(codec_server.auditor))
    assert huge.status_code == 413
    assert (await post(url, body("x"))).status_code == 401


async def test_an_erased_dossiers_payloads_stay_encrypted_and_the_read_is_logged(
    codec_server: Codec, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure()
    codec = data_converter().payload_codec
    assert isinstance(codec, EncryptionCodec)
    erased = "000.00.19.H26-261130-0902"
    [gone] = await codec.with_context(WorkflowSerializationContext("default", erased)).encode(
        pydantic_data_converter.payload_converter.to_payloads(["Trần Thị Xoá"])
    )
    [kept] = await codec.with_context(WorkflowSerializationContext("default", DOSSIER)).encode(
        pydantic_data_converter.payload_converter.to_payloads(["Lê Văn Còn"])
    )
    assert codec.keys.erase(erased, datetime.now(UTC))
    answer = await post(
        f"{codec_server.url}/decode", payload_json([gone, kept]), **auth(codec_server.auditor)
    )
    assert answer.status_code == 200
    first, second = answer.json()["payloads"]
    assert base64.b64decode(first["metadata"]["encoding"]) == b"binary/encrypted"
    assert json.loads(base64.b64decode(second["data"])) == "Lê Văn Còn"
    logged = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    [read] = [x for x in logged if x.get("event") == "codec.decode"]
    assert read["reader"] == "thanh" and read["dossiers"] == sorted([erased, DOSSIER])
    assert read["payloads"] == 2 and read["unreadable"] == 1
    assert "Còn" not in json.dumps(logged, ensure_ascii=False)


async def test_an_officers_signed_assertion_reads_only_as_an_auditor(tmp_path: Path) -> None:
    """The front door's assertions (`motcua login`, the web app) are bearer tokens too: an
    auditor's decodes, another role's is refused (403), a forged or expired one is not a
    token at all (401)."""
    codec = data_converter().payload_codec
    assert isinstance(codec, EncryptionCodec)
    app = create_app(codec, load_verifier(tmp_path))
    key = layout.officers_signer(tmp_path).key()
    now = datetime.now(UTC)

    def token(role: str, signer: keys.SigningKey = key, at: datetime = now) -> str:
        return assertions.issue(
            signer.private, signer.kid, user="an", agency="000.00.19.H26", role=role, now=at
        )

    sealed = body({"id_number": "079300002222"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec"
    ) as http:

        async def decode(bearer: str) -> httpx.Response:
            return await http.post("/decode", content=sealed, headers=auth(bearer))

        assert (await decode(token("auditor"))).status_code == 200
        assert (await decode(token("one_stop"))).status_code == 403
        assert (await decode(token("auditor", keys.generate()))).status_code == 401
        assert (await decode(token("auditor", at=now - timedelta(days=1)))).status_code == 401
