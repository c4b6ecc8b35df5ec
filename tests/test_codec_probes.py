"""A hostile caller against the codec server (real HTTP): other origins, odd bodies, odd
headers. Each is refused in one line and reads nothing (docs/security.md, the codec server)."""

from __future__ import annotations

import httpx
from conftest import Codec
from google.protobuf.json_format import Parse
from temporalio.api.common.v1 import Payloads
from test_codec_server import auth, body, post

from runtime.codec import key_id_of

UI = "http://localhost:8233"


async def test_only_the_web_uis_origin_may_call_it_from_a_browser(codec_server: Codec) -> None:
    async with httpx.AsyncClient() as http:
        for origin, allowed in ((UI, True), ("http://evil.example", False), ("null", False)):
            preflight = await http.options(
                f"{codec_server.url}/decode",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type",
                },
            )
            granted = preflight.headers.get("access-control-allow-origin")
            assert (granted == origin) is allowed, (origin, preflight.headers)
            assert granted != "*"
            simple = await http.post(
                f"{codec_server.url}/decode",
                content=body("x"),
                headers={"Origin": origin, **auth(codec_server.auditor)},
            )
            assert (simple.headers.get("access-control-allow-origin") == origin) is allowed


async def test_odd_bodies_and_headers_are_one_line_refusals(codec_server: Codec) -> None:
    url = f"{codec_server.url}/decode"
    for content in ("[" * 50_000 + "]" * 50_000, '{"payloads": 5}', "\udcff", "null"):
        answer = await post(
            url,
            content.encode("utf-8", "surrogateescape").decode("latin-1"),
            **auth(codec_server.auditor),
        )
        assert answer.status_code in (200, 400), (content[:10], answer.text)
        assert "Traceback" not in answer.text and "\n" not in answer.text
    unauthenticated = await post(url, "[" * 50_000, Authorization="Bearer " + "x" * 100_000)
    assert unauthenticated.status_code in (400, 401, 431)
    # A dossier header that is not a dossier code seals under the master key, never a path.
    for hostile in ("../../keys/keyring", "/etc/passwd", "a-b/../../x"):
        sealed = await post(
            f"{codec_server.url}/encode",
            body("x"),
            **auth(codec_server.officer),
            **{"X-Motcua-Dossier": hostile},
        )
        assert sealed.status_code == 200, sealed.text
        [payload] = Parse(sealed.text, Payloads()).payloads
        assert (key_id_of(payload) or "").startswith("master:")
