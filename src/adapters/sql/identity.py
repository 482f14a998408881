"""SQL identity repository: accounts, users, handles, members, tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gharart_core.identity.model import Account, Handle, LoginLink, Member, PersonalAccessToken, Role, User

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = ["REPOSITORIES", "SqlIdentity", "accounts", "handles", "login_links", "members", "tokens", "users"]

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(254), unique=True),
    sa.Column("subject", sa.String(255), unique=True),
    sa.Column("is_operator", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
handles = sa.Table(
    "handles", metadata,
    sa.Column("handle", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
members = sa.Table(
    "members", metadata,
    sa.Column("handle", sa.String(40), sa.ForeignKey("handles.handle"), primary_key=True),
    sa.Column("email", sa.String(254), primary_key=True),
    sa.Column("user_id", sa.String(40), index=True),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
)
tokens = sa.Table(
    "tokens", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(12), nullable=False),
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("handle", sa.String(40)),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
)

login_links = sa.Table(
    "login_links", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
)


def _user(r: Any) -> User:
    return User(r.id, r.email, r.subject, bool(r.is_operator), r.created_at)


def _member(r: Any) -> Member:
    return Member(r.handle, r.email, Role.parse(r.role), r.added_at, r.user_id)


def _token(r: Any) -> PersonalAccessToken:
    return PersonalAccessToken(
        id=r.id, user_id=r.user_id, name=r.name, token_hash=r.token_hash, prefix=r.prefix,
        scopes=frozenset(s for s in r.scopes.split(" ") if s), handle=r.handle, expires_at=r.expires_at,
        created_at=r.created_at, last_used_at=r.last_used_at, revoked_at=r.revoked_at)


class SqlIdentity(SqlRepository):
    async def add_account(self, account: Account) -> None:
        await self.execute(accounts.insert().values(id=account.id, created_at=account.created_at))

    async def add_user(self, user: User) -> None:
        exists = (await self.execute(sa.select(users.c.id).where(users.c.id == user.id))).first()
        values = dict(email=user.email, subject=user.subject, is_operator=user.is_operator,
                      created_at=user.created_at)
        if exists:
            await self.execute(users.update().where(users.c.id == user.id).values(**values))
        else:
            await self.execute(users.insert().values(id=user.id, **values))

    async def get_user(self, user_id: str) -> User | None:
        r = (await self.execute(sa.select(users).where(users.c.id == user_id))).first()
        return _user(r) if r else None

    async def user_by_subject(self, subject: str) -> User | None:
        r = (await self.execute(sa.select(users).where(users.c.subject == subject))).first()
        return _user(r) if r else None

    async def user_by_email(self, email: str) -> User | None:
        r = (await self.execute(sa.select(users).where(sa.func.lower(users.c.email) == email.lower()))).first()
        return _user(r) if r else None

    async def set_operator(self, user_id: str, flag: bool) -> None:
        await self.execute(users.update().where(users.c.id == user_id).values(is_operator=flag))

    async def add_handle(self, handle: Handle) -> bool:
        conn = await self.uow.connection()
        try:
            async with conn.begin_nested():
                await conn.execute(handles.insert().values(
                    handle=handle.handle, account_id=handle.account_id, created_at=handle.created_at))
        except IntegrityError:
            return False
        return True

    async def get_handle(self, handle: str) -> Handle | None:
        r = (await self.execute(sa.select(handles).where(handles.c.handle == handle))).first()
        return Handle(r.handle, r.account_id, r.created_at) if r else None

    async def all_handles(self) -> Sequence[str]:
        return list((await self.execute(sa.select(handles.c.handle).order_by(handles.c.handle))).scalars())

    async def handles_for_user(self, user_id: str) -> Sequence[tuple[Handle, Role]]:
        q = (sa.select(handles, members.c.role).join(members, members.c.handle == handles.c.handle)
             .where(members.c.user_id == user_id).order_by(handles.c.handle))
        return [(Handle(r.handle, r.account_id, r.created_at), Role.parse(r.role))
                for r in (await self.execute(q)).all()]

    async def get_member(self, handle: str, user_id: str) -> Member | None:
        r = (await self.execute(sa.select(members).where(members.c.handle == handle,
                                                         members.c.user_id == user_id))).first()
        return _member(r) if r else None

    async def member_by_email(self, handle: str, email: str) -> Member | None:
        r = (await self.execute(sa.select(members).where(members.c.handle == handle,
                                                         members.c.email == email.lower()))).first()
        return _member(r) if r else None

    async def list_members(self, handle: str) -> Sequence[Member]:
        q = sa.select(members).where(members.c.handle == handle).order_by(members.c.added_at, members.c.email)
        return [_member(r) for r in (await self.execute(q)).all()]

    async def upsert_member(self, member: Member) -> None:
        key = (members.c.handle == member.handle) & (members.c.email == member.email.lower())
        values = dict(user_id=member.user_id, role=member.role.label, added_at=member.added_at)
        res = await self.execute(members.update().where(key).values(**values))
        if not res.rowcount:
            await self.execute(members.insert().values(handle=member.handle, email=member.email.lower(), **values))

    async def remove_member(self, handle: str, email: str) -> None:
        await self.execute(members.delete().where(members.c.handle == handle, members.c.email == email.lower()))

    async def claim_pending(self, email: str, user_id: str) -> None:
        await self.execute(members.update().where(members.c.email == email.lower(), members.c.user_id.is_(None))
                           .values(user_id=user_id))

    async def add_token(self, token: PersonalAccessToken) -> None:
        await self.execute(tokens.insert().values(
            id=token.id, user_id=token.user_id, name=token.name, token_hash=token.token_hash,
            prefix=token.prefix, scopes=" ".join(sorted(token.scopes)), handle=token.handle,
            expires_at=token.expires_at, created_at=token.created_at, last_used_at=token.last_used_at,
            revoked_at=token.revoked_at))

    async def get_token(self, token_id: str) -> PersonalAccessToken | None:
        r = (await self.execute(sa.select(tokens).where(tokens.c.id == token_id))).first()
        return _token(r) if r else None

    async def token_by_hash(self, token_hash: str) -> PersonalAccessToken | None:
        r = (await self.execute(sa.select(tokens).where(tokens.c.token_hash == token_hash))).first()
        return _token(r) if r else None

    async def tokens_for_user(self, user_id: str) -> Sequence[PersonalAccessToken]:
        return [_token(r) for r in (await self.execute(sa.select(tokens).where(tokens.c.user_id == user_id))).all()]

    async def revoke_token(self, token_id: str, at: datetime) -> None:
        await self.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=at))

    async def touch_token(self, token_id: str, at: datetime) -> None:
        await self.execute(tokens.update().where(tokens.c.id == token_id).values(last_used_at=at))

    # -- email sign-in links ---------------------------------------------------------------------
    async def add_login_link(self, link: LoginLink) -> None:
        await self.execute(login_links.insert().values(
            token_hash=link.token_hash, user_id=link.user_id, expires_at=link.expires_at,
            created_at=link.created_at, used_at=link.used_at))

    async def get_login_link(self, token_hash: str) -> LoginLink | None:
        r = (await self.execute(sa.select(login_links).where(login_links.c.token_hash == token_hash))).first()
        return LoginLink(r.token_hash, r.user_id, r.expires_at, r.created_at, r.used_at) if r else None

    async def use_login_link(self, token_hash: str, at: datetime) -> bool:
        # one conditional UPDATE: a concurrent second use waits for the first's row lock, then
        # finds used_at set and matches nothing
        res = await self.execute(login_links.update()
                                 .where(login_links.c.token_hash == token_hash, login_links.c.used_at.is_(None),
                                        login_links.c.expires_at > at)
                                 .values(used_at=at))
        return bool(res.rowcount)

    async def purge_login_links(self, expired_before: datetime) -> int:
        res = await self.execute(login_links.delete().where(login_links.c.expires_at < expired_before))
        return int(res.rowcount or 0)


REPOSITORIES: dict[str, Any] = {"identity": SqlIdentity}
