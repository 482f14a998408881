"""Memory repositories for the docs area: pages, policies, partner shares, docs sessions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gharart_core.docs.model import Classification, DocPage, DocSession, DocShare, Policy
from gharart_core.docs.paths import is_under

from .state import MemoryState

__all__ = ["REPOSITORIES", "MemoryDocs"]


class MemoryDocs:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    # pages: key (handle, path)
    async def get_page(self, handle: str, path: str) -> DocPage | None:
        page: DocPage | None = self.s.table("docs_pages").get((handle, path))
        return page

    async def put_page(self, page: DocPage) -> None:
        self.s.table("docs_pages")[(page.handle, page.path)] = page

    async def delete_page(self, handle: str, path: str) -> None:
        self.s.table("docs_pages").pop((handle, path), None)

    async def list_pages(self, handle: str, *, prefix: str | None, classification: Classification | None,
                         after: str | None, limit: int) -> Sequence[DocPage]:
        rows = sorted((p for p in self.s.table("docs_pages").values() if p.handle == handle
                       and (prefix is None or is_under(prefix, p.path))
                       and (classification is None or p.classification is classification)
                       and (after is None or p.path > after)), key=lambda p: p.path)
        return rows[:limit]

    async def all_pages(self, handle: str) -> Sequence[DocPage]:
        return sorted((p for p in self.s.table("docs_pages").values() if p.handle == handle),
                      key=lambda p: p.path)

    # policies: key handle
    async def get_policy(self, handle: str) -> Policy | None:
        policy: Policy | None = self.s.table("docs_policies").get(handle)
        return policy

    async def save_policy(self, handle: str, policy: Policy, *, expected: int) -> bool:
        table = self.s.table("docs_policies")
        current = table.get(handle)
        current_version = current.version if current is not None else 1
        if current_version != expected:
            return False
        table[handle] = policy
        return True

    # shares: key id
    async def add_share(self, share: DocShare) -> None:
        self.s.table("docs_shares")[share.id] = share

    async def get_share(self, handle: str, share_id: str) -> DocShare | None:
        share: DocShare | None = self.s.table("docs_shares").get(share_id)
        return share if share is not None and share.handle == handle else None

    async def share_by_hash(self, token_hash: str) -> DocShare | None:
        return next((s for s in self.s.table("docs_shares").values() if s.token_hash == token_hash), None)

    async def list_shares(self, handle: str) -> Sequence[DocShare]:
        return sorted((s for s in self.s.table("docs_shares").values() if s.handle == handle),
                      key=lambda s: s.id)

    async def update_share(self, share: DocShare) -> None:
        self.s.table("docs_shares")[share.id] = share

    # sessions: key token hash
    async def add_session(self, session: DocSession) -> None:
        self.s.table("docs_sessions")[session.token_hash] = session

    async def session_by_hash(self, token_hash: str) -> DocSession | None:
        session: DocSession | None = self.s.table("docs_sessions").get(token_hash)
        return session


REPOSITORIES: dict[str, Any] = {"docs": MemoryDocs}
