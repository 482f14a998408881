"""schemathesis over every operation of the app's own OpenAPI document.

The app runs in-process (the memory harness) with seeded data: handle ``acme``, its owner's PAT with every
scope (operator included), a link, a live deployment, a file with a share, an import run, a report, an
escalation. Each operation is exercised three ways: valid data on the seeded resources, invalid data
(schemathesis' negative mode) on the seeded resources, and valid data on generated path parameters.
Every answer must avoid 5xx and carry a media type the document declares for that status.

``SCHEMATHESIS_EXAMPLES`` (default 6) bounds the examples per operation and mode;
``SCHEMATHESIS_BACKENDS`` (default ``memory,sqlite``) picks the adapter sets.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from tests.schemathesis_checks import case_strategy, check_response
from tests.seed import Seed, seed

from entrypoints.containers import build_memory_container
from entrypoints.harness import Harness, make_harness
from entrypoints.http.app import create_app
from entrypoints.http.openapi import complete_openapi

logging.getLogger("httpx").setLevel(logging.WARNING)
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
BASE_URL = "http://testserver"
BACKENDS = os.environ.get("SCHEMATHESIS_BACKENDS", "memory,sqlite").split(",")


def _document() -> dict[str, Any]:
    app = create_app(build_memory_container())
    routes = [(r.path, set(getattr(r, "methods", ()))) for r in app.litestar.routes]
    return complete_openapi(app.litestar.openapi_schema.to_schema(), routes)


DOCUMENT = _document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = {f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in SCHEMA.get_all_operations())}


class _Env:
    def __init__(self, backend: str, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.h: Harness = make_harness() if backend == "memory" else \
            make_harness(database_url=f"sqlite+aiosqlite:///{tmp}/st.db", data_dir=tmp)
        self.loop.run_until_complete(self.h.start())
        self.seed: Seed = self.loop.run_until_complete(seed(self.h, operator=True))
        self.requests = 0

    def send(self, kwargs: dict[str, Any]) -> Any:
        self.requests += 1
        response = self.loop.run_until_complete(self.h.client.request(**_to_httpx(kwargs)))
        response.request.read()  # multipart bodies stream; the checks read the request back
        return response

    def close(self) -> None:
        self.loop.run_until_complete(self.h.stop())
        self.loop.close()


def _to_httpx(kw: dict[str, Any]) -> dict[str, Any]:
    """schemathesis prepares `requests` keyword arguments; translate them for httpx."""
    # Header values go as UTF-8 bytes: the server must cope with whatever a client puts on the wire.
    headers = {k: v.encode("utf-8") if isinstance(v, str) else v for k, v in (kw.get("headers") or {}).items()}
    out: dict[str, Any] = {"method": kw["method"], "url": kw["url"], "headers": headers,
                           "params": kw.get("params") or None, "cookies": kw.get("cookies") or None}
    if "json" in kw:
        out["json"] = kw["json"]
    data = kw.get("data")
    if isinstance(data, bytes | str):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    if kw.get("files"):
        files = []
        for item in kw["files"]:
            name, value = item
            if isinstance(value, tuple):
                filename, content, *rest = value
                if not isinstance(content, bytes | str):
                    content = str(content)
                files.append((name, (filename, content, *rest)))
            else:
                files.append((name, (None, value if isinstance(value, bytes | str) else str(value))))
        out["files"] = files
        if isinstance(out.get("data"), list):
            out["data"] = dict(out["data"])
    return out


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Env]:
    e = _Env(request.param, tmp_path_factory.mktemp("schemathesis"))
    yield e
    stats = os.environ.get("SCHEMATHESIS_STATS")
    if stats:  # requests sent per backend, for docs/reliability.md
        with open(stats, "a") as fh:
            fh.write(f"{request.param} operations={len(OPERATIONS)} requests={e.requests}\n")
    e.close()


def test_document_lists_every_route() -> None:
    app = create_app(build_memory_container())
    documented = {(m.upper(), p.rstrip("/") if p.startswith("/api/v1/") else p)
                  for p, ops in DOCUMENT["paths"].items() for m in ops}
    import re

    missing = []
    for route in app.litestar.routes:
        path = re.sub(r"\{([^}:]+)(?::[^}]+)?\}", r"{\1}", route.path)
        if path.startswith("/schema") and path != "/schema/openapi.json":
            continue
        if path == "/dashboard" or path.startswith("/dashboard/"):
            continue  # the web UI is not part of the API document
        for method in getattr(route, "methods", ()):
            if method != "OPTIONS" and (method, path) not in documented:
                missing.append(f"{method} {path}")
    assert not missing
    for must in ("/l/{handle}/{slug}", "/profiles/{handle}/{path}", "/profiles/{handle}", "/_edge/docs/{handle}",
                 "/_edge/docs/{handle}/{path}", "/api/v1/publisher/deployments/", "/healthz", "/readyz", "/metrics",
                 "/schema/openapi.json"):
        assert must in DOCUMENT["paths"], must


def test_served_document_is_the_completed_one(env: _Env) -> None:
    served = env.send({"method": "GET", "url": f"{BASE_URL}/schema/openapi.json"}).json()
    assert set(served["paths"]) == set(DOCUMENT["paths"])
    assert "Problem" in served["components"]["schemas"]


MODES = ["seeded", "seeded-negative", "generated-paths"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("key", sorted(OPERATIONS))
def test_operation(env: _Env, key: str, mode: str) -> None:
    values = env.seed.path_values() if mode != "generated-paths" else None
    strategy, gen = case_strategy(OPERATIONS[key], values, mode)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, authed=st.sampled_from([True, True, True, False]))
    def run(case: Any, authed: bool) -> None:
        headers = {"Authorization": f"Bearer {env.seed.owner}"} if authed else {}
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        try:
            response = env.send(kwargs)
        except Exception as exc:  # the app raised through the transport: a 5xx in production
            raise AssertionError(f"{case.method} {case.formatted_path} raised {exc!r}") from exc
        check_response(case, response)

    try:
        run()
    except Unsatisfiable:
        if gen is GenerationMode.POSITIVE:
            raise
        pytest.skip("nothing in this operation can be made invalid")
