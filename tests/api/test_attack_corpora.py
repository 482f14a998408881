"""The attack corpora (tests/corpora.py) against the routes they target: a clear 4xx, no state change."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from adapters.http.fetcher import HttpxFetcher
from entrypoints.harness import Harness, make_harness
from entrypoints.http.fastpath_links import clicks_for
from tests import corpora
from tests.seed import Seed, seed

pytestmark = pytest.mark.asyncio(loop_scope="module")

SLOW_S = 0.25  # GHARART_BODY_TIMEOUT_S of these harnesses
# Tables that legitimately change on any request (logs, buckets, last-used stamps).
_NOISE = ("request_log", "throttle", "idempot", "tokens", "rate")


def fingerprint(h: Harness) -> dict[str, Any]:
    state = h.container.state()
    out: dict[str, Any] = {}
    for name, table in state.tables.items():
        if any(n in name for n in _NOISE):
            continue
        out[name] = repr(sorted(table.items(), key=repr))
    store = h.container.object_store()
    out["__objects__"] = repr(sorted(getattr(store, "_objects", getattr(store, "objects", {})).keys(), key=repr)) \
        if hasattr(store, "_objects") or hasattr(store, "objects") else None
    return out


class W:
    def __init__(self, h: Harness, s: Seed) -> None:
        self.h, self.s = h, s
        self.auth = h.auth(s.owner)
        self.base = f"/v2/handles/{s.handle}"

    async def unchanged(self, method: str, url: str, *, allowed: tuple[int, ...] | None = None,
                        **kw: Any) -> Any:
        # clicks of earlier redirects are written by a 1 s timer: flush them now, not mid-request
        await clicks_for(self.h.app.runtime).flush()
        before = fingerprint(self.h)
        headers = {**self.auth, **kw.pop("headers", {})}
        r = await self.h.client.request(method, url, headers=headers, **kw)
        assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text[:300])
        if allowed is not None:
            assert r.status_code in allowed, (method, url, r.status_code, r.text[:300])
        if r.headers.get("content-type", "").startswith("application/problem+json"):
            body = r.json()
            assert body["code"] and body["status"] == r.status_code
        await self.h.drain()
        after = fingerprint(self.h)
        changed = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
        assert not changed, (method, url, changed)
        return r


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[W]:
    async with make_harness(max_json_bytes=64 * 1024, body_timeout_s=SLOW_S) as h:
        s = await seed(h)
        yield W(h, s)


# -- SSRF ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", corpora.SSRF_URLS)
async def test_ssrf_targets_are_blocked_by_the_fetcher(url: str) -> None:
    from gharart_core.links.ports import FetchError

    fetcher = HttpxFetcher()
    try:
        with pytest.raises(FetchError) as info:
            await fetcher._target(url)
        assert info.value.kind == "blocked", info.value
    finally:
        await fetcher.aclose()


@pytest.mark.parametrize("url", corpora.SSRF_URLS[:8])
async def test_ssrf_targets_are_refused_as_content_report_targets(w: W, url: str) -> None:
    await w.unchanged("POST", "/v2/public/content-report",
                      json={"category": "spam", "targetUrl": url, "description": "x"}, allowed=(422,))


# -- traversal ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", corpora.TRAVERSAL_PATHS)
async def test_traversal_on_served_paths(w: W, path: str) -> None:
    for prefix in (f"/profiles/{w.s.handle}/", f"/_edge/docs/{w.s.handle}/",
                   f"{w.base}/site-deployments/{w.s.deployment_id}/preview/"):
        r = await w.h.client.get(prefix + path, headers=w.auth)
        assert 400 <= r.status_code < 500, (prefix + path, r.status_code, r.text[:200])
        assert b"root:" not in r.content


@pytest.mark.parametrize("path", [p for p in corpora.BAD_RELATIVE_PATHS if p])
async def test_bad_manifest_keys(w: W, path: str) -> None:
    await w.unchanged("POST", f"{w.base}/site-deployments",
                      json={"manifest": {path: {"sha256": "a" * 64, "size": 1}}}, allowed=(422,))


@pytest.mark.parametrize("path", [p for p in corpora.TRAVERSAL_PATHS if p != "..;/admin"])
async def test_traversal_in_doc_page_paths(w: W, path: str) -> None:
    await w.unchanged("PUT", f"{w.base}/internal-docs/pages/{path}", json={"content": "x"})


# -- zip-slip -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,ctype,data", corpora.ZIP_SLIP_ARCHIVES, ids=[a[0] for a in corpora.ZIP_SLIP_ARCHIVES])
async def test_unsafe_archives(w: W, name: str, ctype: str, data: bytes) -> None:
    r = await w.unchanged("POST", f"{w.base}/site-deployments", content=data, headers={"content-type": ctype},
                          allowed=(400, 413, 415, 422))
    if "garbage" not in name:
        assert r.json()["code"] == "unsafe_archive", r.text


# -- CSV formula injection --------------------------------------------------------------------------------
async def test_formula_cells_are_neutralised_on_export_and_round_trip(w: W) -> None:
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["slug", "destination", "tags"])
    for i, cell in enumerate(c for c in corpora.FORMULA_CELLS if c.isprintable()):
        writer.writerow([f"formula{i}", "https://example.com/f", cell])
    r = await w.h.client.post(f"{w.base}/links/bulk-import", params={"mode": "atomic"}, content=rows.getvalue(),
                              headers={**w.auth, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    r = await w.h.client.get(f"{w.base}/links/export", params={"format": "csv"}, headers=w.auth)
    assert r.status_code == 200
    for row in csv.reader(io.StringIO(r.text)):
        for cell in row:
            assert not cell or cell[0] not in "=+-@\t\r", row
    again = await w.h.client.post(f"{w.base}/links/bulk-import", params={"mode": "dryRun"}, content=r.text,
                                  headers={**w.auth, "content-type": "text/csv"})
    assert again.status_code == 200, again.text
    assert again.json()["counts"]["created"] == 0 and again.json()["counts"]["updated"] == 0, again.text


# -- header injection ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("rid", corpora.BAD_REQUEST_IDS)
async def test_bad_request_ids_are_replaced(w: W, rid: str) -> None:
    r = await w.h.client.get("/healthz", headers={"X-Request-ID": rid.encode("utf-8")})
    assert r.status_code == 200
    assert r.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize("key", corpora.BAD_IDEMPOTENCY_KEYS)
async def test_bad_idempotency_keys(w: W, key: str) -> None:
    await w.unchanged("POST", f"{w.base}/links", json={"slug": "idem", "destination": "https://example.com/"},
                      headers={"Idempotency-Key": key.encode("utf-8")}, allowed=(400,))


@pytest.mark.parametrize("value", corpora.CRLF_VALUES)
async def test_crlf_in_destinations(w: W, value: str) -> None:
    r = await w.h.client.post(f"{w.base}/links", json={"slug": "crlf", "destination": value}, headers=w.auth)
    if r.status_code == 201:  # percent-encoded CR/LF is data, never a header break
        loc = (await w.h.client.get(f"/l/{w.s.handle}/crlf")).headers.get("location", "")
        assert "\r" not in loc and "\n" not in loc
        await w.h.client.delete(f"{w.base}/links/crlf", headers=w.auth)
    else:
        assert r.status_code == 422, r.text


# -- JSON bombs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [corpora.DEEP_ARRAY[:40_000] + corpora.DEEP_ARRAY[-40_000:],
                                  corpora.DEEP_OBJECT[:30_000] + corpora.DEEP_OBJECT[-30_000:]],
                         ids=["deep-array", "deep-object"])
async def test_deep_nesting(w: W, body: bytes) -> None:
    for url in (f"{w.base}/links", f"{w.base}/links/promo/route-preview", "/v2/support/report",
                f"{w.base}/internal-docs/access/evaluate", "/v2/public/content-report"):
        await w.unchanged("POST", url, content=body, headers={"content-type": "application/json"},
                          allowed=(400, 413, 422))


@pytest.mark.parametrize("number", corpora.HUGE_NUMBERS, ids=str)
async def test_huge_numbers_in_version_fields(w: W, number: Any) -> None:
    raw = json.dumps(number) if not isinstance(number, int) or abs(number) < 10**300 else str(number)
    cases = [
        ("PATCH", f"{w.base}/links/promo", '{"destination":"https://example.com/z","expectedVersion":%s}'.replace("%s", raw)),
        ("POST", f"{w.base}/links/promo/rollback",
         '{"targetVersion":%s,"expectedCurrentVersion":%s,"reason":"x"}'.replace("%s", raw)),
        ("PUT", f"{w.base}/site-mode", '{"mode":"maintenance","expectedModeVersion":%s,"message":"x"}'.replace("%s", raw)),
        ("PATCH", f"{w.base}/files/{w.s.file_id}", '{"name":"n","expectedVersion":%s}'.replace("%s", raw)),
        ("PUT", f"{w.base}/internal-docs/access", '{"rules":[],"defaultEffect":"deny","expectedVersion":%s}'.replace("%s", raw)),
        ("POST", f"{w.base}/links", '{"slug":"num","destination":"https://example.com/","redirectStatus":%s}'.replace("%s", raw)),
    ]
    for method, url, body in cases:
        await w.unchanged(method, url, content=body.encode(), headers={"content-type": "application/json"})
    for method, url in (("GET", f"{w.base}/links?limit={raw}"), ("GET", f"{w.base}/links/promo/history?diff=1..{raw}"),
                        ("GET", f"{w.base}/files?limit={raw}")):
        r = await w.h.client.request(method, url, headers=w.auth)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:200])
    r = await w.h.client.patch(f"{w.base}/links/promo", json={"destination": "https://example.com/z"},
                               headers={**w.auth, "If-Match": f'"{raw}"'})
    assert 400 <= r.status_code < 500, r.text


@pytest.mark.parametrize("literal", corpora.HUGE_NUMBER_LITERALS + corpora.MALFORMED_JSON)
async def test_malformed_and_extreme_json(w: W, literal: bytes) -> None:
    await w.unchanged("POST", f"{w.base}/links", content=literal, headers={"content-type": "application/json"},
                      allowed=(400, 422))


# -- Unicode confusables ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", corpora.CONFUSABLE_HANDLES)
async def test_confusable_handles(w: W, name: str) -> None:
    r = await w.unchanged("POST", "/v2/handles", json={"handle": name}, allowed=(409, 422))
    assert r.json()["code"] in ("invalid_handle", "handle_reserved", "handle_taken"), r.text
    if name.isprintable() and name.strip() == name:
        r = await w.h.client.get(f"/v2/handles/{name}", headers=w.auth)
        assert r.status_code == 404 and r.json()["code"] == "handle_not_found", r.text


@pytest.mark.parametrize("slug", corpora.CONFUSABLE_SLUGS)
async def test_confusable_slugs(w: W, slug: str) -> None:
    await w.unchanged("POST", f"{w.base}/links", json={"slug": slug, "destination": "https://example.com/"},
                      allowed=(422,))


# -- oversized and malformed bodies -----------------------------------------------------------------------
async def test_oversized_json(w: W) -> None:
    body = corpora.oversized_json(64 * 1024)
    r = await w.unchanged("POST", f"{w.base}/links", content=body, headers={"content-type": "application/json"},
                          allowed=(413,))
    assert r.json()["code"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while streaming
        for _ in range(10):
            yield b"x" * 10_000

    r = await w.unchanged("POST", f"{w.base}/links", content=chunks(), headers={"content-type": "application/json"},
                          allowed=(413,))


@pytest.mark.parametrize("ctype,body", corpora.MALFORMED_MULTIPART)
async def test_malformed_multipart(w: W, ctype: str, body: bytes) -> None:
    await w.unchanged("POST", f"{w.base}/files", content=body, headers={"content-type": ctype},
                      allowed=(400, 413, 415, 422))


@pytest.mark.parametrize("body", corpora.MALFORMED_CSV)
async def test_malformed_csv_in_atomic_mode(w: W, body: bytes) -> None:
    await w.unchanged("POST", f"{w.base}/links/bulk-import", params={"mode": "atomic"}, content=body,
                      headers={"content-type": "text/csv"}, allowed=(400, 413, 422))


async def test_wrong_media_type(w: W) -> None:
    r = await w.unchanged("POST", f"{w.base}/links", content=b"slug=a", allowed=(415,),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.json()["code"] == "unsupported_media_type"


async def test_huge_header(w: W) -> None:
    r = await w.h.client.get(f"{w.base}/links", headers={**w.auth, "X-Filler": "x" * 60_000})
    assert r.status_code < 500


# -- slow bodies (slowloris) ------------------------------------------------------------------------------
def _stalling(body: bytes, pause: float) -> AsyncIterator[bytes]:
    """The body's first half, then receive() stalls for ``pause`` seconds, then the rest."""
    head, tail = corpora.halves(body)

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        await asyncio.sleep(pause)
        yield tail

    return chunks()


def _trickle(body: bytes, pieces: int, gap: float) -> AsyncIterator[bytes]:
    """The body in ``pieces`` chunks, ``gap`` seconds apart: slow but never idle for long."""
    step = -(-len(body) // pieces)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), step):
            if i:
                await asyncio.sleep(gap)
            yield body[i:i + step]

    return chunks()


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "idempotency-key"])
@pytest.mark.parametrize("name,method,path,ctype,body", corpora.SLOW_BODIES, ids=[c[0] for c in corpora.SLOW_BODIES])
async def test_slow_bodies_time_out(w: W, name: str, method: str, path: str, ctype: str, body: bytes,
                                    keyed: bool) -> None:
    headers = {"content-type": ctype}
    if keyed:  # the key is taken after the first chunk arrives: buffering for the fingerprint also stalls
        headers["Idempotency-Key"] = f"slow-{name}"
    else:
        headers["content-length"] = str(len(body))
    r = await w.unchanged(method, f"{w.base}{path}", content=_stalling(body, SLOW_S * 4), headers=headers,
                          allowed=(408,))
    assert r.json()["code"] == "request_timeout"
    assert r.headers["connection"] == "close"


async def test_slow_body_releases_the_key_and_a_steady_trickle_goes_through() -> None:
    async with make_harness(body_timeout_s=SLOW_S) as h:
        s = await seed(h)
        base = f"/v2/handles/{s.handle}"
        for name, method, path, ctype, body in corpora.SLOW_BODIES:
            hdrs = {**h.auth(s.owner), "content-type": ctype, "Idempotency-Key": f"retry-{name}"}
            r = await h.client.request(method, base + path, content=_stalling(body, SLOW_S * 4), headers=hdrs)
            assert r.status_code == 408, (name, r.status_code, r.text[:200])
            r = await h.client.request(method, base + path, content=body, headers=hdrs)  # the key was released
            assert r.status_code in (200, 201), (name, r.status_code, r.text[:200])
            again = await h.client.request(method, base + path, content=body, headers=hdrs)
            assert again.status_code == r.status_code and again.headers.get("idempotent-replayed") == "true"
        # 8 chunks, each SLOW_S / 2.5 after the last: twice the limit in total, never idle that long
        body = corpora.SLOW_MULTIPART.replace(b"slow.txt", b"steady.txt")
        r = await h.client.post(f"{base}/files", content=_trickle(body, 8, SLOW_S / 2.5),
                                headers={**h.auth(s.owner), "content-length": str(len(body)),
                                         "content-type": f"multipart/form-data; boundary={corpora.SLOW_BOUNDARY}"})
        assert r.status_code == 201, r.text
        assert r.json()["size"] == len(b"slow " * 2000)


# -- the same numbers against SQLite (64-bit integer columns) ----------------------------------------------
async def test_huge_numbers_on_sqlite(tmp_path: Any) -> None:
    async with make_harness(database_url=f"sqlite+aiosqlite:///{tmp_path}/n.db", data_dir=tmp_path) as h:
        s = await seed(h)
        a, base = h.auth(s.owner), f"/v2/handles/{s.handle}"
        for dig in ("²", "١٢", "1²"):  # str.isdigit() says yes, int() says no
            for url in (f"{base}/links/promo/history?diff=1..{dig}", f"/api/v1/publisher/deployments/?page={dig}",
                        f"/api/v1/publisher/deployments/?page_size={dig}", f"{base}/links?limit={dig}"):
                r = await h.client.get(url, headers=a)
                assert r.status_code < 500, (url, r.status_code, r.text[:200])
        for number in corpora.HUGE_NUMBERS:
            raw = json.dumps(number) if not isinstance(number, int) or abs(number) < 10**300 else str(number)
            for method, url, body in (
                ("PATCH", f"{base}/links/promo", '{"destination":"https://example.com/z","expectedVersion":%s}'.replace("%s", raw)),
                ("POST", f"{base}/links/promo/rollback",
                 '{"targetVersion":%s,"expectedCurrentVersion":2,"reason":"x"}'.replace("%s", raw)),
                ("POST", f"{base}/links/promo/rollback",
                 '{"targetVersion":1,"expectedCurrentVersion":%s,"reason":"x"}'.replace("%s", raw)),
                ("PUT", f"{base}/site-mode", '{"mode":"maintenance","expectedModeVersion":%s,"message":"x"}'.replace("%s", raw)),
                ("PATCH", f"{base}/files/{s.file_id}", '{"name":"n","expectedVersion":%s}'.replace("%s", raw)),
                ("PUT", f"{base}/internal-docs/access", '{"rules":[],"defaultEffect":"deny","expectedVersion":%s}'.replace("%s", raw)),
                ("GET", f"{base}/links?limit={raw}", None),
                ("GET", f"{base}/links/promo/history?diff=1..{raw}", None),
                ("GET", f"/api/v1/publisher/publishing-records/?page={raw}", None),
                ("GET", f"/api/v1/publisher/deployments/?page_size={raw}", None),
                ("GET", f"/api/v1/publisher/publishing-records/{raw}/", None),
            ):
                r = await h.client.request(method, url, content=body.encode() if body else None,
                                           headers={**a, "content-type": "application/json"})
                ok = r.status_code < 500 if method == "GET" else 400 <= r.status_code < 500
                assert ok, (method, url, body, r.status_code, r.text[:200])
            r = await h.client.patch(f"{base}/links/promo", json={"destination": "https://example.com/z"},
                                     headers={**a, "If-Match": f'"{raw}"'})
            assert r.status_code < 500, r.text
