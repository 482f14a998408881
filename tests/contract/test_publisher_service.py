"""Publisher use cases over every adapter set: tenancy, publish/retry, deployments shared with sites."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from adapters.objectstore.memory import MemoryObjectStore
from gharart_core.identity.model import Principal
from gharart_core.identity.service import IdentityService
from gharart_core.publisher.deployments import DeploymentRecordService
from gharart_core.publisher.destinations import SiteDestination, WebhookDestination
from gharart_core.publisher.model import PublishStatus
from gharart_core.publisher.ports import WebhookResponse
from gharart_core.publisher.service import PublisherService
from gharart_core.publisher.sites_bridge import SitesBridge
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import NotFound, ValidationFailed
from gharart_core.shared.ids import SequentialIds
from gharart_core.shared.tokens import SecretsTokenSource
from gharart_core.sites.service import SitesService

SCOPES = frozenset({"sites:read", "sites:write"})


class FakeTransport:
    def __init__(self, answers: list[WebhookResponse]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, bytes, Mapping[str, str]]] = []

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        self.calls.append((url, body, dict(headers)))
        return self.answers.pop(0) if self.answers else WebhookResponse(200, None, "")


class World:
    def __init__(self, make: Callable[..., Any]) -> None:
        self.make = make
        self.clock = FakeClock()
        self.ids = SequentialIds()
        self.identity = IdentityService(self.clock, self.ids, SecretsTokenSource())
        self.sites = SitesService(clock=self.clock, ids=self.ids, tokens=SecretsTokenSource(),
                                  object_store=MemoryObjectStore())
        self.bridge = SitesBridge(self.sites)
        self.transport = FakeTransport([])
        self.publisher = PublisherService(self.clock, self.ids, self.identity, {
            "site": SiteDestination(self.bridge), "webhook": WebhookDestination(self.transport)})
        self.deployments = DeploymentRecordService(self.clock, self.ids, self.publisher, self.bridge)

    async def user(self, email: str, *handles: str, operator: bool = False) -> Principal:
        async with self.make() as uow:
            u = await self.identity.ensure_user(uow, email)
            p = Principal(u.id, email, SCOPES | ({"operator"} if operator else set()), None,
                          is_operator_flag=operator)
            for h in handles:
                await self.identity.create_handle(uow, p, h)
            await uow.commit()
        return p

    async def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        async with self.make() as uow:
            out = await fn(uow, *args, **kw)
            await uow.commit()
            return out


@pytest.fixture
async def world(uow_factory: Callable[..., Any]) -> World:
    return World(uow_factory)


async def test_tenancy_matrix(world: World) -> None:
    alice = await world.user("alice@a.test", "acme", "acme-blog")
    bob = await world.user("bob@b.test", "bravo")
    op = await world.user("ops@g.test", operator=True)
    pa = await world.call(world.publisher.create_record, alice,
                          {"site_id": "acme", "content_id": 1, "destination": "webhook",
                           "config": {"url": "https://hooks.test/a"}, "sector_id": "news"})
    await world.call(world.publisher.create_record, alice,
                     {"site_id": "acme-blog", "content_id": "2", "destination": "webhook",
                      "config": {"url": "https://hooks.test/a"}})
    pb = await world.call(world.publisher.create_record, bob,
                          {"site_id": "bravo", "content_id": "3", "destination": "webhook",
                           "config": {"url": "https://hooks.test/b"}})
    assert pa.account_id.startswith("acc_") and pa.sector_id == "news" and pa.content_id == "1"
    items, n = await world.call(world.publisher.list_records, alice)
    assert n == 2 and {r.site_id for r in items} == {"acme", "acme-blog"}
    items, n = await world.call(world.publisher.list_records, alice, site_id="acme")
    assert [r.id for r in items] == [pa.id]
    items, n = await world.call(world.publisher.list_records, alice, sector_id="news")
    assert [r.id for r in items] == [pa.id]
    items, n = await world.call(world.publisher.list_records, alice, site_id="bravo")
    assert n == 0
    items, n = await world.call(world.publisher.list_records, op)
    assert n == 3 and {r.account_id for r in items} == {pa.account_id, pb.account_id}
    with pytest.raises(NotFound):
        await world.call(world.publisher.get_record, bob, pa.id)
    with pytest.raises(NotFound):
        await world.call(world.publisher.delete_record, bob, pa.id)
    with pytest.raises(ValidationFailed) as err:
        await world.call(world.publisher.create_record, bob,
                         {"site_id": "acme", "content_id": "x", "destination": "webhook",
                          "config": {"url": "https://hooks.test/b"}})
    assert err.value.errors[0].field == "site_id"
    assert (await world.call(world.publisher.get_record, op, pb.id)).site_id == "bravo"


async def test_failed_webhook_retried_publishes_once(world: World) -> None:
    alice = await world.user("alice@a.test", "acme")
    world.transport.answers = [WebhookResponse(503, None, ""), WebhookResponse(None, "timeout"),
                               WebhookResponse(201, None, '{"url": "https://blog.test/p/1"}')]
    out = await world.call(world.publisher.publish, alice,
                           {"site_id": "acme", "content_id": "c1", "title": "Hi", "destination": "webhook",
                            "content": "<p>hi</p>", "config": {"url": "https://hooks.test/x"}})
    rec = out.record
    assert rec.status is PublishStatus.FAILED and rec.attempts == 1 and "503" in (rec.error or "")
    rec = (await world.call(world.publisher.retry, alice, rec.id)).record
    assert rec.status is PublishStatus.FAILED and rec.attempts == 2 and "timeout" in (rec.error or "")
    rec = (await world.call(world.publisher.retry, alice, rec.id)).record
    assert rec.status is PublishStatus.PUBLISHED and rec.attempts == 3 and rec.error is None
    assert rec.external_url == "https://blog.test/p/1"
    again = await world.call(world.publisher.retry, alice, rec.id)
    assert not again.attempted and again.record == rec
    assert len(world.transport.calls) == 3
    assert {c[2]["Idempotency-Key"] for c in world.transport.calls} == {rec.id}


async def test_publish_to_site_makes_a_sites_deployment(world: World) -> None:
    alice = await world.user("alice@a.test", "acme")
    out = await world.call(world.publisher.publish, alice,
                           {"site_id": "acme", "content_id": "post-1", "destination": "site",
                            "content": "<h1>Post</h1>", "config": {"path": "blog/post-1.html"}})
    rec = out.record
    assert rec.status is PublishStatus.PUBLISHED, rec.error
    assert rec.external_url and rec.external_url.endswith("/preview/blog/post-1.html")
    dep_id = rec.external_url.split("/site-deployments/")[1].split("/")[0]
    async with world.make(write=False) as uow:
        access = await world.identity.resolve(uow, alice, "acme")
        page = await world.sites.preview(uow, access, dep_id, "blog/post-1.html")
        assert page.status == 200 and page.body == b"<h1>Post</h1>"
    # the deployment record view shows the same deployment
    rows, n = await world.call(world.deployments.list, alice)
    assert n == 1 and rows[0].id == dep_id and rows[0].status == "deployed" and rows[0].site_id == "acme"
    # a second publish keeps the first page when the first deployment is live
    async with world.make() as uow:
        access = await world.identity.resolve(uow, alice, "acme")
        await world.sites.promote(uow, access, dep_id, None)
        await uow.commit()
    out2 = await world.call(world.publisher.publish, alice,
                            {"site_id": "acme", "content_id": "post-2", "destination": "site",
                             "content": "two"})
    dep2 = out2.record.external_url.split("/site-deployments/")[1].split("/")[0]
    async with world.make(write=False) as uow:
        access = await world.identity.resolve(uow, alice, "acme")
        assert (await world.sites.preview(uow, access, dep2, "blog/post-1.html")).status == 200
        assert (await world.sites.preview(uow, access, dep2, "content/post-2.html")).body == b"two"


async def test_deployment_records_round_trip_with_sites(world: World) -> None:
    alice = await world.user("alice@a.test", "acme")
    bob = await world.user("bob@b.test", "bravo")
    rec = await world.call(world.deployments.create, alice,
                           {"site_id": "acme", "sector_id": "news", "message": "v1",
                            "files": {"index.html": "<p>v1</p>"}, "metadata": {"version": 1}})
    assert rec.status == "deployed" and rec.id.startswith("dep_") and rec.sector_id == "news"
    async with world.make(write=False) as uow:
        access = await world.identity.resolve(uow, alice, "acme")
        dep, _, _ = await world.sites.get_deployment(uow, access, rec.id)
        assert dep.status.value == "deployed" and dep.message == "v1"
    # a /v2-side deployment appears in the view
    async with world.make() as uow:
        access = await world.identity.resolve(uow, alice, "acme")
        v2, missing = await world.sites.create_deployment(uow, access, {
            "manifest": {"a.html": {"sha256": "0" * 64, "size": 1}}, "message": "from v2"})
        await uow.commit()
    got = await world.call(world.deployments.get, alice, v2.id)
    assert got.status == "pending" and got.sector_id == "default" and got.missing_blobs == 1
    with pytest.raises(NotFound):
        await world.call(world.deployments.get, bob, v2.id)
    with pytest.raises(ValidationFailed) as err:
        await world.call(world.deployments.update, alice, rec.id, {"status": "pending"}, partial=True)
    assert err.value.errors[0].field == "status"
    cancelled = await world.call(world.deployments.update, alice, v2.id, {"status": "failed"}, partial=True)
    assert cancelled.status == "failed"
    await world.call(world.deployments.delete, alice, rec.id)
    with pytest.raises(NotFound):
        await world.call(world.deployments.get, alice, rec.id)
    rows, n = await world.call(world.deployments.list, alice)
    assert [r.id for r in rows] == [v2.id]


async def test_bad_input_is_reported_per_field(world: World) -> None:
    alice = await world.user("alice@a.test", "acme")
    with pytest.raises(ValidationFailed) as err:
        await world.call(world.publisher.create_record, alice,
                         {"site_id": 5, "content_id": None, "destination": "FTP!", "sector_id": "bad sector!"})
    assert {e.field for e in err.value.errors} == {"site_id", "content_id", "destination", "sector_id"}
    with pytest.raises(ValidationFailed) as err:
        await world.call(world.publisher.create_record, alice,
                         {"site_id": "acme", "content_id": "1", "destination": "webhook",
                          "config": {"url": "javascript:alert(1)"}})
    assert err.value.errors[0].field == "config.url"
    rec = await world.call(world.publisher.create_record, alice,
                           {"site_id": "acme", "content_id": "1", "destination": "webhook",
                            "config": {"url": "https://hooks.test/x"}})
    with pytest.raises(ValidationFailed) as err:
        await world.call(world.publisher.update_record, alice, rec.id, {"status": "published"}, partial=True)
    assert err.value.code == "invalid_transition" and err.value.errors[0].field == "status"
    moved = await world.call(world.publisher.update_record, alice, rec.id, {"status": "publishing"}, partial=True)
    assert moved.status is PublishStatus.PUBLISHING and moved.attempts == 1
    done = await world.call(world.publisher.update_record, alice, rec.id,
                            {"status": "published", "external_url": "https://x.test/1"}, partial=True)
    assert done.published_at is not None and done.external_url == "https://x.test/1"


async def test_records_may_name_any_destination_but_only_built_ins_deliver(world: World) -> None:
    alice = await world.user("alice@a.test", "acme")
    rec = await world.call(world.publisher.create_record, alice,
                           {"site_id": "acme", "content_id": 9, "destination": "wordpress",
                            "config": {"post_type": "page"}})
    assert rec.destination == "wordpress" and rec.config == {"post_type": "page"}
    with pytest.raises(ValidationFailed) as err:
        await world.call(world.publisher.retry, alice, rec.id)
    assert err.value.errors[0].field == "destination"
    # a webhook record may be stored before its URL is known; delivery needs it
    hook = await world.call(world.publisher.create_record, alice,
                            {"site_id": "acme", "content_id": 10, "destination": "webhook"})
    with pytest.raises(ValidationFailed) as err:
        await world.call(world.publisher.retry, alice, hook.id)
    assert err.value.errors[0].field == "config.url"
    hook = await world.call(world.publisher.update_record, alice, hook.id,
                            {"config": {"url": "https://hooks.test/late"}}, partial=True)
    out = await world.call(world.publisher.retry, alice, hook.id)
    assert out.record.status is PublishStatus.PUBLISHED and out.record.attempts == 1
    with pytest.raises(ValidationFailed) as err:
        await world.call(world.publisher.publish, alice,
                         {"site_id": "acme", "content_id": "x", "destination": "site"})
    assert err.value.errors[0].field == "content"
    async with world.make(write=False) as uow:
        items, n = await world.publisher.list_records(uow, alice, content_id="x")
        assert n == 0  # a refused publish stores nothing
