"""The operations centre's dashboard: counted from real dossiers, rendered in Chromium.

Set MOTCUA_SCREENSHOTS=docs/screenshots to refresh the README's picture.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import async_playwright
from temporalio.client import Client
from test_indicators_scenario import (
    Plan,
    calendar,
    feedback_plans,
    fresh,
    plans,
    play,
    play_feedback,
)

from motcua.indicators import dashboard, portal

CHROMIUM = Path("/usr/bin/chromium")


async def _page(app: FastAPI, url: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        return await web.get(url)


async def test_a_bad_period_is_one_line_and_400(dev_env: Any) -> None:
    async def get_client() -> Client:
        return dev_env.client

    app = FastAPI()
    app.include_router(dashboard.router(get_client, []))
    response = await _page(app, "/dashboard?from=2026-13-01")
    assert response.status_code == 400
    assert response.text == "<p>from=&#39;2026-13-01&#39;: expected YYYY-MM-DD</p>"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
@pytest.mark.timeout(300)
async def test_the_dashboard_shows_charts_and_links_overdue_dossiers(
    dev_env: Any, run_worker: Any, data_dir: Path, tmp_path: Path
) -> None:
    temporal = dev_env.client
    codes, procs = fresh(tmp_path)
    cal = calendar()
    chosen: list[Plan] = plans(codes)[:60]
    gate = asyncio.Semaphore(16)

    async def one(p: Plan) -> str:
        async with gate:
            return await play(temporal, p, procs[p.procedure], cal)

    # Six feedback: four answered or declined, two of them late (sent 30 days ago): 50 %.
    heard = feedback_plans(codes)[:6]

    async def sent(f: Any) -> str:
        async with gate:
            return await play_feedback(temporal, f, procs[codes.feedback], cal)

    async with run_worker(temporal, ["ind-desk", "ind-second"], data_dir):
        started, _ = await asyncio.gather(
            asyncio.gather(*map(one, chosen)), asyncio.gather(*map(sent, heard))
        )
        overdue = {c for c, p in zip(started, chosen, strict=True) if p.backdated and not p.result}

        async def get_client() -> Client:
            return temporal

        app = FastAPI()
        catalogue = [f.procedure for f in procs.values()]
        app.include_router(
            dashboard.router(
                get_client,
                catalogue,
                portal_feed=portal.feed_of(data_dir),
                feedback_codes=[codes.feedback],
            )
        )
        html = ""
        for _ in range(60):  # until visibility shows every overdue dossier
            response = await _page(app, "/dashboard")
            assert response.status_code == 200
            html = response.text
            if all(code in html for code in overdue) and "50.0%" in html:
                break
            await asyncio.sleep(0.5)
    assert overdue and all(f'href="/officer/dossiers/{code}"' in html for code in overdue)
    assert '<meta http-equiv="refresh"' in html

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.set_content(html)
            charts = page.locator("svg")
            assert await charts.count() == 3
            for i in range(3):
                box = await charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 40
            links = page.locator("a[href^='/officer/dossiers/']")
            assert await links.count() == len(overdue)
            assert "Điểm của tỉnh" in await page.inner_text("body")
            synced = await page.locator("tr", has_text="Đồng bộ lên Cổng DVCQG").inner_text()
            assert "100.0%" in synced and "9.0 / 9.0" in synced  # every end status in the feed
            feedback = await page.locator("tr", has_text="Phản ánh, kiến nghị xử lý").inner_text()
            assert "50.0%" in feedback and "4.5 / 9.0" in feedback
            assert "không tính" not in await page.inner_text("body")
            folder = Path(os.environ.get("MOTCUA_SCREENSHOTS", tmp_path))
            folder.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(folder / "dashboard.png"), full_page=True)
        finally:
            await browser.close()
