"""Sites: function bindings and their form submissions (SPEC §5, A.3)."""

from __future__ import annotations

from typing import Any

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.errors import Conflict, FieldError, NotFound, ValidationFailed
from ..shared.pagination import Page, decode_cursor, encode_cursor, validate_limit
from .base import SitesCore
from .model import Deployment, DeploymentStatus, FunctionBinding, Submission
from .ports import SitesUoW
from .validation import BindingSpec, parse_binding

__all__ = ["BindingsMixin"]

_S = DeploymentStatus


class BindingsMixin(SitesCore):
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
