"""The sites service behaves the same over memory, SQLite and PostgreSQL, on every object store.

Each case runs over each unit of work crossed with each object store (memory, filesystem, S3
on a real SeaweedFS; see tests/contract/conftest.py).
"""

from __future__ import annotations

import asyncio

import pytest

from gharart_core.identity.model import Role
from gharart_core.shared.errors import Conflict, DomainError, NotFound, ValidationFailed
from gharart_core.sites.model import DeploymentStatus
from tests.contract.conftest import stored_keys
from tests.test_sites_common import access, chunks, deploy, make_service, seed_handle, sha

pytestmark = pytest.mark.asyncio
HOME = {"index.html": b"<h1>home</h1>", "blog/index.html": b"<h1>blog</h1>", "app.css": b"body{}"}


async def test_create_upload_completes_and_serves(uow_factory, object_store):
    await seed_handle(uow_factory)
    svc = make_service(object_store)
    async with uow_factory() as uow:
        dep, required = await svc.create_deployment(
            uow,
            access(),
            {
                "manifest": {
                    "index.html": {"sha256": sha(b"a"), "size": 1},
                    "b.txt": {"sha256": sha(b"b"), "size": 1},
                }
            },
        )
        await uow.commit()
    assert dep.status is DeploymentStatus.PENDING and sorted(required) == sorted([sha(b"a"), sha(b"b")])
    async with uow_factory(write=False) as uow:
        assert await uow.sites.deployment_handle(dep.id) == "acme"
        assert await uow.sites.deployment_handle("dep_00000000000000000000000000") is None
    async with uow_factory() as uow:
        with pytest.raises(ValidationFailed) as ei:
            await svc.upload_blob(uow, access(), dep.id, sha(b"a"), chunks(b"not a"))
        assert ei.value.code == "digest_mismatch"
    for data in (b"a", b"b"):
        async with uow_factory() as uow:
            got = await svc.upload_blob(uow, access(), dep.id, sha(data), chunks(data))
            await uow.commit()
    assert got.status is DeploymentStatus.DEPLOYED and not got.missing
    async with uow_factory(write=False) as uow:
        assert await uow.sites.blob_sizes("acme", [sha(b"a"), sha(b"b"), "f" * 64]) == {sha(b"a"): 1, sha(b"b"): 1}
        assert await uow.sites.blob_sizes("other", [sha(b"a")]) == {}
    # second deployment with the same blobs needs nothing
    async with uow_factory() as uow:
        dep2, required2 = await svc.create_deployment(
            uow, access(), {"manifest": {"index.html": {"sha256": sha(b"a"), "size": 1}}}
        )
        await uow.commit()
    assert required2 == [] and dep2.status is DeploymentStatus.DEPLOYED
    async with uow_factory() as uow:
        await svc.promote(uow, access(), dep2.id, {"expectedLiveDeploymentId": None})
        await uow.commit()
    async with uow_factory(write=False) as uow:
        page = await svc.serve_profile(uow, "acme", "")
        assert page.status == 200 and page.body == b"a" and page.deployment_id == dep2.id
        assert page.header("ETag") == f'"{sha(b"a")}"'
        again = await svc.serve_profile(uow, "acme", "index.html", if_none_match=f'"{sha(b"a")}"')
        assert again.status == 304


async def test_blobs_are_per_handle(uow_factory, object_store):
    await seed_handle(uow_factory, "acme")
    await seed_handle(uow_factory, "other", "usr_2")
    svc = make_service(object_store)
    await deploy(svc, uow_factory, {"index.html": b"secret"})
    async with uow_factory() as uow:
        _, required = await svc.create_deployment(
            uow,
            access("other", user="usr_2"),
            {"manifest": {"index.html": {"sha256": sha(b"secret"), "size": 6}}},
        )
    assert required == [sha(b"secret")]  # no cross-tenant existence oracle


async def test_break_missing_blob_preview_and_promote_refused(uow_factory, object_store):
    await seed_handle(uow_factory)
    svc = make_service(object_store)
    files = {"index.html": b"<h1>ok</h1>", "hero.png": b"\x89PNG..."}
    dep_id = await deploy(svc, uow_factory, files, upload=False)
    async with uow_factory() as uow:
        await svc.upload_blob(uow, access(), dep_id, sha(files["index.html"]), chunks(files["index.html"]))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        with pytest.raises(Conflict) as ei:
            await svc.preview(uow, access(), dep_id, "")
    assert ei.value.code == "artifact_missing"
    assert ei.value.extra["missing"] == [{"path": "hero.png", "sha256": sha(files["hero.png"])}]
    async with uow_factory() as uow:
        with pytest.raises(Conflict) as ei2:
            await svc.promote(uow, access(), dep_id, {"expectedLiveDeploymentId": None})
    assert ei2.value.code == "invalid_transition"


async def test_break_bindings_travel_with_release(uow_factory, object_store):
    await seed_handle(uow_factory)
    svc = make_service(object_store)
    a = await deploy(svc, uow_factory, HOME, message="A")
    async with uow_factory() as uow:
        await svc.promote(uow, access(), a, {"expectedLiveDeploymentId": None})
        await uow.commit()
    b = await deploy(svc, uow_factory, {**HOME, "index.html": b"<h1>B</h1>"}, upload=False, message="B")
    async with uow_factory() as uow:  # lands on the newest pending deployment: B
        binding, dep = await svc.add_binding(
            uow, access(), {"route": "/api/hello", "function": "json", "config": {"body": {"hi": True}}}
        )
        await uow.commit()
    assert dep.id == b and binding.deployment_id == b
    async with uow_factory() as uow:
        await svc.upload_blob(uow, access(), b, sha(b"<h1>B</h1>"), chunks(b"<h1>B</h1>"))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(Conflict) as ei:
            await svc.add_binding(
                uow, access(), {"route": "/x", "function": "json", "config": {"body": 1}, "deploymentId": b}
            )
    assert ei.value.code == "deployment_immutable"

    async def hello() -> int:
        async with uow_factory(write=False) as uow:
            return (await svc.serve_profile(uow, "acme", "api/hello")).status

    async with uow_factory() as uow:
        await svc.promote(uow, access(), b, {"expectedLiveDeploymentId": a})
        await uow.commit()
    assert await hello() == 200
    async with uow_factory() as uow:
        target, _, prev = await svc.rollback(
            uow, access(), {"targetDeploymentId": a, "expectedLiveDeploymentId": b, "reason": "bad"}
        )
        await uow.commit()
    assert target.id == a and prev is not None and prev.status is DeploymentStatus.ROLLED_BACK
    assert await hello() == 404
    async with uow_factory() as uow:
        await svc.promote(uow, access(), b, {"expectedLiveDeploymentId": a})
        await uow.commit()
    assert await hello() == 200
    async with uow_factory(write=False) as uow:
        dep_b, bindings, _ = await svc.get_deployment(uow, access(), b)
    assert dep_b.status is DeploymentStatus.DEPLOYED and [x.route for x in bindings] == ["/api/hello"]


async def test_binding_default_clones_live(uow_factory, object_store):
    await seed_handle(uow_factory)
    svc = make_service(object_store)
    a = await deploy(
        svc,
        uow_factory,
        HOME,
        bindings=[{"route": "/go", "function": "redirect", "config": {"location": "https://example.com/"}}],
    )
    async with uow_factory() as uow:
        await svc.promote(uow, access(), a, {})
        await uow.commit()
    async with uow_factory() as uow:
        binding, dep = await svc.add_binding(
            uow, access(), {"route": "/api/contact", "function": "form-capture", "config": {}}
        )
        await uow.commit()
    assert dep.id != a and dep.status is DeploymentStatus.DEPLOYED and dep.source == "clone"
    async with uow_factory(write=False) as uow:
        _, bindings, _ = await svc.get_deployment(uow, access(), dep.id)
        assert sorted(b.route for b in bindings) == ["/api/contact", "/go"]
        with pytest.raises(ValidationFailed) as ei:
            await svc.add_binding(uow, access(), {"route": "/x", "function": "nope", "config": {}})
        assert ei.value.code == "unknown_function"
    async with uow_factory() as uow:
        await svc.promote(uow, access(), dep.id, {"expectedLiveDeploymentId": a})
        page = await svc.serve_profile(
            uow,
            "acme",
            "api/contact",
            method="POST",
            body=b"name=Ann&x=1",
            headers=(("content-type", "application/x-www-form-urlencoded"),),
        )
        await uow.commit()
    assert page.status == 200
    async with uow_factory(write=False) as uow:
        subs = await svc.list_submissions(uow, access(), binding.id)
    assert subs.items[0].fields == {"name": "Ann", "x": "1"}


async def test_modes(uow_factory, object_store):
    await seed_handle(uow_factory)
    svc = make_service(object_store)
    a = await deploy(svc, uow_factory, {**HOME, "maintenance.html": b"brb"})
    async with uow_factory() as uow:
        await svc.promote(uow, access(), a, {})
        await uow.commit()
    async with uow_factory() as uow:
        site = await svc.get_site(uow, access())
        with pytest.raises(ValidationFailed):
            await svc.set_mode(uow, access(), {"mode": "redirect", "expectedModeVersion": site.mode_version})
        site = await svc.set_mode(uow, access(), {"mode": "maintenance", "expectedModeVersion": site.mode_version})
        await uow.commit()
    async with uow_factory(write=False) as uow:
        page = await svc.serve_profile(uow, "acme", "blog/")
        assert (page.status, page.body, page.header("Retry-After")) == (503, b"brb", "300")
        with pytest.raises(Conflict) as ei:
            await svc.set_mode(uow, access(), {"mode": "live", "expectedModeVersion": site.mode_version - 1})
        assert ei.value.extra["currentModeVersion"] == site.mode_version
    async with uow_factory() as uow:
        site = await svc.set_mode(uow, access(), {"mode": "private", "expectedModeVersion": site.mode_version})
        await uow.commit()
    async with uow_factory(write=False) as uow:
        with pytest.raises(DomainError) as e1:
            await svc.serve_profile(uow, "acme", "")
        assert e1.value.code == "unauthenticated"

        async def stranger() -> bool:
            return False

        with pytest.raises(NotFound):
            await svc.serve_profile(uow, "acme", "", viewer=stranger)
    async with uow_factory() as uow:
        await svc.set_mode(
            uow,
            access(),
            {
                "mode": "redirect",
                "expectedModeVersion": site.mode_version,
                "redirectUrl": "https://example.org/x",
            },
        )
        await uow.commit()
    async with uow_factory(write=False) as uow:
        page = await svc.serve_profile(uow, "acme", "blog/")
        assert page.status == 302 and page.header("Location") == "https://example.org/x"


async def test_parallel_promotes_one_wins(uow_factory, object_store):
    await seed_handle(uow_factory)
    svc = make_service(object_store, sequential=False)
    a = await deploy(svc, uow_factory, HOME)
    ids = [await deploy(svc, uow_factory, {**HOME, "n.txt": str(i).encode()}) for i in range(4)]

    async def promote(dep_id: str) -> str:
        try:
            async with uow_factory() as uow:
                await svc.promote(uow, access(), dep_id, {"expectedLiveDeploymentId": None})
                await uow.commit()
            return "ok"
        except Conflict as exc:
            assert exc.code == "version_conflict"
            return "conflict"

    results = await asyncio.gather(*(promote(i) for i in [a, *ids]))
    assert results.count("ok") == 1 and results.count("conflict") == 4


async def test_not_found_and_roles(uow_factory, object_store):
    await seed_handle(uow_factory)
    svc = make_service(object_store)
    async with uow_factory() as uow:
        with pytest.raises(NotFound) as ei:
            await svc.promote(uow, access(), "dep_00000000000000000000000000", {})
        assert ei.value.code == "deployment_not_found"
        with pytest.raises(DomainError) as e2:
            await svc.promote(uow, access(role=Role.EDITOR), "dep_x", {})
        assert e2.value.code == "forbidden_role"


class _FlakyStore:
    """A store whose writes fail while ``broken`` is set."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.broken = False

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    async def put_stream(self, key, chunks, **kw):  # type: ignore[no-untyped-def]
        if self.broken:
            async for _ in chunks:
                raise OSError("store down mid-upload")
        return await self.inner.put_stream(key, chunks, **kw)

    async def put_bytes(self, key, data):  # type: ignore[no-untyped-def]
        if self.broken:
            raise OSError("store down")
        return await self.inner.put_bytes(key, data)


async def test_store_failure_leaves_nothing_half_made_and_retry_completes(uow_factory, object_store):
    import io
    import zipfile

    await seed_handle(uow_factory)
    store = _FlakyStore(object_store)
    svc = make_service(store)
    dep_id = await deploy(svc, uow_factory, {"index.html": b"<h1>x</h1>"}, upload=False)
    store.broken = True
    with pytest.raises(OSError):
        async with uow_factory() as uow:
            await svc.upload_blob(uow, access(), dep_id, sha(b"<h1>x</h1>"), chunks(b"<h1>x</h1>"))
            await uow.commit()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.html", b"a")
    with pytest.raises(OSError):
        async with uow_factory() as uow:
            await svc.create_from_archive(uow, access(), buf.getvalue(), "application/zip", None)
            await uow.commit()
    async with uow_factory(write=False) as uow:
        deps = await uow.sites.list_deployments("acme", before_id=None, limit=10)
        assert [(d.id, d.status) for d in deps] == [(dep_id, DeploymentStatus.PENDING)]
        assert not await uow.sites.stored_blobs("acme", [sha(b"<h1>x</h1>"), sha(b"a")])
    assert await stored_keys(object_store) == []
    store.broken = False
    async with uow_factory() as uow:
        dep = await svc.upload_blob(uow, access(), dep_id, sha(b"<h1>x</h1>"), chunks(b"<h1>x</h1>"))
        await uow.commit()
    assert dep.status is DeploymentStatus.DEPLOYED
    assert len(await stored_keys(object_store)) == 1
