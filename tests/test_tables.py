"""One definition per aggregate table (rings_cli/core/tables.py): the DO file, the warehouse and the
snapshot a flush copies all have exactly the defined columns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from rings_cli.core import tables
from rings_cli.store.dofile import DoFile, snapshot_tables
from rings_cli.warehouse.local import _SCHEMA


def test_do_file_and_warehouse_columns_come_from_the_definitions(tmp_path: Path) -> None:
    path = tmp_path / "do" / "alice" / "2025-01-01.sqlite"
    DoFile(path, "alice", "2025-01-01").close()
    con = sqlite3.connect(path)
    wh = duckdb.connect(str(tmp_path / "w.duckdb"))
    wh.execute(_SCHEMA)
    for table in tables.TABLES:
        do_columns = [r[1] for r in con.execute(f"PRAGMA table_info({table.name})")]
        assert do_columns == ([*["id"] * bool(table.extra_sql), *table.names])
        wh_columns = [r[0] for r in wh.execute(f"DESCRIBE {table.warehouse_name}").fetchall()]
        assert wh_columns == ["tenant", "date", *[c[0] for c in tables.warehouse_columns(table)]]
    snapshot = snapshot_tables(con, "alice", "2025-01-01")
    assert list(snapshot) == list(tables.WAREHOUSE_TABLES)
    for name, frame in snapshot.items():
        wh_columns = [r[0] for r in wh.execute(f"DESCRIBE {name}").fetchall()]
        assert frame.columns == wh_columns


def test_a_new_table_is_one_entry() -> None:
    browsers = tables.Table("browsers", keys=(tables.text("browser"),), columns=(tables.count("requests"),))
    assert "browser TEXT PRIMARY KEY" in tables.sqlite_ddl(browsers)
    assert "requests INTEGER NOT NULL DEFAULT 0" in tables.sqlite_ddl(browsers)
    ddl = tables.duckdb_ddl(browsers)
    assert "browser VARCHAR NOT NULL" in ddl and "PRIMARY KEY" not in ddl  # why: tables.duckdb_ddl
    assert tables.warehouse_keys(browsers) == ["tenant", "date", "browser"]
    assert "ON CONFLICT (browser) DO UPDATE SET requests = requests + excluded.requests" in (
        tables.upsert_sql(browsers, ["browser", "requests"])
    )
