"""Support mail: reporter receipts, operator alerts, resolution notices. Sent after commit."""

from __future__ import annotations

from collections.abc import Iterable

from ..identity.model import Principal
from ..shared.clock import format_ts
from ..shared.ports import Mailer, MailMessage, UnitOfWork
from .model import ContentReport, Priority, Report

__all__ = ["ALERT_PRIORITIES", "Notifier"]

#: Priorities that page the operators (``GHARART_OPERATORS``) as soon as the report lands.
ALERT_PRIORITIES = frozenset({Priority.HIGH, Priority.URGENT})


class Notifier:
    def __init__(self, mailer: Mailer, operator_emails: Iterable[str]) -> None:
        self.mailer = mailer
        self.operator_emails = tuple(sorted({e.strip().lower() for e in operator_emails if e.strip()}))

    def _send_after_commit(self, uow: UnitOfWork, messages: list[MailMessage]) -> None:
        if not messages:
            return

        async def send() -> None:
            for message in messages:
                try:
                    await self.mailer.send(message)
                except Exception:  # a mail failure must not turn a stored report into an error
                    continue

        uow.after_commit(send)

    def report_filed(self, uow: UnitOfWork, reporter: Principal, report: Report) -> None:
        messages: list[MailMessage] = []
        if reporter.email:
            messages.append(
                MailMessage(
                    to=reporter.email,
                    subject=f"[Gharart support] We received your report {report.id}",
                    text=(
                        f"Thanks, we received your report and routed it to the {report.queue.value} "
                        f"team (priority {report.priority.value}).\n\n"
                        f"Report: {report.id}\nSummary: {report.summary}\n"
                        f"Status: {report.status.value}\n\n"
                        f"Follow it with GET /v2/support/reports/{report.id}.\n"
                    ),
                    headers=(("X-Gharart-Report", report.id),),
                )
            )
        if report.priority in ALERT_PRIORITIES:
            req = report.attached_request
            request_line = (
                f"Request: {req.request_id} {req.route} -> {req.status} {req.code or ''}\n"
                if req
                else "Request: none attached\n"
            )
            for email in self.operator_emails:
                messages.append(
                    MailMessage(
                        to=email,
                        subject=(
                            f"[Gharart support][{report.priority.value}] "
                            f"{report.queue.value}: {report.summary[:80]}"
                        ),
                        text=(
                            f"A {report.priority.value} report landed in the {report.queue.value} queue.\n\n"
                            f"Report: {report.id}\nFiled: {format_ts(report.created_at)}\n"
                            f"Handle: {report.handle or '-'}\nArtifact: {report.repro_artifact or '-'}\n"
                            f"{request_line}\nEscalate with POST /v2/operator/escalations "
                            f'{{"reportIds": ["{report.id}"]}}.\n'
                        ),
                        headers=(("X-Gharart-Report", report.id),),
                    )
                )
        self._send_after_commit(uow, messages)

    def report_resolved(self, uow: UnitOfWork, email: str | None, report: Report) -> None:
        if not email:
            return
        self._send_after_commit(
            uow,
            [
                MailMessage(
                    to=email,
                    subject=f"[Gharart support] Your report {report.id} is resolved",
                    text=f'Your report "{report.summary}" ({report.id}) has been resolved.\n',
                    headers=(("X-Gharart-Report", report.id),),
                )
            ],
        )

    def content_reported(self, uow: UnitOfWork, report: ContentReport, *, first: bool) -> None:
        messages: list[MailMessage] = []
        if report.reporter_email:
            messages.append(
                MailMessage(
                    to=report.reporter_email,
                    subject=f"[Gharart trust & safety] Report {report.id} received",
                    text=(
                        f"We received your {report.category.value} report about {report.target_url}.\n"
                        f"Case: {report.case_id}\n"
                    ),
                    headers=(("X-Gharart-Case", report.case_id),),
                )
            )
        if first:
            for email in self.operator_emails:
                messages.append(
                    MailMessage(
                        to=email,
                        subject=(
                            f"[Gharart trust & safety] New case {report.case_id} "
                            f"({report.category.value})"
                        ),
                        text=(
                            f"Target: {report.target_url}\nCategory: {report.category.value}\n\n"
                            f"{report.description}\n"
                        ),
                        headers=(("X-Gharart-Case", report.case_id),),
                    )
                )
        self._send_after_commit(uow, messages)
