"""The ArtifactDirectory adapter over other areas' repositories (stand-ins with their method names)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from entrypoints.support_directory import RepositoryArtifactDirectory
from gharart_core.support.model import ContentTarget

U = "01J9Z3K4M5N6P7Q8R9S0T1V2W3"
DEP, RUN_H, FIL, SHR, PG = (f"{p}_{U}" for p in ("dep", "run", "fil", "shr", "pg"))
RUN_I = f"run_1{U[1:]}"
RUN_R = f"run_2{U[1:]}"
PRIVATE = f"fil_1{U[1:]}"


class Scoped:
    """A repository whose methods take (handle, key) and only answer for that handle."""

    def __init__(self, **tables: dict[Any, Any]) -> None:
        self._tables = tables

    def __getattr__(self, name: str) -> Any:
        tables = self.__dict__.get("_tables", {})
        if name not in tables:
            raise AttributeError(name)
        table = tables[name]

        async def lookup(*args: Any) -> Any:
            if len(args) == 1:
                return table.get(args[0])
            return table.get(tuple(args))

        return lookup


def obj(**kw: Any) -> SimpleNamespace:
    return SimpleNamespace(**kw)


def uow() -> Any:
    link = obj(id=f"lnk_{U}", handle="acme", slug="summer", deleted_at=None)
    gone = obj(id="lnk_x", handle="acme", slug="old", deleted_at="yesterday")
    return SimpleNamespace(
        links=Scoped(get={("acme", "summer"): link, ("acme", "old"): gone},
                     get_health_run={("acme", RUN_H): obj(id=RUN_H, handle="acme")},
                     get_import_run={("acme", RUN_I): obj(id=RUN_I, handle="acme")}),
        sites=Scoped(get_deployment={("acme", DEP): obj(handle="acme", status="failed")},
                     hostname_owner={"shop.example": ("acme", True), "pending.example": ("acme", False)}),
        intel=Scoped(find_run={RUN_R: obj(handle="acme", kind="replay")}),
        files=Scoped(get={FIL: obj(handle="acme", deleted_at=None, mode="public"),
                          PRIVATE: obj(handle="acme", deleted_at=None, mode="private")},
                     get_share={SHR: obj(file_id=FIL, handle="acme")}),
        docs=Scoped(get_page={("acme", "handbook/intro"): obj(handle="acme")},
                    all_pages={"acme": [obj(id=PG, handle="acme")]}),
        identity=SimpleNamespace(get_handle=_handle),
    )


async def _handle(name: str) -> Any:
    return obj(handle=name) if name == "acme" else None


async def test_ids_resolve_to_their_owner_and_kind() -> None:
    d, u = RepositoryArtifactDirectory(), uow()
    dep = await d.owner_of(u, DEP, handles=["globex", "acme"])
    assert (dep.kind, dep.handle) == ("deployment", "acme")
    assert await d.owner_of(u, DEP, handles=["globex"]) is None  # not on the reporter's handles
    assert (await d.owner_of(u, RUN_H, handles=["acme"])).subkind == "health_check"
    assert (await d.owner_of(u, RUN_I, handles=["acme"])).subkind == "import"
    assert (await d.owner_of(u, RUN_R, handles=["acme"])).subkind == "replay"
    share = await d.owner_of(u, SHR, handles=[])
    assert (share.kind, share.handle) == ("share", "acme")
    assert (await d.owner_of(u, FIL, handles=[])).kind == "file"
    assert (await d.owner_of(u, PG, handles=["acme"])).kind == "page"
    assert await d.owner_of(u, f"dep_1{U[1:]}", handles=["acme"]) is None


async def test_slugs_resolve_in_the_reporters_handles() -> None:
    d, u = RepositoryArtifactDirectory(), uow()
    assert (await d.owner_of(u, "summer", handles=["globex", "acme"])).id == f"lnk_{U}"
    assert await d.owner_of(u, "summer", handles=["globex"]) is None
    assert (await d.owner_of(u, "acme/summer", handles=[])).handle == "acme"
    assert (await d.owner_of(u, "https://gharart.test/l/acme/summer", handles=[])).kind == "link"
    assert await d.owner_of(u, "old", handles=["acme"]) is None  # deleted


async def test_missing_areas_mean_not_found() -> None:
    d = RepositoryArtifactDirectory()
    bare = SimpleNamespace(identity=SimpleNamespace(get_handle=_handle))
    assert await d.owner_of(bare, DEP, handles=["acme"]) is None
    assert await d.target_exists(bare, ContentTarget("link", "acme", "summer")) is None
    assert await d.target_exists(bare, ContentTarget("profile", "acme", "")) is not None


async def test_targets() -> None:
    d, u = RepositoryArtifactDirectory(), uow()
    assert await d.target_exists(u, ContentTarget("link", "acme", "summer")) is not None
    assert await d.target_exists(u, ContentTarget("link", "acme", "old")) is None
    assert (await d.target_exists(u, ContentTarget("file", None, FIL))).handle == "acme"
    assert await d.target_exists(u, ContentTarget("file", None, PRIVATE)) is None
    assert await d.target_exists(u, ContentTarget("profile", "nobody", "")) is None
    assert await d.target_exists(u, ContentTarget("docs", "acme", "handbook/intro")) is not None
    assert await d.target_exists(u, ContentTarget("docs", "acme", "secret")) is None


async def test_verified_custom_hostnames_are_profiles() -> None:
    d, u = RepositoryArtifactDirectory(), uow()
    found = await d.target_exists(u, ContentTarget("hostname", None, "shop.example"))
    assert (found.kind, found.handle) == ("profile", "acme")
    assert await d.target_exists(u, ContentTarget("hostname", None, "pending.example")) is None
    assert await d.target_exists(u, ContentTarget("hostname", None, "evil.example")) is None
