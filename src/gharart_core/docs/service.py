"""Docs use cases: pages, the access policy (lint, dry run, diff) and evaluation."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from ..identity.model import HandleAccess, Role
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.clock import Clock
from ..shared.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    TooLarge,
    ValidationFailed,
)
from ..shared.ids import IdGenerator
from ..shared.pagination import Page, decode_cursor, encode_cursor, validate_limit
from ..shared.ports import ObjectStore
from ..shared.tokens import sha256_hex
from .check import PolicyWrite, check_policy
from .lint import Finding, lint
from .model import Caller, Classification, Decision, DocPage, Policy
from .parse import parse_caller, parse_policy_body
from .paths import normalize_path
from .ports import DocsUoW
from .report import exposed_pages, finding_summary
from .rules import CompiledPolicy

__all__ = ["DEFAULT_CONTENT_TYPE", "DocsService", "PolicyWrite", "internal_domains_for"]

DEFAULT_CONTENT_TYPE = "text/markdown; charset=utf-8"
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}"
                           r"(?:\s*;\s*[A-Za-z0-9_.-]+=[A-Za-z0-9_.\"-]+){0,4}$")


async def internal_domains_for(uow: DocsUoW, handle: str, configured: Iterable[str]) -> tuple[str, ...]:
    """``GHARART_INTERNAL_DOMAINS`` when set, else the domains of the handle's owners."""
    domains = tuple(sorted({d.strip().lower() for d in configured if d.strip()}))
    if domains:
        return domains
    owners = [m for m in await uow.identity.list_members(handle) if m.role is Role.OWNER]
    return tuple(sorted({m.email.rsplit("@", 1)[1].lower() for m in owners if "@" in m.email}))


class DocsService:
    def __init__(self, clock: Clock, ids: IdGenerator, objects: ObjectStore, *,
                 internal_domains: Iterable[str] = (), max_page_bytes: int = 10 * 1024 * 1024) -> None:
        self.clock = clock
        self.ids = ids
        self.objects = objects
        self.internal_domains = tuple(internal_domains)
        self.max_page_bytes = max_page_bytes

    # -- pages ---------------------------------------------------------------
    async def put_page(self, uow: DocsUoW, access: HandleAccess, raw_path: object,
                       body: object) -> tuple[DocPage, bool]:
        """Create or replace the page at ``raw_path``; returns (page, created)."""
        authorize(access, Action.DOCS_PAGES_WRITE)
        path = normalize_path(raw_path)
        data, content_type, classification = self._page_body(body)
        existing = await uow.docs.get_page(access.handle, path)
        now = self.clock.now()
        page_id = existing.id if existing else self.ids.new("pg")
        digest = sha256_hex(data)
        key = f"docs/{access.handle}/{page_id}/{digest}"
        await self.objects.put_bytes(key, data)
        page = DocPage(
            id=page_id, handle=access.handle, path=path, classification=classification,
            content_type=content_type, size=len(data), sha256=digest, object_key=key,
            created_at=existing.created_at if existing else now, updated_at=now,
            updated_by=access.actor_id)
        await uow.docs.put_page(page)
        if existing is not None and existing.object_key != key:
            old_key = existing.object_key
            uow.after_commit(lambda: self.objects.delete(old_key))
        await record(uow, self.clock, self.ids, access, "docs.page.put", page_id,
                     detail=f"{path} ({classification.value})")
        return page, existing is None

    def _page_body(self, body: object) -> tuple[bytes, str, Classification]:
        if not isinstance(body, Mapping):
            raise ValidationFailed(detail="The body must be a JSON object.",
                                   errors=[FieldError("body", "invalid_type", "must be an object")])
        errors: list[FieldError] = []
        content = body.get("content")
        encoding = body.get("encoding", "utf-8") or "utf-8"
        data = b""
        if encoding not in ("utf-8", "base64"):
            errors.append(FieldError("encoding", "invalid_choice", "utf-8 or base64"))
        if content is None:
            errors.append(FieldError("content", "required", "content is required"))
        elif not isinstance(content, str):
            errors.append(FieldError("content", "invalid_type", "must be a string"))
        elif encoding == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                errors.append(FieldError("content", "invalid_base64", "not valid base64"))
        else:
            data = content.encode("utf-8", errors="surrogatepass")
        content_type = body.get("contentType")
        if content_type is None:
            content_type = DEFAULT_CONTENT_TYPE
        elif not isinstance(content_type, str) or not _CONTENT_TYPE.match(content_type):
            errors.append(FieldError("contentType", "invalid_content_type", "a media type such as text/html"))
        raw_class = body.get("classification")
        classification = Classification.INTERNAL
        if raw_class is not None:
            try:
                classification = Classification(raw_class)
            except ValueError:
                errors.append(FieldError("classification", "invalid_choice",
                                         "one of public, internal, confidential"))
        if errors:
            raise ValidationFailed(detail="The page is not valid.", errors=errors)
        if len(data) > self.max_page_bytes:
            raise TooLarge("body_too_large", f"A page holds at most {self.max_page_bytes} bytes.")
        return data, str(content_type), classification

    async def delete_page(self, uow: DocsUoW, access: HandleAccess, raw_path: object) -> DocPage:
        authorize(access, Action.DOCS_PAGES_WRITE)
        path = normalize_path(raw_path)
        page = await uow.docs.get_page(access.handle, path)
        if page is None:
            raise NotFound("page_not_found", f"No page at {path}.")
        await uow.docs.delete_page(access.handle, path)
        uow.after_commit(lambda: self.objects.delete(page.object_key))
        await record(uow, self.clock, self.ids, access, "docs.page.delete", page.id, detail=path)
        return page

    async def get_page(self, uow: DocsUoW, access: HandleAccess, raw_path: object) -> DocPage:
        authorize(access, Action.DOCS_READ)
        path = normalize_path(raw_path)
        page = await uow.docs.get_page(access.handle, path)
        if page is None:
            raise NotFound("page_not_found", f"No page at {path}.")
        return page

    async def list_pages(self, uow: DocsUoW, access: HandleAccess, *, prefix: str | None = None,
                         classification: str | None = None, cursor: str | None = None,
                         limit: int | None = None) -> Page[DocPage]:
        authorize(access, Action.DOCS_READ)
        n = validate_limit(limit)
        canonical = normalize_path(prefix, "prefix") if prefix else None
        klass: Classification | None = None
        if classification:
            try:
                klass = Classification(classification)
            except ValueError:
                raise ValidationFailed(errors=[FieldError("classification", "invalid_choice",
                                                          "one of public, internal, confidential")]) from None
        after = decode_cursor(cursor)
        after_path = str(after[0]) if after else None
        rows = list(await uow.docs.list_pages(access.handle, prefix=canonical, classification=klass,
                                              after=after_path, limit=n + 1))
        nxt = encode_cursor([rows[n - 1].path]) if len(rows) > n else None
        return Page(rows[:n], nxt)

    # -- policy --------------------------------------------------------------
    async def current_policy(self, uow: DocsUoW, handle: str) -> Policy:
        return await uow.docs.get_policy(handle) or Policy()

    async def get_policy(self, uow: DocsUoW, access: HandleAccess) -> tuple[Policy, list[Finding]]:
        authorize(access, Action.DOCS_POLICY_READ)
        policy = await self.current_policy(uow, access.handle)
        pages = await uow.docs.all_pages(access.handle)
        domains = await internal_domains_for(uow, access.handle, self.internal_domains)
        if access.role is None:  # an operator reading another tenant's policy
            await record(uow, self.clock, self.ids, access, "docs.policy.read", "policy",
                         after=policy.version)
        return policy, lint(policy, pages, domains)

    async def put_policy(self, uow: DocsUoW, access: HandleAccess, body: object, *,
                         if_match: int | None = None, dry_run: bool = False) -> PolicyWrite:
        """Replace the policy; the linter runs first (SPEC §8). A dry run saves nothing and never refuses."""
        authorize(access, Action.DOCS_POLICY)
        draft = parse_policy_body(body)
        current = await self.current_policy(uow, access.handle)
        pages = await uow.docs.all_pages(access.handle)
        domains = await internal_domains_for(uow, access.handle, self.internal_domains)
        proposed = Policy(version=current.version + 1, rules=draft.rules, default_effect=draft.default_effect,
                          updated_at=self.clock.now(), updated_by=access.actor_id)
        result = check_policy(current, proposed, draft.acknowledge, pages, domains)
        findings = result.findings
        if dry_run:
            return result
        self._check_version(current, if_match, draft.expected_version)
        page_ids = {p.id for p in pages}
        unknown = [FieldError(f"acknowledgeExposure.{i}", "page_not_found", f"no page `{pid}`")
                   for i, pid in enumerate(draft.acknowledge) if pid not in page_ids]
        if unknown:
            raise ValidationFailed(detail="acknowledgeExposure names unknown pages.", errors=unknown)
        if result.unacknowledged:
            self._refuse(proposed, findings, result.unacknowledged)
        if not await uow.docs.save_policy(access.handle, proposed, expected=current.version):
            latest = await self.current_policy(uow, access.handle)
            raise Conflict("version_conflict", "The policy changed meanwhile.",
                           extra={"currentVersion": latest.version})
        await record(uow, self.clock, self.ids, access, "docs.policy.update", "policy",
                     before=current.version, after=proposed.version,
                     detail=f"{len(proposed.rules)} rules; {len(findings)} findings; acknowledged: "
                            f"{','.join(result.acknowledged) or 'none'}")
        for pid in result.acknowledged:
            await record(uow, self.clock, self.ids, access, "docs.policy.exposure_acknowledged", pid,
                         after=proposed.version,
                         detail="; ".join(finding_summary(f)["message"]
                                          for f in findings if f.page.id == pid))
        return attrs.evolve(result, saved=True)

    @staticmethod
    def _check_version(current: Policy, if_match: int | None, expected: int | None) -> None:
        if if_match is None and expected is None:
            raise PreconditionRequired(
                "precondition_required",
                "Send If-Match or expectedVersion with the policy version you read.",
                extra={"currentVersion": current.version})
        if if_match is not None and if_match != current.version:
            raise PreconditionFailed("version_conflict", "The policy changed since you read it.",
                                     extra={"currentVersion": current.version})
        if expected is not None and expected != current.version:
            raise Conflict("version_conflict", "The policy changed since you read it.",
                           extra={"currentVersion": current.version})

    @staticmethod
    def _refuse(proposed: Policy, findings: Sequence[Finding], unacked: Sequence[str]) -> None:
        pending = [f for f in findings if f.page.id in set(unacked)]
        rule_index = {r.id: i for i, r in enumerate(proposed.rules)}
        errors = []
        for rid in dict.fromkeys(f.rule_id for f in pending if f.rule_id is not None):
            paths = sorted({f.page.path for f in pending if f.rule_id == rid})
            errors.append(FieldError(f"rules.{rule_index[rid]}", "policy_too_permissive",
                                     f"exposes confidential pages: {', '.join(paths)}"))
        raise ValidationFailed(
            "policy_too_permissive",
            f"The policy would expose {len(unacked)} confidential page(s) to anyone, external domains "
            "or viewers. Narrow the rules, or list the page ids in acknowledgeExposure.",
            errors=errors,
            extra={"exposedPages": exposed_pages(pending), "findings": [finding_summary(f) for f in pending],
                   "pageIds": list(unacked)})

    async def evaluate(self, uow: DocsUoW, access: HandleAccess,
                       body: object) -> tuple[str, Decision, Caller, DocPage | None]:
        """``{path, principal}`` -> (canonical path, decision, caller, page at that path)."""
        authorize(access, Action.DOCS_POLICY_READ)
        if not isinstance(body, Mapping):
            raise ValidationFailed(errors=[FieldError("body", "invalid_type", "must be an object")])
        if body.get("path") is None:
            raise ValidationFailed(errors=[FieldError("path", "required", "path is required")])
        path = normalize_path(body.get("path"))
        caller = parse_caller(body.get("principal"))
        policy = await self.current_policy(uow, access.handle)
        decision = CompiledPolicy(policy).evaluate(path, caller)
        return path, decision, caller, await uow.docs.get_page(access.handle, path)
