"""Health check of 1,000 destinations on 10 local hosts answering after 100 ms, plus one host that
never answers, against the ideal wall time for the configured concurrency.

    PYTHONPATH=src python benchmarks/links_healthcheck.py [--links 1000] [--latency 0.1]

Hosts are loopback addresses 127.0.0.1-10 (127.0.0.11 hangs), opened with an allowlist CIDR.
Ideal = ceil(links / effective concurrency) x latency, effective = min(global, hosts x per-host).
Bar: wall <= 1.5 x ideal, and the hanging host costs only its timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time

from adapters.http.fetcher import HttpxFetcher
from adapters.jobs import InProcessJobRunner
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories
from gharart_core.identity.model import HandleAccess, Principal, Role
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import SystemClock
from gharart_core.shared.ids import UlidIds

ACCESS = HandleAccess(Principal("usr_b", None, frozenset({"links:read", "links:write"}), None), "bench", "acc_b",
                      Role.OWNER, None)


async def serve(host: str, latency: float, hang: bool) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                if hang:
                    await asyncio.sleep(3600)
                await asyncio.sleep(latency)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, 0)


async def main_async(links: int, latency: float, timeout: float, concurrency: int, per_host: int) -> None:
    servers = [await serve(f"127.0.0.{i}", latency, False) for i in range(1, 11)]
    hanging = await serve("127.0.0.11", latency, True)
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    state, factories = MemoryState(), memory_factories()

    def make(write: bool = True) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(state, factories, write=write)

    jobs = InProcessJobRunner()
    fetcher = HttpxFetcher(allowlist="127.0.0.0/24", max_connections=200)
    svc = LinksService(clock=SystemClock(), ids=UlidIds(), uow_factory=make, jobs=jobs, fetcher=fetcher,
                       health_timeout_s=timeout, health_concurrency=concurrency, health_per_host=per_host)
    async with make() as uow:
        for i in range(links):
            host = i % 10
            await svc.create(uow, ACCESS, {"slug": f"s{i}", "destination":
                                           f"http://127.0.0.{host + 1}:{ports[host]}/page/{i}"})
        await svc.create(uow, ACCESS, {"slug": "hang", "destination":
                                       f"http://127.0.0.11:{hanging.sockets[0].getsockname()[1]}/"})
        await uow.commit()
    async with make() as uow:
        run = await svc.start_health_check(uow, ACCESS, {})
        await uow.commit()  # submits the job
    started = time.perf_counter()
    await jobs.drain(timeout=600)
    wall = time.perf_counter() - started
    async with make(False) as uow:
        run, results = await svc.get_health_run(uow, ACCESS, run.id)
    effective = min(concurrency, 10 * per_host)
    ideal = math.ceil(links / effective) * latency
    print(f"links={links} + 1 hanging; latency={latency * 1000:.0f} ms; timeout={timeout} s; "
          f"concurrency global={concurrency} per-host={per_host}")
    print(f"run {run.status}: {dict(run.counts)}")
    print(f"wall {wall:.2f} s, ideal {ideal:.2f} s (hanging host alone: its {timeout} s timeout, overlapped)")
    print(f"ratio (wall/ideal): {wall / ideal:.2f}  (bar <= 1.5)")
    await fetcher.aclose()
    for s in [*servers, hanging]:
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--links", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--per-host", type=int, default=4)
    a = ap.parse_args()
    asyncio.run(main_async(a.links, a.latency, a.timeout, a.concurrency, a.per_host))


if __name__ == "__main__":
    main()
