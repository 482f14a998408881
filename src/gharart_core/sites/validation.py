"""Pure validation of the sites request bodies into domain values (422 with dotted fields)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs
import idna

from ..shared.errors import BadRequest, FieldError, ValidationFailed
from .model import MODES, ManifestEntry, content_type_for, is_sha256, path_problem
from .ports import FunctionRegistry

__all__ = [
    "BindingSpec",
    "ModeChange",
    "SitePatch",
    "normalise_hostname",
    "parse_binding",
    "parse_create",
    "parse_mode_change",
    "parse_site_patch",
    "require_object",
    "validate_route",
]

_MAX_MESSAGE = 1000
_CTYPE_RE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+\"-]+)*\Z")


@attrs.frozen
class BindingSpec:
    route: str
    function: str
    config: Mapping[str, Any]
    deployment_id: str | None = None


@attrs.frozen
class ModeChange:
    mode: str
    expected_mode_version: int | None
    message: str | None
    redirect_url: str | None


@attrs.frozen
class SitePatch:
    require_replay_gate: bool | None = None
    hostnames: tuple[str, ...] | None = None
    expected_mode_version: int | None = None
    # read-only fields of the site answer sent back: accepted only unchanged
    echoed: tuple[tuple[str, Any], ...] = ()


# fields of the site answer a client may send back unchanged (GET, edit, PATCH): ignored
_SITE_READ_ONLY = ("handle", "mode", "modeVersion", "liveDeploymentId", "redirectUrl")


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed(
            detail="The body must be a JSON object.",
            errors=[FieldError("body", "invalid_type", "expected a JSON object")],
        )
    return body


def _fail(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(detail="; ".join(f"{e.field}: {e.code}" for e in errors[:5]), errors=errors)


def _message(body: Mapping[str, Any], errors: list[FieldError], field: str = "message") -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field, "invalid_type", "expected a string"))
        return None
    if len(value) > _MAX_MESSAGE:
        errors.append(FieldError(field, "too_long", f"at most {_MAX_MESSAGE} characters"))
    elif has_control_chars(value):
        errors.append(FieldError(field, "invalid_character", "no control characters"))
    return value


def has_control_chars(value: str) -> bool:
    """NUL and other C0 controls (tab and newlines allowed): PostgreSQL text cannot hold NUL."""
    return any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in value)


def check_message(value: Any, field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    _message({field: value}, errors, field)
    return errors


def validate_route(route: Any, field: str = "route") -> list[FieldError]:
    if not isinstance(route, str) or not route:
        return [FieldError(field, "required", "route is required")]
    if len(route) > 512:
        return [FieldError(field, "too_long", "at most 512 characters")]
    if not route.startswith("/"):
        return [FieldError(field, "invalid_route", "routes start with /")]
    inner = route[1:].rstrip("/")
    if inner and path_problem(inner) is not None:
        return [FieldError(field, "invalid_route", path_problem(inner) or "invalid")]
    if any(c in route for c in "?#%"):
        return [FieldError(field, "invalid_route", "no query, fragment or escapes")]
    return []


def _binding(raw: Any, prefix: str, registry: FunctionRegistry, errors: list[FieldError]) -> BindingSpec | None:
    if not isinstance(raw, dict):
        errors.append(FieldError(prefix.rstrip("."), "invalid_type", "expected an object"))
        return None
    n = len(errors)
    errors += validate_route(raw.get("route"), prefix + "route")
    fn_name = raw.get("function")
    config = raw.get("config", {} if fn_name == "form-capture" else None)
    if not isinstance(fn_name, str) or not fn_name:
        errors.append(FieldError(prefix + "function", "required", "function is required"))
    else:
        fn = registry.get(fn_name)
        if fn is None:
            errors.append(
                FieldError(prefix + "function", "unknown_function", f"`{fn_name}` is not a registered function")
            )
        else:
            if config is None:
                errors.append(FieldError(prefix + "config", "required", "config is required"))
            else:
                for e in fn.validate(config):
                    errors.append(FieldError(f"{prefix}config{'.' + e.field if e.field else ''}", e.code, e.message))
    if len(errors) > n:
        return None
    return BindingSpec(raw["route"].rstrip("/") or "/", str(fn_name), dict(config or {}))


def _raise_bindings(errors: list[FieldError]) -> None:
    if errors and all(e.code == "unknown_function" for e in errors):
        raise ValidationFailed("unknown_function", errors[0].message, errors=errors)
    _fail(errors)


def parse_binding(body: Any, registry: FunctionRegistry) -> BindingSpec:
    body = require_object(body)
    errors: list[FieldError] = []
    dep_id = body.get("deploymentId")
    if dep_id is not None and not isinstance(dep_id, str):
        errors.append(FieldError("deploymentId", "invalid_type", "expected a string"))
    spec = _binding(body, "", registry, errors)
    _raise_bindings(errors)
    assert spec is not None
    return attrs.evolve(spec, deployment_id=dep_id)


def parse_create(
    body: Any, registry: FunctionRegistry, *, max_files: int, max_blob_bytes: int | None = None
) -> tuple[dict[str, ManifestEntry], str | None, list[BindingSpec]]:
    body = require_object(body)
    errors: list[FieldError] = []
    manifest_raw = body.get("manifest")
    manifest: dict[str, ManifestEntry] = {}
    if manifest_raw is None:
        errors.append(FieldError("manifest", "required", "manifest is required"))
    elif not isinstance(manifest_raw, dict):
        errors.append(FieldError("manifest", "invalid_type", "expected an object of path -> file"))
    elif len(manifest_raw) > max_files:
        errors.append(FieldError("manifest", "too_many_files", f"at most {max_files} files"))
    else:
        for path, entry in manifest_raw.items():
            f = f"manifest.{path}"
            problem = path_problem(path)
            if problem is not None:
                errors.append(FieldError(f, "invalid_path", f"`{path}`: {problem.replace('_', ' ')}"))
                continue
            if isinstance(entry, str):
                entry = {"sha256": entry}
            if not isinstance(entry, dict):
                errors.append(FieldError(f, "invalid_type", "expected {sha256, size, contentType}"))
                continue
            sha = entry.get("sha256")
            sha = sha.lower() if isinstance(sha, str) else sha
            if sha is None:
                errors.append(FieldError(f + ".sha256", "required", "sha256 is required"))
            elif not is_sha256(sha):
                errors.append(FieldError(f + ".sha256", "invalid_digest", "64 lowercase hex characters"))
            size = entry.get("size", 0)
            if type(size) is not int or size < 0:
                errors.append(FieldError(f + ".size", "invalid_type", "a non-negative integer"))
            elif max_blob_bytes is not None and size > max_blob_bytes:
                errors.append(FieldError(f + ".size", "too_large", f"a file is at most {max_blob_bytes} bytes"))
            ctype = entry.get("contentType")
            if ctype is not None and (not isinstance(ctype, str) or len(ctype) > 200 or not _CTYPE_RE.match(ctype)):
                errors.append(FieldError(f + ".contentType", "invalid_content_type", "a media type"))
            if len(errors) == 0:
                manifest[path] = ManifestEntry(str(sha), size, ctype or content_type_for(path))
    message = _message(body, errors)
    bindings: list[BindingSpec] = []
    raw_b = body.get("functionBindings")
    if raw_b is not None:
        if not isinstance(raw_b, list):
            errors.append(FieldError("functionBindings", "invalid_type", "expected a list"))
        else:
            routes: set[str] = set()
            for i, rb in enumerate(raw_b):
                spec = _binding(rb, f"functionBindings.{i}.", registry, errors)
                if spec is not None:
                    if spec.route in routes:
                        errors.append(FieldError(f"functionBindings.{i}.route", "duplicate", "route bound twice"))
                    routes.add(spec.route)
                    bindings.append(spec)
    _raise_bindings(errors)
    return manifest, message, bindings


def _redirect_url(value: Any, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        errors.append(FieldError("redirectUrl", "invalid_url", "an absolute http(s) URL"))
        return None
    parts = urllib.parse.urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or has_control_chars(value)
        or " " in value
        or any(c in value for c in "\r\n\t")
    ):
        errors.append(FieldError("redirectUrl", "invalid_url", "an absolute http(s) URL"))
        return None
    return value


def parse_mode_change(body: Any) -> ModeChange:
    body = require_object(body)
    errors: list[FieldError] = []
    mode = body.get("mode")
    if mode is None:
        errors.append(FieldError("mode", "required", "mode is required"))
    elif mode not in MODES:
        errors.append(FieldError("mode", "invalid_choice", "one of " + ", ".join(MODES)))
    expected = body.get("expectedModeVersion")
    if expected is not None and (type(expected) is not int or expected < 0):
        errors.append(FieldError("expectedModeVersion", "invalid_type", "an integer"))
    message = _message(body, errors)
    url = _redirect_url(body.get("redirectUrl"), errors)
    if mode == "redirect" and body.get("redirectUrl") is None:
        errors.append(FieldError("redirectUrl", "required", "redirect mode needs redirectUrl"))
    _fail(errors)
    return ModeChange(mode, expected, message, url)


def normalise_hostname(value: Any) -> str | None:
    """Lower-case IDNA (A-label) hostname, or None when ``value`` is not a hostname."""
    if not isinstance(value, str) or not value or len(value) > 253:
        return None
    host = value.strip().rstrip(".").lower()
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(re.match(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", lb) for lb in labels):
        return None
    if re.match(r"^[0-9.]+$", ascii_host):
        return None
    return ascii_host


def parse_site_patch(body: Any) -> SitePatch:
    body = require_object(body)
    errors: list[FieldError] = []
    for key in body:
        if key not in ("requireReplayGate", "hostnames", "expectedModeVersion", *_SITE_READ_ONLY):
            errors.append(FieldError(key, "unknown_field", f"`{key}` cannot be changed here"))
    expected = body.get("expectedModeVersion")
    if expected is not None and (type(expected) is not int or expected < 0):
        errors.append(FieldError("expectedModeVersion", "invalid_type", "an integer"))
    gate = body.get("requireReplayGate")
    if "requireReplayGate" in body and type(gate) is not bool:
        errors.append(FieldError("requireReplayGate", "invalid_type", "a boolean"))
    hosts: tuple[str, ...] | None = None
    if "hostnames" in body:
        raw = body["hostnames"]
        if not isinstance(raw, list) or len(raw) > 20:
            errors.append(FieldError("hostnames", "invalid_type", "a list of at most 20 hostnames"))
        else:
            out: list[str] = []
            for i, h in enumerate(raw):
                name = h.get("hostname") if isinstance(h, dict) else h
                norm = normalise_hostname(name)
                if norm is None:
                    errors.append(FieldError(f"hostnames.{i}", "invalid_hostname", "not a hostname"))
                elif norm not in out:
                    out.append(norm)
            hosts = tuple(out)
    _fail(errors)
    echoed = tuple((k, body[k]) for k in _SITE_READ_ONLY if k in body)
    return SitePatch(gate if "requireReplayGate" in body else None, hosts,
                     expected if type(expected) is int else None, echoed)


def bad_body() -> BadRequest:
    return BadRequest("malformed_body", "The body could not be parsed.")
