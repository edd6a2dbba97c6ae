"""`rings warehouse migrate`: a state dir's local DuckDB history into the shared PostgreSQL warehouse.

The local file is read a few tenants at a time (every day of them, every table) and each group
goes through the PostgreSQL warehouse's own flush: one transaction that replaces those
tenant-days whole. So a migration stopped half-way is finished by running it again, and running
it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rings_cli.core.errors import RingsError
from rings_cli.warehouse.base import READ_RETRY_SECONDS
from rings_cli.warehouse.local import WRITTEN, LocalWarehouse, table_columns
from rings_cli.warehouse.postgres import PostgresWarehouse

if TYPE_CHECKING:
    import polars as pl

TENANTS_PER_CHUNK = 16


def migrate(
    source: LocalWarehouse, target: PostgresWarehouse, wait: float = READ_RETRY_SECONDS
) -> dict[str, int]:
    """Copy every tenant-day of `source` into `target` (replacing what it held of them); rows per table."""
    if not source.exists() or not source.is_current(wait):
        raise RingsError(f"{source.path}: no local warehouse of this version to migrate")
    target.init()
    with source.reader(wait) as con:
        tenants = [r[0] for r in con.execute("SELECT DISTINCT tenant FROM daily ORDER BY tenant").fetchall()]
    counts = dict.fromkeys(WRITTEN, 0)

    def chunks() -> Iterator[dict[str, list[pl.DataFrame]]]:
        import polars as pl

        for start in range(0, len(tenants), TENANTS_PER_CHUNK):
            group = tenants[start : start + TENANTS_PER_CHUNK]
            chunk: dict[str, list[pl.DataFrame]] = {}
            with source.reader(wait) as con:
                present = table_columns(con)
                for table in WRITTEN:
                    if table not in present:
                        continue
                    cur = con.execute(
                        f"SELECT * REPLACE (CAST(date AS VARCHAR) AS date) FROM {table} "
                        "WHERE list_contains($tenants, tenant)",
                        {"tenants": group},
                    )
                    names = [d[0] for d in cur.description]
                    frame = pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)
                    counts[table] += frame.height
                    chunk[table] = [frame]
            yield chunk

    target.flush(chunks(), wait=wait)
    target.analyze()  # the planner's statistics of a bulk load, before the first report
    return counts
