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
