"""Support use cases: file and read reports, operator escalations, public content reports.

The caller owns the transaction (one unit of work per request); mail goes out only after
commit (``uow.after_commit``).
"""

from __future__ import annotations

from ..shared.errors import FieldError, ValidationFailed
from .base import _cursor_id as _cursor_id  # re-exported: pre-split name
from .base import _page as _page  # re-exported: pre-split name
from .base import _status_filter as _status_filter  # re-exported: pre-split name
from .escalations import EscalationsMixin
from .model import ContentReport
from .policy import wrong_channel, wrong_channel_reason
from .ports import SupportUoW
from .reports import _MAX_SLUG_HANDLES as _MAX_SLUG_HANDLES  # re-exported: pre-split name
from .reports import FiledReport, ReportsMixin, redact_artifact
from .targets import parse_target
from .validation import parse_content_report

__all__ = ["FiledReport", "SupportService", "redact_artifact"]


class SupportService(ReportsMixin, EscalationsMixin):
    """Support use cases: reports (``reports``), escalations (``escalations``), public content reports."""

    # -- public --------------------------------------------------------------
    async def file_content_report(
        self, uow: SupportUoW, body: object, *, base_url: str | None, client_ip: str | None = None
    ) -> ContentReport:
        if isinstance(body, dict):
            reason = wrong_channel_reason(body)
            if reason is not None:
                raise wrong_channel(reason)
        data = parse_content_report(body)
        bases = tuple(b for b in (self.public_url, base_url) if b)
        target = parse_target(data.target_url, base_urls=bases, site_domain=self.site_domain)
        found = None
        if target is not None:
            try:
                found = await self.directory.target_exists(uow, target)
            except Exception:
                found = None
        if found is None:
            raise ValidationFailed(
                "unknown_target",
                "`targetUrl` must be an existing link, profile, public file or docs URL of this service.",
                errors=[
                    FieldError("targetUrl", "unknown_target", "not a link, profile, file or docs URL of ours")
                ],
            )
        report_id = self.ids.new("cr")
        case_id = await uow.support.case_for_target(found.case_key) or report_id
        report = ContentReport(
            id=report_id,
            category=data.category,
            target_url=data.target_url,
            target_key=found.case_key,
            description=data.description,
            reporter_email=data.reporter_email,
            case_id=case_id,
            status="received",
            client_ip=client_ip,
            created_at=self.clock.now(),
        )
        await uow.support.add_content_report(report)
        self.notifier.content_reported(uow, report, first=case_id == report_id)
        return report
