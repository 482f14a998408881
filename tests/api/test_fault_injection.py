"""Fault injection through the ports (SPEC §13): the database or the object store fails at step N of an
operation. Whatever N, the answer is a clean 5xx problem, nothing half-made is left behind (every table
read back and compared), and a retry with the same Idempotency-Key completes the operation exactly once
(a third try replays it).

Steps are counted on the business repositories (not identity, idempotency, quotas or the request log,
which the middleware itself needs to answer) plus commits and object-store writes.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from adapters.objectstore.memory import MemoryObjectStore
from entrypoints.containers import build_memory_container
from entrypoints.harness import Harness, _install_fakes
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.ids import UlidIds
from tests.seed import seed

_INFRA = {"identity", "idempotency", "quotas", "request_log", "requests", "throttles", "audit"}
_NOISE = ("request_log", "throttle", "idempot", "tokens", "rate", "quota")


class InjectedFault(ConnectionError):
    pass


class Plan:
    """Counts steps while armed; raises at step ``fail_at``."""

    def __init__(self) -> None:
        self.armed = False
        self.fail_at = 0
        self.steps = 0
        self.trail: list[str] = []
        self.injected = 0

    def arm(self, fail_at: int) -> None:
        self.armed, self.fail_at, self.steps, self.trail = True, fail_at, 0, []

    def disarm(self) -> None:
        self.armed = False

    def tick(self, what: str) -> None:
        if not self.armed:
            return
        self.steps += 1
        self.trail.append(what)
        if self.steps == self.fail_at:
            self.injected += 1
            raise InjectedFault(f"injected failure at step {self.steps}: {what}")


class _Repo:
    def __init__(self, inner: Any, name: str, plan: Plan) -> None:
        self._inner, self._name, self._plan = inner, name, plan

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if not callable(value) or attr.startswith("_"):
            return value

        if not inspect.iscoroutinefunction(value):
            return value

        async def wrapped(*args: Any, **kw: Any) -> Any:
            self._plan.tick(f"{self._name}.{attr}")
            return await value(*args, **kw)
        return wrapped


class FaultyUoW:
    def __init__(self, inner: Any, plan: Plan) -> None:
        self._inner, self._plan = inner, plan
        self._touched = False

    async def __aenter__(self) -> FaultyUoW:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)

    async def commit(self) -> None:
        if self._touched:
            self._plan.tick("commit")
        await self._inner.commit()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name in _INFRA or name.startswith("_") or callable(value):
            return value
        self._touched = True
        return _Repo(value, name, self._plan)


class FaultyStore:
    def __init__(self, inner: Any, plan: Plan) -> None:
        self._inner, self._plan = inner, plan

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name in ("put_stream", "put_bytes", "delete"):
            async def wrapped(*args: Any, **kw: Any) -> Any:
                self._plan.tick(f"store.{name}")
                return await value(*args, **kw)
            return wrapped
        return value


def faulty_harness(plan: Plan) -> Harness:
    settings = Settings(data_dir=Path("/nonexistent"), object_store="memory://", auto_migrate=False)
    container = build_memory_container(settings)
    make = container.uow_factory()
    store = MemoryObjectStore()
    container.uow_factory.override(providers.Object(lambda write=True: FaultyUoW(make(write=write), plan)))
    container.object_store.override(providers.Object(FaultyStore(store, plan)))
    clock = FakeClock()
    container.clock.override(providers.Object(clock))
    container.ids.override(providers.Singleton(UlidIds))
    _install_fakes(container)
    h = Harness(create_app(container), clock)
    h.raw_store = store  # type: ignore[attr-defined]
    return h


def fingerprint(h: Harness) -> dict[str, str]:
    state = h.container.state()
    return {name: repr(sorted(table.items(), key=repr)) for name, table in state.tables.items()
            if not any(n in name for n in _NOISE)}


@pytest.fixture
async def world() -> AsyncIterator[tuple[Harness, Plan, Any]]:
    plan = Plan()
    async with faulty_harness(plan) as h:
        s = await seed(h)
        yield h, plan, s


Request = Callable[[Harness, Any, str], Awaitable[Any]]


async def _drive(h: Harness, plan: Plan, s: Any, send: Request, check: Callable[[Harness, Any], Awaitable[None]],
                 max_steps: int = 40, prepare: Callable[[str], Awaitable[None]] | None = None) -> int:
    """For N = 1, 2, ...: fail at step N, check nothing changed, retry with the same key, check it
    happened once. Stops at the first N the operation gets through without reaching."""
    n = 0
    for n in range(1, max_steps + 1):
        key = f"fault-{n}-{id(send)}"
        if prepare is not None:  # set-up outside the fault window (a pending deployment, a version read)
            await prepare(key)
        before = fingerprint(h)
        plan.arm(n)
        try:
            r = await send(h, s, key)
            await h.drain()
        finally:
            plan.disarm()
        if plan.steps < n:  # the fault was never reached: the whole operation has fewer steps
            assert r.status_code < 400, r.text
            await check(h, r)
            return n - 1
        assert r.status_code >= 500, (n, plan.trail, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith(("application/problem+json", "application/json")), r.headers
        assert "Traceback" not in r.text
        after = fingerprint(h)
        changed = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
        assert not changed, (n, plan.trail, changed)
        retry = await send(h, s, key)
        await h.drain()
        assert retry.status_code < 400, (n, plan.trail, retry.status_code, retry.text[:300])
        await check(h, retry)
        again = await send(h, s, key)
        assert again.status_code == retry.status_code and again.headers.get("idempotent-replayed") == "true", \
            (n, again.status_code, again.text[:200])
        assert again.content == retry.content
        await undo(h, s, retry)
    raise AssertionError(f"still failing after {max_steps} steps: {plan.trail}")


async def undo(h: Harness, s: Any, r: Any) -> None:
    """Nothing to undo: each check counts resources created by its own request id."""


# -- the operations --------------------------------------------------------------------------------------
async def _count(h: Harness, table: str, pred: Callable[[Any], bool] = lambda v: True) -> int:
    return sum(1 for v in h.container.state().table(table).values() if pred(v))


async def test_file_upload(world: Any) -> None:
    h, plan, s = world

    async def send(h: Harness, s: Any, key: str) -> Any:
        body = (f'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="{key}.txt"\r\n'
                f"Content-Type: text/plain\r\n\r\n{key}\r\n--b0undary--\r\n").encode()
        return await h.client.post(f"/v2/handles/{s.handle}/files", content=body,
                                   headers={**h.auth(s.owner), "Idempotency-Key": key,
                                            "content-type": "multipart/form-data; boundary=b0undary"})

    async def check(h: Harness, r: Any) -> None:
        name = r.json()["name"]
        assert await _count(h, "files", lambda f: getattr(f, "name", None) == name) == 1
        d = await h.client.get(f"/v2/handles/{s.handle}/files/{r.json()['id']}", headers=h.auth(s.owner))
        assert d.status_code == 200

    steps = await _drive(h, plan, s, send, check)
    assert steps >= 2, plan.trail


async def test_deployment_create(world: Any) -> None:
    h, plan, s = world

    async def send(h: Harness, s: Any, key: str) -> Any:
        body = f"<h1>{key}</h1>".encode()
        digest = hashlib.sha256(body).hexdigest()
        return await h.client.post(f"/v2/handles/{s.handle}/site-deployments",
                                   json={"manifest": {"index.html": {"sha256": digest, "size": len(body)},
                                                      "same.html": {"sha256": s.sha256, "size": 1}},
                                         "message": key},
                                   headers={**h.auth(s.owner), "Idempotency-Key": key})

    async def check(h: Harness, r: Any) -> None:
        dep = r.json()
        assert dep["status"] == "pending" and len(dep["required"]) == 1, dep
        assert await _count(h, "site_deployments", lambda d: getattr(d, "message", None) == dep["message"]) == 1

    steps = await _drive(h, plan, s, send, check)
    assert steps >= 2, plan.trail


async def test_blob_upload(world: Any) -> None:
    h, plan, s = world
    pending: dict[str, tuple[str, bytes, str]] = {}

    async def prepare(key: str) -> None:
        body = f"<h1>{key}</h1>".encode()
        digest = hashlib.sha256(body).hexdigest()
        r = await h.client.post(f"/v2/handles/{s.handle}/site-deployments",
                                json={"manifest": {"index.html": {"sha256": digest, "size": len(body)}}},
                                headers=h.auth(s.owner))
        pending[key] = (r.json()["id"], body, digest)

    async def send(h: Harness, s: Any, key: str) -> Any:
        a = h.auth(s.owner)
        dep_id, body, digest = pending[key]
        return await h.client.put(f"/v2/handles/{s.handle}/site-deployments/{dep_id}/files/{digest}",
                                  content=body, headers={**a, "Idempotency-Key": key,
                                                         "content-type": "application/octet-stream"})

    async def check(h: Harness, r: Any) -> None:
        dep_id = next(d for d, _, dg in pending.values() if r.request.url.path.endswith(dg))
        g = await h.client.get(f"/v2/handles/{s.handle}/site-deployments/{dep_id}", headers=h.auth(s.owner))
        assert g.json()["status"] == "deployed" and g.json()["missingBlobs"] == 0, g.text
        p = await h.client.get(f"/v2/handles/{s.handle}/site-deployments/{dep_id}/preview", headers=h.auth(s.owner))
        assert p.status_code == 200, p.text

    steps = await _drive(h, plan, s, send, check, prepare=prepare)
    assert steps >= 2, plan.trail


async def test_deployment_from_archive(world: Any) -> None:
    h, plan, s = world

    async def send(h: Harness, s: Any, key: str) -> Any:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("index.html", f"<h1>{key}</h1>")
            zf.writestr("about.html", f"<p>{key}</p>")
        return await h.client.post(f"/v2/handles/{s.handle}/site-deployments", params={"message": key},
                                   content=buf.getvalue(),
                                   headers={**h.auth(s.owner), "Idempotency-Key": key, "content-type": "application/zip"})

    async def check(h: Harness, r: Any) -> None:
        dep = r.json()
        assert dep["status"] == "deployed" and not dep["required"], dep
        assert await _count(h, "site_deployments", lambda d: getattr(d, "message", None) == dep["message"]) == 1
        p = await h.client.get(f"/v2/handles/{s.handle}/site-deployments/{dep['id']}/preview/about.html",
                               headers=h.auth(s.owner))
        assert p.status_code == 200, p.text

    steps = await _drive(h, plan, s, send, check)
    assert steps >= 2, plan.trail


async def _deployed(h: Harness, s: Any, text: str) -> str:
    """A deployed deployment made outside the fault window (an archive deploy completes at once)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", f"<h1>{text}</h1>")
    r = await h.client.post(f"/v2/handles/{s.handle}/site-deployments", params={"message": text},
                            content=buf.getvalue(), headers={**h.auth(s.owner), "content-type": "application/zip"})
    assert r.status_code == 201 and r.json()["status"] == "deployed", r.text
    return str(r.json()["id"])


async def _live(h: Harness, s: Any) -> str | None:
    r = await h.client.get(f"/v2/handles/{s.handle}/site", headers=h.auth(s.owner))
    return r.json()["liveDeploymentId"]  # type: ignore[no-any-return]


async def _served(h: Harness, s: Any) -> bytes:
    r = await h.client.get(f"/profiles/{s.handle}/index.html")
    assert r.status_code == 200, r.text
    return r.content


async def test_promote(world: Any) -> None:
    h, plan, s = world
    pending: dict[str, tuple[str, str | None]] = {}

    async def prepare(key: str) -> None:
        pending[key] = (await _deployed(h, s, key), await _live(h, s))

    async def send(h: Harness, s: Any, key: str) -> Any:
        dep_id, live = pending[key]
        return await h.client.post(f"/v2/handles/{s.handle}/site-deployments/{dep_id}/promote",
                                   json={"expectedLiveDeploymentId": live},
                                   headers={**h.auth(s.owner), "Idempotency-Key": key})

    async def check(h: Harness, r: Any) -> None:
        dep = r.json()
        assert dep["status"] == "deployed", dep
        assert await _live(h, s) == dep["id"]
        assert await _served(h, s) == f"<h1>{dep['message']}</h1>".encode()

    steps = await _drive(h, plan, s, send, check, prepare=prepare)
    assert steps >= 3, plan.trail


async def test_site_rollback(world: Any) -> None:
    h, plan, s = world
    pending: dict[str, tuple[str, str]] = {}

    async def prepare(key: str) -> None:
        target = await _deployed(h, s, f"{key}-old")
        for dep_id in (target, await _deployed(h, s, f"{key}-new")):
            r = await h.client.post(f"/v2/handles/{s.handle}/site-deployments/{dep_id}/promote",
                                    json={"expectedLiveDeploymentId": await _live(h, s)}, headers=h.auth(s.owner))
            assert r.status_code == 200, r.text
        live = await _live(h, s)
        assert live is not None
        pending[key] = (target, live)

    async def send(h: Harness, s: Any, key: str) -> Any:
        target, live = pending[key]
        return await h.client.post(f"/v2/handles/{s.handle}/site-deployments/rollback",
                                   json={"targetDeploymentId": target, "expectedLiveDeploymentId": live,
                                         "reason": key},
                                   headers={**h.auth(s.owner), "Idempotency-Key": key})

    async def check(h: Harness, r: Any) -> None:
        live = await _live(h, s)
        key = next(k for k, (t, _) in pending.items() if t == live)
        _target, old_live = pending[key]
        old = await h.client.get(f"/v2/handles/{s.handle}/site-deployments/{old_live}", headers=h.auth(s.owner))
        assert old.json()["status"] == "rolled_back", old.text
        assert await _served(h, s) == f"<h1>{key}-old</h1>".encode()

    steps = await _drive(h, plan, s, send, check, prepare=prepare)
    assert steps >= 3, plan.trail


async def test_bulk_import(world: Any) -> None:
    h, plan, s = world

    async def send(h: Harness, s: Any, key: str) -> Any:
        rows = "slug,destination,tags\n" + "".join(f"{key}-{i},https://example.com/{i},t{i}\n" for i in range(5))
        return await h.client.post(f"/v2/handles/{s.handle}/links/bulk-import", params={"mode": "atomic"},
                                   content=rows, headers={**h.auth(s.owner), "Idempotency-Key": key,
                                                          "content-type": "text/csv"})

    async def check(h: Harness, r: Any) -> None:
        assert r.json()["counts"]["created"] == 5, r.text
        prefix = r.json()["rows"][0]["slug"].rsplit("-", 1)[0]
        listed = await h.client.get(f"/v2/handles/{s.handle}/links", params={"prefix": prefix + "-"},
                                    headers=h.auth(s.owner))
        assert len(listed.json()["items"]) == 5

    steps = await _drive(h, plan, s, send, check)
    assert steps >= 2, plan.trail


async def test_policy_save(world: Any) -> None:
    h, plan, s = world

    versions: dict[str, int] = {}

    async def prepare(key: str) -> None:
        cur = await h.client.get(f"/v2/handles/{s.handle}/internal-docs/access", headers=h.auth(s.owner))
        versions[key] = cur.json()["version"]

    async def send(h: Harness, s: Any, key: str) -> Any:
        version = versions[key]
        rules = [{"id": "r1", "pathPrefix": "/handbook", "effect": "allow",
                  "principals": {"roles": ["viewer"]}, "description": key}]
        return await h.client.put(f"/v2/handles/{s.handle}/internal-docs/access",
                                  json={"rules": rules, "defaultEffect": "deny", "expectedVersion": version},
                                  headers={**h.auth(s.owner), "Idempotency-Key": key})

    async def check(h: Harness, r: Any) -> None:
        cur = await h.client.get(f"/v2/handles/{s.handle}/internal-docs/access", headers=h.auth(s.owner))
        assert cur.json()["version"] == r.json()["version"], (cur.text, r.text)

    steps = await _drive(h, plan, s, send, check, prepare=prepare)
    assert steps >= 2, plan.trail


async def test_report_creation(world: Any) -> None:
    h, plan, s = world

    async def send(h: Harness, s: Any, key: str) -> Any:
        return await h.client.post("/v2/support/report", json={"summary": f"broken {key}", "details": "x"},
                                   headers={**h.auth(s.owner), "Idempotency-Key": key})

    async def check(h: Harness, r: Any) -> None:
        rid = r.json()["reportId"]
        assert await _count(h, "support_reports", lambda v: getattr(v, "id", None) == rid) == 1

    steps = await _drive(h, plan, s, send, check)
    assert steps >= 2, plan.trail


async def test_link_create_and_rollback(world: Any) -> None:
    h, plan, s = world

    async def send(h: Harness, s: Any, key: str) -> Any:
        a = {**h.auth(s.owner), "Idempotency-Key": key}
        return await h.client.post(f"/v2/handles/{s.handle}/links",
                                   json={"slug": key[:60], "destination": "https://example.com/"}, headers=a)

    async def check(h: Harness, r: Any) -> None:
        slug = r.json()["slug"]
        g = await h.client.get(f"/v2/handles/{s.handle}/links/{slug}", headers=h.auth(s.owner))
        assert g.status_code == 200 and g.json()["version"] == 1

    steps = await _drive(h, plan, s, send, check)
    assert steps >= 2, plan.trail


async def test_object_store_failure_on_download_is_a_clean_error(world: Any) -> None:
    h, plan, s = world
    store = h.raw_store  # type: ignore[attr-defined]
    original = store.get_stream

    def broken(*a: Any, **kw: Any) -> Any:
        raise InjectedFault("store down")

    store.get_stream = broken
    try:
        r = await h.client.get(f"/profiles/{s.handle}/index.html")
        # Served from the small-file cache, or a clean error: never a stack trace.
        assert r.status_code == 200 or (r.status_code >= 500 and "Traceback" not in r.text), r.text
    finally:
        store.get_stream = original
    r = await h.client.get(f"/profiles/{s.handle}/index.html")
    assert r.status_code == 200
