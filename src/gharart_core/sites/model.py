"""Sites entities, the deployment state machine and the pure validation rules (SPEC §5, A.3)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ..shared.errors import Conflict, FieldError

__all__ = [
    "DEFAULT_CONTENT_TYPES",
    "MODES",
    "TRANSITIONS",
    "Deployment",
    "DeploymentStatus",
    "FunctionBinding",
    "Hostname",
    "ManifestEntry",
    "ServedPage",
    "Site",
    "Submission",
    "content_type_for",
    "is_sha256",
    "path_problem",
    "transition",
]

_SHA_RE = re.compile(r"^[0-9a-f]{64}\Z")
MODES = ("live", "maintenance", "private", "redirect")


class DeploymentStatus(enum.Enum):
    """Statuses shared with the IGNY8 deployment records."""

    PENDING = "pending"
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


_S = DeploymentStatus
TRANSITIONS: Mapping[DeploymentStatus, frozenset[DeploymentStatus]] = {
    _S.PENDING: frozenset({_S.DEPLOYING, _S.FAILED}),
    _S.DEPLOYING: frozenset({_S.DEPLOYED, _S.FAILED}),
    # The live pointer moves between deployed releases: one taken off live by a rollback
    # becomes rolled_back, and promoting it again brings it back to deployed.
    _S.DEPLOYED: frozenset({_S.ROLLED_BACK}),
    _S.ROLLED_BACK: frozenset({_S.DEPLOYED}),
    _S.FAILED: frozenset(),
}
SERVABLE = frozenset({_S.DEPLOYED, _S.ROLLED_BACK})


@attrs.frozen
class ManifestEntry:
    sha256: str
    size: int
    content_type: str


@attrs.frozen
class Deployment:
    """One release: files (manifest) + function bindings, immutable once deployed."""

    id: str
    handle: str
    status: DeploymentStatus
    manifest: Mapping[str, ManifestEntry]
    message: str
    created_by: str | None
    created_at: datetime
    missing: frozenset[str] = frozenset()  # digests still to upload
    deployed_at: datetime | None = None
    failed_reason: str | None = None
    previewed_at: datetime | None = None
    source: str = "manifest"  # manifest | archive | clone

    def missing_paths(self) -> list[tuple[str, str]]:
        return sorted((p, e.sha256) for p, e in self.manifest.items() if e.sha256 in self.missing)


@attrs.frozen
class FunctionBinding:
    id: str
    handle: str
    deployment_id: str
    route: str
    function: str
    config: Mapping[str, Any]
    created_at: datetime


@attrs.frozen
class Submission:
    id: str
    handle: str
    binding_id: str
    deployment_id: str
    received_at: datetime
    content_type: str
    fields: Mapping[str, Any]


@attrs.frozen
class Hostname:
    hostname: str
    kind: str  # default | custom
    verified: bool
    verification_token: str | None = None


@attrs.frozen
class Site:
    """A handle's site. ``version`` moves on every change (cache validator); ``mode_version``
    only on mode changes (the API's optimistic-lock token)."""

    handle: str
    mode: str = "live"
    mode_version: int = 1
    live_deployment_id: str | None = None
    require_replay_gate: bool = False
    redirect_url: str | None = None
    custom_hostnames: tuple[Hostname, ...] = ()
    version: int = 0  # 0 = never stored
    mode_message: str | None = None
    updated_at: datetime | None = None


@attrs.frozen
class ServedPage:
    """What a profile or preview request answers, as a domain value."""

    status: int
    content_type: str
    body: bytes
    deployment_id: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    etag: str | None = None
    sha256: str | None = None
    path: str | None = None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


def transition(dep: Deployment, to: DeploymentStatus, **changes: Any) -> Deployment:
    """Apply one transition of the table or raise 409 ``invalid_transition``."""
    if to not in TRANSITIONS[dep.status]:
        raise Conflict(
            "invalid_transition",
            f"Deployment `{dep.id}` cannot move from `{dep.status.value}` to `{to.value}`.",
            extra={"status": dep.status.value, "target": to.value},
        )
    return attrs.evolve(dep, status=to, **changes)


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and bool(_SHA_RE.match(value))


def path_problem(path: object) -> str | None:
    """Why ``path`` is not a safe relative manifest path (None when it is)."""
    if not isinstance(path, str) or path == "":
        return "required"
    if len(path) > 1024:
        return "too_long"
    if path.startswith("/"):
        return "absolute_path"
    if "\\" in path:
        return "backslash"
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return "control_character"
    segments = path.split("/")
    if any(s == "" for s in segments):
        return "empty_segment"
    if any(s in ("..", ".") for s in segments):
        return "traversal"
    if re.match(r"^[A-Za-z]:", path):
        return "absolute_path"
    return None


DEFAULT_CONTENT_TYPES: Mapping[str, str] = {
    "html": "text/html; charset=utf-8",
    "htm": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "xml": "application/xml",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "ico": "image/x-icon",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "pdf": "application/pdf",
    "map": "application/json",
    "webmanifest": "application/manifest+json",
    "wasm": "application/wasm",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}


def content_type_for(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return DEFAULT_CONTENT_TYPES.get(ext, "application/octet-stream")


def field_error(field: str, code: str, message: str = "") -> FieldError:
    return FieldError(field, code, message or code.replace("_", " "))
