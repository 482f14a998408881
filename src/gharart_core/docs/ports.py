"""Persistence port of the docs area."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..identity.ports import IdentityRepository
from ..shared.ports import UnitOfWork
from .model import Classification, DocPage, DocSession, DocShare, Policy

__all__ = ["DocsRepository", "DocsUoW"]


class DocsRepository(Protocol):
    async def get_page(self, handle: str, path: str) -> DocPage | None: ...

    async def put_page(self, page: DocPage) -> None:
        """Insert or replace the page at ``(page.handle, page.path)``."""
        ...

    async def delete_page(self, handle: str, path: str) -> None: ...

    async def list_pages(self, handle: str, *, prefix: str | None, classification: Classification | None,
                         after: str | None, limit: int) -> Sequence[DocPage]:
        """Pages in path order, strictly after ``after``, under the segment prefix ``prefix``."""
        ...

    async def all_pages(self, handle: str) -> Sequence[DocPage]: ...

    async def get_policy(self, handle: str) -> Policy | None:
        """The stored policy, None while the handle still has the implicit version-1 default."""
        ...

    async def save_policy(self, handle: str, policy: Policy, *, expected: int) -> bool:
        """Store ``policy`` if the current version is ``expected``; False on a lost race."""
        ...

    async def add_share(self, share: DocShare) -> None: ...

    async def get_share(self, handle: str, share_id: str) -> DocShare | None: ...

    async def share_by_hash(self, token_hash: str) -> DocShare | None: ...

    async def list_shares(self, handle: str) -> Sequence[DocShare]: ...

    async def update_share(self, share: DocShare) -> None: ...

    async def add_session(self, session: DocSession) -> None: ...

    async def session_by_hash(self, token_hash: str) -> DocSession | None: ...


class DocsUoW(UnitOfWork, Protocol):
    docs: DocsRepository
    identity: IdentityRepository
