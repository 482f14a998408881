"""Prefixed, lexicographically sortable identifiers (prefix + ULID)."""

from __future__ import annotations

import os
import random
import re
import threading
import time
from typing import Protocol

__all__ = ["PREFIXES", "IdGenerator", "SequentialIds", "UlidIds", "has_prefix", "is_valid_id"]

PREFIXES = frozenset(
    "acc usr lnk dep fil shr pg run snp rpt esc cr fb req pat aud hst pub".split()
)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_RE = re.compile(r"^([a-z]{2,4})_([0-9A-HJKMNP-TV-Z]{26})\Z")


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str: ...


_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # two characters for each of 1,024 values


def _encode(value: int, length: int) -> str:
    """``value`` as ``length`` Crockford base32 characters, ten bits (one table lookup) at a time."""
    head = ""
    if length & 1:
        head = _CROCKFORD[(value >> (5 * (length - 1))) & 31]
        length -= 1
    return head + "".join([_PAIRS[(value >> shift) & 1023] for shift in range(5 * length - 10, -1, -10)])


def _encode_run(head: str, first: int, n: int) -> list[str]:
    """``[head + _encode(first + i, 26) for i in range(n)]``, encoding the 24 leading characters
    once per 1,024 consecutive values."""
    out: list[str] = []
    v, end = first, first + n
    while v < end:
        low = v & 1023
        take = min(1024 - low, end - v)
        stem = head + _encode(v >> 10, 24)
        out.extend([stem + pair for pair in _PAIRS[low:low + take]])
        v += take
    return out


class UlidIds:
    """Monotonic ULIDs: ids minted by one process sort in creation order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_rand = 0
        # The random part only has to make collisions across processes unlikely, not be secret
        # (secrets come from the token source): a PRNG seeded from the OS saves a system call per
        # id, and is reseeded in a forked child so two workers never share a sequence.
        self._rng = random.Random(os.urandom(16))
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._rng = random.Random(os.urandom(16))

    def new(self, prefix: str) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:
                ms = self._last_ms
                self._last_rand += 1
                rand = self._last_rand
            else:
                rand = self._rng.getrandbits(79)  # 80 bits, top one clear to leave room to increment
                self._last_rand = rand
                self._last_ms = ms
        return f"{prefix}_{_encode(ms, 10)}{_encode(rand, 16)}"

    def new_many(self, prefix: str, n: int) -> list[str]:
        """``n`` ids, the same as ``n`` calls of :meth:`new` within one millisecond (bulk imports)."""
        if n <= 0:
            return []
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:
                ms = self._last_ms
                first = self._last_rand + 1
            else:
                first = self._rng.getrandbits(79)
                self._last_ms = ms
            self._last_rand = first + n - 1
        return _encode_run(prefix + "_", ms << 80 | first, n)


class SequentialIds:
    """Deterministic ids for tests and the harness: still 26 Crockford characters."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            self._n += 1
            return f"{prefix}_{_encode(self._n, 26)}"


def is_valid_id(value: object, prefix: str | None = None) -> bool:
    if not isinstance(value, str):
        return False
    m = _ID_RE.match(value)
    if m is None:
        return False
    return prefix is None or m.group(1) == prefix


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_")
