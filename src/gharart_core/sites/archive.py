"""Safe extraction of deploy archives (zip, tar, tar.gz) into memory.

Nothing touches a filesystem: entries are read into ``(path, bytes)`` pairs after every
name and type has been checked, so a refused archive writes nothing anywhere.
"""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile

import attrs

from ..shared.errors import FieldError, UnsupportedMedia, ValidationFailed
from .model import path_problem

__all__ = ["ARCHIVE_TYPES", "ArchiveLimits", "extract_archive", "normalise_entry"]

ARCHIVE_TYPES = {
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/x-tar": "tar",
    "application/gzip": "tgz",
    "application/x-gzip": "tgz",
    "application/x-gtar": "tgz",
    "application/x-compressed-tar": "tgz",
}


@attrs.frozen
class ArchiveLimits:
    max_files: int = 10_000
    max_total_bytes: int = 512 * 1024 * 1024
    max_file_bytes: int = 100 * 1024 * 1024


def _unsafe(entry: str, why: str) -> ValidationFailed:
    return ValidationFailed(
        "unsafe_archive",
        f"Archive entry `{entry}` was refused: {why}.",
        errors=[FieldError("body", "unsafe_archive", f"{entry}: {why}")],
        extra={"entry": entry, "reason": why},
    )


def normalise_entry(name: str) -> str:
    """Strip the harmless ``./`` prefixes archivers add; refuse everything else that is not a
    plain relative path (the entry name is reported as written)."""
    path = name
    while path.startswith("./"):
        path = path[2:]
    problem = path_problem(path)
    if problem is not None:
        raise _unsafe(name, problem.replace("_", " "))
    return path


def _check_dir(name: str) -> None:
    path = name.rstrip("/")
    while path.startswith("./"):
        path = path[2:]
    if path not in ("", "."):
        normalise_entry(path if path == name.rstrip("/") else name.rstrip("/"))


def _limits_check(name: str, size: int, count: int, total: int, limits: ArchiveLimits) -> None:
    if count > limits.max_files:
        raise _unsafe(name, f"more than {limits.max_files} files")
    if size > limits.max_file_bytes:
        raise _unsafe(name, f"larger than {limits.max_file_bytes} bytes")
    if total > limits.max_total_bytes:
        raise _unsafe(name, f"archive expands past {limits.max_total_bytes} bytes")


def _zip(data: bytes, limits: ArchiveLimits) -> list[tuple[str, bytes]]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValidationFailed(
            "unsafe_archive",
            "The body is not a readable zip archive.",
            errors=[FieldError("body", "invalid_archive", str(exc)[:200])],
            extra={"entry": None, "reason": "unreadable"},
        ) from exc
    plan: list[tuple[zipfile.ZipInfo, str]] = []
    total = 0
    seen: set[str] = set()
    for info in infos:
        mode = (info.external_attr >> 16) & 0xFFFF
        if info.is_dir():
            _check_dir(info.filename)
            continue
        if stat.S_ISLNK(mode):
            raise _unsafe(info.filename, "symbolic link")
        if mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
            raise _unsafe(info.filename, "not a regular file")
        path = normalise_entry(info.filename)
        if path in seen:
            raise _unsafe(info.filename, "duplicate entry")
        seen.add(path)
        total += info.file_size
        _limits_check(info.filename, info.file_size, len(plan) + 1, total, limits)
        plan.append((info, path))
    out = []
    actual_total = 0
    for info, path in plan:
        try:
            with zf.open(info) as fh:
                body = fh.read(limits.max_file_bytes + 1)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise _unsafe(info.filename, "unreadable entry") from exc
        actual_total += len(body)
        # Declared sizes can lie (zip bombs): check what was actually inflated.
        _limits_check(info.filename, len(body), 1, actual_total, limits)
        out.append((path, body))
    return out


def _tar(data: bytes, compressed: bool, limits: ArchiveLimits) -> list[tuple[str, bytes]]:
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz" if compressed else "r:")  # noqa: SIM115 - closed with the BytesIO it reads
        members = tf.getmembers()
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise ValidationFailed(
            "unsafe_archive",
            "The body is not a readable tar archive.",
            errors=[FieldError("body", "invalid_archive", str(exc)[:200])],
            extra={"entry": None, "reason": "unreadable"},
        ) from exc
    plan: list[tuple[tarfile.TarInfo, str]] = []
    total = 0
    seen: set[str] = set()
    for m in members:
        if m.issym() or m.islnk():
            raise _unsafe(m.name, "symbolic or hard link")
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise _unsafe(m.name, "device or special file")
        if m.isdir():
            _check_dir(m.name)
            continue
        if not m.isfile():
            raise _unsafe(m.name, "not a regular file")
        path = normalise_entry(m.name)
        if path in seen:
            raise _unsafe(m.name, "duplicate entry")
        seen.add(path)
        total += m.size
        _limits_check(m.name, m.size, len(plan) + 1, total, limits)
        plan.append((m, path))
    out = []
    for m, path in plan:
        try:
            fh = tf.extractfile(m)
            body = fh.read() if fh is not None else b""
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise _unsafe(m.name, "unreadable entry") from exc
        out.append((path, body))
    return out


def extract_archive(data: bytes, media_type: str, limits: ArchiveLimits | None = None) -> list[tuple[str, bytes]]:
    """Return the archive's files as ``(relative path, bytes)``; raise 422 ``unsafe_archive``."""
    limits = limits or ArchiveLimits()
    kind = ARCHIVE_TYPES.get(media_type.split(";")[0].strip().lower())
    if kind is None:
        raise UnsupportedMedia(
            "unsupported_media_type", "Deploy bodies are JSON manifests or zip, tar or tar.gz archives."
        )
    if kind == "zip":
        return _zip(data, limits)
    if kind == "tgz" and not data.startswith(b"\x1f\x8b"):
        # Some clients label a plain tar as gzip; sniff rather than fail.
        return _tar(data, False, limits)
    return _tar(data, kind == "tgz", limits)
