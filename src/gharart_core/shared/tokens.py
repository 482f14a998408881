"""Token-source port and hashing helpers for bearer secrets (PATs, magic links)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Protocol

__all__ = ["SecretsTokenSource", "TokenSource", "constant_time_equals", "sha256_hex"]


class TokenSource(Protocol):
    def token(self, nbytes: int = 32) -> str:
        """Return a URL-safe random string carrying ``nbytes`` bytes (>= 16) of entropy."""
        ...


class SecretsTokenSource:
    def token(self, nbytes: int = 32) -> str:
        return secrets.token_urlsafe(max(16, nbytes))


def sha256_hex(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
