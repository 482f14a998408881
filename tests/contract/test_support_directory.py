"""The ArtifactDirectory adapter over other areas' repositories (stand-ins with the same method names)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from entrypoints.support_directory import RepositoryArtifactDirectory
from gharart_core.support.model import ContentTarget

U = "01J9Z3K4M5N6P7Q8R9S0T1V2W3"


class Repo:
    def __init__(self, **tables: dict[Any, Any]) -> None:
        self.tables = tables

    def __getattr__(self, name: str) -> Any:
        if name not in self.__dict__.get("tables", {}):
            raise AttributeError(name)
        table = self.tables[name]

        async def lookup(*key: Any) -> Any:
            return table.get(key[0] if len(key) == 1 else key)

        return lookup


def uow() -> Any:
    link = SimpleNamespace(id=f"lnk_{U}", handle="acme", slug="summer", deleted_at=None)
    gone = SimpleNamespace(id="lnk_x", handle="acme", slug="old", deleted_at="yesterday")
    return SimpleNamespace(
        links=Repo(
            get={("acme", "summer"): link, ("acme", "old"): gone},
            get_by_id={f"lnk_{U}": link},
            get_run={f"run_{U}": SimpleNamespace(handle="acme", kind="health_check")},
        ),
        sites=Repo(get_deployment={f"dep_{U}": SimpleNamespace(handle="acme", status="failed")}),
        intel=Repo(get_run={f"run_1{U[1:]}": SimpleNamespace(handle="acme", kind="replay")}),
        files=Repo(
            get_file={f"fil_{U}": SimpleNamespace(handle="acme", deleted_at=None)},
            get_share={f"shr_{U}": SimpleNamespace(file_id=f"fil_{U}")},
        ),
        docs=Repo(get_page={("acme", "handbook/intro"): SimpleNamespace(handle="acme")}),
        identity=SimpleNamespace(get_handle=_handle),
    )


async def _handle(name: str) -> Any:
    return SimpleNamespace(handle=name) if name == "acme" else None


async def test_ids_resolve_to_their_owner_and_kind() -> None:
    d, u = RepositoryArtifactDirectory(), uow()
    dep = await d.owner_of(u, f"dep_{U}", handles=[])
    assert (dep.kind, dep.handle) == ("deployment", "acme")
    run = await d.owner_of(u, f"run_{U}", handles=[])
    assert (run.kind, run.subkind) == ("run", "health_check")
    replay = await d.owner_of(u, f"run_1{U[1:]}", handles=[])
    assert replay.subkind == "replay"
    share = await d.owner_of(u, f"shr_{U}", handles=[])
    assert (share.kind, share.handle) == ("share", "acme")
    assert (await d.owner_of(u, f"fil_{U}", handles=[])).kind == "file"
    assert await d.owner_of(u, f"dep_1{U[1:]}", handles=[]) is None


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
    assert await d.owner_of(bare, f"dep_{U}", handles=["acme"]) is None
    assert await d.target_exists(bare, ContentTarget("link", "acme", "summer")) is None
    assert await d.target_exists(bare, ContentTarget("profile", "acme", "")) is not None


async def test_targets() -> None:
    d, u = RepositoryArtifactDirectory(), uow()
    assert await d.target_exists(u, ContentTarget("link", "acme", "summer")) is not None
    assert await d.target_exists(u, ContentTarget("link", "acme", "old")) is None
    assert (await d.target_exists(u, ContentTarget("file", None, f"fil_{U}"))).handle == "acme"
    assert await d.target_exists(u, ContentTarget("profile", "nobody", "")) is None
    assert await d.target_exists(u, ContentTarget("docs", "acme", "handbook/intro")) is not None
    assert await d.target_exists(u, ContentTarget("docs", "acme", "secret")) is None
