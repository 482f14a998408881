"""Ports of the support area: its repository and the directory of other areas' artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from ..identity.ports import IdentityRepository
from ..shared.ports import RequestLogStore, UnitOfWork
from .model import ArtifactRef, ContentReport, ContentTarget, Escalation, Report, Status

__all__ = ["ArtifactDirectory", "SupportRepository", "SupportUoW"]


class SupportRepository(Protocol):
    # -- reports -------------------------------------------------------------
    async def add_report(self, report: Report) -> None: ...

    async def get_report(self, report_id: str) -> Report | None: ...

    async def update_report(self, report: Report) -> None: ...

    async def dedupe_candidates(
        self, reporter_id: str, *, request_id: str | None, summary_key: str, since: datetime
    ) -> Sequence[Report]:
        """The reporter's reports with this ``request_id`` (any age) or this summary key since ``since``."""
        ...

    async def list_reports(
        self,
        *,
        reporter_id: str | None,
        queue: str | None,
        status: Status | None,
        before_id: str | None,
        limit: int,
    ) -> Sequence[Report]:
        """Newest first (by id), ids strictly below ``before_id``; ``reporter_id=None`` = everyone's."""
        ...

    # -- escalations ---------------------------------------------------------
    async def add_escalation(self, escalation: Escalation) -> None: ...

    async def get_escalation(self, escalation_id: str) -> Escalation | None: ...

    async def update_escalation(self, escalation: Escalation, expected_version: int) -> bool:
        """Store ``escalation`` if the stored version is ``expected_version``; False otherwise."""
        ...

    async def list_escalations(
        self,
        *,
        status: Status | None,
        assignee: str | None,
        queue: str | None,
        before_id: str | None,
        limit: int,
    ) -> Sequence[Escalation]: ...

    # -- content reports -----------------------------------------------------
    async def add_content_report(self, report: ContentReport) -> None: ...

    async def case_for_target(self, target_key: str) -> str | None:
        """The case id already grouping reports on ``target_key``, if any."""
        ...

    async def content_reports_in_case(self, case_id: str) -> Sequence[ContentReport]: ...


class SupportUoW(UnitOfWork, Protocol):
    support: SupportRepository
    identity: IdentityRepository
    request_log: RequestLogStore


class ArtifactDirectory(Protocol):
    """Read-only view of other areas' objects, for artifact resolution and report targets.

    Implemented in ``entrypoints`` over the other areas' repositories (``uow.links``...), so the
    support core depends on no other area's internals.
    """

    async def owner_of(self, uow: Any, artifact: str, *, handles: Sequence[str]) -> ArtifactRef | None:
        """What ``artifact`` (an id, ``handle/slug``, a bare slug or a URL) names, or None.

        ``handles`` are the handles to try a bare slug in (the reporter's, in order).
        The returned ``handle`` is the owner; the caller decides whether it may be attached.
        """
        ...

    async def target_exists(self, uow: Any, target: ContentTarget) -> ContentTarget | None:
        """The target, completed (a file's handle filled in), when it exists publicly; else None."""
        ...
