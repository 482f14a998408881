"""Bulk import of N CSV rows (atomic, SQLite) against stdlib ``sqlite3.executemany`` of the same rows.

    PYTHONPATH=src python benchmarks/links_import.py [--rows 100000]

Prints both times, the ratio (baseline time / our time; the bar is >= 0.25) and the RSS growth
of the import (bar: < 150 MiB). Both sides write to a fresh database file in a temp directory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import psutil

from adapters.registry import sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade
from gharart_core.identity.model import HandleAccess, Principal, Role
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import SystemClock
from gharart_core.shared.ids import UlidIds

ACCESS = HandleAccess(Principal("usr_bench", None, frozenset({"links:read", "links:write"}), None), "bench",
                      "acc_bench", Role.OWNER, "req_bench")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w") as fh:
        fh.write("slug,destination,tags,rules,redirectStatus\n")
        for i in range(rows):
            fh.write(f"s{i:07d},https://host{i % 50}.example.com/landing/{i}?utm_source=bench,launch|q{i % 4},,302\n")


def baseline(path: Path, db: Path) -> float:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE links (id TEXT PRIMARY KEY, handle TEXT, slug TEXT, destination TEXT, tags TEXT,"
                 " rules TEXT, redirect_status INTEGER, UNIQUE (handle, slug))")
    started = time.perf_counter()
    import csv

    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        rows = [(f"lnk_{r[0]}", "bench", r[0], r[1], r[2], r[3] or "[]", int(r[4])) for r in reader]
    conn.executemany("INSERT INTO links VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


async def ours(path: Path, db: Path) -> tuple[float, float, dict[str, int]]:
    url = f"sqlite+aiosqlite:///{db}"
    await upgrade(url)
    database = Database(url)
    factories = sql_factories()

    def make(write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(database, factories, write=write)

    svc = LinksService(clock=SystemClock(), ids=UlidIds(), uow_factory=make)

    async def chunks():
        with path.open("rb") as fh:
            while chunk := fh.read(256 * 1024):
                yield chunk

    proc = psutil.Process()
    gc.collect()
    rss0 = proc.memory_info().rss
    peak = rss0
    started = time.perf_counter()

    def progress(_n: int) -> None:
        nonlocal peak
        peak = max(peak, proc.memory_info().rss)

    async with make() as uow:
        result = await svc.import_links(uow, ACCESS, chunks(), fmt="csv", mode="atomic", progress=progress)
        await uow.commit()
    elapsed = time.perf_counter() - started
    peak = max(peak, proc.memory_info().rss)
    await database.dispose()
    return elapsed, (peak - rss0) / 2**20, result.run.counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="links-bench-") as d:
        tmp = Path(d)
        csv_path = tmp / "rows.csv"
        write_csv(csv_path, args.rows)
        base = baseline(csv_path, tmp / "baseline.db")
        ours_s, rss_mib, counts = asyncio.run(ours(csv_path, tmp / "ours.db"))
        size_mib = os.path.getsize(csv_path) / 2**20
    print(f"rows={args.rows} csv={size_mib:.1f} MiB counts={counts}")
    print(f"sqlite3.executemany: {base:.2f} s   gharart bulk-import (atomic): {ours_s:.2f} s "
          f"({args.rows / ours_s:,.0f} rows/s)")
    print(f"RSS growth during import: {rss_mib:.1f} MiB (bar < 150 MiB)")
    print(f"ratio (baseline/ours): {base / ours_s:.3f}  (bar >= 0.25)")


if __name__ == "__main__":
    main()
