"""The JSON API against a real dev server, worker and uvicorn: what the portal relies on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from webserver import PASSWORD, PDF, serve_web, web_trust

from motcua.client import InboxCache, inbox
from motcua.web.officer import PAGE_SIZE
from workflows import search_attributes as sa

QUEUES = ["commune", "business", "justice", "police"]
HOUSEHOLD = "2.000720"
COMMUNE = "000.20.20.H26"
BUSINESS = "005.20.20.H26"
JUSTICE = "000.00.14.H26"
APPLICANT = {"full_name": "Trần Thị Mai", "id_number": "019190000123"}


@pytest_asyncio.fixture(loop_scope="session")
async def web(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> AsyncIterator[str]:
    async with (
        run_worker(dev_env.client, QUEUES, data_dir, trust=web_trust(data_dir)),
        serve_web(dev_env.client, data_dir, lookups_per_window=5) as base,
    ):
        yield base


async def sign_in(http: httpx.AsyncClient, user: str) -> str:
    answer = await http.post("/api/v1/session", json={"user": user, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    csrf: str = answer.json()["csrf"]
    return csrf


async def submit(http: httpx.AsyncClient, key: str) -> dict[str, Any]:
    uploaded = await http.post("/api/v1/uploads", content=PDF)
    assert uploaded.status_code == 201, uploaded.text
    body = {
        "procedure": HOUSEHOLD,
        "applicant": APPLICANT,
        "documents": {"application": uploaded.json()["sha256"]},
    }
    answer = await http.post("/api/v1/dossiers", json=body, headers={"Idempotency-Key": key})
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def wait_for_task(http: httpx.AsyncClient, code: str, step: str) -> None:
    """Until the dossier has opened the step's task (the workflow opens it just after start)."""
    for _ in range(100):
        state = (await http.get(f"/api/v1/dossiers/{code}")).json()
        if any(t["step"] == step for t in state.get("tasks", ())):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{code}: task {step} never opened")


async def test_submit_is_idempotent_and_status_needs_the_id_number(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        key = str(uuid.uuid4())
        first = await submit(http, key)
        again = await submit(http, key)
        assert again["code"] == first["code"] and again["existing"] is True
        code = first["code"]
        assert code.startswith(COMMUNE + "-")

        wrong = await http.post(f"/api/v1/dossiers/{code}/status", json={"id_number": "1"})
        unknown = await http.post(
            f"/api/v1/dossiers/{COMMUNE}-000101-9999/status", json={"id_number": "1"}
        )
        # The same answer whether the dossier exists or not: nothing is revealed.
        assert wrong.status_code == unknown.status_code == 404
        assert wrong.json()["detail"] == unknown.json()["detail"]
        assert wrong.headers["content-type"] == "application/problem+json"

        seen = await http.post(
            f"/api/v1/dossiers/{code}/status", json={"id_number": APPLICANT["id_number"]}
        )
        assert seen.status_code == 200
        assert seen.json()["status_vi"] == "Đã tiếp nhận"
        assert "019190000123" not in seen.text  # the status never repeats the id number


async def test_lookups_are_rate_limited(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        code = f"{COMMUNE}-000101-0001"
        answers = [
            (await http.post(f"/api/v1/dossiers/{code}/status", json={"id_number": "x"}))
            for _ in range(7)
        ]
        assert [a.status_code for a in answers][-1] == 429
        assert answers[-1].json()["title"] == "Too many requests"


async def test_bad_input_is_one_located_line(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        missing_key = await http.post("/api/v1/dossiers", json={"procedure": HOUSEHOLD})
        assert missing_key.status_code == 422
        assert missing_key.json()["detail"].startswith("header.idempotency-key")
        bad = await http.post(
            "/api/v1/dossiers",
            json={"procedure": HOUSEHOLD, "applicant": {"full_name": "A"}},
            headers={"Idempotency-Key": "k" * 10},
        )
        assert bad.json()["detail"] == "body.applicant.id_number: Field required"
        not_a_scan = await http.post("/api/v1/uploads", content=b"MZ\x90\x00 executable")
        assert not_a_scan.status_code == 415
        assert "\n" not in not_a_scan.json()["detail"]
        huge = await http.post("/api/v1/uploads", content=b"%PDF-" + b"0" * (11 * 1024 * 1024))
        assert huge.status_code == 413
        spec = (await http.get("/openapi.json")).json()
        assert "/api/v1/dossiers/{code}/tasks/{step}/complete" in spec["paths"]


async def test_officers_act_through_the_api_and_see_their_action_at_once(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as citizen:
        code = (await submit(citizen, str(uuid.uuid4())))["code"]

    async with httpx.AsyncClient(base_url=web) as outsider:
        csrf = await sign_in(outsider, f"one_stop.{JUSTICE}")
        hidden = await outsider.get(f"/api/v1/dossiers/{code}")
        assert hidden.status_code == 404
        refused = await outsider.post(
            f"/api/v1/dossiers/{code}/tasks/receive/claim", headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code == 404

    async with httpx.AsyncClient(base_url=web) as desk:
        no_csrf = await desk.post(f"/api/v1/dossiers/{code}/tasks/receive/claim")
        assert no_csrf.status_code == 401  # not signed in yet
        csrf = await sign_in(desk, f"one_stop.{COMMUNE}")
        forged = await desk.post(
            f"/api/v1/dossiers/{code}/tasks/receive/claim", headers={"X-CSRF-Token": "x"}
        )
        assert forged.status_code == 403
        headers = {"X-CSRF-Token": csrf}
        for _ in range(50):  # visibility is eventually consistent: the new dossier shows soon
            inbox = (await desk.get("/api/v1/inbox")).json()
            if any(r["dossier"] == code for r in inbox["rows"]):
                break
            await asyncio.sleep(0.1)
        assert any(r["dossier"] == code for r in inbox["rows"])
        await wait_for_task(desk, code, "receive")
        claimed = await desk.post(f"/api/v1/dossiers/{code}/tasks/receive/claim", headers=headers)
        assert claimed.status_code == 200, claimed.text
        task = next(t for t in claimed.json()["state"]["tasks"] if t["step"] == "receive")
        assert task["assignee"] == f"one_stop.{COMMUNE}"  # seen at once, from the state
        invalid = await desk.post(
            f"/api/v1/dossiers/{code}/tasks/receive/complete",
            json={"decision": "accept"},
            headers=headers,
        )
        assert invalid.status_code == 409
        assert "business_name" in invalid.json()["detail"]
        done = await desk.post(
            f"/api/v1/dossiers/{code}/tasks/receive/complete",
            json={"decision": "accept", "fields": {"business_name": "Tạp hóa Mai"}},
            headers=headers,
        )
        assert done.status_code == 200, done.text
        steps = {t["step"]: t["status"] for t in done.json()["state"]["tasks"]}
        assert steps["receive"] == "done"
        documents = (await desk.get(f"/api/v1/dossiers/{code}/documents")).json()
        assert [s["document"] for s in documents["scans"]] == ["application"]


async def test_the_applicant_supplements_then_withdraws(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as citizen, httpx.AsyncClient(base_url=web) as desk:
        code = (await submit(citizen, str(uuid.uuid4())))["code"]
        headers = {"X-CSRF-Token": await sign_in(desk, f"one_stop.{COMMUNE}")}
        await wait_for_task(desk, code, "receive")
        asked = await desk.post(
            f"/api/v1/dossiers/{code}/tasks/receive/request-supplement",
            json={"missing": ["members_minutes"], "reason": "thiếu biên bản"},
            headers=headers,
        )
        assert asked.status_code == 200, asked.text
        assert asked.json()["state"]["status"] == 5
        proof = {"id_number": APPLICANT["id_number"]}
        scan = (await citizen.post("/api/v1/uploads", content=PDF + b"minutes")).json()
        not_theirs = await citizen.post(
            f"/api/v1/dossiers/{code}/supplement",
            json={"id_number": "000000000000", "documents": {"members_minutes": scan["sha256"]}},
        )
        assert not_theirs.status_code == 404
        sent = await citizen.post(
            f"/api/v1/dossiers/{code}/supplement",
            json={**proof, "documents": {"members_minutes": scan["sha256"]}},
        )
        assert sent.status_code == 200, sent.text
        scans = (await desk.get(f"/api/v1/dossiers/{code}/documents")).json()["scans"]
        assert [(s["document"], s["via"]) for s in scans] == [
            ("application", "submission"),
            ("members_minutes", "supplement"),
        ]
        gone = await citizen.post(f"/api/v1/dossiers/{code}/withdraw", json=proof)
        assert gone.status_code == 200, gone.text
        for _ in range(50):  # the update is accepted; the dossier ends a moment later
            if (await desk.get(f"/api/v1/dossiers/{code}")).json()["status"] == 7:
                break
            await asyncio.sleep(0.1)
        seen = await citizen.post(f"/api/v1/dossiers/{code}/status", json=proof)
        assert seen.json()["status_vi"] == "Công dân đã rút hồ sơ"


async def test_pages_refuse_a_form_without_its_csrf_token(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        await http.get("/officer/login")  # a session cookie, but no token in the form
        forged = await http.post(
            "/officer/login", data={"user": f"one_stop.{COMMUNE}", "password": PASSWORD}
        )
        assert forged.status_code == 403
        assert "motcua_session" not in forged.headers.get("set-cookie", "") or "Đăng xuất" not in (
            forged.text
        )


async def test_inbox_filters_and_a_head_only_reassignment(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as citizen, httpx.AsyncClient(base_url=web) as desk:
        code = (await submit(citizen, str(uuid.uuid4())))["code"]
        headers = {"X-CSRF-Token": await sign_in(desk, f"one_stop.{COMMUNE}")}
        await wait_for_task(desk, code, "receive")

        async def listed(**query: Any) -> bool:
            for _ in range(50):
                rows = (await desk.get("/api/v1/inbox", params=query)).json()["rows"]
                if any(r["dossier"] == code for r in rows):
                    return True
                await asyncio.sleep(0.1)
            return False

        assert await listed(procedure=HOUSEHOLD, status=2)
        other = (await desk.get("/api/v1/inbox", params={"procedure": "1.001193"})).json()
        assert all(r["dossier"] != code for r in other["rows"])
        refused = await desk.post(
            f"/api/v1/dossiers/{code}/tasks/receive/reassign",
            json={"to_role": "head"},
            headers=headers,
        )
        assert refused.status_code == 409
        assert refused.json()["detail"].endswith("only the agency's head may reassign a task")

    async with httpx.AsyncClient(base_url=web) as head:
        headers = {"X-CSRF-Token": await sign_in(head, f"head.{COMMUNE}")}
        moved = await head.post(
            f"/api/v1/dossiers/{code}/tasks/receive/reassign",
            json={"to_user": "lan"},
            headers=headers,
        )
        assert moved.status_code == 200, moved.text
        task = next(t for t in moved.json()["state"]["tasks"] if t["step"] == "receive")
        assert task["assignee"] == "lan"


async def test_the_applicant_rates_a_finished_dossier_once(
    web: str, dev_env: WorkflowEnvironment
) -> None:
    async with httpx.AsyncClient(base_url=web) as citizen, httpx.AsyncClient(base_url=web) as desk:
        code = (await submit(citizen, str(uuid.uuid4())))["code"]
        rating = {"id_number": APPLICANT["id_number"], "score": 4}
        early = await citizen.post(f"/api/v1/dossiers/{code}/rating", json=rating)
        assert early.status_code == 409
        assert early.json()["detail"].endswith("the dossier has no result yet")
        headers = {"X-CSRF-Token": await sign_in(desk, f"one_stop.{COMMUNE}")}
        await wait_for_task(desk, code, "receive")
        refused = await desk.post(
            f"/api/v1/dossiers/{code}/tasks/receive/complete",
            json={"decision": "refuse", "fields": {"business_name": "X"}},
            headers=headers,
        )
        assert refused.status_code == 200, refused.text
        for _ in range(50):
            if (await desk.get(f"/api/v1/dossiers/{code}")).json()["result"]:
                break
            await asyncio.sleep(0.1)
        rated = await citizen.post(f"/api/v1/dossiers/{code}/rating", json=rating)
        assert rated.status_code == 201, rated.text
        again = await citizen.post(f"/api/v1/dossiers/{code}/rating", json={**rating, "score": 1})
        assert again.status_code == 409
    # Indicators count ratings with visibility alone.
    query = f"WorkflowId = 'rating-{code}' AND Rating = 4 AND ProcedureCode = '{HOUSEHOLD}'"
    for _ in range(50):
        if (await dev_env.client.count_workflows(query)).count == 1:
            break
        await asyncio.sleep(0.1)
    assert (await dev_env.client.count_workflows(query)).count == 1


async def test_the_qr_code_of_a_signed_document_opens_the_lookup(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        code = f"{COMMUNE}-261130-0001"
        page = await http.get(f"/tra-cuu/{code}")
        assert page.status_code == 200
        assert f'value="{code}"' in page.text and 'name="id_number"' in page.text


async def test_the_application_page_names_a_bad_field_in_one_line(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        form = await http.get(f"/procedures/{HOUSEHOLD}/apply")
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        answer = await http.post(
            f"/procedures/{HOUSEHOLD}/apply",
            data={"csrf": csrf, "full_name": "An\x00", "id_number": ""},
            files={"doc.application": ("a.pdf", PDF, "application/pdf")},
        )
        assert answer.status_code == 422
        assert 'id="full_name-error"' in answer.text and 'id="id_number-error"' in answer.text
        assert "Traceback" not in answer.text


async def _until_listed(temporal: Client, code: str) -> None:
    """Until visibility itself (no cache) lists the dossier on the desk's first page."""
    for _ in range(100):
        page = await inbox(temporal, COMMUNE, "one_stop", page_size=PAGE_SIZE)
        if any(r.dossier == code for r in page.rows):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"visibility never listed {code}")


async def test_officers_of_a_desk_share_its_inbox_page_and_see_their_own_action_at_once(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> None:
    desk_login = f"one_stop.{COMMUNE}"
    async with (
        run_worker(dev_env.client, QUEUES, data_dir, trust=web_trust(data_dir)),
        serve_web(dev_env.client, data_dir, inbox_page_seconds=60, inbox_count_seconds=60) as base,
        httpx.AsyncClient(base_url=base) as citizen,
        httpx.AsyncClient(base_url=base) as lan,
        httpx.AsyncClient(base_url=base) as hoa,
    ):
        first = (await submit(citizen, str(uuid.uuid4())))["code"]
        csrf = await sign_in(lan, desk_login)
        await sign_in(hoa, desk_login)
        await wait_for_task(lan, first, "receive")
        await _until_listed(dev_env.client, first)
        assert f'/officer/dossiers/{first}"' in (await lan.get("/officer")).text

        second = (await submit(citizen, str(uuid.uuid4())))["code"]
        await wait_for_task(lan, second, "receive")
        await _until_listed(dev_env.client, second)
        # The desk's page is the one listed a moment ago, shared: not yet the second dossier.
        shared = (await hoa.get("/officer")).text
        assert f'/officer/dossiers/{first}"' in shared
        assert f'/officer/dossiers/{second}"' not in shared

        # Lan receives the first dossier: gone from her inbox at once, still on the shared page.
        for action, form in (
            ("claim", {}),
            ("complete", {"decision": "accept", "field.business_name": "Tạp hóa An"}),
        ):
            done = await lan.post(
                f"/officer/dossiers/{first}/tasks/receive/{action}", data={"csrf": csrf, **form}
            )
            assert done.status_code == 303, done.text
        assert f'/officer/dossiers/{first}"' not in (await lan.get("/officer")).text
        assert f'/officer/dossiers/{first}"' in (await hoa.get("/officer")).text


async def test_an_inbox_cache_keeps_answers_for_their_seconds_only(
    dev_env: WorkflowEnvironment,
) -> None:
    temporal = dev_env.client
    procedure = f"T{uuid.uuid4().hex[:12]}"  # selects only this test's workflow
    query = f"ProcedureCode = '{procedure}'"
    cache = InboxCache(count_seconds=60, page_seconds=0.5)
    assert await cache.count(temporal, query) == 0
    assert (await cache.page(temporal, query, 10, None))[0] == []
    handle = await temporal.start_workflow(
        "NeverRun",
        id=f"cache-{procedure}",
        task_queue=f"nobody-polls-{procedure}",
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(sa.PROCEDURE_CODE, procedure)]
        ),
    )
    try:
        for _ in range(100):
            if (await temporal.count_workflows(query)).count == 1:
                break
            await asyncio.sleep(0.1)
        assert await cache.count(temporal, query) == 0  # kept for a minute
        await asyncio.sleep(0.6)
        listed, _ = await cache.page(temporal, query, 10, None)
        assert [wf.id for wf in listed] == [handle.id]  # the page's half second is over
    finally:
        await handle.terminate()


async def test_the_json_inbox_shows_the_officers_own_action_at_once(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> None:
    desk_login = f"one_stop.{COMMUNE}"
    async with (
        run_worker(dev_env.client, QUEUES, data_dir, trust=web_trust(data_dir)),
        serve_web(dev_env.client, data_dir, inbox_page_seconds=60, inbox_count_seconds=60) as base,
        httpx.AsyncClient(base_url=base) as citizen,
        httpx.AsyncClient(base_url=base) as lan,
        httpx.AsyncClient(base_url=base) as hoa,
    ):
        code = (await submit(citizen, str(uuid.uuid4())))["code"]
        headers = {"X-CSRF-Token": await sign_in(lan, desk_login)}
        await sign_in(hoa, desk_login)
        await wait_for_task(lan, code, "receive")
        await _until_listed(dev_env.client, code)

        async def listed(http: httpx.AsyncClient) -> bool:
            rows = (await http.get("/api/v1/inbox")).json()["rows"]
            return any(r["dossier"] == code for r in rows)

        assert await listed(lan) and await listed(hoa)  # the page is kept for a minute now
        for action, body in (
            ("claim", None),
            ("complete", {"decision": "accept", "fields": {"business_name": "Tạp hóa An"}}),
        ):
            done = await lan.post(
                f"/api/v1/dossiers/{code}/tasks/receive/{action}", json=body, headers=headers
            )
            assert done.status_code == 200, done.text
        # Lan's own decision shows at once; Hoa still sees the page listed a moment ago.
        assert not await listed(lan)
        assert await listed(hoa)


async def test_a_copied_cookie_is_refused_after_logout(web: str) -> None:
    for how in ("page", "api"):
        async with httpx.AsyncClient(base_url=web) as desk:
            csrf = await sign_in(desk, f"one_stop.{COMMUNE}")
            copy = {"motcua_session": desk.cookies["motcua_session"]}
            async with httpx.AsyncClient(base_url=web, cookies=copy) as thief:
                assert (await thief.get("/api/v1/inbox")).status_code == 200
                if how == "page":
                    out = await desk.post("/officer/logout", data={"csrf": csrf})
                    assert out.status_code == 303
                else:
                    out = await desk.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
                    assert out.status_code == 204
                page = await thief.get("/officer")
                assert page.status_code == 303, how
                assert page.headers["location"] == "/officer/login"
                assert (await thief.get("/api/v1/inbox")).status_code == 401, how
