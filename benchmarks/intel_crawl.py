"""Crawl of a generated 2,000-page site served in-process: pages/s and peak RSS.

The site is deployed through the real sites service on the memory adapters and promoted; the
crawler then walks it through the in-process profile source (no sockets). The baseline, measured
in the same run, is serving the same 2,000 paths back to back through the same source with no
crawler: the ratio says what the crawl (parsing, link extraction, digests, BFS) costs on top of
serving. Peak RSS is the process high-water mark, with its growth over the pre-crawl mark.

    PYTHONPATH=src python benchmarks/intel_crawl.py [--pages 2000] [--links 8] [--backend memory|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import resource
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from adapters.intel_sources import IntelPageSources, ProfilePageSource
from adapters.jobs import InProcessJobRunner
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.objectstore.memory import MemoryObjectStore
from adapters.registry import memory_factories
from gharart_core.identity.model import HandleAccess, Principal, Role
from gharart_core.intel.crawler import Crawler
from gharart_core.intel.model import CrawlLimits
from gharart_core.intel.service import IntelConfig, IntelService
from gharart_core.shared.clock import SystemClock
from gharart_core.shared.ids import UlidIds
from gharart_core.shared.tokens import SecretsTokenSource
from gharart_core.sites.service import SitesService

OWNER = HandleAccess(
    Principal("usr_1", "o@example.com", frozenset({"sites:read", "sites:write"}), "pat_1"),
    "acme",
    "acc_1",
    Role.OWNER,
)


def peak_rss_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def generate(pages: int, links: int, seed: int = 7) -> dict[str, bytes]:
    """A connected site: page i links to i+1 (so everything is reachable) plus random others."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for i in range(pages):
        name = "index.html" if i == 0 else f"section{i % 20}/page{i}.html"
        targets = {(i + 1) % pages, *(rng.randrange(pages) for _ in range(links - 1))}
        anchors = "".join(
            f'<li><a href="/{"" if t == 0 else f"section{t % 20}/page{t}.html"}">Page {t}</a></li>'
            for t in targets
        )
        body = (
            f"<!doctype html><html><head><title>Page {i}</title><link rel=stylesheet href=/style.css>"
            f"</head><body><h1>Page {i}</h1><p>{'Lorem ipsum dolor sit amet. ' * 40}</p>"
            f"<ul>{anchors}</ul></body></html>"
        )
        files[name] = body.encode()
    files["style.css"] = b"body{font-family:sans-serif}"
    return files


async def deploy(sites: SitesService, uow_factory, files: dict[str, bytes]) -> None:
    manifest = {p: {"sha256": hashlib.sha256(c).hexdigest(), "size": len(c)} for p, c in files.items()}
    by_sha = {hashlib.sha256(c).hexdigest(): c for c in files.values()}
    async with uow_factory() as uow:
        dep, required = await sites.create_deployment(uow, OWNER, {"manifest": manifest, "message": "bench"})
        await uow.commit()
    for sha in required:

        async def chunks(data: bytes = by_sha[sha]) -> AsyncIterator[bytes]:
            yield data

        async with uow_factory() as uow:
            await sites.upload_blob(uow, OWNER, dep.id, sha, chunks())
            await uow.commit()
    async with uow_factory() as uow:
        await sites.promote(uow, OWNER, dep.id, {})
        await uow.commit()


async def main_async(pages: int, links: int, backend: str = "memory") -> int:
    if backend == "sqlite":
        import tempfile

        from adapters.registry import sql_factories
        from adapters.sql.database import Database, SqlUnitOfWork
        from adapters.sql.migrate import upgrade

        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
        await upgrade(url)
        db = Database(url)
        sql = sql_factories()

        def uow_factory(write: bool = True) -> Any:
            return SqlUnitOfWork(db, sql, write=write)
    else:
        state = MemoryState()
        factories = memory_factories()

        def uow_factory(write: bool = True) -> Any:
            return MemoryUnitOfWork(state, factories, write=write)

    print(f"storage: {backend}")

    clock, ids = SystemClock(), UlidIds()
    sites = SitesService(clock=clock, ids=ids, tokens=SecretsTokenSource(), object_store=MemoryObjectStore())
    files = generate(pages, links)
    t0 = time.perf_counter()
    await deploy(sites, uow_factory, files)
    print(f"deployed {len(files)} files in {time.perf_counter() - t0:.2f} s")

    source = ProfilePageSource(sites, uow_factory, "acme")
    paths = ["" if p == "index.html" else p for p in files]
    rss_before = peak_rss_mib()
    t0 = time.perf_counter()
    for path in paths:
        await source.get(f"http://acme.localhost/{path}", max_bytes=2 << 20, timeout_s=10)
    base_s = time.perf_counter() - t0
    base_rate = len(paths) / base_s

    limits = CrawlLimits(
        max_pages=pages + 10, max_depth=10_000, time_budget_s=600, page_timeout_s=10, concurrency=4
    )
    t0 = time.perf_counter()
    result = await Crawler(source, limits).crawl("http://acme.localhost/")
    crawl_s = time.perf_counter() - t0
    rate = len(result.pages) / crawl_s

    # the same crawl as a run of the service (job runner, run bookkeeping, snapshot stored)
    jobs = InProcessJobRunner()
    intel = IntelService(
        clock=clock,
        ids=ids,
        jobs=jobs,
        uow_factory=uow_factory,
        sites=sites,
        sources=IntelPageSources(sites, uow_factory, None),
        config=IntelConfig(limits=limits),
    )
    t0 = time.perf_counter()
    async with uow_factory() as uow:
        run = await intel.start_crawl(uow, OWNER, "acme.localhost")
        await uow.commit()
    await jobs.drain(timeout=600)
    run_s = time.perf_counter() - t0
    async with uow_factory(write=False) as uow:
        run = await intel.get_run(uow, OWNER, "acme.localhost", run.id, "crawl")
    peak = peak_rss_mib()

    print(
        f"baseline: serve {len(paths)} paths in-process, no crawler: {base_s:.2f} s"
        f" = {base_rate:,.0f} pages/s"
    )
    print(
        f"crawler:  {len(result.pages)} pages, {sum(len(p.links) for p in result.pages):,} links, "
        f"{len(result.broken_links)} broken in {crawl_s:.2f} s = {rate:,.0f} pages/s "
        f"(ratio to serving alone {rate / base_rate:.2f}x)"
    )
    print(
        f"crawl run through the service: {run.status}, {run.pages_done} pages in {run_s:.2f} s "
        f"= {run.pages_done / run_s:,.0f} pages/s"
    )
    print(f"peak RSS {peak:.1f} MiB (growth over the pre-crawl mark {peak - rss_before:.1f} MiB)")
    ok = len(result.pages) == len(files) and run.status == "completed" and not result.broken_links
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--links", type=int, default=8)
    parser.add_argument("--backend", choices=["memory", "sqlite"], default="memory")
    args = parser.parse_args()
    return asyncio.run(main_async(args.pages, args.links, args.backend))


if __name__ == "__main__":
    sys.exit(main())
