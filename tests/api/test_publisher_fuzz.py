"""Arbitrary JSON bodies and query strings never make the publisher API answer 5xx or leave the envelope."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrypoints.harness import make_harness

API = "/api/v1/publisher"
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.just("a\x00b"),
    st.sampled_from(["acme", "webhook", "site", "published", "failed", "https://hooks.example.com/x", "javascript:x"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)
fields = st.sampled_from(["site_id", "sector_id", "content_id", "destination", "title", "status", "config",
                          "content", "external_url", "error", "metadata", "files", "manifest", "message",
                          "publishing_record_id"])
bodies = st.one_of(json_values, st.dictionaries(fields, json_values, max_size=6))


@pytest.mark.parametrize("backend", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_fuzzed_bodies_get_envelope_answers_below_500(backend: str, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    drop = None
    if backend == "memory":
        h = make_harness()
    elif backend == "sqlite":
        h = make_harness(database_url=f"sqlite+aiosqlite:///{tmp_path}/fuzz.db", data_dir=tmp_path)
    else:
        if not os.environ.get("GHARART_TEST_POSTGRES_URL"):
            pytest.skip("GHARART_TEST_POSTGRES_URL not set")
        from tests.contract.conftest import _pg_database

        url, drop = loop.run_until_complete(_pg_database())
        h = make_harness(database_url=url, data_dir=tmp_path)
    loop.run_until_complete(h.start())
    try:
        token = loop.run_until_complete(h.create_owner("acme", "alice@acme.example.com"))
        seed = loop.run_until_complete(h.client.post(f"{API}/publishing-records/", headers=h.auth(token), json={
            "site_id": "acme", "content_id": "1", "destination": "webhook"}))
        rid = seed.json()["data"]["id"]
        dep = loop.run_until_complete(h.client.post(f"{API}/deployments/", headers=h.auth(token), json={
            "site_id": "acme", "files": {"index.html": "x"}})).json()["data"]["id"]
        routes = [("POST", "/publishing-records/"), ("POST", "/publish/"), ("POST", "/retry/"),
                  ("PATCH", f"/publishing-records/{rid}/"), ("PUT", f"/publishing-records/{rid}/"),
                  ("POST", "/deployments/"), ("PATCH", f"/deployments/{dep}/"), ("PUT", f"/deployments/{dep}/")]

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(route=st.sampled_from(routes), body=bodies,
               params=st.dictionaries(st.sampled_from(["page", "page_size", "site_id", "sector_id", "status"]),
                                      st.one_of(st.text(max_size=8), st.just("\x00")), max_size=3))
        def check(route: tuple[str, str], body: Any, params: dict[str, str]) -> None:
            method, path = route
            r = loop.run_until_complete(h.client.request(method, API + path, json=body, headers=h.auth(token)))
            assert r.status_code < 500, (route, body, r.text)
            assert set(r.json()) == {"success", "data", "message", "errors", "request_id"}
            r = loop.run_until_complete(h.client.get(API + "/publishing-records/", params=params,
                                                     headers=h.auth(token)))
            assert r.status_code in (200, 400, 404), (params, r.text)

        check()
    finally:
        loop.run_until_complete(h.stop())
        if drop is not None:
            loop.run_until_complete(drop())
        loop.close()
