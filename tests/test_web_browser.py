"""The web app in a real browser (Debian's Chromium driven by Playwright), end to end.

A citizen applies online with a scan, an officer of another agency neither sees nor acts on the
dossier, the officers of both agencies claim and decide every task to the result, and the
citizen looks the dossier up. Chromium must be installed (`make test` installs it): a missing
browser fails the test, it is never skipped. With MOTCUA_SCREENSHOTS=docs/screenshots the run
also refreshes the README's screenshots.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from temporalio.testing import WorkflowEnvironment
from webserver import PASSWORD, PDF, serve_web, web_trust

from motcua.client import show
from motcua.web.present import local_time
from procedures.loader import DEFAULT_CATALOG, load_procedure

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUEUES = ["commune", "business", "justice", "police"]
COMMUNE = "000.20.20.H26"
BUSINESS = "005.20.20.H26"
JUSTICE = "000.00.14.H26"
ID_NUMBER = "019190000777"
SHOTS = os.environ.get("MOTCUA_SCREENSHOTS")


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: apt-get install chromium (make test)"
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def web(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> AsyncIterator[str]:
    async with (
        run_worker(dev_env.client, QUEUES, data_dir, trust=web_trust(data_dir)),
        serve_web(dev_env.client, data_dir) as base,
    ):
        yield base


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


async def sign_in(browser: Browser, base: str, user: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=base, viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto("/officer/login")
    # By keyboard alone: the skip link first, then the form in order, Enter submits.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Bỏ qua đến nội dung chính")).to_be_focused()
    await page.get_by_label("Tên đăng nhập").fill(user)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Mật khẩu")).to_be_focused()
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name=re.compile("Hộp việc"))).to_be_visible()
    return context, page


async def open_task(page: Page, code: str, step: str) -> None:
    """From the inbox's code search to the task, claiming it (waiting for it to open)."""
    claim = page.locator(f'form[action$="/tasks/{step}/claim"] button')
    deadline = time.monotonic() + 20
    while True:
        await page.goto("/officer")
        await page.get_by_label("Mã hồ sơ").fill(code)
        await page.get_by_label("Mã hồ sơ").press("Enter")
        await expect(page.get_by_role("heading", name=re.compile(code))).to_be_visible()
        if await claim.count() or time.monotonic() > deadline:
            break
        await page.wait_for_timeout(300)
    await claim.first.click()
    await expect(page.get_by_text("người xử lý: ")).to_be_visible()


async def decide(page: Page, decision: str) -> None:
    await page.get_by_role("button", name=decision.replace("_", " "), exact=True).click()
    await expect(page.get_by_role("heading", name="Quá trình xử lý")).to_be_visible()


async def test_a_dossier_from_the_citizen_through_two_agencies_and_back(
    browser: Browser, web: str, tmp_path: Path
) -> None:
    # The citizen finds the procedure in the catalogue and applies online with a scan.
    citizen = await browser.new_context(base_url=web, viewport={"width": 390, "height": 844})
    page = await citizen.new_page()
    await page.goto("/procedures")
    await page.get_by_label("Tìm thủ tục").fill("ho kinh doanh")
    await page.get_by_role("button", name="Tìm").click()
    await page.get_by_role("link", name="Đăng ký thành lập hộ kinh doanh").click()
    await expect(page.get_by_text("100.000 đ")).to_be_visible()
    await page.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    await page.get_by_label("Họ và tên").fill("Nguyễn Văn An")
    await page.get_by_label(re.compile("Số định danh")).fill(ID_NUMBER)
    scan = tmp_path / "giay-de-nghi.pdf"
    scan.write_bytes(PDF)
    await page.get_by_label("Giấy đề nghị đăng ký hộ kinh doanh").set_input_files(scan)
    await page.get_by_role("button", name="Gửi hồ sơ").click()
    await expect(page.get_by_text("Đã nộp hồ sơ thành công.")).to_be_visible()
    code = (await page.locator("h1 .code").inner_text()).strip()
    assert code.startswith(COMMUNE + "-")
    # The receipt (form 01) appears without a reload (htmx polls) and downloads.
    receipt = page.get_by_role("link", name="Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
    await expect(receipt).to_be_visible(timeout=15_000)
    async with page.expect_download() as download:
        await receipt.click()
    assert "Nguyễn Văn An" in Path(await (await download.value).path()).read_text()

    # An officer of another agency neither finds nor opens it.
    outsider, other = await sign_in(browser, web, f"one_stop.{JUSTICE}")
    await expect(other.get_by_role("link", name=code)).to_have_count(0)
    await other.goto(f"/officer/dossiers/{code}")
    await expect(other.get_by_role("alert")).to_have_text(f"Không có hồ sơ {code}")
    await other.goto(f"/officer/dossiers/{code}/tasks/receive")
    await expect(other.get_by_role("alert")).to_have_text(f"Không có hồ sơ {code}")
    await outsider.close()

    # The commune's one-stop desk finds it in the inbox, claims, and must name the business.
    desk_context, desk = await sign_in(browser, web, f"one_stop.{COMMUNE}")
    row = desk.get_by_role("link", name=code)
    for _ in range(50):  # visibility is eventually consistent
        if await row.count():
            break
        await desk.wait_for_timeout(200)
        await desk.reload()
    await expect(row).to_be_visible()
    await shot(desk, "inbox")
    await open_task(desk, code, "receive")
    await desk.get_by_role("button", name="accept", exact=True).click()
    error = desk.locator(".field-error")
    await expect(error).to_contain_text("business_name")
    await expect(desk.get_by_label("Tên hộ kinh doanh")).to_have_attribute("aria-invalid", "true")
    await shot(desk, "task-form")
    await desk.get_by_label("Tên hộ kinh doanh").fill("Tạp hóa An")
    await decide(desk, "accept")
    # Seen at once, from the dossier's state: the task is no longer open.
    await expect(desk.locator('a[href$="/tasks/receive"]')).to_have_count(0)

    # The business office reviews (an integer field typed wrong first), and its head approves.
    registrar_context, registrar = await sign_in(browser, web, f"registrar.{BUSINESS}")
    await open_task(registrar, code, "review")
    await registrar.get_by_label("Ngành, nghề kinh doanh").fill("Bán lẻ tạp hóa")
    await registrar.get_by_label("Vốn kinh doanh (đồng)").fill("nhiều")
    await registrar.get_by_role("button", name="propose registration").click()
    await expect(registrar.locator(".field-error")).to_contain_text("capital_vnd")
    await registrar.get_by_label("Vốn kinh doanh (đồng)").fill("50000000")
    await decide(registrar, "propose_registration")
    await registrar_context.close()
    head_context, head = await sign_in(browser, web, f"head.{BUSINESS}")
    await open_task(head, code, "approve")
    await decide(head, "approve")
    await head_context.close()

    # Back at the commune: the result is returned; the dossier page shows the whole story.
    await open_task(desk, code, "return_result")
    await decide(desk, "returned")
    for _ in range(50):  # the decision is seen at once; the dossier ends a moment later
        if "Kết thúc" in await desk.locator(".timeline").inner_text():
            break
        await desk.wait_for_timeout(200)
        await desk.reload()
    await expect(desk.locator(".timeline")).to_contain_text("Kết thúc")
    await expect(desk.locator(".timeline")).to_contain_text(
        "registrar.005.20.20.H26@005.20.20.H26/registrar"
    )
    await shot(desk, "dossier")
    await desk_context.close()

    # The citizen, in a fresh browser, looks it up with the code and the ID number.
    await citizen.close()
    again = await (await browser.new_context(base_url=web)).new_page()
    await again.goto("/lookup")
    await again.get_by_label("Mã hồ sơ").fill(code)
    await again.get_by_label(re.compile("Số định danh")).fill("000000000000")
    await again.get_by_role("button", name="Tra cứu").click()
    await expect(again.get_by_role("alert")).to_have_text(
        "Không tìm thấy hồ sơ có mã và số định danh này"
    )
    await again.goto("/lookup")
    await again.get_by_label("Mã hồ sơ").fill(code)
    await again.get_by_label(re.compile("Số định danh")).fill(ID_NUMBER)
    await again.get_by_role("button", name="Tra cứu").click()
    await expect(again.locator(".status")).to_have_text(re.compile("Đã trả kết quả|Đã giải quyết"))
    await shot(again, "status")
    # ...and rates the service, once.
    await again.get_by_label("5 — Rất hài lòng").check()
    await again.get_by_role("button", name="Gửi đánh giá").click()
    await expect(again.get_by_role("status")).to_contain_text("5/5")
    await expect(again.get_by_role("button", name="Gửi đánh giá")).to_have_count(0)
    await again.goto(f"/dossiers/{code}?lang=en")
    await expect(again.get_by_role("heading", name=re.compile("Dossier"))).to_be_visible()


async def test_the_api_docs_render_from_the_app_itself(browser: Browser, web: str) -> None:
    """/api/docs is Swagger UI served by the app (no CDN), under its own CSP: the portal's
    integrators see the operations, and the browser reports no blocked script or style."""
    page = await browser.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(web) else outside.append(r.url))
    try:
        await page.goto(f"{web}/api/docs")
        await expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/api/v1/dossiers" in p for p in paths), paths
        assert blocked == [] and outside == []
    finally:
        await page.close()


PROGRESS_QUEUES = ["commune", "construction", "culture", "job_centre", "home_affairs"]
HOUSE_PERMIT = "1.009974"  # construction-permit-house.yaml: phases
JOB_CENTRE = "000.23.39.H26"
HOME_AFFAIRS = "000.00.39.H26"


@pytest_asyncio.fixture(loop_scope="session")
async def progress_web(
    dev_env: WorkflowEnvironment, data_dir: Path, run_worker: Callable[..., Any]
) -> AsyncIterator[str]:
    async with (
        run_worker(dev_env.client, PROGRESS_QUEUES, data_dir, trust=web_trust(data_dir)),
        serve_web(dev_env.client, data_dir) as base,
    ):
        yield base


async def api_submit(
    http: httpx.AsyncClient, procedure: str, form: dict[str, Any], documents: list[str]
) -> str:
    scans = {}
    for doc in documents:
        uploaded = await http.post("/api/v1/uploads", content=PDF + f"% {doc}".encode())
        assert uploaded.status_code == 201, uploaded.text
        scans[doc] = uploaded.json()["sha256"]
    body = {
        "procedure": procedure,
        "applicant": {"full_name": "Lê Thị Hoa", "id_number": ID_NUMBER},
        "form": form,
        "documents": scans,
    }
    answer = await http.post(
        "/api/v1/dossiers", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert answer.status_code == 201, answer.text
    code: str = answer.json()["code"]
    return code


async def api_decide(
    base: str, user: str, code: str, step: str, decision: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """An officer claims and decides a task through the API, once it is open."""
    async with httpx.AsyncClient(base_url=base) as http:
        signed = await http.post("/api/v1/session", json={"user": user, "password": PASSWORD})
        headers = {"X-CSRF-Token": signed.json()["csrf"]}
        for _ in range(100):
            state = (await http.get(f"/api/v1/dossiers/{code}")).json()
            if any(t["step"] == step and t["status"] == "open" for t in state.get("tasks", ())):
                break
            await asyncio.sleep(0.1)
        task = f"/api/v1/dossiers/{code}/tasks/{step}"
        claimed = await http.post(f"{task}/claim", headers=headers)
        assert claimed.status_code == 200, claimed.text
        body = {"decision": decision, "fields": fields}
        done = await http.post(f"{task}/complete", json=body, headers=headers)
        assert done.status_code == 200, done.text
        state = done.json()["state"]
        assert isinstance(state, dict)
        return state


async def look_up(browser: Browser, base: str, code: str) -> Page:
    """The applicant's tracking page, reached through the lookup form."""
    page = await (await browser.new_context(base_url=base)).new_page()
    await page.goto("/lookup")
    await page.get_by_label("Mã hồ sơ").fill(code)
    await page.get_by_label(re.compile("Số định danh")).fill(ID_NUMBER)
    await page.get_by_role("button", name="Tra cứu").click()
    await expect(page.get_by_role("heading", name=re.compile(code))).to_be_visible()
    return page


async def test_phases_and_repetitions_show_to_the_officer_and_the_applicant(
    browser: Browser, progress_web: str, dev_env: WorkflowEnvironment
) -> None:
    base = progress_web
    async with httpx.AsyncClient(base_url=base) as citizen:
        permit = await api_submit(
            citizen,
            HOUSE_PERMIT,
            {"in_heritage_zone": False, "floors": 3},
            ["application", "land_right", "design_drawings"],
        )
        unemployment = await api_submit(
            citizen,
            load_procedure(DEFAULT_CATALOG / "unemployment-benefit.yaml").procedure.code,
            {
                "contract_end": (date.today() - timedelta(days=10)).isoformat(),
                "contribution_months": 48,
            },
            ["request", "termination"],
        )

    # The permit's first phase runs from the receipt, with its own limit and due instant.
    desk_context, desk = await sign_in(browser, base, f"one_stop.{COMMUNE}")
    for _ in range(100):
        await desk.goto(f"/officer/dossiers/{permit}")
        if await desk.get_by_role("heading", name="Các giai đoạn").count():
            break
        await desk.wait_for_timeout(200)
    phases = desk.locator("table.phases")
    await expect(phases).to_contain_text("Thẩm định hồ sơ, kiểm tra thực địa")
    await expect(phases).to_contain_text("7 ngày làm việc")
    await expect(phases).to_contain_text(re.compile(r"Còn \d+ ngày"))
    phase_due = local_time((await show(dev_env.client, permit)).phases[0].due_at)
    await expect(phases).to_contain_text(phase_due)
    await desk.goto(f"/officer/dossiers/{permit}?lang=en")
    await expect(desk.get_by_role("heading", name="Phases")).to_be_visible()
    await expect(desk.locator("table.phases")).to_contain_text("7 working days")
    await desk_context.close()
    applicant = await look_up(browser, base, permit)
    await expect(applicant.locator("table.phases")).to_contain_text(
        "Thẩm định hồ sơ, kiểm tra thực địa"
    )
    await expect(applicant.locator("table.phases")).to_contain_text(phase_due)

    # Unemployment benefit: received, examined, signed; then monthly reports, 1 of 4.
    await api_decide(base, f"one_stop.{JOB_CENTRE}", unemployment, "receive", "accept", {})
    await api_decide(
        base,
        f"benefit_officer.{JOB_CENTRE}",
        unemployment,
        "examine",
        "eligible",
        {"monthly_amount_vnd": 3_000_000},
    )
    await api_decide(base, f"head.{HOME_AFFAIRS}", unemployment, "decide", "sign", {})
    office_context, office = await sign_in(browser, base, f"benefit_officer.{JOB_CENTRE}")
    reports = office.locator("ul.repeats")
    for _ in range(100):  # the decision is issued and told first, then the reports begin
        await office.goto(f"/officer/dossiers/{unemployment}")
        if await reports.count() and "1/4" in await reports.inner_text():
            break
        await office.wait_for_timeout(200)
    await expect(reports).to_contain_text("Thông báo về việc tìm kiếm việc làm hằng tháng")
    await expect(reports).to_contain_text(re.compile(r"Báo cáo lần 1/4, hạn \d\d:\d\d"))
    await expect(reports).to_contain_text("đã báo cáo 0, bỏ lỡ 0 (0 lần liên tiếp)")
    await office.goto(f"/officer/dossiers/{unemployment}?lang=en")
    await expect(office.locator("ul.repeats")).to_contain_text(re.compile(r"report 1 of 4, due"))
    await office_context.close()
    applicant = await look_up(browser, base, unemployment)
    await expect(applicant.locator("ul.repeats")).to_contain_text("Báo cáo lần 1/4, hạn")
