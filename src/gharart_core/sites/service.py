"""Sites use cases: deployments, blobs, promote/rollback, site mode, bindings (SPEC §5, A.3).

Serving (profile and preview) lives in :mod:`.serving`, mixed in here so callers see one service.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.clock import Clock
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
from ..shared.ports import ObjectStore
from ..shared.tokens import TokenSource
from .archive import ArchiveLimits, extract_archive
from .functions import default_registry
from .model import (
    SERVABLE,
    Deployment,
    DeploymentStatus,
    FunctionBinding,
    Hostname,
    ManifestEntry,
    Site,
    Submission,
    content_type_for,
    is_sha256,
    transition,
)
from .ports import FunctionRegistry, HostnameVerifier, NoReplayGate, ReplayGate, SitesUoW
from .serving import ServingMixin
from .validation import (
    BindingSpec,
    check_message,
    parse_binding,
    parse_create,
    parse_mode_change,
    parse_site_patch,
    require_object,
)

__all__ = ["BlobUpload", "SitesLimits", "SitesService", "blob_key"]

_S = DeploymentStatus


@attrs.frozen
class SitesLimits:
    max_files: int = 20_000
    max_blob_bytes: int = 100 * 1024 * 1024
    archive: ArchiveLimits = attrs.field(factory=ArchiveLimits)
    blob_cache_bytes: int = 64 * 1024 * 1024
    blob_cache_item_bytes: int = 1024 * 1024
    max_archive_bytes: int = 256 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None) -> SitesLimits:
        """Read the ``GHARART_SITES_*`` knobs (documented in docs/sites.md)."""
        env = env or {}

        def num(name: str, default: int) -> int:
            value = env.get(f"GHARART_SITES_{name}")
            return int(value) if value and value.isascii() and value.isdigit() else default

        return cls(
            max_files=num("MAX_FILES", 20_000),
            max_blob_bytes=num("MAX_BLOB_BYTES", 100 * 1024 * 1024),
            archive=ArchiveLimits(
                max_files=num("ARCHIVE_MAX_FILES", 10_000),
                max_total_bytes=num("ARCHIVE_MAX_TOTAL_BYTES", 512 * 1024 * 1024),
                max_file_bytes=num("MAX_BLOB_BYTES", 100 * 1024 * 1024),
            ),
            blob_cache_bytes=num("BLOB_CACHE_BYTES", 64 * 1024 * 1024),
            max_archive_bytes=num("MAX_ARCHIVE_BYTES", 256 * 1024 * 1024),
        )


@attrs.frozen
class BlobUpload:
    deployment_id: str
    sha256: str
    size: int
    status: DeploymentStatus
    missing_blobs: int


def blob_key(handle: str, sha256: str) -> str:
    """Blobs are content-addressed inside each handle's own namespace (no cross-tenant oracle)."""
    return f"sites/{handle}/blobs/{sha256}"


def _not_found(deployment_id: str) -> NotFound:
    return NotFound("deployment_not_found", f"Deployment `{deployment_id}` was not found.")


class SitesService(ServingMixin):
    def __init__(
        self,
        *,
        clock: Clock,
        ids: IdGenerator,
        tokens: TokenSource,
        object_store: ObjectStore,
        functions: FunctionRegistry | None = None,
        replay_gate: ReplayGate | None = None,
        site_domain: str = "localhost",
        limits: SitesLimits | None = None,
        hostname_verifier: HostnameVerifier | None = None,
    ) -> None:
        self.hostname_verifier = hostname_verifier
        # moves when this process changes a hostname, so host lookups cached here can be dropped
        self.hostnames_generation = 0
        self.clock = clock
        self.ids = ids
        self.tokens = tokens
        self.store = object_store
        self.functions = functions or default_registry()
        self.replay_gate: ReplayGate = replay_gate or NoReplayGate()
        self.site_domain = site_domain.strip(".").lower() or "localhost"
        self.limits = limits or SitesLimits()
        self._init_caches()

    # ------------------------------------------------------------------ sites

    def default_hostname(self, handle: str) -> str:
        return f"{handle}.{self.site_domain}"

    def site_hostnames(self, site: Site) -> list[Hostname]:
        return [Hostname(self.default_hostname(site.handle), "default", True), *site.custom_hostnames]

    async def hostnames(self, uow: SitesUoW, handle: str) -> list[Hostname]:
        return self.site_hostnames(await self._site(uow, handle))

    async def _site(self, uow: SitesUoW, handle: str) -> Site:
        return await uow.sites.get_site(handle) or Site(handle=handle)

    async def _save_site(self, uow: SitesUoW, old: Site, new: Site) -> Site:
        new = attrs.evolve(new, version=old.version + 1, updated_at=self.clock.now())
        if not await uow.sites.save_site(new, old.version):
            current = await self._site(uow, old.handle)
            raise Conflict(
                "version_conflict",
                "The site changed meanwhile; reload and retry.",
                extra={
                    "currentLiveDeploymentId": current.live_deployment_id,
                    "currentModeVersion": current.mode_version,
                },
            )
        return new

    async def get_site(self, uow: SitesUoW, access: HandleAccess) -> Site:
        authorize(access, Action.SITES_READ)
        return await self._site(uow, access.handle)

    async def set_mode(self, uow: SitesUoW, access: HandleAccess, body: Any, if_match: int | None = None) -> Site:
        authorize(access, Action.SITES_ADMIN)
        change = parse_mode_change(body)
        site = await self._site(uow, access.handle)
        if change.expected_mode_version is not None:
            if change.expected_mode_version != site.mode_version:
                raise Conflict(
                    "version_conflict",
                    f"The site mode is at version {site.mode_version}, not {change.expected_mode_version}.",
                    extra={"currentModeVersion": site.mode_version, "currentVersion": site.mode_version},
                )
        elif if_match is not None:
            if if_match != site.mode_version:
                raise PreconditionFailed(
                    "version_conflict",
                    "If-Match does not match the mode version.",
                    extra={"currentModeVersion": site.mode_version, "currentVersion": site.mode_version},
                )
        else:
            raise PreconditionRequired(
                "precondition_required",
                "Send expectedModeVersion (or If-Match) with the site mode.",
                extra={"currentModeVersion": site.mode_version},
            )
        new = attrs.evolve(
            site,
            mode=change.mode,
            mode_version=site.mode_version + 1,
            mode_message=change.message,
            redirect_url=change.redirect_url if change.redirect_url is not None else site.redirect_url,
        )
        new = await self._save_site(uow, site, new)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.mode",
            f"site:{access.handle}",
            before=site.mode_version,
            after=new.mode_version,
            detail=f"{site.mode} -> {new.mode}" + (f": {change.message}" if change.message else ""),
        )
        return new

    async def patch_site(self, uow: SitesUoW, access: HandleAccess, body: Any) -> Site:
        authorize(access, Action.SITES_ADMIN)
        patch = parse_site_patch(body)
        site = await self._site(uow, access.handle)
        new = site
        if patch.require_replay_gate is not None:
            new = attrs.evolve(new, require_replay_gate=patch.require_replay_gate)
        if patch.hostnames is not None:
            current = {h.hostname: h for h in site.custom_hostnames}
            hosts: list[Hostname] = []
            errors: list[FieldError] = []
            for i, name in enumerate(patch.hostnames):
                if name == self.site_domain or name.endswith("." + self.site_domain):
                    errors.append(
                        FieldError(
                            f"hostnames.{i}",
                            "hostname_reserved",
                            f"names under {self.site_domain} are default hostnames",
                        )
                    )
                    continue
                owner = await uow.sites.hostname_owner(name)
                if owner is not None and owner[0] != access.handle:
                    raise Conflict("hostname_taken", f"`{name}` belongs to another site.", extra={"hostname": name})
                hosts.append(
                    current.get(name) or Hostname(name, "custom", False, "gharart-verify=" + self.tokens.token(16))
                )
            if errors:
                raise ValidationFailed(detail=errors[0].message, errors=errors)
            new = attrs.evolve(new, custom_hostnames=tuple(hosts))
            self.hostnames_generation += 1
        if new != site or site.version == 0:
            new = await self._save_site(uow, site, new)
            await record(
                uow,
                self.clock,
                self.ids,
                access,
                "site.update",
                f"site:{access.handle}",
                before=site.version,
                after=new.version,
            )
        return new

    async def verify_hostname(self, uow: SitesUoW, access: HandleAccess, hostname: str) -> Site:
        """Mark a custom hostname verified once its TXT record ``_gharart.<hostname>`` carries the
        hostname's verification token."""
        authorize(access, Action.SITES_ADMIN)
        site = await self._site(uow, access.handle)
        name = (hostname or "").strip().lower().rstrip(".")
        current = next((h for h in site.custom_hostnames if h.hostname == name), None)
        if current is None:
            raise NotFound("hostname_not_found", f"`{name}` is not a custom hostname of this site.")
        if current.verified:
            return site
        ok = self.hostname_verifier is not None and await self.hostname_verifier.verify(
            name, current.verification_token or ""
        )
        if not ok:
            raise Conflict(
                "hostname_unverified",
                f"No TXT record `_gharart.{name}` with the value `{current.verification_token}` was found.",
                extra={"hostname": name, "record": f"_gharart.{name}", "value": current.verification_token},
            )
        hosts = tuple(attrs.evolve(h, verified=True) if h.hostname == name else h for h in site.custom_hostnames)
        new = await self._save_site(uow, site, attrs.evolve(site, custom_hostnames=hosts))
        self.hostnames_generation += 1
        await record(uow, self.clock, self.ids, access, "site.hostname.verify", f"hostname:{name}")
        return new

    # ------------------------------------------------------------ deployments

    async def _get(self, uow: SitesUoW, handle: str, deployment_id: str) -> Deployment:
        dep = await uow.sites.get_deployment(handle, deployment_id) if isinstance(deployment_id, str) else None
        if dep is None:
            raise _not_found(str(deployment_id))
        return dep

    async def handle_for_host(self, uow: SitesUoW, host: str) -> str | None:
        """The handle whose default or verified custom hostname is ``host`` (port ignored)."""
        host = host.strip().lower().rsplit(":", 1)[0].rstrip(".")
        suffix = "." + self.site_domain
        if host.endswith(suffix) and "." not in host[: -len(suffix)]:
            return host[: -len(suffix)] or None
        owner = await uow.sites.hostname_owner(host)
        return owner[0] if owner is not None and owner[1] else None

    async def bindings_of(self, uow: SitesUoW, deployment_id: str) -> list[FunctionBinding]:
        return list(await uow.sites.bindings_for(deployment_id))

    async def get_deployment_internal(self, uow: SitesUoW, handle: str, deployment_id: str) -> Deployment | None:
        return await uow.sites.get_deployment(handle, deployment_id)

    async def _finish(self, uow: SitesUoW, dep: Deployment) -> Deployment:
        """pending -> deploying -> deployed (or failed), once no blob is missing."""
        dep = transition(dep, _S.DEPLOYING)
        await uow.sites.update_deployment(dep)
        for b in await uow.sites.bindings_for(dep.id):
            if self.functions.get(b.function) is None:
                dep = transition(dep, _S.FAILED, failed_reason=f"unknown_function: {b.function} on {b.route}")
                await uow.sites.update_deployment(dep)
                return dep
        dep = transition(dep, _S.DEPLOYED, deployed_at=self.clock.now())
        await uow.sites.update_deployment(dep)
        return dep

    async def _add_bindings(
        self, uow: SitesUoW, handle: str, dep_id: str, specs: Sequence[BindingSpec]
    ) -> list[FunctionBinding]:
        out = []
        for spec in specs:
            b = FunctionBinding(
                self.ids.new("fb"),
                handle,
                dep_id,
                spec.route,
                spec.function,
                dict(spec.config),
                self.clock.now(),
            )
            await uow.sites.add_binding(b)
            out.append(b)
        return out

    async def create_deployment(self, uow: SitesUoW, access: HandleAccess, body: Any) -> tuple[Deployment, list[str]]:
        """Create from a manifest; answer the deployment and the digests still to upload."""
        authorize(access, Action.SITES_WRITE)
        manifest, message, specs = parse_create(body, self.functions, max_files=self.limits.max_files)
        digests = {e.sha256 for e in manifest.values()}
        missing = digests - await uow.sites.stored_blobs(access.handle, digests)
        dep = Deployment(
            self.ids.new("dep"),
            access.handle,
            _S.PENDING,
            manifest,
            message or "",
            access.actor_id,
            self.clock.now(),
            frozenset(missing),
        )
        await uow.sites.add_deployment(dep)
        await self._add_bindings(uow, access.handle, dep.id, specs)
        if not missing:
            dep = await self._finish(uow, dep)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.deployment.create",
            dep.id,
            detail=f"{len(manifest)} files, {len(missing)} blobs required",
        )
        return dep, sorted(missing)

    async def create_from_archive(
        self, uow: SitesUoW, access: HandleAccess, data: bytes, media_type: str, message: str | None
    ) -> tuple[Deployment, list[str]]:
        authorize(access, Action.SITES_WRITE)
        if message is not None and (errs := check_message(message, "message")):
            raise ValidationFailed(detail=errs[0].message, errors=errs)
        files = extract_archive(data, media_type, self.limits.archive)
        manifest: dict[str, ManifestEntry] = {}
        blobs: dict[str, bytes] = {}
        for path, content in files:
            sha = hashlib.sha256(content).hexdigest()
            manifest[path] = ManifestEntry(sha, len(content), content_type_for(path))
            blobs[sha] = content
        stored = await uow.sites.stored_blobs(access.handle, blobs)
        for sha, content in blobs.items():
            if sha not in stored:
                await self.store.put_bytes(blob_key(access.handle, sha), content)
                await uow.sites.add_blob(access.handle, sha, len(content))
        dep = Deployment(
            self.ids.new("dep"),
            access.handle,
            _S.PENDING,
            manifest,
            message or "",
            access.actor_id,
            self.clock.now(),
            source="archive",
        )
        await uow.sites.add_deployment(dep)
        dep = await self._finish(uow, dep)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.deployment.create",
            dep.id,
            detail=f"archive, {len(manifest)} files",
        )
        return dep, []

    async def upload_blob(
        self,
        uow: SitesUoW,
        access: HandleAccess,
        deployment_id: str,
        sha256: str,
        chunks: AsyncIterator[bytes],
    ) -> Deployment:
        """:meth:`receive_blob`, answering the whole deployment afterwards."""
        res = await self.receive_blob(uow, access, deployment_id, sha256, chunks)
        return await self._get(uow, access.handle, res.deployment_id)

    async def receive_blob(
        self,
        uow: SitesUoW,
        access: HandleAccess,
        deployment_id: str,
        sha256: str,
        chunks: AsyncIterator[bytes],
    ) -> BlobUpload:
        """Store one blob (digest verified while streaming) and complete every pending deployment
        of the handle that was waiting for it. Costs one small read per waiting deployment: the
        manifest is only loaded to explain a refusal or to finish a deployment."""
        authorize(access, Action.SITES_WRITE)
        sha = sha256.lower() if isinstance(sha256, str) else ""
        waiting = dict(await uow.sites.waiting_for(access.handle, sha)) if is_sha256(sha) else {}
        if deployment_id not in waiting:
            dep = await self._get(uow, access.handle, deployment_id)
            if not is_sha256(sha):
                raise ValidationFailed(
                    detail="The digest must be 64 hex characters.",
                    errors=[FieldError("sha256", "invalid_digest", "64 hex characters")],
                )
            if sha not in {e.sha256 for e in dep.manifest.values()}:
                raise ValidationFailed(
                    detail=f"`{sha}` is not in deployment `{dep.id}`'s manifest.",
                    errors=[FieldError("sha256", "not_in_manifest", "upload only digests the manifest names")],
                )
        info = await self.store.put_stream(
            blob_key(access.handle, sha), chunks, max_bytes=self.limits.max_blob_bytes, expected_sha256=sha
        )
        # add_blob is idempotent; a digest some deployment still waits for is not stored yet
        if waiting or not await uow.sites.stored_blobs(access.handle, [sha]):
            await uow.sites.add_blob(access.handle, sha, info.size)
        result = None
        for dep_id, missing in waiting.items():
            remaining = missing - {sha}
            await uow.sites.set_missing(dep_id, remaining)
            status = DeploymentStatus.PENDING
            if not remaining:
                pending = await uow.sites.get_deployment(access.handle, dep_id)
                assert pending is not None
                status = (await self._finish(uow, attrs.evolve(pending, missing=frozenset()))).status
                # one audit entry per completed deployment, not one per blob (a deploy makes thousands)
                await record(uow, self.clock, self.ids, access, f"site.deployment.{status.value}", dep_id)
            if dep_id == deployment_id:
                result = BlobUpload(dep_id, sha, info.size, status, len(remaining))
        if result is None:
            dep = await self._get(uow, access.handle, deployment_id)
            result = BlobUpload(dep.id, sha, info.size, dep.status, len(dep.missing))
        return result

    async def list_deployments(
        self, uow: SitesUoW, access: HandleAccess, *, cursor: str | None = None, limit: int | None = None
    ) -> tuple[Page[Deployment], Site]:
        authorize(access, Action.SITES_READ)
        n = validate_limit(limit)
        key = decode_cursor(cursor)
        before = str(key[0]) if key else None
        rows = list(await uow.sites.list_deployments(access.handle, before_id=before, limit=n + 1))
        nxt = encode_cursor([rows[n - 1].id]) if len(rows) > n else None
        return Page(rows[:n], nxt), await self._site(uow, access.handle)

    async def get_deployment(
        self, uow: SitesUoW, access: HandleAccess, deployment_id: str
    ) -> tuple[Deployment, list[FunctionBinding], Site]:
        authorize(access, Action.SITES_READ)
        dep = await self._get(uow, access.handle, deployment_id)
        return dep, list(await uow.sites.bindings_for(dep.id)), await self._site(uow, access.handle)

    # ----------------------------------------------------- promote / rollback

    def _check_expected(self, body: dict[str, Any], site: Site) -> None:
        expected = body["expectedLiveDeploymentId"]
        if expected is not None and not isinstance(expected, str):
            raise ValidationFailed(
                detail="expectedLiveDeploymentId must be a string or null",
                errors=[FieldError("expectedLiveDeploymentId", "invalid_type", "a deployment id or null")],
            )
        if expected != site.live_deployment_id:
            raise Conflict(
                "version_conflict",
                "The live deployment is not the one you expected; reload and retry.",
                extra={"currentLiveDeploymentId": site.live_deployment_id},
            )

    async def _move_live(
        self, uow: SitesUoW, access: HandleAccess, site: Site, target: Deployment, *, rollback: bool
    ) -> tuple[Deployment, Site, Deployment | None]:
        previous = None
        if site.live_deployment_id and site.live_deployment_id != target.id:
            previous = await uow.sites.get_deployment(access.handle, site.live_deployment_id)
            if previous is not None and rollback and previous.status is _S.DEPLOYED:
                previous = transition(previous, _S.ROLLED_BACK)
                await uow.sites.update_deployment(previous)
        if target.status is _S.ROLLED_BACK:
            target = transition(target, _S.DEPLOYED)
            await uow.sites.update_deployment(target)
        new_site = await self._save_site(uow, site, attrs.evolve(site, live_deployment_id=target.id))
        return target, new_site, previous

    async def promote(
        self, uow: SitesUoW, access: HandleAccess, deployment_id: str, body: Any
    ) -> tuple[Deployment, Site, Deployment | None]:
        authorize(access, Action.SITES_ADMIN)
        body = {} if body is None else require_object(body)
        dep = await self._get(uow, access.handle, deployment_id)
        site = await self._site(uow, access.handle)
        if "expectedLiveDeploymentId" in body:
            self._check_expected(body, site)
        if dep.status not in SERVABLE:
            raise Conflict(
                "invalid_transition",
                f"Deployment `{dep.id}` is `{dep.status.value}`; only deployed or rolled_back deployments can go live.",
                extra={"status": dep.status.value, "missing": _missing(dep)},
            )
        if site.require_replay_gate:
            await self.replay_gate.check(uow, access.handle, dep.id)
        before = site.live_deployment_id
        dep, site, previous = await self._move_live(uow, access, site, dep, rollback=False)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.promote",
            dep.id,
            before=site.version - 1,
            after=site.version,
            detail=f"live: {before} -> {dep.id}",
        )
        return dep, site, previous

    async def rollback(
        self, uow: SitesUoW, access: HandleAccess, body: Any
    ) -> tuple[Deployment, Site, Deployment | None]:
        authorize(access, Action.SITES_ADMIN)
        body = require_object(body)
        errors = []
        target_id = body.get("targetDeploymentId")
        if target_id is None:
            errors.append(FieldError("targetDeploymentId", "required", "targetDeploymentId is required"))
        elif not isinstance(target_id, str):
            errors.append(FieldError("targetDeploymentId", "invalid_type", "a deployment id"))
        reason = body.get("reason")
        errors += check_message(reason, "reason")
        if errors:
            raise ValidationFailed(detail=errors[0].message, errors=errors)
        site = await self._site(uow, access.handle)
        if "expectedLiveDeploymentId" not in body:
            raise PreconditionRequired(
                "precondition_required",
                "Send expectedLiveDeploymentId (null when nothing is live).",
                extra={"currentLiveDeploymentId": site.live_deployment_id},
            )
        target = await uow.sites.get_deployment(access.handle, target_id)
        if target is None:
            raise ValidationFailed(
                detail=f"Deployment `{target_id}` was not found.",
                errors=[FieldError("targetDeploymentId", "deployment_not_found", f"`{target_id}` was not found")],
            )
        self._check_expected(body, site)
        if target.status not in SERVABLE:
            raise Conflict(
                "invalid_transition",
                f"Deployment `{target.id}` is `{target.status.value}`; roll back to a deployed or "
                "rolled_back deployment.",
                extra={"status": target.status.value},
            )
        if target.id == site.live_deployment_id:
            raise Conflict(
                "already_current",
                f"Deployment `{target.id}` is already live.",
                extra={"currentLiveDeploymentId": site.live_deployment_id},
            )
        before = site.live_deployment_id
        target, site, previous = await self._move_live(uow, access, site, target, rollback=True)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.rollback",
            target.id,
            before=site.version - 1,
            after=site.version,
            detail=f"live: {before} -> {target.id}" + (f"; reason: {reason}" if reason else ""),
        )
        return target, site, previous

    # ------------------------------------------------------------- bindings

    async def add_binding(self, uow: SitesUoW, access: HandleAccess, body: Any) -> tuple[FunctionBinding, Deployment]:
        """Bind a function to a route of a release (default: the newest pending deployment, else
        a new deployment cloned from live, which completes at once with the binding)."""
        authorize(access, Action.SITES_WRITE)
        spec = parse_binding(body, self.functions)
        if spec.deployment_id is not None:
            dep = await uow.sites.get_deployment(access.handle, spec.deployment_id)
            if dep is None:
                raise ValidationFailed(
                    detail=f"Deployment `{spec.deployment_id}` was not found.",
                    errors=[
                        FieldError("deploymentId", "deployment_not_found", f"`{spec.deployment_id}` was not found")
                    ],
                )
        else:
            pending = await uow.sites.pending_deployments(access.handle)
            dep = pending[0] if pending else await self._clone_live(uow, access)
        if dep.status is not _S.PENDING:
            raise Conflict(
                "deployment_immutable",
                f"Deployment `{dep.id}` is `{dep.status.value}`; bind onto a pending deployment "
                "or leave deploymentId out to start a new release from live.",
                extra={"deploymentId": dep.id, "status": dep.status.value},
            )
        existing = await uow.sites.bindings_for(dep.id)
        if any(b.route == spec.route for b in existing):
            raise ValidationFailed(
                detail=f"`{spec.route}` is already bound in `{dep.id}`.",
                errors=[FieldError("route", "duplicate", "route already bound")],
            )
        [binding] = await self._add_bindings(uow, access.handle, dep.id, [spec])
        if not dep.missing:
            dep = await self._finish(uow, dep)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.binding.create",
            binding.id,
            detail=f"{spec.function} on {spec.route} in {dep.id}",
        )
        return binding, dep

    async def _clone_live(self, uow: SitesUoW, access: HandleAccess) -> Deployment:
        site = await self._site(uow, access.handle)
        live = (
            await uow.sites.get_deployment(access.handle, site.live_deployment_id) if site.live_deployment_id else None
        )
        dep = Deployment(
            self.ids.new("dep"),
            access.handle,
            _S.PENDING,
            dict(live.manifest) if live else {},
            f"Function bindings on top of {live.id}" if live else "Function bindings",
            access.actor_id,
            self.clock.now(),
            source="clone",
        )
        await uow.sites.add_deployment(dep)
        if live is not None:
            await self._add_bindings(
                uow,
                access.handle,
                dep.id,
                [BindingSpec(b.route, b.function, b.config) for b in await uow.sites.bindings_for(live.id)],
            )
        return dep

    async def list_bindings(
        self,
        uow: SitesUoW,
        access: HandleAccess,
        *,
        deployment_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[FunctionBinding]:
        authorize(access, Action.SITES_READ)
        n = validate_limit(limit)
        if deployment_id is not None:
            await self._get(uow, access.handle, deployment_id)
        key = decode_cursor(cursor)
        rows = list(
            await uow.sites.list_bindings(
                access.handle,
                deployment_id=deployment_id,
                before_id=str(key[0]) if key else None,
                limit=n + 1,
            )
        )
        return Page(rows[:n], encode_cursor([rows[n - 1].id]) if len(rows) > n else None)

    async def list_submissions(
        self,
        uow: SitesUoW,
        access: HandleAccess,
        binding_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Submission]:
        authorize(access, Action.SITES_READ)
        n = validate_limit(limit)
        if await uow.sites.get_binding(access.handle, binding_id) is None:
            raise NotFound("binding_not_found", f"Function binding `{binding_id}` was not found.")
        key = decode_cursor(cursor)
        rows = list(
            await uow.sites.list_submissions(
                access.handle, binding_id, before_id=str(key[0]) if key else None, limit=n + 1
            )
        )
        return Page(rows[:n], encode_cursor([rows[n - 1].id]) if len(rows) > n else None)

    # --------------------------------------------------------------- preview

    async def preview(
        self,
        uow: SitesUoW,
        access: HandleAccess,
        deployment_id: str,
        path: str = "",
        *,
        if_none_match: str | None = None,
        method: str = "GET",
        query: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> Any:
        authorize(access, Action.SITES_READ)
        return await self.serve_preview(
            uow,
            access.handle,
            deployment_id,
            path,
            if_none_match=if_none_match,
            method=method,
            query=query,
            headers=headers,
            body=body,
        )

    async def record_preview(self, uow: SitesUoW, handle: str, deployment_id: str) -> None:
        dep = await uow.sites.get_deployment(handle, deployment_id)
        if dep is not None:
            await uow.sites.update_deployment(attrs.evolve(dep, previewed_at=self.clock.now()))


def _missing(dep: Deployment) -> list[dict[str, str]]:
    return [{"path": p, "sha256": s} for p, s in dep.missing_paths()]
