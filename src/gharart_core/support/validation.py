"""Validation of support bodies (already-parsed JSON) into typed inputs.

Field codes: ``required`` (absent, null or blank), ``invalid_type``, ``too_long``,
``invalid_choice``, ``invalid_handle``, ``invalid_email``, ``too_many``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..identity.model import HANDLE_RE
from ..shared.errors import FieldError, ValidationFailed
from .model import ContentCategory, Priority, Status

__all__ = [
    "LIMITS",
    "ContentReportInput",
    "EscalationInput",
    "EscalationPatch",
    "ReportInput",
    "parse_content_report",
    "parse_escalation",
    "parse_escalation_patch",
    "parse_report",
]

LIMITS = {
    "summary": 200,
    "details": 20_000,
    "sessionId": 200,
    "requestId": 128,
    "reproArtifact": 500,
    "note": 5_000,
    "assignee": 254,
    "description": 5_000,
    "targetUrl": 2_048,
    "reporterEmail": 254,
    "reportIds": 100,
}
_UNSET: Any = object()


@attrs.frozen
class ReportInput:
    summary: str
    details: str
    handle: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    repro_artifact: str | None = None


@attrs.frozen
class EscalationInput:
    report_ids: tuple[str, ...]
    assignee: str | None = None
    priority: Priority | None = None
    note: str | None = None


@attrs.frozen
class EscalationPatch:
    status: Status | None = None
    assignee: str | None = _UNSET
    priority: Priority | None = None
    note: str | None = None
    expected_version: int | None = None

    @property
    def assignee_given(self) -> bool:
        return self.assignee is not _UNSET


@attrs.frozen
class ContentReportInput:
    category: ContentCategory
    target_url: str
    description: str
    reporter_email: str | None = None


class _Checker:
    def __init__(self, body: object) -> None:
        self.errors: list[FieldError] = []
        if not isinstance(body, Mapping):
            raise ValidationFailed(
                detail="The body must be a JSON object.",
                errors=[FieldError("body", "invalid_type", "expected a JSON object")],
            )
        self.body: Mapping[str, Any] = body

    def text(self, name: str, *, required: bool, limit: int | None = None) -> str | None:
        value = self.body.get(name)
        limit = limit or LIMITS[name]
        if value is None:
            if required:
                self.errors.append(FieldError(name, "required", f"`{name}` is required"))
            return None
        if not isinstance(value, str):
            self.errors.append(FieldError(name, "invalid_type", f"`{name}` must be a string"))
            return None
        if required and not value.strip():
            self.errors.append(FieldError(name, "required", f"`{name}` must not be blank"))
            return None
        if len(value) > limit:
            self.errors.append(FieldError(name, "too_long", f"`{name}` is at most {limit} characters"))
            return None
        if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
            self.errors.append(FieldError(name, "invalid_characters", f"`{name}` has control characters"))
            return None
        stripped = value.strip()
        return stripped or None

    def choice(self, name: str, enum_cls: Any, *, required: bool) -> Any:
        value = self.body.get(name)
        if value is None:
            if required:
                self.errors.append(FieldError(name, "required", f"`{name}` is required"))
            return None
        try:
            return enum_cls(value)
        except (ValueError, TypeError):
            choices = ", ".join(m.value for m in enum_cls)
            self.errors.append(FieldError(name, "invalid_choice", f"`{name}` is one of {choices}"))
            return None

    def email(self, name: str) -> str | None:
        value = self.text(name, required=False)
        if value is None:
            return None
        local, _, domain = value.partition("@")
        if (
            not local
            or "." not in domain.strip(".")
            or "@" in domain
            or ".." in domain
            or any(c.isspace() for c in value)
        ):
            self.errors.append(FieldError(name, "invalid_email", "not an email address"))
            return None
        return f"{local}@{domain.lower()}"

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(detail="The request body failed validation.", errors=self.errors)


def parse_report(body: object) -> ReportInput:
    c = _Checker(body)
    summary = c.text("summary", required=True)
    details = c.text("details", required=True)
    handle = c.text("handle", required=False, limit=40)
    if handle is not None and not HANDLE_RE.match(handle):
        c.errors.append(FieldError("handle", "invalid_handle", "does not match the handle pattern"))
    session_id = c.text("sessionId", required=False)
    request_id = c.text("requestId", required=False)
    artifact = c.text("reproArtifact", required=False)
    c.done()
    assert summary is not None and details is not None
    return ReportInput(summary, details, handle, session_id, request_id, artifact)


def _report_ids(c: _Checker) -> tuple[str, ...]:
    raw = c.body.get("reportIds")
    if raw is None:
        c.errors.append(FieldError("reportIds", "required", "`reportIds` is required"))
        return ()
    if not isinstance(raw, list):
        c.errors.append(FieldError("reportIds", "invalid_type", "`reportIds` must be a list of report ids"))
        return ()
    if not raw:
        c.errors.append(FieldError("reportIds", "required", "name at least one report"))
        return ()
    if len(raw) > LIMITS["reportIds"]:
        c.errors.append(FieldError("reportIds", "too_many", f"at most {LIMITS['reportIds']} reports"))
        return ()
    out: list[str] = []
    for i, rid in enumerate(raw):
        if not isinstance(rid, str) or not rid or len(rid) > 64:
            c.errors.append(FieldError(f"reportIds.{i}", "invalid_type", "a report id string"))
        elif rid not in out:
            out.append(rid)
    return tuple(out)


def parse_escalation(body: object) -> EscalationInput:
    c = _Checker(body)
    report_ids = _report_ids(c)
    assignee = c.text("assignee", required=False)
    priority = c.choice("priority", Priority, required=False)
    note = c.text("note", required=False)
    c.done()
    return EscalationInput(report_ids, assignee, priority, note)


def parse_escalation_patch(body: object) -> EscalationPatch:
    c = _Checker(body)
    status = c.choice("status", Status, required=False)
    assignee: Any = _UNSET
    if "assignee" in c.body:
        assignee = c.text("assignee", required=False)
    priority = c.choice("priority", Priority, required=False)
    note = c.text("note", required=False)
    expected = c.body.get("expectedVersion")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < 1):
        c.errors.append(FieldError("expectedVersion", "invalid_type", "a positive integer"))
        expected = None
    if status is None and assignee is _UNSET and priority is None and note is None and not c.errors:
        c.errors.append(
            FieldError("status", "required", "change at least one of status, assignee, priority or note")
        )
    c.done()
    return EscalationPatch(status, assignee, priority, note, expected)


def parse_content_report(body: object) -> ContentReportInput:
    c = _Checker(body)
    category = c.choice("category", ContentCategory, required=True)
    target = c.text("targetUrl", required=True)
    description = c.text("description", required=True)
    email = c.email("reporterEmail")
    c.done()
    assert category is not None and target is not None and description is not None
    return ContentReportInput(category, target, description, email)
