"""Typed settings from the environment (and an optional ``.env``).

Names are fixed by SPEC §1 and A.1; every knob is documented in docs/configuration.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = ["RateLimit", "Settings", "int_setting", "parse_rate_limits", "presigned_download_ttl"]

GIB = 1024**3

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RATE_RE = re.compile(r"^\s*([a-z_]+)\s*=\s*(\d+(?:\.\d+)?)\s*/\s*([smhd])\s*(?::\s*(\d+))?\s*$")


@attrs.frozen
class RateLimit:
    """A token bucket: ``rate`` tokens per ``per`` seconds, holding at most ``burst``."""

    name: str
    rate: float
    per: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.rate / self.per


DEFAULT_RATE_LIMITS = ("api=100/s:500,magic_link=5/m:5,magic_link_email=5/m:5,content_report=10/m:10,"
                       "login_link=5/m:5")


def parse_rate_limits(text: str) -> dict[str, RateLimit]:
    out: dict[str, RateLimit] = {}
    for part in (p for p in text.split(",") if p.strip()):
        m = _RATE_RE.match(part)
        if not m:
            raise ValueError(f"bad GHARART_RATE_LIMITS entry {part!r}: expected class=rate/unit:burst")
        name, rate, unit, burst = m.groups()
        out[name] = RateLimit(name, float(rate), _UNITS[unit], int(burst) if burst else max(1, int(float(rate))))
    return out


def _bool(v: str) -> bool:
    return v.strip().lower() in {"1", "true", "yes", "on"}


def _seconds(name: str, v: str, *, allow_zero: bool) -> float:
    try:
        seconds = float(v)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {v!r}") from None
    if not (0 <= seconds < 86_400 and (seconds > 0 or allow_zero)):  # also refuses nan and inf
        raise ValueError(f"{name} must be between 0 and 86400 seconds, got {v!r}")
    return seconds


def _csv(v: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in v.split(",") if x.strip())


@attrs.frozen
class Settings:
    data_dir: Path = Path("./.gharart")
    database_url: str = ""
    object_store: str = ""
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_jwks: str | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    operators: tuple[str, ...] = ()
    site_domain: str = "localhost"
    fetch_allowlist: tuple[str, ...] = ()
    public_url: str | None = None
    rate_limits: Mapping[str, RateLimit] = attrs.field(factory=lambda: parse_rate_limits(DEFAULT_RATE_LIMITS))
    shared_throttles: bool = False
    daily_link_writes: int = 100_000
    daily_deployments: int = 1_000
    daily_file_bytes: int = 50 * GIB
    max_json_bytes: int = 2 * 1024 * 1024
    max_file_bytes: int = 5 * GIB
    file_retention_s: int = 7 * 86_400  # deleted files' bytes are purged after this
    metrics_token: str | None = None
    internal_domains: tuple[str, ...] = ()
    country_header: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    health_timeout_s: float = 5.0
    body_timeout_s: float = 30.0  # longest wait for the next request-body chunk; 0 turns the bound off
    header_timeout_s: float = 30.0  # `gharart serve`: longest wait for a request's headers (and between requests)
    import_sync_rows: int = 200_000
    replay_max_age_s: int = 86_400
    smtp_url: str | None = None
    mail_from: str = "Gharart <no-reply@gharart.localhost>"
    request_log_max: int = 100_000
    login_link_ttl_s: int = 900  # dashboard email sign-in links work this long after they are sent
    idempotency_lease_s: int = 300  # an in-flight Idempotency-Key is taken over after this (crashed worker)
    auto_migrate: bool = True
    extra: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gharart.db').resolve()}"

    @property
    def resolved_object_store(self) -> str:
        return self.object_store or f"file://{(self.data_dir / 'objects').resolve()}"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True, **overrides: Any) -> Settings:
        if env is None:
            if dotenv and Path(".env").is_file():
                from dotenv import dotenv_values

                file_values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
                env = {**file_values, **os.environ}
            else:
                env = dict(os.environ)
        g = lambda name, default=None: env.get(f"GHARART_{name}", default)  # noqa: E731
        kw: dict[str, Any] = {}
        if (v := g("DATA_DIR")):
            kw["data_dir"] = Path(v)
        for name, key in (("DATABASE_URL", "database_url"), ("OBJECT_STORE", "object_store"),
                          ("JWT_SECRET", "jwt_secret"), ("JWT_ISSUER", "jwt_issuer"),
                          ("JWT_AUDIENCE", "jwt_audience"), ("SITE_DOMAIN", "site_domain"),
                          ("PUBLIC_URL", "public_url"), ("METRICS_TOKEN", "metrics_token"),
                          ("COUNTRY_HEADER", "country_header"), ("SMTP_URL", "smtp_url"),
                          ("MAIL_FROM", "mail_from")):
            if (v := g(name)):
                kw[key] = v
        if (v := g("JWT_PUBLIC_KEY")):
            is_path = not v.lstrip().startswith("-----") and Path(v).is_file()
            kw["jwt_public_key"] = Path(v).read_text() if is_path else v
        if (v := g("JWT_JWKS")):
            # an https URL (fetched and cached), a JSON document, or a path to one
            is_path = not v.lstrip().startswith(("{", "http://", "https://")) and Path(v).is_file()
            kw["jwt_jwks"] = Path(v).read_text() if is_path else v.strip()
        if (v := g("JWT_ALGORITHMS")):
            kw["jwt_algorithms"] = _csv(v)
        elif "jwt_public_key" in kw or "jwt_jwks" in kw:
            kw["jwt_algorithms"] = ("RS256", "ES256") + (("HS256",) if g("JWT_SECRET") else ())
        for name, key in (("OPERATORS", "operators"), ("FETCH_ALLOWLIST", "fetch_allowlist"),
                          ("INTERNAL_DOMAINS", "internal_domains"), ("TRUSTED_PROXIES", "trusted_proxies")):
            if (v := g(name)) is not None:
                kw[key] = _csv(v)
        for name, key in (("DAILY_LINK_WRITES", "daily_link_writes"), ("DAILY_DEPLOYMENTS", "daily_deployments"),
                          ("DAILY_FILE_BYTES", "daily_file_bytes"), ("MAX_JSON_BYTES", "max_json_bytes"),
                          ("MAX_FILE_BYTES", "max_file_bytes"), ("IMPORT_SYNC_ROWS", "import_sync_rows"),
                          ("REPLAY_MAX_AGE_S", "replay_max_age_s"), ("REQUEST_LOG_MAX", "request_log_max"),
                          ("FILE_RETENTION_S", "file_retention_s"), ("IDEMPOTENCY_LEASE_S", "idempotency_lease_s"),
                          ("LOGIN_LINK_TTL_S", "login_link_ttl_s")):
            if (v := g(name)):
                kw[key] = int(v)
        if (v := g("HEALTH_TIMEOUT_S")):
            kw["health_timeout_s"] = float(v)
        for name, key in (("BODY_TIMEOUT_S", "body_timeout_s"), ("HEADER_TIMEOUT_S", "header_timeout_s")):
            if (v := g(name)):
                kw[key] = _seconds(f"GHARART_{name}", v, allow_zero=key == "body_timeout_s")
        if (v := g("RATE_LIMITS")):
            limits = parse_rate_limits(DEFAULT_RATE_LIMITS)
            limits.update(parse_rate_limits(v))
            kw["rate_limits"] = limits
        if (v := g("SHARED_THROTTLES")):
            kw["shared_throttles"] = _bool(v)
        if (v := g("AUTO_MIGRATE")):
            kw["auto_migrate"] = _bool(v)
        kw["extra"] = {k: v for k, v in env.items() if k.startswith("GHARART_")}
        kw.update(overrides)
        return cls(**kw)


def int_setting(extra: Mapping[str, str], name: str, default: int) -> int:
    """A whole-number setting read from ``Settings.extra`` (e.g. ``GHARART_HEALTH_PER_HOST``):
    empty or unset is the default; anything but ASCII digits is an error naming the setting."""
    raw = (extra.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"{name} must be a whole number, got {raw!r}")
    return int(raw)


def presigned_download_ttl(extra: Mapping[str, str]) -> int | None:
    """``GHARART_S3_PRESIGNED_DOWNLOADS`` on: allowed public downloads are redirected to a presigned
    URL valid ``GHARART_S3_PRESIGN_TTL_S`` seconds (1..604800, default 300); off: ``None``."""
    if not _bool(extra.get("GHARART_S3_PRESIGNED_DOWNLOADS") or ""):
        return None
    ttl = int_setting(extra, "GHARART_S3_PRESIGN_TTL_S", 300)
    if not 1 <= ttl <= 604_800:
        raise ValueError(f"GHARART_S3_PRESIGN_TTL_S must be 1..604800 seconds, got {ttl}")
    return ttl
