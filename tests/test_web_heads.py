"""A head redistributes an absent officer's work on the web page, and a delegate signs in to
act for a colleague: real dev server, worker and uvicorn, driven over HTTP."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment
from webserver import PASSWORD, PDF, serve_web, web_trust

from motcua import officers

QUEUES = ["commune", "business", "justice", "police"]
HOUSEHOLD = "2.000720"
COMMUNE = "000.20.20.H26"
DESK = f"one_stop.{COMMUNE}"
HEAD = f"head.{COMMUNE}"
APPLICANT = {"full_name": "Trần Thị Mai", "id_number": "019190000123"}


@pytest_asyncio.fixture(loop_scope="session")
async def web(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> AsyncIterator[str]:
    async with (
        run_worker(dev_env.client, QUEUES, data_dir, trust=web_trust(data_dir)),
        serve_web(dev_env.client, data_dir) as base,
    ):
        # two more desk officers; hoa may act for the desk's demo officer this week
        path = officers.path_in(data_dir)
        directory = officers.load(path)
        hashed = directory.officers[DESK].password
        for user in ("hoa", "binh"):
            directory = officers.with_officer(
                directory,
                user,
                name=user,
                agency=COMMUNE,
                roles=("one_stop",),
                password_hash=hashed,
            )
        today = datetime.now(officers.VIETNAM).date()
        directory = officers.with_delegation(
            directory, DESK, "hoa", "one_stop", today - timedelta(days=1), today + timedelta(days=5)
        )
        # and binh did last month (over), the head will from tomorrow (not yet)
        directory = officers.with_delegation(
            directory, "binh", "hoa", "one_stop", today - timedelta(days=30), today - timedelta(1)
        )
        directory = officers.with_delegation(
            directory, HEAD, "hoa", "head", today + timedelta(days=1), today + timedelta(days=3)
        )
        officers.save(path, directory)
        yield base


async def api_sign_in(http: httpx.AsyncClient, user: str, **extra: str) -> httpx.Response:
    return await http.post("/api/v1/session", json={"user": user, "password": PASSWORD, **extra})


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found[1]


async def page_sign_in(http: httpx.AsyncClient, user: str) -> str:
    """Sign in on the HTML form; the CSRF token the next forms carry."""
    form = await http.get("/officer/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = await http.post(
        "/officer/login", data={"user": user, "password": PASSWORD, "csrf": csrf[1]}
    )
    assert answer.status_code == 303, answer.text
    page = await http.get("/officer/redistribute")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text) or csrf
    return token[1]


async def new_dossier(http: httpx.AsyncClient) -> str:
    uploaded = await http.post("/api/v1/uploads", content=PDF)
    body = {
        "procedure": HOUSEHOLD,
        "applicant": APPLICANT,
        "documents": {"application": uploaded.json()["sha256"]},
    }
    answer = await http.post(
        "/api/v1/dossiers", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert answer.status_code == 201, answer.text
    code: str = answer.json()["code"]
    for _ in range(100):
        state = (await http.get(f"/api/v1/dossiers/{code}")).json()
        if any(t["step"] == "receive" for t in state.get("tasks", ())):
            return code
        await asyncio.sleep(0.05)
    raise AssertionError(f"{code}: the desk's task never opened")


async def test_a_head_hands_an_absent_officers_tasks_over_on_the_web(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as desk:
        csrf = (await api_sign_in(desk, DESK)).json()["csrf"]
        codes = [await new_dossier(desk) for _ in range(2)]
        for code in codes:
            claimed = await desk.post(
                f"/api/v1/dossiers/{code}/tasks/receive/claim", headers={"X-CSRF-Token": csrf}
            )
            assert claimed.status_code == 200, claimed.text
    reason = "Nghỉ phép từ 01/12"
    async with httpx.AsyncClient(base_url=web) as head, httpx.AsyncClient(base_url=web) as binh:
        token = await page_sign_in(head, HEAD)
        for _ in range(100):  # visibility is eventually consistent
            listing = await head.get("/officer/redistribute", params={"absent": DESK})
            if all(code in listing.text for code in codes):
                break
            await asyncio.sleep(0.1)
        assert all(code in listing.text for code in codes)
        form = {"absent": DESK, "to_user": "hoa", "reason": reason}
        # a non-head of the agency: the workflow refuses each task, each shown
        refused = await binh.post(
            "/officer/redistribute", data={**form, "csrf": await page_sign_in(binh, "binh")}
        )
        assert refused.status_code == 200
        assert refused.text.count("only the agency&#39;s head may reassign") >= 2
        # no reason: one line, nothing done
        missing = await head.post(
            "/officer/redistribute", data={**form, "reason": "", "csrf": token}
        )
        assert missing.status_code == 422 and "--reason" in missing.text
        done = await head.post("/officer/redistribute", data={**form, "csrf": token})
        assert done.status_code == 200, done.text
        assert all(code in done.text for code in codes)
        assert done.text.count("Đã chuyển") >= 2
    async with httpx.AsyncClient(base_url=web) as desk:
        await api_sign_in(desk, DESK)
        for code in codes:
            state = (await desk.get(f"/api/v1/dossiers/{code}")).json()
            entry = next(e for e in state["timeline"] if e["kind"] == "reassigned")
            assert entry["detail"].endswith(f": {reason}")


async def test_a_delegate_signs_in_acting_for_a_colleague_and_the_dossier_says_so(
    web: str,
) -> None:
    async with httpx.AsyncClient(base_url=web) as hoa, httpx.AsyncClient(base_url=web) as binh:
        refused = await api_sign_in(binh, "binh", acting_for=DESK)  # no delegation for binh
        assert refused.status_code == 401
        assert "no delegation active today" in refused.text
        signed = await api_sign_in(hoa, "hoa", acting_for=DESK)
        assert signed.status_code == 200, signed.text
        assert signed.json()["officer"]["acting_for"] == DESK
        code = await new_dossier(hoa)
        claimed = await hoa.post(
            f"/api/v1/dossiers/{code}/tasks/receive/claim",
            headers={"X-CSRF-Token": signed.json()["csrf"]},
        )
        assert claimed.status_code == 200, claimed.text
        entry = next(e for e in claimed.json()["state"]["timeline"] if e["kind"] == "claimed")
        assert entry["actor"] == f"hoa@{COMMUNE}/one_stop acting for {DESK}"
        page = await hoa.get(f"/officer/dossiers/{code}")
        assert f"acting for {DESK}" in page.text


async def test_a_delegate_chooses_at_sign_in_whom_to_act_for_among_active_delegations(
    web: str,
) -> None:
    today = datetime.now(officers.VIETNAM).date()
    async with httpx.AsyncClient(base_url=web) as hoa:
        csrf = csrf_of(await hoa.get("/officer/login"))
        signed = await hoa.post(
            "/officer/login", data={"user": "hoa", "password": PASSWORD, "csrf": csrf}
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/officer/delegations"
        page = await hoa.get("/officer/delegations")
        assert page.status_code == 200
        # the active one, for whom and until when; not the one over, nor the one to come
        assert f'name="acting_for" value="{DESK}"' in page.text
        assert (today + timedelta(days=5)).strftime("%d/%m/%Y") in page.text
        assert 'value="binh"' not in page.text
        assert f'value="{HEAD}"' not in page.text
        # beyond the bound: a delegation not active now is refused, whatever the form says
        over = await hoa.post(
            "/officer/delegations", data={"csrf": csrf_of(page), "acting_for": "binh"}
        )
        assert over.status_code == 409
        assert "no delegation to act for binh is active now" in over.text
        chosen = await hoa.post(
            "/officer/delegations", data={"csrf": csrf_of(page), "acting_for": DESK}
        )
        assert chosen.status_code == 303 and chosen.headers["location"] == "/officer"

        async def claim(code: str) -> str:
            page = await hoa.get(f"/officer/dossiers/{code}")
            done = await hoa.post(
                f"/officer/dossiers/{code}/tasks/receive/claim", data={"csrf": csrf_of(page)}
            )
            assert done.status_code == 303, done.text
            state = (await hoa.get(f"/api/v1/dossiers/{code}")).json()
            actor: str = next(e for e in state["timeline"] if e["kind"] == "claimed")["actor"]
            return actor

        assert await claim(await new_dossier(hoa)) == f"hoa@{COMMUNE}/one_stop acting for {DESK}"
        # and back to working as herself
        page = await hoa.get("/officer/delegations")
        assert "You are acting for" in page.text or "Bạn đang làm thay cho" in page.text
        mine = await hoa.post(
            "/officer/delegations", data={"csrf": csrf_of(page), "acting_for": ""}
        )
        assert mine.status_code == 303
        assert await claim(await new_dossier(hoa)) == f"hoa@{COMMUNE}/one_stop"

    async with httpx.AsyncClient(base_url=web) as api:  # the API lists the same
        listed = (await api_sign_in(api, "hoa")).json()["delegations"]
        assert listed == [
            {
                "acting_for": DESK,
                "name": listed[0]["name"],
                "role": "one_stop",
                "until": (today + timedelta(days=5)).isoformat(),
            }
        ]
    async with httpx.AsyncClient(base_url=web) as binh:  # no delegation: straight to the inbox
        csrf = csrf_of(await binh.get("/officer/login"))
        signed = await binh.post(
            "/officer/login", data={"user": "binh", "password": PASSWORD, "csrf": csrf}
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/officer"
