"""SQL repositories for the docs area: pages, policies (rules as JSON text), shares, sessions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gharart_core.docs.model import (
    Classification,
    DocPage,
    DocSession,
    DocShare,
    Effect,
    Policy,
    Principals,
    Rule,
)
from gharart_core.identity.model import Role

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = ["REPOSITORIES", "SqlDocs", "docs_pages", "docs_policies", "docs_sessions", "docs_shares",
           "policy_from_json", "policy_to_json"]

docs_pages = sa.Table(
    "docs_pages", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("classification", sa.String(16), nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("object_key", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(40)),
    sa.UniqueConstraint("handle", "path", name="uq_docs_pages_handle_path"),
)
docs_policies = sa.Table(
    "docs_policies", metadata,
    sa.Column("handle", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("rules", sa.Text, nullable=False),
    sa.Column("default_effect", sa.String(8), nullable=False),
    sa.Column("updated_at", UtcDateTime),
    sa.Column("updated_by", sa.String(40)),
)
docs_shares = sa.Table(
    "docs_shares", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False, index=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("note", sa.String(500), nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(40)),
    sa.Column("revoked_at", UtcDateTime),
)
docs_sessions = sa.Table(
    "docs_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("user_id", sa.String(40)),
    sa.Column("credential_id", sa.String(40)),
    sa.Column("share_id", sa.String(40)),
    sa.Column("email", sa.String(254)),
)


def _rule_to_json(r: Rule) -> dict[str, Any]:
    p = r.principals
    return {"id": r.id, "pathPrefix": r.path_prefix, "effect": r.effect.value, "description": r.description,
            "principals": {"roles": sorted(x.label for x in p.roles), "emails": sorted(p.emails),
                           "emailDomains": sorted(p.email_domains), "anyone": p.anyone}}


def _rule_from_json(d: dict[str, Any]) -> Rule:
    p = d["principals"]
    return Rule(d["id"], d["pathPrefix"], Effect(d["effect"]),
                Principals(frozenset(Role.parse(x) for x in p["roles"]), frozenset(p["emails"]),
                           frozenset(p["emailDomains"]), bool(p["anyone"])), d.get("description", ""))


def policy_to_json(policy: Policy) -> str:
    return json.dumps([_rule_to_json(r) for r in policy.rules], separators=(",", ":"))


@lru_cache(maxsize=256)
def policy_from_json(text: str) -> tuple[Rule, ...]:
    """Parsed rules; cached by text, so the edge's compiled-policy cache sees the same tuple."""
    return tuple(_rule_from_json(d) for d in json.loads(text))


def _page(r: Any) -> DocPage:
    return DocPage(r.id, r.handle, r.path, Classification(r.classification), r.content_type, int(r.size),
                   r.sha256, r.object_key, r.created_at, r.updated_at, r.updated_by)


def _page_row(p: DocPage) -> dict[str, Any]:
    return dict(id=p.id, handle=p.handle, path=p.path, classification=p.classification.value,
                content_type=p.content_type, size=p.size, sha256=p.sha256, object_key=p.object_key,
                created_at=p.created_at, updated_at=p.updated_at, updated_by=p.updated_by)


def _share(r: Any) -> DocShare:
    return DocShare(r.id, r.handle, r.email, r.token_hash, r.path, r.note, r.expires_at, r.created_at,
                    r.created_by, r.revoked_at)


def _session(r: Any) -> DocSession:
    return DocSession(r.token_hash, r.handle, r.expires_at, r.created_at, r.user_id, r.credential_id,
                      r.share_id, r.email)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlDocs(SqlRepository):
    async def get_page(self, handle: str, path: str) -> DocPage | None:
        r = (await self.execute(sa.select(docs_pages).where(
            docs_pages.c.handle == handle, docs_pages.c.path == path))).first()
        return _page(r) if r else None

    async def put_page(self, page: DocPage) -> None:
        row = _page_row(page)
        res = await self.execute(docs_pages.update().where(docs_pages.c.id == page.id).values(**row))
        if res.rowcount == 0:
            await self.execute(docs_pages.insert().values(**row))

    async def delete_page(self, handle: str, path: str) -> None:
        await self.execute(docs_pages.delete().where(docs_pages.c.handle == handle,
                                                     docs_pages.c.path == path))

    async def list_pages(self, handle: str, *, prefix: str | None, classification: Classification | None,
                         after: str | None, limit: int) -> Sequence[DocPage]:
        q = sa.select(docs_pages).where(docs_pages.c.handle == handle)
        if prefix is not None and prefix != "/":
            q = q.where(sa.or_(docs_pages.c.path == prefix,
                               docs_pages.c.path.like(_escape_like(prefix) + "/%", escape="\\")))
        if classification is not None:
            q = q.where(docs_pages.c.classification == classification.value)
        if after is not None:
            q = q.where(docs_pages.c.path > after)
        rows = await self.execute(q.order_by(docs_pages.c.path).limit(limit))
        return [_page(r) for r in rows]

    async def all_pages(self, handle: str) -> Sequence[DocPage]:
        rows = await self.execute(sa.select(docs_pages).where(docs_pages.c.handle == handle)
                                  .order_by(docs_pages.c.path))
        return [_page(r) for r in rows]

    async def get_policy(self, handle: str) -> Policy | None:
        r = (await self.execute(sa.select(docs_policies).where(docs_policies.c.handle == handle))).first()
        if r is None:
            return None
        return Policy(int(r.version), policy_from_json(r.rules), Effect(r.default_effect), r.updated_at,
                      r.updated_by)

    async def save_policy(self, handle: str, policy: Policy, *, expected: int) -> bool:
        values = dict(version=policy.version, rules=policy_to_json(policy),
                      default_effect=policy.default_effect.value, updated_at=policy.updated_at,
                      updated_by=policy.updated_by)
        res = await self.execute(docs_policies.update().where(
            docs_policies.c.handle == handle, docs_policies.c.version == expected).values(**values))
        if res.rowcount == 1:
            return True
        if expected != 1:
            return False
        conn = await self.uow.connection()
        try:  # first save: the implicit version-1 policy has no row yet
            async with conn.begin_nested():
                await conn.execute(docs_policies.insert().values(handle=handle, **values))
        except IntegrityError:
            return False
        return True

    async def add_share(self, share: DocShare) -> None:
        await self.execute(docs_shares.insert().values(
            id=share.id, handle=share.handle, email=share.email, token_hash=share.token_hash, path=share.path,
            note=share.note, expires_at=share.expires_at, created_at=share.created_at,
            created_by=share.created_by, revoked_at=share.revoked_at))

    async def get_share(self, handle: str, share_id: str) -> DocShare | None:
        r = (await self.execute(sa.select(docs_shares).where(
            docs_shares.c.id == share_id, docs_shares.c.handle == handle))).first()
        return _share(r) if r else None

    async def share_by_hash(self, token_hash: str) -> DocShare | None:
        r = (await self.execute(sa.select(docs_shares).where(docs_shares.c.token_hash == token_hash))).first()
        return _share(r) if r else None

    async def list_shares(self, handle: str) -> Sequence[DocShare]:
        rows = await self.execute(sa.select(docs_shares).where(docs_shares.c.handle == handle)
                                  .order_by(docs_shares.c.id))
        return [_share(r) for r in rows]

    async def update_share(self, share: DocShare) -> None:
        await self.execute(docs_shares.update().where(docs_shares.c.id == share.id).values(
            expires_at=share.expires_at, note=share.note, revoked_at=share.revoked_at))

    async def add_session(self, session: DocSession) -> None:
        await self.execute(docs_sessions.insert().values(
            token_hash=session.token_hash, handle=session.handle, expires_at=session.expires_at,
            created_at=session.created_at, user_id=session.user_id, credential_id=session.credential_id,
            share_id=session.share_id, email=session.email))

    async def session_by_hash(self, token_hash: str) -> DocSession | None:
        q = sa.select(docs_sessions).where(docs_sessions.c.token_hash == token_hash)
        r = (await self.execute(q)).first()
        return _session(r) if r else None


REPOSITORIES: dict[str, Any] = {"docs": SqlDocs}
