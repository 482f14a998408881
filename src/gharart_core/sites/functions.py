"""Function registry and the built-in site functions: ``redirect``, ``json``, ``form-capture``."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..shared.errors import FieldError
from .ports import FunctionCall, FunctionResult, SiteFunction

__all__ = [
    "BUILTINS",
    "DictFunctionRegistry",
    "FormCapture",
    "JsonFunction",
    "RedirectFunction",
    "default_registry",
]


def _controls(value: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def _is_url_or_path(value: object) -> bool:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > 2048
        or _controls(value)
        or " " in value
        or not value.isascii()
    ):
        return False
    if value.startswith("/") and not value.startswith("//"):
        return True
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _unknown_keys(config: Mapping[str, Any], allowed: set[str]) -> list[FieldError]:
    return [
        FieldError(k, "unknown_field", f"`{k}` is not a setting of this function") for k in config if k not in allowed
    ]


def _headers(value: Any) -> list[FieldError]:
    if not isinstance(value, dict):
        return [FieldError("headers", "invalid_type", "headers must be an object of strings")]
    errors = []
    for k, v in value.items():
        if (
            not isinstance(v, str)
            or not k
            or any(c in k for c in ' :()<>@,;\\"/[]?={}')
            or _controls(k)
            or _controls(v)
            or not k.isascii()
            or not v.isascii()
            or k.lower() in ("content-length", "transfer-encoding")
        ):
            errors.append(FieldError(f"headers.{k}", "invalid_header", "not an allowed header"))
    return errors


class RedirectFunction:
    methods = frozenset({"GET", "HEAD", "POST"})

    def validate(self, config: Any) -> list[FieldError]:
        if not isinstance(config, dict):
            return [FieldError("", "invalid_type", "config must be an object")]
        errors = _unknown_keys(config, {"location", "status"})
        if "location" not in config:
            errors.append(FieldError("location", "required", "location is required"))
        elif not _is_url_or_path(config["location"]):
            errors.append(FieldError("location", "invalid_url", "an http(s) URL or an absolute path"))
        status = config.get("status", 302)
        if type(status) is not int or status not in (301, 302, 303, 307, 308):
            errors.append(FieldError("status", "invalid_choice", "one of 301, 302, 303, 307, 308"))
        return errors

    async def __call__(self, call: FunctionCall) -> FunctionResult:
        cfg = call.binding.config
        return FunctionResult(int(cfg.get("status", 302)), (("Location", str(cfg["location"])),))


class JsonFunction:
    methods = frozenset({"GET", "HEAD", "POST"})

    def validate(self, config: Any) -> list[FieldError]:
        if not isinstance(config, dict):
            return [FieldError("", "invalid_type", "config must be an object")]
        errors = _unknown_keys(config, {"status", "headers", "body"})
        if "body" not in config:
            errors.append(FieldError("body", "required", "body is required"))
        status = config.get("status", 200)
        if type(status) is not int or not 200 <= status <= 599:
            errors.append(FieldError("status", "out_of_range", "an HTTP status between 200 and 599"))
        if "headers" in config:
            errors += _headers(config["headers"])
        return errors

    async def __call__(self, call: FunctionCall) -> FunctionResult:
        cfg = call.binding.config
        body = json.dumps(cfg.get("body"), separators=(",", ":")).encode()
        headers = tuple((str(k), str(v)) for k, v in dict(cfg.get("headers") or {}).items())
        return FunctionResult(int(cfg.get("status", 200)), headers, body, "application/json")


class FormCapture:
    """Stores form posts (urlencoded or JSON) as submissions of the binding."""

    methods = frozenset({"POST"})
    default_max_bytes = 64 * 1024

    def validate(self, config: Any) -> list[FieldError]:
        if config is None:
            return []
        if not isinstance(config, dict):
            return [FieldError("", "invalid_type", "config must be an object")]
        errors = _unknown_keys(config, {"redirectTo", "maxBytes"})
        if "redirectTo" in config and config["redirectTo"] is not None and not _is_url_or_path(config["redirectTo"]):
            errors.append(FieldError("redirectTo", "invalid_url", "an http(s) URL or an absolute path"))
        mb = config.get("maxBytes", self.default_max_bytes)
        if type(mb) is not int or not 1 <= mb <= 1024 * 1024:
            errors.append(FieldError("maxBytes", "out_of_range", "between 1 and 1048576"))
        return errors

    async def __call__(self, call: FunctionCall) -> FunctionResult:
        cfg = call.binding.config or {}
        max_bytes = int(cfg.get("maxBytes", self.default_max_bytes))
        if len(call.body) > max_bytes:
            return _json_result(413, {"code": "body_too_large", "maxBytes": max_bytes})
        ctype = next((v for k, v in call.headers if k.lower() == "content-type"), "")
        ctype = ctype.split(";")[0].strip().lower()
        try:
            if ctype == "application/json":
                data = json.loads(call.body.decode("utf-8"))
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                fields: dict[str, Any] = data
            else:
                pairs = urllib.parse.parse_qsl(call.body.decode("utf-8"), keep_blank_values=True)
                fields = {}
                for k, v in pairs:
                    fields[k] = (
                        [*fields[k], v] if isinstance(fields.get(k), list) else ([fields[k], v] if k in fields else v)
                    )
                ctype = ctype or "application/x-www-form-urlencoded"
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _json_result(400, {"code": "malformed_body"})
        redirect_to = cfg.get("redirectTo")
        if redirect_to:
            return FunctionResult(303, (("Location", str(redirect_to)),), submission={"ct": ctype, "f": fields})
        return FunctionResult(
            200,
            (),
            json.dumps({"status": "received"}).encode(),
            "application/json",
            submission={"ct": ctype, "f": fields},
        )


def _json_result(status: int, data: Any) -> FunctionResult:
    return FunctionResult(status, (), json.dumps(data).encode(), "application/json")


BUILTINS: dict[str, SiteFunction] = {
    "redirect": RedirectFunction(),
    "json": JsonFunction(),
    "form-capture": FormCapture(),
}


class DictFunctionRegistry:
    """A registry over a dict; extra functions are named Python callables."""

    def __init__(self, functions: Mapping[str, SiteFunction] | None = None) -> None:
        self._functions: dict[str, SiteFunction] = dict(BUILTINS)
        self._functions.update(functions or {})

    def register(self, name: str, fn: SiteFunction) -> None:
        self._functions[name] = fn

    def get(self, name: str) -> SiteFunction | None:
        return self._functions.get(name)

    def names(self) -> list[str]:
        return sorted(self._functions)


def default_registry() -> DictFunctionRegistry:
    return DictFunctionRegistry()
