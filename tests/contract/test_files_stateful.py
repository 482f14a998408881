"""Stateful property test: random upload / mode / extend / share / revoke / delete / download
sequences, checked against a simple reference model, with the memory and SQLite adapters driven
step by step and required to agree."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from adapters.mail.memory import MemoryOutbox
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.objectstore.memory import MemoryObjectStore
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.schema import metadata
from gharart_core.files.service import FilesService, UploadFile
from gharart_core.identity.model import HandleAccess, Principal, Role
from gharart_core.shared.clock import FakeClock, format_ts
from gharart_core.shared.errors import DomainError
from gharart_core.shared.ids import SequentialIds

ACCESS = HandleAccess(
    Principal("usr_1", "o@acme.test", frozenset({"files:read", "files:write"}), "pat_1"),
    "acme",
    "acc_1",
    Role.OWNER,
    "req_sm",
)
EMAILS = ["a@p.test", "b@p.test"]
MODES = ["private", "link", "public"]


class CountingTokens:
    def __init__(self) -> None:
        self.n = 0

    def token(self, nbytes: int = 32) -> str:
        self.n += 1
        return f"tok{self.n:030d}"


class System:
    def __init__(self, make, clock: FakeClock) -> None:
        self.make = make
        self.outbox = MemoryOutbox()
        self.service = FilesService(
            clock,
            SequentialIds(),
            CountingTokens(),
            MemoryObjectStore(),
            self.outbox,
            make,
            max_file_bytes=10_000,
            retention_s=60,
        )

    async def call(self, method: str, *args, **kw):
        try:
            async with self.make() as uow:
                out = await getattr(self.service, method)(uow, *args, **kw)
                await uow.commit()
                return out
        except DomainError as exc:
            return exc.code

    async def upload(self, mode: str):
        async def one():
            yield b"payload"

        async def parts():
            from gharart_core.files.service import UploadField

            yield UploadField("mode", mode)
            yield UploadFile("file", "kit.txt", "text/plain", one())

        async with self.make() as uow:
            f = await self.service.upload(uow, ACCESS, parts())
            await uow.commit()
        return f.id

    async def download(self, file_id: str, token: str | None) -> str:
        try:
            await self.service.open_download(file_id, token, request_id="req_x")
            return "ok"
        except DomainError as exc:
            return exc.code

    def tokens(self) -> list[str]:
        return [m.text.split("token=")[1].split()[0] for m in self.outbox.messages]


class FilesMachine(RuleBasedStateMachine):
    files = Bundle("files")

    @initialize()
    def setup(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.mkdtemp(prefix="files-sm-")
        state, mem, sql = MemoryState(), memory_factories(), sql_factories()  # registers every table
        sync = sa.create_engine(f"sqlite:///{self.tmp}/db.sqlite")
        metadata.create_all(sync)
        sync.dispose()
        self.db = Database(f"sqlite+aiosqlite:///{self.tmp}/db.sqlite")
        self.clock = FakeClock()
        self.systems = [
            System(lambda write=True: MemoryUnitOfWork(state, mem, write=write), self.clock),
            System(lambda write=True: SqlUnitOfWork(self.db, sql, write=write), self.clock),
        ]
        # reference model
        self.model: dict[str, dict] = {}
        self.issued: list[tuple[str, str, int]] = []  # (file id, share id, access version at issue)
        self.shares: dict[str, dict] = {}  # share id -> {file, email, revoked, expires}

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.run_until_complete(self.db.dispose())
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def both(self, method: str, *args, **kw) -> list:
        return [self.loop.run_until_complete(getattr(s, method)(*args, **kw)) for s in self.systems]

    def agree(self, results: list):
        assert results[0] == results[1], results
        return results[0]

    @rule(target=files, mode=st.sampled_from(MODES))
    def upload(self, mode: str) -> str:
        fid = self.agree(self.both("upload", mode))
        self.model[fid] = {"mode": mode, "av": 1, "expires": None, "deleted": False}
        return fid

    @rule(fid=files, mode=st.sampled_from(MODES))
    def set_mode(self, fid: str, mode: str) -> None:
        out = self.agree(self.both("call", "update", ACCESS, fid, {"mode": mode}))
        m = self.model[fid]
        if m["deleted"]:
            assert out == "file_not_found"
            return
        if mode != m["mode"]:
            m["av"] += 1
        m["mode"] = mode

    @rule(fid=files, hours=st.one_of(st.none(), st.integers(-3, 48)))
    def set_expiry(self, fid: str, hours: int | None) -> None:
        when = None if hours is None else self.clock.now() + timedelta(hours=hours)
        out = self.agree(self.both("call", "update", ACCESS, fid, {"expiresAt": format_ts(when)}))
        m = self.model[fid]
        if m["deleted"]:
            assert out == "file_not_found"
        else:
            m["expires"] = when.replace(microsecond=(when.microsecond // 1000) * 1000) if when else None

    @rule(fid=files, email=st.sampled_from(EMAILS), hours=st.one_of(st.none(), st.integers(1, 24)))
    def share(self, fid: str, email: str, hours: int | None) -> None:
        body: dict = {"emails": [email]}
        when = None if hours is None else self.clock.now() + timedelta(hours=hours)
        if when is not None:
            body["expiresAt"] = format_ts(when)
        out = self.both("call", "create_shares", ACCESS, fid, body, base_url="http://t")
        m = self.model[fid]
        if m["deleted"]:
            assert out == ["file_not_found", "file_not_found"]
            return
        assert [s.id for s in out[0]] == [s.id for s in out[1]]
        sid = out[0][0].id
        self.shares[sid] = {"file": fid, "email": email, "revoked": False, "expires": when}
        self.issued.append((fid, sid, m["av"]))

    @rule(data=st.data())
    def revoke(self, data) -> None:
        if not self.shares:
            return
        sid = data.draw(st.sampled_from(sorted(self.shares)))
        s = self.shares[sid]
        out = self.agree(self.both("call", "revoke_share", ACCESS, s["file"], sid))
        assert out is None  # revoking stays idempotent, even once the file is deleted
        s["revoked"] = True

    @rule(fid=files, email=st.sampled_from(EMAILS))
    def request_link(self, fid: str, email: str) -> None:
        self.agree(self.both("call", "request_magic_link", fid, {"email": email}, base_url="http://t"))
        m, now = self.model[fid], self.clock.now()
        if m["deleted"] or m["mode"] != "link" or (m["expires"] is not None and m["expires"] <= now):
            return
        live = [
            sid
            for sid, s in self.shares.items()
            if s["file"] == fid
            and s["email"] == email
            and not s["revoked"]
            and (s["expires"] is None or s["expires"] > now)
        ]
        if live:
            self.issued.append((fid, max(live), m["av"]))

    @rule(fid=consumes(files))
    def delete(self, fid: str) -> None:
        assert self.agree(self.both("call", "delete", ACCESS, fid)) is None
        self.model[fid]["deleted"] = True
        self._check_download(fid, None)

    @rule(hours=st.integers(1, 12))
    def advance(self, hours: int) -> None:
        self.clock.advance(hours=hours)

    @rule(fid=files, data=st.data())
    def download(self, fid: str, data) -> None:
        choices = [None, *list(range(len(self.issued)))]
        idx = data.draw(st.sampled_from(choices))
        self._check_download(fid, idx)

    def _check_download(self, fid: str, idx: int | None) -> None:
        tokens = [s.tokens() for s in self.systems]
        assert len(tokens[0]) == len(tokens[1]) == len(self.issued)
        got = self.agree(
            [
                self.loop.run_until_complete(s.download(fid, None if idx is None else tokens[i][idx]))
                for i, s in enumerate(self.systems)
            ]
        )
        assert got == self.expected(fid, idx), (got, self.expected(fid, idx))

    def expected(self, fid: str, idx: int | None) -> str:
        m, now = self.model[fid], self.clock.now()
        file_expired = m["expires"] is not None and m["expires"] <= now
        if m["deleted"] or m["mode"] == "private":
            return "file_not_found"
        if m["mode"] == "public":
            return "file_expired" if file_expired else "ok"
        if idx is None:
            return "token_required"
        tfile, sid, av = self.issued[idx]
        if tfile != fid:
            return "link_invalid"
        s = self.shares[sid]
        if file_expired:
            return "file_expired"
        if s["revoked"]:
            return "link_revoked"
        if av != m["av"]:
            return "link_invalidated_mode_changed"
        if s["expires"] is not None and s["expires"] <= now:
            return "link_expired"
        return "ok"

    @invariant()
    def lists_agree(self) -> None:
        if not hasattr(self, "systems"):
            return
        pages = self.both("call", "list_files", ACCESS, limit=500)
        ids = [[(f.id, f.mode.value, f.access_version, f.share_count) for f in p.items] for p in pages]
        assert ids[0] == ids[1]
        live = {fid for fid, m in self.model.items() if not m["deleted"]}
        assert {i[0] for i in ids[0]} == live


FilesMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestFilesStateful = FilesMachine.TestCase
