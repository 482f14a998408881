"""Links: contract details found by auditing the running service against SPEC §4 / A.2."""

from __future__ import annotations

import pytest

BASE = "/v2/handles/acme/links"
CSV = b"slug,destination\nok1,https://a.example/1\nbad1,javascript:x\n"


@pytest.fixture
async def api(any_harness):
    token = await any_harness.create_owner("acme")
    any_harness.A = any_harness.auth(token)
    return any_harness


async def test_csv_answers_carry_one_charset(api):
    c, A = api.client, api.A
    r = await c.post(f"{BASE}/bulk-import?mode=partial", content=CSV, headers={**A, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    run_id = r.json()["runId"]
    r = await c.get(f"{BASE}/bulk-import/{run_id}/errors.csv", headers=A)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    r = await c.get(f"{BASE}/export?format=csv", headers=A)
    assert r.headers["content-type"] == "text/csv; charset=utf-8"


async def test_import_run_lists_its_failed_rows(api):
    c, A = api.client, api.A
    r = await c.post(f"{BASE}/bulk-import?mode=partial", content=CSV, headers={**A, "content-type": "text/csv"})
    run_id = r.json()["runId"]
    r = await c.get(f"{BASE}/bulk-import/{run_id}", headers=A)
    assert r.status_code == 200
    body = r.json()
    assert body["runId"] == run_id and body["status"] == "completed"
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    assert body["rows"] == [{"row": 2, "slug": "bad1", "outcome": "failed", "code": "invalid_url",
                             "message": body["rows"][0]["message"]}]
    assert body["rowsTruncated"] is True


async def test_html_404_for_unknown_short_links_has_one_charset(api):
    r = await api.client.get("/l/acme/nope", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"] == "text/html; charset=utf-8"
    r = await api.client.get("/l/acme/nope")
    assert r.status_code == 404 and r.json()["code"] == "link_not_found"


async def test_an_import_job_counts_its_rows_against_the_daily_quota():
    from entrypoints.harness import make_harness

    async with make_harness(import_sync_rows=2, daily_link_writes=4) as h:
        A = h.auth(await h.create_owner("acme"))
        rows = "".join(f"s{i},https://h{i}.example/\n" for i in range(5))
        body = ("slug,destination\n" + rows).encode()
        r = await h.client.post(f"{BASE}/bulk-import?mode=dryRun", content=body,
                                headers={**A, "Content-Type": "text/csv"})
        assert r.status_code == 202  # dry runs count nothing
        r = await h.client.post(f"{BASE}/bulk-import", content=body, headers={**A, "Content-Type": "text/csv"})
        assert r.status_code == 429 and r.json()["code"] == "daily_quota_exceeded"
        await h.drain()
        assert (await h.client.get(f"{BASE}/s0", headers=A)).status_code == 404
        three = "".join(f"t{i},https://t{i}.example/\n" for i in range(3))
        r = await h.client.post(f"{BASE}/bulk-import", content=("slug,destination\n" + three).encode(),
                                headers={**A, "Content-Type": "text/csv"})
        assert r.status_code == 202, r.text
        await h.drain()
        assert (await h.client.get(f"{BASE}/t2", headers=A)).status_code == 200
