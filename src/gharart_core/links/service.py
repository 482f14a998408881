"""Link use cases: create, read, update, delete, list, history, rollback, route preview.

Bulk import/export live in :mod:`.bulk`, health checks in :mod:`.checks`; :class:`LinksService`
joins them so callers see one service.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ..identity.model import HANDLE_RE, HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.clock import Clock, parse_ts
from ..shared.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from ..shared.ids import IdGenerator
from ..shared.pagination import Page, decode_cursor, encode_cursor, validate_limit
from ..shared.ports import JobRunner
from .bulk import ImportMixin
from .checks import HealthMixin
from .health import CLASSIFICATIONS
from .model import SLUG_RE, Link, LinkVersion, apply_fields, same_content, version_of
from .ports import Fetcher, LinksUoW
from .rules import Decision, RequestFacts, classify_user_agent, evaluate, languages_of, referrer_host
from .schema import Collector, check_slug, parse_fields

__all__ = ["DIFF_FIELDS", "LinksService", "diff_versions"]

DIFF_FIELDS = ("destination", "rules", "redirectStatus", "forwardQuery", "tags")
_MAX_REASON = 500
MAX_VERSION = 2**31 - 1


def _mapping(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationFailed("validation_failed", "The body must be a JSON object.",
                               errors=[FieldError("body", "invalid_type", "expected a JSON object")])
    return body


def _int_field(body: Mapping[str, Any], name: str, errs: Collector, *, minimum: int = 1) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errs.add(name, "invalid_type", f"{name} must be an integer")
        return None
    if not minimum <= value <= MAX_VERSION:
        errs.add(name, "out_of_range", f"{name} must be between {minimum} and {MAX_VERSION}")
        return None
    return value


def _reason(body: Mapping[str, Any], errs: Collector) -> str | None:
    reason = body.get("reason")
    if reason is None:
        return None
    if not isinstance(reason, str):
        errs.add("reason", "invalid_type", "reason must be a string")
        return None
    if "\x00" in reason:
        errs.add("reason", "invalid_value", "reason cannot contain NUL characters")
        return None
    if len(reason) > _MAX_REASON:
        errs.add("reason", "too_long", f"reason is at most {_MAX_REASON} characters")
        return None
    return reason


def _version_value(v: LinkVersion, field: str) -> Any:
    return {"destination": v.destination, "rules": v.rules, "redirectStatus": v.redirect_status,
            "forwardQuery": v.forward_query, "tags": v.tags}[field]


def diff_versions(a: LinkVersion, b: LinkVersion) -> builtins.list[tuple[str, Any, Any]]:
    """(field, before, after) for every versioned field that differs from ``a`` to ``b``."""
    return [(f, _version_value(a, f), _version_value(b, f)) for f in DIFF_FIELDS
            if _version_value(a, f) != _version_value(b, f)]


class LinksService(ImportMixin, HealthMixin):
    def __init__(self, *, clock: Clock, ids: IdGenerator, uow_factory: Callable[..., Any] | None = None,
                 jobs: JobRunner | None = None, fetcher: Fetcher | None = None,
                 health_timeout_s: float = 5.0, health_concurrency: int = 20, health_per_host: int = 4,
                 health_max_redirects: int = 5, import_batch: int = 5000) -> None:
        self.clock = clock
        self.ids = ids
        self.uow_factory = uow_factory
        self.jobs = jobs
        self.fetcher = fetcher
        self.health_timeout_s = health_timeout_s
        self.health_concurrency = max(1, health_concurrency)
        self.health_per_host = max(1, health_per_host)
        self.health_max_redirects = health_max_redirects
        self.import_batch = max(1, import_batch)

    # -- helpers ---------------------------------------------------------------------------

    async def _live(self, uow: LinksUoW, handle: str, slug: str) -> Link:
        link = await uow.links.get(handle, slug) if isinstance(slug, str) and SLUG_RE.match(slug) else None
        if link is None or link.is_deleted:
            raise NotFound("link_not_found", f"Link `{slug}` was not found.")
        return link

    async def _audit(self, uow: LinksUoW, access: HandleAccess, action: str, link: Link,
                     before: int | None, after: int | None) -> None:
        await record(uow, self.clock, self.ids, access, action, f"link:{link.slug}", before=before, after=after)

    # -- CRUD ------------------------------------------------------------------------------

    async def create(self, uow: LinksUoW, access: HandleAccess, body: object) -> Link:
        authorize(access, Action.LINKS_WRITE)
        body = _mapping(body)
        errs = Collector()
        try:
            slug = check_slug(body.get("slug"))
        except ValidationFailed as exc:
            if exc.code != "validation_failed":
                raise
            errs.errors.extend(exc.errors)
            slug = ""
        fields = parse_fields(body, errs, require_destination=True)
        reason = _reason(body, errs)
        errs.raise_if_any()
        existing = await uow.links.get(access.handle, slug)
        if existing is not None and not existing.is_deleted:
            raise Conflict("slug_taken", f"The slug `{slug}` is already in use.",
                           errors=[FieldError("slug", "slug_taken", "this slug is already in use")])
        now = self.clock.now()
        if existing is None:
            link = Link(id=self.ids.new("lnk"), handle=access.handle, slug=slug, version=1,
                        destination=fields.destination or "", redirect_status=fields.redirect_status or 302,
                        forward_query=bool(fields.forward_query), rules=fields.rules or (),
                        tags=fields.tags or (), created_at=now, updated_at=now)
            if not await uow.links.insert(link):
                raise Conflict("slug_taken", f"The slug `{slug}` is already in use.")
        else:
            # a deleted slug comes back as the same link: its history goes on
            link = Link(id=existing.id, handle=access.handle, slug=slug, version=existing.version + 1,
                        destination=fields.destination or "", redirect_status=fields.redirect_status or 302,
                        forward_query=bool(fields.forward_query), rules=fields.rules or (),
                        tags=fields.tags or (), created_at=now, updated_at=now)
            if not await uow.links.update(link, existing.version):
                raise Conflict("slug_taken", f"The slug `{slug}` is already in use.")
        await uow.links.add_version(version_of(link, created_by=access.actor_id, source="api", reason=reason,
                                               request_id=access.request_id))
        await uow.links.bump_generation(access.handle)
        await self._audit(uow, access, "link.create", link, existing.version if existing else None, link.version)
        return link

    async def get(self, uow: LinksUoW, access: HandleAccess, slug: str) -> Link:
        authorize(access, Action.LINKS_READ)
        return await self._live(uow, access.handle, slug)

    async def update(self, uow: LinksUoW, access: HandleAccess, slug: str, body: object,
                     if_match: int | None = None) -> Link:
        authorize(access, Action.LINKS_WRITE)
        body = _mapping(body)
        errs = Collector()
        expected = _int_field(body, "expectedVersion", errs)
        fields = parse_fields(body, errs, require_destination=False)
        reason = _reason(body, errs)
        if "slug" in body and body["slug"] != slug:
            errs.add("slug", "immutable", "a link's slug cannot be changed")
        errs.raise_if_any()
        link = await self._live(uow, access.handle, slug)
        if expected is None and if_match is None:
            raise PreconditionRequired("precondition_required",
                                       "Send `expectedVersion` in the body or an `If-Match` header.",
                                       extra={"currentVersion": link.version})
        if if_match is not None and if_match != link.version:
            raise PreconditionFailed("version_conflict", f"The link is at version {link.version}.",
                                     extra={"currentVersion": link.version})
        if expected is not None and expected != link.version:
            raise Conflict("version_conflict", f"The link is at version {link.version}.",
                           extra={"currentVersion": link.version})
        changed = apply_fields(link, fields)
        if same_content(changed, link):
            return link
        new = attrs.evolve(changed, version=link.version + 1, updated_at=self.clock.now())
        if not await uow.links.update(new, link.version):
            current = await uow.links.get(access.handle, slug)
            raise Conflict("version_conflict", "The link changed meanwhile.",
                           extra={"currentVersion": current.version if current else None})
        await uow.links.add_version(version_of(new, created_by=access.actor_id, source="api", reason=reason,
                                               request_id=access.request_id))
        await uow.links.bump_generation(access.handle)
        await self._audit(uow, access, "link.update", new, link.version, new.version)
        return new

    async def delete(self, uow: LinksUoW, access: HandleAccess, slug: str, if_match: int | None = None,
                     expected_version: int | None = None) -> Link:
        """Soft delete: the slug stops resolving; the row and its history stay."""
        authorize(access, Action.LINKS_WRITE)
        link = await self._live(uow, access.handle, slug)
        if if_match is not None and if_match != link.version:
            raise PreconditionFailed("version_conflict", f"The link is at version {link.version}.",
                                     extra={"currentVersion": link.version})
        if expected_version is not None and expected_version != link.version:
            raise Conflict("version_conflict", f"The link is at version {link.version}.",
                           extra={"currentVersion": link.version})
        now = self.clock.now()
        gone = attrs.evolve(link, deleted_at=now, updated_at=now)
        if not await uow.links.update(gone, link.version):
            raise Conflict("version_conflict", "The link changed meanwhile.")
        await uow.links.bump_generation(access.handle)
        await self._audit(uow, access, "link.delete", link, link.version, link.version)
        return gone

    async def list(self, uow: LinksUoW, access: HandleAccess, *, tag: str | None = None,
                   prefix: str | None = None, health: str | None = None, q: str | None = None,
                   cursor: str | None = None, limit: int | None = None) -> Page[Link]:
        authorize(access, Action.LINKS_READ)
        lim = validate_limit(limit)
        after = decode_cursor(cursor)
        if after is not None and (len(after) != 1 or not isinstance(after[0], str) or "\x00" in after[0]):
            from ..shared.errors import BadRequest

            raise BadRequest("invalid_cursor", "The cursor could not be decoded.")
        for name, value in (("tag", tag), ("prefix", prefix), ("q", q)):
            if value is not None and ("\x00" in value or len(value) > 256):
                raise ValidationFailed(errors=[FieldError(name, "invalid_value", f"{name} is not a valid filter")])
        if health is not None and health not in (*CLASSIFICATIONS, "unchecked"):
            raise ValidationFailed(errors=[FieldError("health", "invalid_value",
                                                      "health is one of " + ", ".join(CLASSIFICATIONS))])
        rows = await uow.links.list(access.handle, tag=tag, prefix=prefix, health=health, q=q,
                                    after=after[0] if after else None, limit=lim + 1)
        nxt = encode_cursor([rows[lim - 1].slug]) if len(rows) > lim else None
        return Page(rows[:lim], nxt)

    # -- history and rollback --------------------------------------------------------------

    async def _any(self, uow: LinksUoW, handle: str, slug: str) -> Link:
        link = await uow.links.get(handle, slug) if SLUG_RE.match(slug) else None
        if link is None:
            raise NotFound("link_not_found", f"Link `{slug}` was not found.")
        return link

    async def history(self, uow: LinksUoW, access: HandleAccess, slug: str, *, cursor: str | None = None,
                      limit: int | None = None) -> Page[LinkVersion]:
        """Newest first; a deleted link's history stays readable (incident review)."""
        authorize(access, Action.LINKS_READ)
        lim = validate_limit(limit)
        after = decode_cursor(cursor)
        if after is not None and (len(after) != 1 or isinstance(after[0], bool) or not isinstance(after[0], int)
                                  or not 0 <= after[0] <= MAX_VERSION):
            from ..shared.errors import BadRequest

            raise BadRequest("invalid_cursor", "The cursor could not be decoded.")
        link = await self._any(uow, access.handle, slug)
        rows = await uow.links.versions(link.id, before=after[0] if after else None, limit=lim + 1)
        nxt = encode_cursor([rows[lim - 1].version]) if len(rows) > lim else None
        return Page(rows[:lim], nxt)

    async def diff(self, uow: LinksUoW, access: HandleAccess, slug: str,
                   spec: str) -> tuple[int, int, builtins.list[tuple[str, Any, Any]]]:
        authorize(access, Action.LINKS_READ)
        a_text, sep, b_text = spec.partition("..")
        if (not sep or not _ascii_int(a_text) or not _ascii_int(b_text) or len(a_text) > 9 or len(b_text) > 9):
            raise ValidationFailed(errors=[FieldError("diff", "invalid_value", "diff is `a..b`, e.g. 3..5")])
        link = await self._any(uow, access.handle, slug)
        a = await uow.links.get_version(link.id, int(a_text))
        b = await uow.links.get_version(link.id, int(b_text))
        missing = [FieldError("diff", "version_not_found", f"version {n} does not exist")
                   for n, v in ((a_text, a), (b_text, b)) if v is None]
        if missing or a is None or b is None:
            raise ValidationFailed("version_not_found", "A version in the diff does not exist.", errors=missing)
        return a.version, b.version, diff_versions(a, b)

    async def rollback(self, uow: LinksUoW, access: HandleAccess, slug: str, body: object) -> Link:
        """Append a new version copying ``targetVersion``, iff the link is still at
        ``expectedCurrentVersion``: a stale operator context can never roll back the wrong version."""
        authorize(access, Action.LINKS_WRITE)
        body = _mapping(body)
        errs = Collector()
        target = _int_field(body, "targetVersion", errs)
        expected = _int_field(body, "expectedCurrentVersion", errs)
        reason = _reason(body, errs)
        if target is None and "targetVersion" not in {e.field for e in errs.errors}:
            errs.add("targetVersion", "required", "targetVersion is required")
        errs.raise_if_any()
        if expected is None:
            raise PreconditionRequired("precondition_required",
                                       "Send `expectedCurrentVersion`: the version you believe is current.")
        link = await self._live(uow, access.handle, slug)
        if expected != link.version:
            raise Conflict("stale_version",
                           f"The link is at version {link.version}, not {expected}; nothing was changed.",
                           extra={"currentVersion": link.version})
        if target == link.version:
            raise Conflict("already_current", f"Version {target} is already current.",
                           extra={"currentVersion": link.version})
        tv = await uow.links.get_version(link.id, target) if target is not None else None
        if tv is None:
            raise ValidationFailed("version_not_found", f"Version {target} does not exist.",
                                   errors=[FieldError("targetVersion", "version_not_found",
                                                      f"version {target} does not exist")],
                                   extra={"currentVersion": link.version})
        new = attrs.evolve(link, version=link.version + 1, destination=tv.destination, rules=tv.rules,
                           redirect_status=tv.redirect_status, forward_query=tv.forward_query, tags=tv.tags,
                           updated_at=self.clock.now())
        if not await uow.links.update(new, link.version):
            current = await uow.links.get(access.handle, slug)
            raise Conflict("stale_version", "The link changed meanwhile; nothing was changed.",
                           extra={"currentVersion": current.version if current else None})
        await uow.links.add_version(version_of(new, created_by=access.actor_id, source="rollback",
                                               reason=reason, request_id=access.request_id))
        await uow.links.bump_generation(access.handle)
        await self._audit(uow, access, "link.rollback", new, link.version, new.version)
        return new

    # -- routing ---------------------------------------------------------------------------

    async def route_preview(self, uow: LinksUoW, access: HandleAccess, slug: str, body: object) -> Decision:
        """Evaluate the rules for a simulated request; counts no click."""
        authorize(access, Action.LINKS_READ)
        body = _mapping(body) if body is not None else {}
        errs = Collector()
        texts: dict[str, str | None] = {}
        for name in ("userAgent", "country", "language", "referrer", "visitorKey", "at"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                errs.add(name, "invalid_type", f"{name} must be a string")
                value = None
            texts[name] = value
        query: dict[str, str] = {}
        raw_query = body.get("query")
        if raw_query is not None:
            if not isinstance(raw_query, Mapping):
                errs.add("query", "invalid_type", "query must be an object {name: value}")
            else:
                for k, v in raw_query.items():
                    if isinstance(v, list) and v:
                        v = v[0]
                    if isinstance(v, bool) or not isinstance(v, str | int | float):
                        errs.add(f"query.{k}", "invalid_type", "query values are strings")
                        continue
                    query[str(k)] = str(v)
        at: datetime | None = None
        if texts["at"] is not None:
            try:
                at = parse_ts(texts["at"])
            except ValueError:
                errs.add("at", "invalid_timestamp", "at must be an RFC 3339 timestamp")
        errs.raise_if_any()
        link = await self._live(uow, access.handle, slug)
        facts = build_facts(user_agent=texts["userAgent"], country=texts["country"],
                            accept_language=texts["language"], query=query, referrer=texts["referrer"],
                            at=at or self.clock.now(), visitor_key=texts["visitorKey"] or "")
        return evaluate(link.destination, link.rules, facts, salt=link.id, trace=True)

    async def resolve(self, uow: LinksUoW, handle: str, slug: str) -> Link | None:
        """The live link behind a public redirect (no authorization: the redirect is public)."""
        if not SLUG_RE.match(slug) or not HANDLE_RE.match(handle):
            return None
        link = await uow.links.get(handle, slug)
        return None if link is None or link.is_deleted else link

    async def record_clicks(self, uow: LinksUoW, counts: Sequence[tuple[str, str, int]]) -> None:
        await uow.links.add_clicks(counts)


def build_facts(*, user_agent: str | None, country: str | None, accept_language: str | None,
                query: Mapping[str, str], referrer: str | None, at: datetime | None,
                visitor_key: str) -> RequestFacts:
    return RequestFacts(
        user_agent=classify_user_agent(user_agent or ""),
        country=country.strip().upper() if country else None,
        languages=languages_of(accept_language),
        query=query,
        referrer_host=referrer_host(referrer),
        at=at,
        visitor_key=visitor_key,
    )


def _ascii_int(text: str) -> bool:
    """Digits 0-9 only: ``str.isdigit`` also accepts characters such as "²" that ``int`` refuses."""
    return text.isascii() and text.isdigit()
