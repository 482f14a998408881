"""Pure rules of the sites area: transition table, paths, archive safety (zip-slip corpora)."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.shared.errors import BadRequest, Conflict, ValidationFailed
from gharart_core.sites.archive import ArchiveLimits, extract_archive
from gharart_core.sites.functions import default_registry
from gharart_core.sites.model import TRANSITIONS, Deployment, DeploymentStatus, path_problem, transition
from gharart_core.sites.serving import clean_path
from gharart_core.sites.validation import parse_create, parse_mode_change

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ALLOWED = {
    ("pending", "deploying"),
    ("pending", "failed"),
    ("deploying", "deployed"),
    ("deploying", "failed"),
    ("deployed", "rolled_back"),
    ("rolled_back", "deployed"),
}


@given(st.sampled_from(list(DeploymentStatus)), st.sampled_from(list(DeploymentStatus)))
def test_transition_table_is_exactly_the_spec(a, b):
    dep = Deployment("dep_1", "acme", a, {}, "", None, T0)
    if (a.value, b.value) in ALLOWED:
        assert transition(dep, b).status is b
    else:
        with pytest.raises(Conflict) as ei:
            transition(dep, b)
        assert ei.value.code == "invalid_transition"
    assert {(x.value, y.value) for x, ys in TRANSITIONS.items() for y in ys} == ALLOWED


@pytest.mark.parametrize("path", ["/index.html", "../x", "a/../b", "a//b", "a\\b", "", "a/./b", "a/", "C:/x", "a\x00b"])
def test_bad_manifest_paths(path):
    assert path_problem(path) is not None
    with pytest.raises(ValidationFailed) as ei:
        parse_create({"manifest": {path: {"sha256": "a" * 64, "size": 1}}}, default_registry(), max_files=10)
    assert ei.value.code == "validation_failed"
    assert ei.value.errors[0].field == f"manifest.{path}"


@pytest.mark.parametrize("path", ["index.html", "blog/index.html", "a-b_c/d.e.f", "ünï/cödé.html"])
def test_good_manifest_paths(path):
    assert path_problem(path) is None


def test_manifest_field_errors_are_dotted():
    with pytest.raises(ValidationFailed) as ei:
        parse_create(
            {
                "manifest": {"a.html": {"sha256": "xyz", "size": -1}},
                "functionBindings": [{"route": "nope", "function": "json", "config": {}}],
            },
            default_registry(),
            max_files=10,
        )
    fields = {(e.field, e.code) for e in ei.value.errors}
    assert ("manifest.a.html.sha256", "invalid_digest") in fields
    assert ("manifest.a.html.size", "invalid_type") in fields
    assert ("functionBindings.0.route", "invalid_route") in fields
    assert ("functionBindings.0.config.body", "required") in fields


def test_mode_redirect_needs_url():
    with pytest.raises(ValidationFailed) as ei:
        parse_mode_change({"mode": "redirect", "expectedModeVersion": 1})
    assert [(e.field, e.code) for e in ei.value.errors] == [("redirectUrl", "required")]


@pytest.mark.parametrize("path", ["../etc/passwd", "a/../../b", "a\\b", "a/./b", "x\x00", "a//b", "..", "."])
def test_serving_paths_refused(path):
    with pytest.raises(BadRequest) as ei:
        clean_path(path)
    assert ei.value.code == "invalid_path"


@pytest.mark.parametrize("path,expected", [("", ""), ("/", ""), ("blog/", "blog/"), ("a/b.html", "a/b.html")])
def test_serving_paths_ok(path, expected):
    assert clean_path(path) == expected


# --------------------------------------------------------------------- archives


def _zip(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _tar(entries: list[tarfile.TarInfo | tuple[str, bytes]], gz: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tf.addfile(e)
            else:
                info = tarfile.TarInfo(e[0])
                info.size = len(e[1])
                tf.addfile(info, io.BytesIO(e[1]))
    return buf.getvalue()


ZIP_SLIP = [
    "../evil.html",
    "../../etc/passwd",
    "/abs.html",
    "a/../../b",
    "a\\..\\b",
    "C:/win.ini",
    "a//b",
    "x/./y",
    "\\\\server\\share",
]


@pytest.mark.parametrize("name", ZIP_SLIP)
def test_zip_slip_refused(name):
    data = _zip([("ok.html", b"ok", None), (name, b"evil", None)])
    with pytest.raises(ValidationFailed) as ei:
        extract_archive(data, "application/zip")
    assert ei.value.code == "unsafe_archive" and ei.value.extra["entry"] == name


def test_zip_symlink_refused():
    data = _zip([("link", b"/etc/passwd", stat.S_IFLNK | 0o777)])
    with pytest.raises(ValidationFailed) as ei:
        extract_archive(data, "application/zip")
    assert ei.value.code == "unsafe_archive" and ei.value.extra["entry"] == "link"


@pytest.mark.parametrize("name", ZIP_SLIP)
def test_tar_slip_refused(name):
    with pytest.raises(ValidationFailed) as ei:
        extract_archive(_tar([("ok.html", b"ok"), (name, b"x")]), "application/gzip")
    assert ei.value.code == "unsafe_archive" and ei.value.extra["entry"] == name


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_tar_links_and_devices_refused(kind):
    info = tarfile.TarInfo("dev")
    info.type = kind
    info.linkname = "/etc/passwd"
    with pytest.raises(ValidationFailed) as ei:
        extract_archive(_tar([info], gz=False), "application/x-tar")
    assert ei.value.code == "unsafe_archive" and ei.value.extra["entry"] == "dev"


def test_limits():
    files = [(f"f{i}.txt", b"x", None) for i in range(5)]
    with pytest.raises(ValidationFailed) as ei:
        extract_archive(_zip(files), "application/zip", ArchiveLimits(max_files=4))
    assert ei.value.code == "unsafe_archive"
    bomb = _zip([("big.txt", b"0" * 100_000, None)])
    with pytest.raises(ValidationFailed):
        extract_archive(bomb, "application/zip", ArchiveLimits(max_total_bytes=1000))


def test_archives_extract_with_dot_prefix():
    got = extract_archive(_tar([("./index.html", b"hi"), ("./blog/a.html", b"a")]), "application/gzip")
    assert got == [("index.html", b"hi"), ("blog/a.html", b"a")]
    got = extract_archive(_zip([("index.html", b"hi", None), ("css/", b"", None)]), "application/zip")
    assert got == [("index.html", b"hi")]


def test_garbage_archive_is_422():
    with pytest.raises(ValidationFailed) as ei:
        extract_archive(b"not a zip", "application/zip")
    assert ei.value.code == "unsafe_archive"


def test_messages_refuse_nul():
    with pytest.raises(ValidationFailed) as ei:
        parse_create({"manifest": {}, "message": "a\x00b"}, default_registry(), max_files=10)
    assert [(e.field, e.code) for e in ei.value.errors] == [("message", "invalid_character")]
    with pytest.raises(ValidationFailed):
        parse_mode_change({"mode": "redirect", "redirectUrl": "https://x.example/\x00", "expectedModeVersion": 1})
