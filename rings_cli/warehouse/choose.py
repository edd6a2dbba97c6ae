"""Which warehouse a state dir uses: rings.toml `[warehouse]` (the DuckDB file by default)."""

from __future__ import annotations

import socket

from rings_cli.core.state import StateDir, WarehouseSetting
from rings_cli.warehouse.base import Warehouse


def host_label(shard: object | None = None) -> str:
    """This ingest host's name in the shared warehouse's freshness table: host name, and shard."""
    name = socket.gethostname() or "localhost"
    return f"{name} shard {shard}" if shard is not None else name


def setting_of(state: StateDir) -> WarehouseSetting:
    """The state dir's warehouse: as a command set it (`--config`), else from its rings.toml."""
    if state.warehouse is None:
        from rings_cli.core.config import load_config

        state.warehouse = load_config(None, state).warehouse
    return state.warehouse


def open_warehouse(state: StateDir, label: str | None = None) -> Warehouse:
    """The warehouse a state dir uses (rings.toml `[warehouse]`); `label` names this host in a
    shared one's freshness table."""
    setting = setting_of(state)
    if setting.kind == "postgres":
        from rings_cli.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(setting.dsn, label or host_label(setting.shard or None))
    from rings_cli.warehouse.local import LocalWarehouse

    return LocalWarehouse(state.warehouse_path)


def is_shared(state: StateDir) -> bool:
    return setting_of(state).kind == "postgres"
