"""Export of 1M links (streamed CSV, SQLite): RSS growth while the whole export is produced.

    PYTHONPATH=src python benchmarks/links_export.py [--rows 1000000]

Rows are seeded with stdlib sqlite3 (fast), then the export runs through the same code the
``GET .../links/export`` route streams (service pages + CSV lines), its bytes counted and
dropped. Bar: RSS growth < 100 MiB. The ratio printed is growth / 100 MiB (<= 1.0 passes).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sqlite3
import tempfile
import time
from pathlib import Path

import psutil

from adapters.registry import sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade
from entrypoints.http.routes.links_bulk import EXPORT_COLUMNS, _csv_line, _export_cells
from gharart_core.identity.model import HandleAccess, Principal, Role
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import SystemClock
from gharart_core.shared.ids import UlidIds

ACCESS = HandleAccess(Principal("usr_b", None, frozenset({"links:read"}), None), "bench", "acc_b", Role.VIEWER, None)


def seed(db: Path, rows: int) -> None:
    conn = sqlite3.connect(db)
    ts = "2026-01-01 00:00:00.000000"
    batch = []
    for i in range(rows):
        batch.append((f"lnk_{i:026d}", "bench", f"s{i:08d}", 1, f"https://host{i % 100}.example.com/p/{i}", 302, 0,
                      "[]", "|launch|" if i % 2 else "", None, None, None, ts, ts, None))
        if len(batch) == 50_000:
            conn.executemany("INSERT INTO links VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
            batch = []
    if batch:
        conn.executemany("INSERT INTO links VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
    conn.commit()
    conn.close()


async def export(db: Path) -> tuple[int, int, float, float]:
    database = Database(f"sqlite+aiosqlite:///{db}")
    factories = sql_factories()
    svc = LinksService(clock=SystemClock(), ids=UlidIds(),
                       uow_factory=lambda write=True: SqlUnitOfWork(database, factories, write=write))
    proc = psutil.Process()
    gc.collect()
    rss0 = peak = proc.memory_info().rss
    started = time.perf_counter()
    n = size = 0
    size += len(_csv_line(list(EXPORT_COLUMNS)))
    async for link, _ in svc.iter_export(ACCESS):
        size += len(_csv_line(_export_cells(link)))
        n += 1
        if n % 50_000 == 0:
            peak = max(peak, proc.memory_info().rss)
    elapsed = time.perf_counter() - started
    peak = max(peak, proc.memory_info().rss)
    await database.dispose()
    return n, size, elapsed, (peak - rss0) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="links-export-") as d:
        db = Path(d) / "gharart.db"
        asyncio.run(upgrade(f"sqlite+aiosqlite:///{db}"))
        seed(db, args.rows)
        n, size, elapsed, growth = asyncio.run(export(db))
    print(f"exported {n:,} links, {size / 2**20:.0f} MiB of CSV in {elapsed:.1f} s ({n / elapsed:,.0f} rows/s)")
    print(f"RSS growth: {growth:.1f} MiB (bar < 100 MiB)")
    print(f"ratio (growth / 100 MiB): {growth / 100:.2f}  (bar <= 1.0)")


if __name__ == "__main__":
    main()
