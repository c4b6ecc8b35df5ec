"""Citizens' feedback (phản ánh, kiến nghị) in a real browser, over the JSON API and the CLI.

A citizen writes from a procedure's page; the form comes filled in with what it is about and the
agency concerned. The service centre's desk forwards it, the agency concerned answers from its
inbox, and the citizen reads the answer on the tracking page. The feedback is a dossier of the
catalogue's feedback procedure (procedures/catalog/feedback.yaml), run by a real worker on the
dev server; Chromium is Debian's, never skipped (as tests/test_web_browser.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment
from test_web_browser import browser, decide, open_task, sign_in  # noqa: F401 (fixture)
from webserver import serve_web, web_trust

from motcua import cli, publication
from motcua.feedback import MAX_CONTENT
from motcua.web.dossiers import dossier_input
from procedures.loader import load_catalog

DESK = "000.00.01.H26"
JUSTICE = "000.00.14.H26"
JUDICIAL_RECORD = "2.000488"
FEEDBACK = "0.000766"
ID_NUMBER = "019190000888"


@pytest_asyncio.fixture(loop_scope="session")
async def web(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> AsyncIterator[str]:
    # The feedback procedure's dossiers run on the service centre's queue (its receiving agency).
    async with (
        run_worker(dev_env.client, ["service_centre"], data_dir, trust=web_trust(data_dir)),
        serve_web(dev_env.client, data_dir, feedbacks_per_window=3) as base,
    ):
        yield base


async def test_a_citizen_sends_feedback_and_reads_the_agencys_answer(
    browser: Browser,  # noqa: F811
    web: str,
) -> None:
    citizen = await browser.new_context(base_url=web, viewport={"width": 390, "height": 844})
    page = await citizen.new_page()
    await page.goto(f"/procedures/{JUDICIAL_RECORD}")
    await page.get_by_role("link", name="Phản ánh, kiến nghị về thủ tục này").click()
    # Filled in: what it is about, and the agency that receives that procedure.
    await expect(page.get_by_label("Mã thủ tục được phản ánh (nếu có)")).to_have_value(
        JUDICIAL_RECORD
    )
    await expect(page.get_by_label("Cơ quan được phản ánh (mã)")).to_have_value(JUSTICE)
    await page.get_by_label("Họ và tên").fill("Lê Văn Bình")
    await page.get_by_label(re.compile("Số định danh")).fill(ID_NUMBER)
    await page.get_by_label("Số điện thoại").fill("0912345678")
    text = "Hẹn trả Phiếu lý lịch tư pháp 10 ngày nhưng\nđã quá hạn mà chưa nhận được."
    await page.get_by_label("Nội dung phản ánh, kiến nghị").fill(text)
    await page.get_by_role("button", name="Gửi hồ sơ").click()
    await expect(page.get_by_text("Đã nộp hồ sơ thành công.")).to_be_visible()
    code = (await page.locator("h1 .code").inner_text()).strip()
    assert code.startswith(DESK + "-")
    assert "Bình" not in code and ID_NUMBER not in code

    # The service centre's desk reads it on the task and forwards it.
    desk_context, desk = await sign_in(browser, web, f"one_stop.{DESK}")
    await open_task(desk, code, "receive")
    await expect(desk.locator(".prewrap", has_text="đã quá hạn")).to_be_visible()
    await decide(desk, "forward")
    await desk_context.close()

    # The Department of Justice answers from its inbox.
    justice_context, justice = await sign_in(browser, web, f"one_stop.{JUSTICE}")
    await open_task(justice, code, "answer_justice")
    answer = "Sở Tư pháp đã trả Phiếu ngày 02/12; xin lỗi ông vì sự chậm trễ."
    await justice.get_by_label("Nội dung trả lời").fill(answer)
    await decide(justice, "answer")
    await justice_context.close()

    # The citizen's tracking page shows the answer once the feedback has ended.
    section = page.locator(".answer")
    for _ in range(50):
        await page.goto(f"/dossiers/{code}")
        if await section.count():
            break
        await page.wait_for_timeout(200)
    await expect(section).to_have_text(answer)
    await expect(page.locator(".status")).to_have_text(re.compile("Đã trả kết quả|Đã giải quyết"))
    # Feedback about a feedback is not offered.
    about = page.get_by_role("link", name=re.compile("Phản ánh, kiến nghị về"))
    await expect(about).to_have_count(0)

    # From a dossier's code, the agency concerned is the dossier's receiving agency.
    await page.goto(f"/procedures/{FEEDBACK}/apply?about_dossier={JUSTICE}-261130-0001")
    await expect(page.get_by_label("Cơ quan được phản ánh (mã)")).to_have_value(JUSTICE)
    await citizen.close()


async def test_feedback_over_the_api_is_checked_and_rate_limited(web: str) -> None:
    applicant = {"full_name": "Trần Thị Mai", "id_number": "019190000124"}
    async with httpx.AsyncClient(base_url=web) as http:

        async def send(body: dict[str, Any]) -> httpx.Response:
            key = {"Idempotency-Key": str(uuid.uuid4())}
            return await http.post("/api/v1/feedback", json=body, headers=key)

        too_long = await send({"applicant": applicant, "content": "x" * (MAX_CONTENT + 1)})
        assert too_long.status_code == 422
        assert too_long.headers["content-type"] == "application/problem+json"
        assert "content" in too_long.text and "Traceback" not in too_long.text

        sent = await send(
            {"applicant": applicant, "content": "Chờ lâu", "about_procedure": JUDICIAL_RECORD}
        )
        assert sent.status_code == 201, sent.text
        code = sent.json()["code"]
        assert code.startswith(DESK + "-")
        seen = await http.post(
            f"/api/v1/dossiers/{code}/status", json={"id_number": applicant["id_number"]}
        )
        assert seen.status_code == 200 and seen.json()["reason"] is None

        more = [await send({"applicant": applicant, "content": f"lần {i}"}) for i in range(3)]
        assert [r.status_code for r in more][-1] == 429


async def test_feedback_from_the_command_line(
    web: str,
    dev_env: WorkflowEnvironment,
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`motcua citizen feedback`: routed like the web's; a user's mistake is one line."""
    catalog = load_catalog()
    frozen = catalog[FEEDBACK]
    publication.publish(data_dir, {FEEDBACK: frozen}, "tests")
    me = tmp_path / "me.json"
    me.write_text(json.dumps({"full_name": "Phạm Thu", "id_number": "019190000125"}))
    address = dev_env.client.service_client.config.target_host
    common = ["--applicant", str(me), "--data", str(data_dir), "--address", address]

    async def motcua(*argv: str) -> tuple[int, str, str]:
        status = await asyncio.to_thread(cli.main, ["citizen", "feedback", *argv, *common])
        out, err = capsys.readouterr()
        return status, out, err

    status, out, err = await motcua("--text", "x" * (MAX_CONTENT + 1))
    # (stderr also holds the worker's log lines: the test runs it in this process)
    assert status == 1 and f"motcua: --text: 1 to {MAX_CONTENT} characters\n" in err
    assert "Traceback" not in err
    status, out, err = await motcua("--text", "Chờ lâu", "--about-procedure", "1" * 21)
    mistake = [line for line in err.splitlines() if line.startswith("motcua: ")]
    assert status == 1 and len(mistake) == 1 and "about_procedure" in mistake[0], err
    status, out, err = await motcua(
        "--text", "Chờ lâu", "--about-dossier", f"{JUSTICE}-261130-0001", "--json"
    )
    assert status == 0, err
    code = json.loads(out)["code"]
    assert code.startswith(DESK + "-")
    # The form the desk forwards by: the agency concerned is the dossier's receiving agency.
    sent = await dossier_input(dev_env.client, code)
    assert sent.form == {
        "content": "Chờ lâu",
        "about_dossier": f"{JUSTICE}-261130-0001",
        "agency": JUSTICE,
    }
    assert sent.channel.value == "online"
