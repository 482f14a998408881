"""Files use cases over every adapter set: the guide's breaks, shares, upload safety, purge.

Every case runs over each unit of work (memory, SQLite, PostgreSQL) crossed with each object
store (memory, filesystem, S3 on a real SeaweedFS; see tests/contract/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from adapters.mail.memory import MemoryOutbox
from gharart_core.files.service import FilesService, UploadField, UploadFile
from gharart_core.identity.model import HandleAccess, Principal, Role
from gharart_core.shared.clock import FakeClock, format_ts
from gharart_core.shared.errors import DomainError, NotFound, TooLarge, ValidationFailed
from gharart_core.shared.ids import SequentialIds
from gharart_core.shared.tokens import SecretsTokenSource
from tests.contract.conftest import stored_keys

BASE = "http://testserver"


def access(
    role: Role = Role.OWNER, scopes: str = "files:read files:write", handle: str = "acme"
) -> HandleAccess:
    p = Principal(
        user_id="usr_1", email="owner@acme.test", scopes=frozenset(scopes.split()), credential_id="pat_1"
    )
    return HandleAccess(p, handle, "acc_1", role, "req_test")


class Env:
    def __init__(self, make, store, *, max_file_bytes: int = 1000) -> None:
        self.make = make
        self.clock = FakeClock()
        self.store = store
        self.outbox = MemoryOutbox()
        self.service = FilesService(
            self.clock,
            SequentialIds(),
            SecretsTokenSource(),
            self.store,
            self.outbox,
            make,
            max_file_bytes=max_file_bytes,
            retention_s=3600,
        )

    async def upload(
        self,
        data: bytes = b"hello",
        *,
        ctype: str | None = "text/plain",
        filename: str = "a.txt",
        acc: HandleAccess | None = None,
        chunk: int = 7,
        **fields: str,
    ):
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(data), chunk):
                yield data[i : i + chunk]

        async def parts():
            for k, v in fields.items():
                yield UploadField(k, v)
            yield UploadFile("file", filename, ctype, chunks())

        async with self.make() as uow:
            f = await self.service.upload(uow, acc or access(), parts())
            await uow.commit()
        return f

    async def call(self, method: str, *args, **kwargs):
        async with self.make() as uow:
            out = await getattr(self.service, method)(uow, *args, **kwargs)
            await uow.commit()
        return out

    def last_token(self, email: str) -> str:
        msg = self.outbox.to(email)[-1]
        url = next(w for w in msg.text.split() if w.startswith("http"))
        return parse_qs(urlparse(url).query)["token"][0]

    async def download(self, file_id: str, token: str | None) -> str:
        try:
            await self.service.open_download(file_id, token, request_id="req_dl")
        except DomainError as exc:
            return exc.code
        return "ok"


@pytest.fixture
def env(uow_factory, object_store) -> Env:
    return Env(uow_factory, object_store)


async def shared_link_file(env: Env, email: str = "partner@brand.test"):
    f = await env.upload(b"media kit", mode="link", expiresAt=format_ts(env.clock.now() + timedelta(days=7)))
    await env.call("create_shares", access(), f.id, {"emails": [email]}, base_url=BASE)
    return f, env.last_token(email)


async def test_campaign_extension_keeps_old_links_working(env: Env):
    f, token = await shared_link_file(env)
    assert await env.download(f.id, token) == "ok"
    env.clock.advance(days=8)
    assert await env.download(f.id, token) == "file_expired"
    new_expiry = format_ts(env.clock.now() + timedelta(days=30))
    f2 = await env.call("update", access(), f.id, {"expiresAt": new_expiry})
    assert f2.access_version == f.access_version  # expiry never touches links
    assert await env.download(f.id, token) == "ok"


async def test_mode_change_invalidates_old_link_and_a_regenerated_one_works(env: Env):
    f, token = await shared_link_file(env)
    await env.call("update", access(), f.id, {"mode": "public"})
    await env.call("update", access(), f.id, {"mode": "link"})
    assert await env.download(f.id, token) == "link_invalidated_mode_changed"
    await env.call("request_magic_link", f.id, {"email": "Partner@brand.test"}, base_url=BASE)
    fresh = env.last_token("partner@brand.test")
    assert fresh != token
    assert await env.download(f.id, fresh) == "ok"
    assert await env.download(f.id, token) == "link_invalidated_mode_changed"


async def test_name_and_tags_changes_keep_links(env: Env):
    f, token = await shared_link_file(env)
    f2 = await env.call("update", access(), f.id, {"name": "kit-v2.pdf", "tags": ["q3"]})
    assert f2.version == f.version + 1 and f2.access_version == f.access_version
    assert await env.download(f.id, token) == "ok"


async def test_revoked_share_gets_link_revoked_and_no_new_link(env: Env):
    f, token = await shared_link_file(env)
    shares = (await env.call("list_shares", access(), f.id)).items
    await env.call("revoke_share", access(), f.id, shares[0].id)
    await env.call("revoke_share", access(), f.id, shares[0].id)  # repeat is fine
    assert await env.download(f.id, token) == "link_revoked"
    before = len(env.outbox.messages)
    await env.call("request_magic_link", f.id, {"email": "partner@brand.test"}, base_url=BASE)
    assert len(env.outbox.messages) == before
    assert (await env.call("get", access(), f.id)).share_count == 0


async def test_deleted_and_private_look_missing(env: Env):
    f, token = await shared_link_file(env)
    await env.call("update", access(), f.id, {"mode": "private"})
    assert await env.download(f.id, token) == "file_not_found"
    assert await env.download(f.id, None) == "file_not_found"
    await env.call("update", access(), f.id, {"mode": "public"})
    assert await env.download(f.id, None) == "ok"
    await env.call("delete", access(), f.id)
    await env.call("delete", access(), f.id)
    assert await env.download(f.id, None) == "file_not_found"
    assert await env.download("fil_00000000000000000000000000", None) == "file_not_found"
    with pytest.raises(NotFound) as e:
        await env.call("get", access(), f.id)
    assert e.value.code == "file_not_found"


async def test_link_outcomes_and_access_log(env: Env):
    f, token = await shared_link_file(env)
    assert await env.download(f.id, None) == "token_required"
    assert await env.download(f.id, "") == "token_required"
    assert await env.download(f.id, token + "x") == "link_invalid"
    _g, other = await shared_link_file(env, "other@brand.test")
    assert await env.download(f.id, other) == "link_invalid"
    assert await env.download(f.id, token) == "ok"
    log = (await env.call("access_log", access(), f.id)).items
    assert [e.outcome for e in log] == [
        "ok",
        "link_invalid",
        "link_invalid",
        "token_required",
        "token_required",
    ]
    assert log[0].email == "partner@brand.test" and log[0].share_id and log[0].request_id == "req_dl"


async def test_share_expiry_and_file_expiry_precedence(env: Env):
    f = await env.upload(b"x", mode="link")
    soon = format_ts(env.clock.now() + timedelta(hours=1))
    await env.call(
        "create_shares", access(), f.id, {"emails": ["p@b.test"], "expiresAt": soon}, base_url=BASE
    )
    token = env.last_token("p@b.test")
    env.clock.advance(hours=2)
    assert await env.download(f.id, token) == "link_expired"
    await env.call("update", access(), f.id, {"expiresAt": format_ts(env.clock.now())})
    assert await env.download(f.id, token) == "file_expired"


async def test_upload_too_large_leaves_nothing(env: Env):
    with pytest.raises(TooLarge) as e:
        await env.upload(b"x" * 1001)
    assert e.value.code == "file_too_large"
    assert await stored_keys(env.store) == []
    async with env.make(write=False) as uow:
        assert (await env.service.list_files(uow, access())).items == []


async def test_content_type_mismatch(env: Env):
    with pytest.raises(ValidationFailed) as e:
        await env.upload(b"<!DOCTYPE html><script>alert(1)</script>", ctype="image/png", filename="x.png")
    assert e.value.code == "content_type_mismatch"
    assert await stored_keys(env.store) == []
    f = await env.upload(b"\x89PNG\r\n\x1a\n" + b"0" * 600, ctype="application/octet-stream", filename="p")
    assert f.content_type == "image/png"


async def test_store_failure_mid_upload_leaves_no_record(env: Env):
    class Boom(Exception):
        pass

    async def failing_put(key, chunks, **kw):
        async for _ in chunks:
            raise Boom()

    env.store.put_stream = failing_put  # type: ignore[method-assign]
    with pytest.raises(DomainError) as e:
        await env.upload(b"abc")
    assert e.value.code == "object_store_unavailable" and isinstance(e.value.__cause__, Boom)
    del env.store.put_stream
    assert await stored_keys(env.store) == []
    async with env.make(write=False) as uow:
        assert (await env.service.list_files(uow, access())).items == []


async def test_unsafe_names_are_stored_safely(env: Env):
    f = await env.upload(b"a", filename="../../etc/pa\x00ss\x1bwd\u202e.txt")
    assert f.name == "pass wd.txt" or ("/" not in f.name and "\x00" not in f.name and "\u202e" not in f.name)
    f2 = await env.upload(b"a", filename="x" * 5000 + ".pdf")
    assert len(f2.name) <= 255 and f2.name.endswith(".pdf")
    f3 = await env.upload(b"a", name="..\\..\\boot.ini")
    assert f3.name == "boot.ini"


async def test_validation_and_authorization(env: Env):
    with pytest.raises(ValidationFailed) as e:
        await env.upload(b"a", mode="secret")
    assert e.value.errors[0].field == "mode"
    with pytest.raises(DomainError) as e2:
        await env.upload(b"a", acc=access(Role.VIEWER))
    assert e2.value.code == "forbidden_role"
    f = await env.upload(b"a")
    with pytest.raises(DomainError) as e3:
        await env.call("update", access(), f.id, {"expectedVersion": 7, "name": "b"})
    assert e3.value.code == "version_conflict" and e3.value.extra["currentVersion"] == 1
    with pytest.raises(DomainError) as e4:
        await env.call("update", access(), f.id, {"name": "b"}, if_match=9)
    assert e4.value.code == "version_conflict" and type(e4.value).__name__ == "PreconditionFailed"
    with pytest.raises(NotFound) as e5:
        await env.call("get", access(handle="other"), f.id)
    assert e5.value.code == "file_not_found"
    with pytest.raises(NotFound) as e6:
        await env.call("revoke_share", access(), f.id, "shr_unknown")
    assert e6.value.code == "share_not_found"


async def test_list_filters(env: Env):
    a = await env.upload(b"a", mode="public", tags="q3, kits")
    b = await env.upload(b"b", mode="link", expiresAt=format_ts(env.clock.now() - timedelta(days=1)))
    c = await env.upload(b"c")

    async def ids(**kw):
        async with env.make(write=False) as uow:
            return [f.id for f in (await env.service.list_files(uow, access(), **kw)).items]

    assert await ids() == [c.id, b.id, a.id]
    assert await ids(mode="link") == [b.id]
    assert await ids(expired="true") == [b.id]
    assert await ids(expired="false") == [c.id, a.id]
    assert await ids(tag="kits") == [a.id]
    assert await ids(tag="kit") == []
    async with env.make(write=False) as uow:
        page = await env.service.list_files(uow, access(), limit=2)
        assert page.next_cursor and len(page.items) == 2
        rest = await env.service.list_files(uow, access(), limit=2, cursor=page.next_cursor)
        assert [f.id for f in rest.items] == [a.id] and rest.next_cursor is None


async def test_purge_after_retention(env: Env):
    f = await env.upload(b"bytes")
    await env.call("delete", access(), f.id)
    assert await env.service.purge() == 0
    assert await stored_keys(env.store) == [f.object_key]
    env.clock.advance(seconds=3601)
    assert await env.service.purge() == 1
    assert await stored_keys(env.store) == []
    assert not await env.store.exists(f.object_key)
    assert await env.service.purge() == 0


async def test_store_keeps_nothing_from_refused_uploads(env: Env):
    with pytest.raises(TooLarge):
        await env.upload(b"x" * 1001, chunk=100)
    with pytest.raises(ValidationFailed):
        await env.upload(b"%PDF-1.7" + b"x" * 600, ctype="image/png", chunk=100)
    with pytest.raises(ValidationFailed):
        await env.upload(b"ok", mode="nope")
    assert await stored_keys(env.store) == []
    f = await env.upload(b"kept", chunk=2)
    assert await env.store.get_bytes(f.object_key) == b"kept"
    assert await stored_keys(env.store) == [f.object_key]


async def test_large_upload_round_trips_and_a_refused_one_leaves_no_parts(uow_factory, object_store):
    """Past one S3 part (5 MiB here): the accepted body is stored whole, the refused one is aborted."""
    mib = 1024 * 1024
    env = Env(uow_factory, object_store, max_file_bytes=6 * mib)
    data = bytes(range(251)) * (6 * mib // 251)
    f = await env.upload(data, ctype="application/octet-stream", filename="big.bin", chunk=256 * 1024)
    assert f.size == len(data) and await env.store.get_bytes(f.object_key) == data
    with pytest.raises(TooLarge):
        await env.upload(data + b"x" * (mib + 1), ctype="application/octet-stream", chunk=256 * 1024)
    assert await stored_keys(env.store) == [f.object_key]  # no object, no unfinished multipart upload


async def test_repeated_tag_fields_add_up(env: Env):
    async def one():
        yield b"x"

    async def parts():
        yield UploadField("tags", "q4")
        yield UploadField("tags", "kits, q4")
        yield UploadFile("file", "a.txt", "text/plain", one())

    async with env.make() as uow:
        f = await env.service.upload(uow, access(), parts())
    assert f.tags == ("q4", "kits")


async def test_direct_download_url_only_when_configured_and_the_store_has_urls(env: Env):
    import httpx

    from gharart_core.files.model import content_disposition

    f = await env.upload(b"media kit", filename="Kit \u00fc.txt", mode="public")
    assert await env.service.direct_download_url(f) is None  # off by default
    env.service.direct_download_ttl_s = 120
    url = await env.service.direct_download_url(f)
    if not hasattr(env.store, "bucket"):
        assert url is None  # memory and filesystem: the bytes go through the service
        return
    assert url is not None and "X-Amz-Expires=120" in url
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(url)
    assert r.status_code == 200 and r.content == b"media kit"
    assert r.headers["content-disposition"] == content_disposition("Kit \u00fc.txt")
    assert r.headers["content-type"] == "text/plain"
