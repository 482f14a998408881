"""Memory identity repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from gharart_core.identity.model import Account, Handle, LoginLink, Member, PersonalAccessToken, Role, User

from .state import MemoryState  # repositories receive a view with the same API

__all__ = ["REPOSITORIES", "MemoryIdentity"]


class MemoryIdentity:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    async def add_account(self, account: Account) -> None:
        self.s.table("accounts")[account.id] = account

    async def add_user(self, user: User) -> None:
        self.s.table("users")[user.id] = user

    async def get_user(self, user_id: str) -> User | None:
        u: User | None = self.s.table("users").get(user_id)
        return u

    async def user_by_subject(self, subject: str) -> User | None:
        return next((u for u in self.s.table("users").values() if u.subject == subject), None)

    async def user_by_email(self, email: str) -> User | None:
        email = email.lower()
        return next((u for u in self.s.table("users").values() if (u.email or "").lower() == email), None)

    async def set_operator(self, user_id: str, flag: bool) -> None:
        users = self.s.table("users")
        users[user_id] = attrs.evolve(users[user_id], is_operator=flag)

    async def add_handle(self, handle: Handle) -> bool:
        table = self.s.table("handles")
        if handle.handle in table:
            return False
        table[handle.handle] = handle
        return True

    async def get_handle(self, handle: str) -> Handle | None:
        h: Handle | None = self.s.table("handles").get(handle)
        return h

    async def all_handles(self) -> Sequence[str]:
        return sorted(self.s.table("handles"))

    async def handles_for_user(self, user_id: str) -> Sequence[tuple[Handle, Role]]:
        handles = self.s.table("handles")
        out = [(handles[m.handle], m.role) for m in self.s.table("members").values()
               if m.user_id == user_id and m.handle in handles]
        return sorted(out, key=lambda p: p[0].handle)

    async def get_member(self, handle: str, user_id: str) -> Member | None:
        return next((m for m in self.s.table("members").values()
                     if m.handle == handle and m.user_id == user_id), None)

    async def member_by_email(self, handle: str, email: str) -> Member | None:
        m: Member | None = self.s.table("members").get((handle, email.lower()))
        return m

    async def list_members(self, handle: str) -> Sequence[Member]:
        return sorted((m for m in self.s.table("members").values() if m.handle == handle),
                      key=lambda m: (m.added_at, m.email))

    async def upsert_member(self, member: Member) -> None:
        self.s.table("members")[(member.handle, member.email.lower())] = member

    async def remove_member(self, handle: str, email: str) -> None:
        self.s.table("members").pop((handle, email.lower()), None)

    async def claim_pending(self, email: str, user_id: str) -> None:
        members = self.s.table("members")
        for k, m in list(members.items()):
            if m.user_id is None and m.email.lower() == email.lower():
                members[k] = attrs.evolve(m, user_id=user_id)

    async def add_token(self, token: PersonalAccessToken) -> None:
        self.s.table("tokens")[token.id] = token

    async def get_token(self, token_id: str) -> PersonalAccessToken | None:
        t: PersonalAccessToken | None = self.s.table("tokens").get(token_id)
        return t

    async def token_by_hash(self, token_hash: str) -> PersonalAccessToken | None:
        return next((t for t in self.s.table("tokens").values() if t.token_hash == token_hash), None)

    async def tokens_for_user(self, user_id: str) -> Sequence[PersonalAccessToken]:
        return [t for t in self.s.table("tokens").values() if t.user_id == user_id]

    async def revoke_token(self, token_id: str, at: datetime) -> None:
        tokens = self.s.table("tokens")
        tokens[token_id] = attrs.evolve(tokens[token_id], revoked_at=at)

    async def touch_token(self, token_id: str, at: datetime) -> None:
        tokens = self.s.table("tokens")
        if token_id in tokens:
            tokens[token_id] = attrs.evolve(tokens[token_id], last_used_at=at)

    # -- email sign-in links (each method reads and writes without awaiting: atomic on one loop) --
    async def add_login_link(self, link: LoginLink) -> None:
        self.s.table("login_links")[link.token_hash] = link

    async def get_login_link(self, token_hash: str) -> LoginLink | None:
        link: LoginLink | None = self.s.table("login_links").get(token_hash)
        return link

    async def use_login_link(self, token_hash: str, at: datetime) -> bool:
        links = self.s.table("login_links")
        link = links.get(token_hash)
        if link is None or link.used_at is not None or at >= link.expires_at:
            return False
        links[token_hash] = attrs.evolve(link, used_at=at)
        return True

    async def purge_login_links(self, expired_before: datetime) -> int:
        links = self.s.table("login_links")
        old = [k for k, v in links.items() if v.expires_at < expired_before]
        for k in old:
            del links[k]
        return len(old)


REPOSITORIES: dict[str, Any] = {"identity": MemoryIdentity}
