"""Links operations over HTTP: redirect freshness and clicks, quotas, idempotent imports, import jobs."""

from __future__ import annotations

import pytest

from entrypoints.harness import make_harness

BASE = "/v2/handles/acme/links"


async def _owner(h):
    token = await h.create_owner("acme")
    return h.auth(token)


async def test_redirect_sees_writes_from_another_connection_and_counts_clicks(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/fast.db"
    async with make_harness(database_url=url, data_dir=tmp_path) as h:
        A = await _owner(h)
        await h.client.post(BASE, json={"slug": "go", "destination": "https://one.example/"}, headers=A)
        for _ in range(3):
            r = await h.client.get("/l/acme/go")
            assert r.headers["location"] == "https://one.example/"
        # a write that bypasses this process's HTTP layer (another worker, the CLI)
        svc = h.container.links_service()
        async with h.uow_factory(write=True) as uow:
            link = await uow.links.get("acme", "go")
            import attrs

            await uow.links.update(attrs.evolve(link, version=2, destination="https://two.example/"), 1)
            await uow.links.bump_generation("acme")
            await uow.commit()
        r = await h.client.get("/l/acme/go")
        assert r.headers["location"] == "https://two.example/"
        fast = h.app.middleware.fast_paths[0].__self__
        assert fast.hits >= 2
        from entrypoints.http.fastpath_links import clicks_for

        await clicks_for(h.app.runtime).flush()
        async with h.uow_factory(write=False) as uow:
            assert await uow.links.clicks(link.id) == 4
        del svc


async def test_daily_link_write_quota_counts_import_rows():
    async with make_harness(daily_link_writes=3) as h:
        A = await _owner(h)
        csv = b"slug,destination\na,https://a.example/\nb,https://b.example/\n"
        r = await h.client.post(f"{BASE}/bulk-import?mode=dryRun", content=csv + b"c,https://c/\nd,https://d/\n",
                                headers={**A, "Content-Type": "text/csv"})
        assert r.status_code == 200  # dry runs count nothing
        r = await h.client.post(f"{BASE}/bulk-import", content=csv, headers={**A, "Content-Type": "text/csv"})
        assert r.status_code == 200
        r = await h.client.post(f"{BASE}/bulk-import", content=b"slug,destination\nc,https://c/\nd,https://d/\n",
                                headers={**A, "Content-Type": "text/csv"})
        assert r.status_code == 429 and r.json()["code"] == "daily_quota_exceeded"
        assert (await h.client.get(f"{BASE}/c", headers=A)).status_code == 404


async def test_retried_import_with_idempotency_key_is_replayed():
    async with make_harness() as h:
        A = await _owner(h)
        hdrs = {**A, "Content-Type": "text/csv", "Idempotency-Key": "launch-1"}
        csv = b"slug,destination\na,https://a.example/\n"
        first = await h.client.post(f"{BASE}/bulk-import", content=csv, headers=hdrs)
        again = await h.client.post(f"{BASE}/bulk-import", content=csv, headers=hdrs)
        assert first.status_code == again.status_code == 200
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json()["runId"] == first.json()["runId"]
        hist = (await h.client.get(f"{BASE}/a/history", headers=A)).json()["items"]
        assert len(hist) == 1


async def test_big_import_runs_as_a_job():
    async with make_harness(import_sync_rows=2) as h:
        A = await _owner(h)
        rows = "".join(f"s{i},https://h{i}.example/\n" for i in range(5))
        r = await h.client.post(f"{BASE}/bulk-import?mode=partial", content=("slug,destination\n" + rows).encode(),
                                headers={**A, "Content-Type": "text/csv"})
        assert r.status_code == 202 and r.json()["runId"].startswith("run_")
        await h.drain()
        run = (await h.client.get(f"{BASE}/bulk-import/{r.json()['runId']}", headers=A)).json()
        assert run["status"] == "completed" and run["counts"]["created"] == 5


async def test_other_handles_are_invisible():
    async with make_harness() as h:
        A = await _owner(h)
        other = h.auth(await h.create_owner("zeta", email="z@zeta.example"))
        await h.client.post(BASE, json={"slug": "s", "destination": "https://a.example/"}, headers=A)
        for method, path in (("GET", f"{BASE}/s"), ("GET", f"{BASE}/s/history"), ("GET", f"{BASE}/export"),
                             ("POST", f"{BASE}/health-check")):
            r = await h.client.request(method, path, headers=other)
            assert r.status_code == 404 and r.json()["code"] == "handle_not_found", path


@pytest.mark.parametrize("query", ["format=xml", "includeHistory=maybe"])
async def test_export_rejects_bad_options(query):
    async with make_harness() as h:
        A = await _owner(h)
        r = await h.client.get(f"{BASE}/export?{query}", headers=A)
        assert r.status_code == 422


@pytest.mark.parametrize(("proxies", "expected"), [
    (("127.0.0.0/8",), "https://fr.example/"),
    (("10.0.0.0/8",), "https://default.example/"),
])
async def test_country_header_only_from_trusted_proxies(proxies, expected):
    async with make_harness(country_header="CF-IPCountry", trusted_proxies=proxies) as h:
        A = await _owner(h)
        await h.client.post(BASE, json={"slug": "geo", "destination": "https://default.example/", "rules": [
            {"conditions": {"country": ["FR"]}, "destination": "https://fr.example/"}]}, headers=A)
        r = await h.client.get("/l/acme/geo", headers={"CF-IPCountry": "FR"})
        assert r.status_code == 302 and r.headers["location"] == expected
