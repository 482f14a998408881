"""Sites: the site row — mode (`PUT site-mode`), `PATCH site` (replay gate, custom hostnames),
hostname verification and Host lookups (SPEC §5, A.3)."""

from __future__ import annotations

from typing import Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.errors import Conflict, FieldError, NotFound, PreconditionFailed, PreconditionRequired, ValidationFailed
from .base import SitesCore
from .model import Hostname, Site
from .ports import SitesUoW
from .validation import parse_mode_change, parse_site_patch

__all__ = ["SiteSettingsMixin"]


class SiteSettingsMixin(SitesCore):
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

    async def patch_site(self, uow: SitesUoW, access: HandleAccess, body: Any, if_match: int | None = None) -> Site:
        """``requireReplayGate`` and custom ``hostnames``; ``expectedModeVersion`` (409) or ``If-Match``
        (412) optionally guard against a stale view (the site's ETag is its ``modeVersion``)."""
        authorize(access, Action.SITES_ADMIN)
        patch = parse_site_patch(body)
        site = await self._site(uow, access.handle)
        extra = {"currentModeVersion": site.mode_version, "currentVersion": site.mode_version}
        if patch.expected_mode_version is not None and patch.expected_mode_version != site.mode_version:
            raise Conflict("version_conflict",
                           f"The site is at mode version {site.mode_version}, not {patch.expected_mode_version}.",
                           extra=extra)
        if patch.expected_mode_version is None and if_match is not None and if_match != site.mode_version:
            raise PreconditionFailed("version_conflict", "If-Match does not match the mode version.", extra=extra)
        current_values = {"handle": site.handle, "mode": site.mode, "modeVersion": site.mode_version,
                          "liveDeploymentId": site.live_deployment_id, "redirectUrl": site.redirect_url}
        changed = [k for k, v in patch.echoed if v != current_values[k]]
        if changed:
            raise ValidationFailed(
                detail=f"`{changed[0]}` cannot be changed with PATCH /site (the mode and redirectUrl: PUT site-mode).",
                errors=[FieldError(k, "read_only", f"`{k}` cannot be changed here") for k in changed],
            )
        new = site
        if patch.require_replay_gate is not None:
            new = attrs.evolve(new, require_replay_gate=patch.require_replay_gate)
        if patch.hostnames is not None:
            current = {h.hostname: h for h in site.custom_hostnames}
            hosts: list[Hostname] = []
            errors: list[FieldError] = []
            default = f"{access.handle}.{self.site_domain}"
            for i, name in enumerate(patch.hostnames):
                if name == default:
                    continue  # the default hostname, sent back from a GET: always there
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

    async def handle_for_host(self, uow: SitesUoW, host: str) -> str | None:
        """The handle whose default or verified custom hostname is ``host`` (port ignored)."""
        host = host.strip().lower().rsplit(":", 1)[0].rstrip(".")
        suffix = "." + self.site_domain
        if host.endswith(suffix) and "." not in host[: -len(suffix)]:
            return host[: -len(suffix)] or None
        owner = await uow.sites.hostname_owner(host)
        return owner[0] if owner is not None and owner[1] else None
