import uuid, asyncio
import httpx
from test_web_probes import web  # noqa
from test_web_api import APPLICANT, HOUSEHOLD, wait_for_task, sign_in, COMMUNE
from webserver import PDF

async def test_deep(web):
    async with httpx.AsyncClient(base_url=web) as http:
        up = (await http.post("/api/v1/uploads", content=PDF)).json()["sha256"]
        for d in (950, 400):
            form = '{"a": ' + '['*d + ']'*d + '}'
            import json
            body = '{"procedure": "%s", "applicant": %s, "documents": {"application": "%s"}, "form": %s}' % (HOUSEHOLD, json.dumps(APPLICANT), up, form)
            a = await http.post("/api/v1/dossiers", content=body, headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"})
            print(d, a.status_code, a.text[:200])
            if a.status_code == 201:
                await sign_in(http, f"one_stop.{COMMUNE}")
                try:
                    await wait_for_task(http, a.json()["code"], "receive")
                    print("task opened")
                except AssertionError as e:
                    print("STUCK", e)
