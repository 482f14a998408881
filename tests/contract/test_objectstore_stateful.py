"""Memory and filesystem object stores agree, step by step, with a dict model."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from collections.abc import AsyncIterator

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from adapters.objectstore.filesystem import FilesystemObjectStore
from adapters.objectstore.memory import MemoryObjectStore
from gharart_core.shared.errors import TooLarge, ValidationFailed

KEYS = st.sampled_from(["a", "a2", "b/c", "b/d", "deep/x/y/z", "blobs/sha256/00/ff"])
PARTS = st.lists(st.binary(max_size=64), max_size=5)


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


class ObjectStoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.mkdtemp(prefix="gharart-os-")
        self.stores = [MemoryObjectStore(), FilesystemObjectStore(self.tmp)]
        self.model: dict[str, bytes] = {}

    def run(self, make):  # type: ignore[no-untyped-def]
        """Run ``make(store)`` on every store; return each outcome (value or error code)."""
        outcomes = []
        for store in self.stores:
            try:
                outcomes.append(("ok", self.loop.run_until_complete(make(store))))
            except (TooLarge, ValidationFailed) as exc:
                outcomes.append(("error", exc.code))
            except KeyError:
                outcomes.append(("error", "missing"))
        assert outcomes[0] == outcomes[1], outcomes
        return outcomes[0]

    @rule(key=KEYS, parts=PARTS, max_bytes=st.one_of(st.none(), st.integers(0, 200)), good_digest=st.booleans())
    def put(self, key: str, parts: list[bytes], max_bytes: int | None, good_digest: bool) -> None:
        data = b"".join(parts)
        digest = hashlib.sha256(data).hexdigest() if good_digest else "0" * 64
        kind, value = self.run(lambda s: s.put_stream(key, _chunks(parts), max_bytes=max_bytes,
                                                      expected_sha256=digest))
        if max_bytes is not None and len(data) > max_bytes:
            assert (kind, value) == ("error", "file_too_large")
        elif not good_digest and digest != hashlib.sha256(data).hexdigest():
            assert (kind, value) == ("error", "digest_mismatch")
        else:
            assert kind == "ok" and value.size == len(data)
            self.model[key] = data

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        self.run(lambda s: s.delete(key))
        self.model.pop(key, None)

    @rule(key=KEYS, start=st.integers(0, 300), length=st.one_of(st.none(), st.integers(0, 300)))
    def ranged_get(self, key: str, start: int, length: int | None) -> None:
        end = None if length is None else start + length

        async def read(s):  # type: ignore[no-untyped-def]
            return b"".join([c async for c in s.get_stream(key, start=start, end=end, chunk_size=7)])

        kind, value = self.run(read)
        if key not in self.model:
            assert (kind, value) == ("error", "missing")
        else:
            data = self.model[key]
            assert value == (data[start:] if end is None else data[start:end + 1])

    @invariant()
    def heads_agree_with_model(self) -> None:
        for key in ["a", "a2", "b/c", "b/d", "deep/x/y/z", "blobs/sha256/00/ff"]:
            heads = [self.loop.run_until_complete(s.head(key)) for s in self.stores]
            sizes = [None if h is None else h.size for h in heads]
            expected = len(self.model[key]) if key in self.model else None
            assert sizes == [expected, expected], (key, sizes)

    def teardown(self) -> None:
        self.loop.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


ObjectStoreMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)
TestObjectStores = ObjectStoreMachine.TestCase
