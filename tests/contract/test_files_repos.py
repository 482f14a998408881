"""The files repository behaves the same on every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from gharart_core.files.model import AccessLogEntry, File, FileMode, MagicLink, Share

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_file(i: int, **kw) -> File:
    base = dict(
        id=f"fil_{i:026d}",
        handle="acme",
        name=f"f{i}.txt",
        content_type="text/plain",
        size=5 * 1024**3,
        sha256="a" * 64,
        mode=FileMode.PRIVATE,
        expires_at=None,
        access_version=1,
        version=1,
        tags=(),
        share_count=0,
        created_by="usr_1",
        created_at=T0,
        updated_at=T0,
        object_key=f"files/fil_{i:026d}",
    )
    base.update(kw)
    return File(**base)


async def test_file_round_trip_and_optimistic_update(uow_factory):
    f = make_file(1, tags=("q3", "media_kit"), expires_at=T0 + timedelta(days=1), name="ü ✓ kit.pdf")
    async with uow_factory() as uow:
        await uow.files.add(f)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.files.get(f.id) == f
        new = attrs.evolve(f, version=2, mode=FileMode.LINK, access_version=2)
        assert await uow.files.update(new, expected_version=1)
        assert not await uow.files.update(attrs.evolve(new, version=3), expected_version=1)
        await uow.files.set_share_count(f.id, 4)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        got = await uow.files.get(f.id)
        assert got == attrs.evolve(new, share_count=4)
        assert await uow.files.get("fil_missing") is None


async def test_list_filters_and_pages(uow_factory):
    now = T0 + timedelta(days=10)
    async with uow_factory() as uow:
        await uow.files.add(make_file(1, tags=("media_kit",), mode=FileMode.PUBLIC))
        await uow.files.add(make_file(2, tags=("mediaXkit",), expires_at=T0))
        await uow.files.add(make_file(3, deleted_at=T0))
        await uow.files.add(make_file(4, handle="other"))
        await uow.files.add(make_file(5, expires_at=now + timedelta(days=1), mode=FileMode.LINK))
        await uow.commit()

    async with uow_factory(write=False) as uow:

        async def ids(**kw):
            args = dict(now=now, mode=None, expired=None, tag=None, cursor=None, limit=50)
            args.update(kw)
            return [f.id[-1] for f in (await uow.files.list("acme", **args)).items]

        assert await ids() == ["5", "2", "1"]
        assert await ids(mode=FileMode.PUBLIC) == ["1"]
        assert await ids(expired=True) == ["2"]
        assert await ids(expired=False) == ["5", "1"]
        assert await ids(tag="media_kit") == ["1"]  # "_" is not a wildcard
        page = await uow.files.list("acme", now=now, mode=None, expired=None, tag=None, cursor=None, limit=2)
        assert page.next_cursor is not None
        rest = await uow.files.list(
            "acme", now=now, mode=None, expired=None, tag=None, cursor=page.next_cursor, limit=2
        )
        assert [f.id[-1] for f in rest.items] == ["1"] and rest.next_cursor is None


async def test_shares_links_access_log_purge(uow_factory):
    f = make_file(1, mode=FileMode.LINK)
    s1 = Share("shr_01", f.id, "acme", "Partner@Brand.test", None, "hi", T0, "usr_1")
    s2 = Share("shr_02", f.id, "acme", "partner@brand.test", T0 + timedelta(days=1), None, T0, "usr_1")
    link = MagicLink("b" * 64, f.id, "shr_02", "partner@brand.test", 1, T0)
    async with uow_factory() as uow:
        await uow.files.add(f)
        await uow.files.add_share(s1)
        await uow.files.add_share(s2)
        await uow.files.add_link(link)
        for i in range(3):
            await uow.files.add_access(
                AccessLogEntry(f"acl_{i:026d}", f.id, "acme", T0, None, None, "ok", f"req_{i}")
            )
        await uow.commit()
    async with uow_factory() as uow:
        assert [s.id for s in await uow.files.shares_for_email(f.id, "PARTNER@brand.test")] == [
            "shr_02",
            "shr_01",
        ]
        assert await uow.files.count_active_shares(f.id) == 2
        await uow.files.update_share(attrs.evolve(s1, revoked_at=T0))
        assert await uow.files.count_active_shares(f.id) == 1
        assert (await uow.files.get_share("shr_01")).revoked_at == T0
        assert [s.id for s in (await uow.files.list_shares(f.id, cursor=None, limit=50)).items] == [
            "shr_01",
            "shr_02",
        ]
        assert await uow.files.link_by_hash("b" * 64) == link
        assert await uow.files.link_by_hash("c" * 64) is None
        log = await uow.files.list_access(f.id, cursor=None, limit=2)
        assert [e.request_id for e in log.items] == ["req_2", "req_1"] and log.next_cursor
        await uow.files.update(attrs.evolve(f, deleted_at=T0, version=2), expected_version=1)
        await uow.commit()
    async with uow_factory() as uow:
        assert [x.id for x in await uow.files.purgeable(T0, 10)] == [f.id]
        assert await uow.files.purgeable(T0 - timedelta(seconds=1), 10) == []
        await uow.files.mark_purged(f.id, T0)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.files.purgeable(T0, 10) == []


async def test_rollback_leaves_nothing(uow_factory):
    async with uow_factory() as uow:
        await uow.files.add(make_file(1))
        await uow.rollback()
    async with uow_factory(write=False) as uow:
        assert await uow.files.get(make_file(1).id) is None
