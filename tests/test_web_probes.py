"""A hostile caller against the web front door: real uvicorn, dev server and worker.

Each test is a probe an attacker would try (docs/security.md, "The web front door under
attack"): oversized or deeply nested JSON, a reused idempotency key, redirects off the site,
markup in what a citizen writes, tampered cookies, guessing whether a dossier exists.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from test_web_api import APPLICANT, COMMUNE, HOUSEHOLD, QUEUES, sign_in, submit
from webserver import PASSWORD, PDF, serve_web, web_trust

from motcua.web.app import SECURITY_HEADERS

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest_asyncio.fixture(loop_scope="session")
async def web(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> AsyncIterator[str]:
    async with (
        run_worker(dev_env.client, QUEUES, data_dir, trust=web_trust(data_dir)),
        serve_web(dev_env.client, data_dir, lookups_per_window=50) as base,
    ):
        yield base


def is_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The answer is a one-line RFC 9457 problem with `status`, and carries the headers."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == status and "\n" not in body["detail"]
    assert "Traceback" not in answer.text and 'File "' not in answer.text
    for name in SECURITY_HEADERS:
        assert name in answer.headers, (name, answer.request.url)
    return body


async def test_a_json_body_over_the_form_limit_is_refused_unread(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        huge = b'{"procedure": "' + b"A" * (2 * 1024 * 1024) + b'"}'
        answer = await http.post(
            "/api/v1/dossiers",
            content=huge,
            headers={"Idempotency-Key": "k" * 10, "Content-Type": "application/json"},
        )
        assert str(128 * 1024) in is_problem(answer, 413)["detail"]
        # The officers' JSON calls too, before the session is even looked at.
        answer = await http.post("/api/v1/session", content=huge)
        is_problem(answer, 413)
        # A page form without scans is held to the same limit.
        answer = await http.post(
            "/lookup", content=b"code=" + b"A" * (2 * 1024 * 1024), headers={"Accept": "text/html"}
        )
        assert answer.status_code == 413
        for name in SECURITY_HEADERS:
            assert name in answer.headers


async def test_deeply_nested_or_odd_json_is_a_located_problem(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        headers = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
        deep = b'{"procedure": "2.000720", "applicant": {"full_name": "A", "id_number": "1"}, '
        deep += b'"form": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
        answer = await http.post("/api/v1/dossiers", content=deep, headers=headers)
        assert is_problem(answer, 422)["detail"] == "body: JSON nested too deeply"
        # Shallow enough for the JSON reader, too deep for the payload converter: refused
        # before a dossier code is issued, not a 500 after.
        uploaded = (await http.post("/api/v1/uploads", content=PDF)).json()["sha256"]
        nested = {
            "procedure": HOUSEHOLD,
            "applicant": APPLICANT,
            "documents": {"application": uploaded},
            "form": {"a": json.loads("[" * 400 + "]" * 400)},
        }
        answer = await http.post("/api/v1/dossiers", content=json.dumps(nested), headers=headers)
        assert is_problem(answer, 422)["detail"] == "form: nested more than 32 deep"
        for body in (b"\xff\xfe{", b"[1, 2", b"null", b'"x"', b"1e999999"):
            is_problem(await http.post("/api/v1/dossiers", content=body, headers=headers), 422)
        control = {
            "procedure": HOUSEHOLD,
            "applicant": {"full_name": "Mal\x1b[2Jlory\u202e", "id_number": "1"},
        }
        answer = await http.post("/api/v1/dossiers", json=control, headers=headers)
        assert is_problem(answer, 422)["detail"].startswith("body.applicant.full_name")


async def test_every_failure_is_a_problem_with_the_headers(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        is_problem(await http.get("/api/v1/nothing-here"), 404)
        wrong_method = await http.delete("/api/v1/dossiers")
        is_problem(wrong_method, 405)
        assert wrong_method.headers["allow"] == "POST"

        async def parts() -> AsyncIterator[bytes]:
            yield b'{"user": "a", '
            yield b'"password": "b"}'

        chunked = await http.post("/api/v1/session", content=parts())
        is_problem(chunked, 411)
        page = await http.get("/no-such-page")
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        for name, value in SECURITY_HEADERS.items():
            assert page.headers[name] == value


async def test_an_idempotency_key_reused_for_another_body_reveals_nothing(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        key = str(uuid.uuid4())
        first = await submit(http, key)
        another_scan = PDF + b"% another scan\n"
        uploaded = (await http.post("/api/v1/uploads", content=another_scan)).json()["sha256"]
        other = {
            "procedure": HOUSEHOLD,
            "applicant": {"full_name": "Kẻ Lạ", "id_number": "079000000999"},
            "documents": {"application": uploaded},
        }
        answer = await http.post("/api/v1/dossiers", json=other, headers={"Idempotency-Key": key})
        body = is_problem(answer, 422)
        assert first["code"] not in answer.text and "different" in body["detail"]
        # The same applicant and the same key with another scan: not silently the first dossier
        same = {**other, "applicant": APPLICANT}
        answer = await http.post("/api/v1/dossiers", json=same, headers={"Idempotency-Key": key})
        assert (
            first["code"] not in answer.text and "other scans" in is_problem(answer, 422)["detail"]
        )
        again = await submit(http, key)  # the very same request still answers its dossier
        assert again["code"] == first["code"] and again["existing"] is True


async def test_no_redirect_leaves_the_site(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        for target in (
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example",
            "/%2F%2Fevil.example",
            "\\\\evil.example",
            "/procedures\r\nSet-Cookie: x=1",
        ):
            answer = await http.get("/language/en", params={"next": target})
            assert answer.status_code == 303
            location = answer.headers["location"]
            resolved = httpx.URL(web).join(location)
            assert resolved.host == "127.0.0.1", (target, location)
            assert (
                "\r" not in location
                and "\n" not in location
                and "x=1" not in str(answer.headers.get_list("set-cookie"))
            )
        # The language links carry the page's path as one encoded parameter.
        page = await http.get("/procedures/x&next=//evil.example")
        assert "next=//evil.example" not in page.text.replace("&amp;", "&")


async def test_markup_a_citizen_writes_is_shown_as_text_to_officers(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as citizen, httpx.AsyncClient(base_url=web) as desk:
        code = (await submit(citizen, str(uuid.uuid4())))["code"]
        proof = {"id_number": APPLICANT["id_number"]}
        withdrawn = await citizen.post(
            f"/api/v1/dossiers/{code}/withdraw", json={**proof, "reason": XSS}
        )
        assert withdrawn.status_code == 200, withdrawn.text
        await sign_in(desk, f"one_stop.{COMMUNE}")
        page = await desk.get(f"/officer/dossiers/{code}")
        assert page.status_code == 200
        assert XSS not in page.text and "&lt;script&gt;" in page.text
        assert "script-src" not in page.headers["content-security-policy"] or (
            "unsafe-inline" not in page.headers["content-security-policy"]
        )


async def test_a_tampered_or_foreign_cookie_is_no_session(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as desk:
        await sign_in(desk, f"one_stop.{COMMUNE}")
        cookie = desk.cookies["motcua_session"]
        flags = (await desk.post("/api/v1/session", json={"user": "x", "password": "y"})).headers
        assert "set-cookie" not in flags  # a failed sign-in keeps the session it had
        payload, _, signature = cookie.rpartition(".")
        for forged in (payload + ".AAAA", cookie[:-2] + "xx", "x" * 5000, "%00"):
            async with httpx.AsyncClient(base_url=web, cookies={"motcua_session": forged}) as other:
                inbox = await other.get("/api/v1/inbox")
                is_problem(inbox, 401)
        assert signature


async def test_session_cookie_flags_and_transport_security(
    dev_env: WorkflowEnvironment, data_dir: Path
) -> None:
    async with (
        serve_web(dev_env.client, data_dir, secure_cookies=True) as base,
        httpx.AsyncClient(base_url=base) as http,
    ):
        page = await http.get("/officer/login")
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
        assert page.headers["strict-transport-security"].startswith("max-age=")


async def test_a_lookup_answers_in_the_same_time_whether_the_dossier_exists(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        code = (await submit(http, str(uuid.uuid4())))["code"]
        unknown = f"{COMMUNE}-000101-9999"

        async def took(target: str) -> float:
            start = time.perf_counter()
            answer = await http.post(
                f"/api/v1/dossiers/{target}/status", json={"id_number": "000000000000"}
            )
            assert answer.status_code == 404
            return time.perf_counter() - start

        from motcua.web.citizen import PROOF_FLOOR_SECONDS

        for target in (code, unknown, "rating-" + code, "x" * 200):
            assert await took(target) >= PROOF_FLOOR_SECONDS


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:300]
    return found.group(1)


async def test_signing_in_gives_a_new_session_whatever_cookie_came_before(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        planted = csrf_of((await http.get("/officer/login")).text)  # a session an attacker set
        signed = await http.post(
            "/officer/login",
            data={"csrf": planted, "user": f"one_stop.{COMMUNE}", "password": PASSWORD},
        )
        assert signed.status_code == 303
        assert csrf_of((await http.get("/officer")).text) != planted


async def test_hostile_uploads_on_the_application_page(web: str, data_dir: Path) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = csrf_of((await http.get(f"/procedures/{HOUSEHOLD}/apply")).text)
        form = {"csrf": csrf, "full_name": "A", "id_number": "079000000001"}
        many = [(f"doc.x{i}", ("a.pdf", PDF, "application/pdf")) for i in range(21)]
        answer = await http.post(f"/procedures/{HOUSEHOLD}/apply", data=form, files=many)
        assert answer.status_code == 400 and "Too many files" in answer.text
        tricks = {
            "doc.application": ("../../../../tmp/evil.pdf", PDF, "application/pdf"),
            "doc.../../../etc/passwd": ("/etc/passwd", PDF, "application/pdf"),
        }
        answer = await http.post(f"/procedures/{HOUSEHOLD}/apply", data=form, files=tricks)
        assert answer.status_code == 422 and "../../../etc/passwd" in answer.text
        fake = {"doc.application": ("a.pdf", b"<html><script>alert(1)</script>", "application/pdf")}
        answer = await http.post(f"/procedures/{HOUSEHOLD}/apply", data=form, files=fake)
        assert answer.status_code == 422 and "PDF, JPEG" in answer.text  # judged by its bytes
        stored = [p.name for p in (data_dir / "uploads").rglob("*") if p.is_file()]
        assert all(re.fullmatch(r"[0-9a-f]{64}", name) for name in stored), stored
        assert not Path("/tmp/evil.pdf").exists()


async def test_a_forged_forwarded_for_does_not_reset_the_rate_limit(
    dev_env: WorkflowEnvironment, data_dir: Path
) -> None:
    """Behind the one proxy `--trust-forwarded-for` expects, which appends the address it saw
    (here 10.0.0.7) to what the client sent, a client varying its own entry is still one."""
    async with (
        serve_web(dev_env.client, data_dir, trust_forwarded_for=True, logins_per_window=3) as base,
        httpx.AsyncClient(base_url=base) as http,
    ):
        answers = [
            await http.post(
                "/api/v1/session",
                json={"user": f"guess{i}", "password": "x"},
                headers={"X-Forwarded-For": f"203.0.113.{i}, 10.0.0.7"},
            )
            for i in range(17)
        ]
        assert [a.status_code for a in answers][-2:] == [429, 429]


async def test_one_identity_number_tried_across_many_codes_and_addresses_is_limited(
    dev_env: WorkflowEnvironment, data_dir: Path
) -> None:
    """Someone who knows a citizen's number and guesses their dossier codes from a botnet:
    every address and every code is new, the number is the same."""
    async with (
        serve_web(dev_env.client, data_dir, trust_forwarded_for=True, lookups_per_window=3) as base,
        httpx.AsyncClient(base_url=base) as http,
    ):
        answers = [
            await http.post(
                f"/api/v1/dossiers/{COMMUNE}-261130-{9000 + i}/status",
                json={"id_number": "079000000042"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            for i in range(5)
        ]
        assert [a.status_code for a in answers] == [404, 404, 404, 429, 429]
        other = await http.post(
            f"/api/v1/dossiers/{COMMUNE}-261130-9999/status",
            json={"id_number": "079000000043"},
            headers={"X-Forwarded-For": "203.0.113.99"},
        )
        assert other.status_code == 404  # another number is not held back


async def test_a_temporal_that_cannot_serve_is_a_503_to_retry(
    dev_env: WorkflowEnvironment, data_dir: Path
) -> None:
    """A namespace the server does not know (misconfigured, or the embedded server losing it
    under load, as bench/web.py saw) is a 503 with Retry-After, not a 500 or a stack trace."""
    lost = Client(
        dev_env.client.service_client,
        namespace="no-such-namespace",
        data_converter=dev_env.client.data_converter,
    )
    async with serve_web(lost, data_dir) as base, httpx.AsyncClient(base_url=base) as http:
        await sign_in(http, f"one_stop.{COMMUNE}")
        answer = await http.get("/api/v1/inbox")
        assert is_problem(answer, 503)["title"] == "Service unavailable"
        assert answer.headers["retry-after"] == "2"
