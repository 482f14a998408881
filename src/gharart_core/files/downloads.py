"""Files use cases: public downloads (access decision + access log) and byte retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.pagination import Page, validate_limit
from ..shared.tokens import constant_time_equals, sha256_hex
from .access import AccessDecision, Outcome, decide_access, outcome_error
from .base import FilesServiceBase
from .model import AccessLogEntry, File, FileMode, content_disposition
from .ports import FilesUoW
from .sniff import is_media_type

__all__ = ["DownloadsMixin", "download_media_type"]


def download_media_type(file: File) -> str:
    """The ``Content-Type`` a download is served with: a type stored before declared types were
    checked is never echoed into a header as is."""
    return file.content_type if is_media_type(file.content_type) else "application/octet-stream"


class DownloadsMixin(FilesServiceBase):
    async def access_log(
        self,
        uow: FilesUoW,
        access: HandleAccess,
        file_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[AccessLogEntry]:
        authorize(access, Action.FILES_READ)
        limit = validate_limit(limit)
        file = await self._live(uow, access, file_id)
        return await uow.files.list_access(file.id, cursor=cursor, limit=limit)

    # -- public download ------------------------------------------------------------------------------
    async def decide(self, uow: FilesUoW, file_id: str, token: str | None) -> tuple[File | None, AccessDecision]:
        """Look the token up and apply the policy (no writes)."""
        file = await uow.files.get(file_id) if isinstance(file_id, str) else None
        link = share = None
        presented = bool(token)
        if presented and file is not None and file.mode is FileMode.LINK:
            digest = sha256_hex(token or "")
            link = await uow.files.link_by_hash(digest)
            if link is not None and not constant_time_equals(link.token_hash, digest):
                link = None
            share = await uow.files.get_share(link.share_id) if link is not None else None
        return file, decide_access(file, now=self.clock.now(), token_presented=presented, link=link, share=share)

    async def open_download(self, file_id: str, token: str | None, *, request_id: str | None) -> File:
        """Decide a public download, log the outcome in its own unit of work, raise on refusal.

        The log is written apart from the request's transaction because refusals (4xx) roll
        that one back, and refusals are exactly what the access log is for.
        """
        async with self.uow_factory(write=False) as uow:
            file, decision = await self.decide(uow, file_id, token)
        if file is not None:
            async with self.uow_factory(write=True) as w:
                await w.files.add_access(
                    AccessLogEntry(
                        id=self.ids.new("acl"),
                        file_id=file.id,
                        handle=file.handle,
                        at=self.clock.now(),
                        email=decision.email,
                        share_id=decision.share_id,
                        outcome=decision.outcome.value,
                        request_id=request_id,
                    )
                )
                await w.commit()
        if decision.outcome is not Outcome.OK:
            raise outcome_error(decision.outcome, file, file_id)
        assert file is not None
        return file

    async def direct_download_url(self, file: File) -> str | None:
        """Where an *allowed* download (``open_download`` returned) may be sent instead of
        streaming it: a time-limited URL of the object store, served with the file's type and an
        ``attachment`` disposition. ``None`` when not configured or the store has no such URLs."""
        if self.direct_download_ttl_s is None:
            return None
        return await self.store.download_url(
            file.object_key,
            content_type=download_media_type(file),
            content_disposition=content_disposition(file.name),
            ttl_s=self.direct_download_ttl_s,
        )

    # -- retention ------------------------------------------------------------------------------------
    async def purge(self, *, now: datetime | None = None, batch: int = 200) -> int:
        """Delete the bytes of files deleted more than ``retention_s`` ago; returns how many."""
        cutoff = (now or self.clock.now()) - timedelta(seconds=self.retention_s)
        purged = 0
        while True:
            async with self.uow_factory(write=False) as uow:
                due: Sequence[File] = await uow.files.purgeable(cutoff, batch)
            if not due:
                return purged
            for file in due:
                await self.store.delete(file.object_key)
                async with self.uow_factory(write=True) as w:
                    await w.files.mark_purged(file.id, self.clock.now())
                    await w.commit()
                purged += 1
