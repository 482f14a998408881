"""Shared state of the files service: the ports it is built with and the live-file lookup."""

from __future__ import annotations

from ..identity.model import HandleAccess
from ..shared.clock import Clock
from ..shared.errors import NotFound
from ..shared.ids import IdGenerator
from ..shared.ports import Mailer, ObjectStore
from ..shared.tokens import TokenSource
from .model import File
from .ports import FilesUoW, FilesUoWFactory

__all__ = ["DEFAULT_MAX_FILE_BYTES", "DEFAULT_RETENTION_S", "FilesServiceBase", "not_found"]

DEFAULT_MAX_FILE_BYTES = 5 * 1024**3
DEFAULT_RETENTION_S = 7 * 86400


def not_found(file_id: str) -> NotFound:
    return NotFound("file_not_found", f"File `{file_id}` was not found.")


class FilesServiceBase:
    """Constructor and lookups shared by the files use-case mixins."""

    def __init__(
        self,
        clock: Clock,
        ids: IdGenerator,
        tokens: TokenSource,
        store: ObjectStore,
        mailer: Mailer,
        uow_factory: FilesUoWFactory,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        retention_s: int = DEFAULT_RETENTION_S,
        public_url: str | None = None,
        direct_download_ttl_s: int | None = None,
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.tokens = tokens
        self.store = store
        self.mailer = mailer
        self.uow_factory = uow_factory
        self.max_file_bytes = max_file_bytes
        self.retention_s = retention_s
        self.public_url = public_url.rstrip("/") if public_url else None
        # allowed public downloads may be redirected to the store's own URL (S3 presigned GET),
        # valid this many seconds; None: the bytes always go through the service
        self.direct_download_ttl_s = direct_download_ttl_s

    # -- reads ----------------------------------------------------------------------------------------
    async def _live(self, uow: FilesUoW, access: HandleAccess, file_id: str) -> File:
        file = await uow.files.get(file_id) if isinstance(file_id, str) else None
        if file is None or file.handle != access.handle or file.is_deleted:
            raise not_found(file_id)
        return file
