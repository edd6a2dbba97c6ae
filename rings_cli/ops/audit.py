"""`rings audit`: prove the privacy promises on what the state dir actually holds.

Six checks, each pass, warn or fail (see README, `rings audit` and Privacy); what counts as an
IP address or a user agent is defined in shapes.py:

- `tables`: no text value of any table of any DO file, the catalog or the warehouse holds an IP
  address or a user agent. Request paths (`pages.path`, `views.path`, `content.post_id`, the
  `top_pages` summaries) are chosen by whoever sends a request (`GET /1.2.3.4`), so a hit there is
  a warning, never a failure.
- `bytes`: the same shapes in the raw bytes of every file under the state dir, WAL files and free
  pages included: that is where deleted-but-not-overwritten data would be. A hit that is text of
  a value the tables hold was judged by `tables`; `rings.toml` is the operator's own file and is
  not scanned.
- `hashes`: a finalized tenant-day keeps no visitor hash: its `views` table is empty and its file
  has no free pages (finalization vacuums it, so no deleted row survives in free space).
- `salts`: no salt file outlives the finalization of its tenant-day (`salts/<tenant>/<date>.key`;
  an earlier release's `salts/<date>.key` outlives it once every tenant-day of its date is final).
- `set-aside`: files `rings check --repair` set aside (`.damaged-*`) are read like the live ones
  (for `tables` and `hashes`); none may hold a tenant the state dir no longer has (an erase or
  retention covers them, so one that does was left by an earlier release, or planted).
- `permissions`: the tree is owner-only (0700 dirs, 0600 files; 0750/0640 with `group_readable`),
  and salts are 0600 in a 0700 directory whatever the setting.

Everything is read-only: SQLite files are opened `immutable` when no writer has them open (so no
-wal/-shm file is created), the warehouse read-only with a short retry while a flush holds it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rings_cli.core.config import CONFIG_NAME, load_config
from rings_cli.core.errors import RingsError, StateLockedError
from rings_cli.core.state import TENANT_PATTERN, StateDir
from rings_cli.core.text import safe_text
from rings_cli.ops.shapes import IP, UA, find_shapes, scan_file
from rings_cli.warehouse.base import Audited
from rings_cli.warehouse.choose import open_warehouse
from rings_cli.warehouse.local import Warehouse

_PACK_FILE = re.compile(r"^\d{4}-\d{2}\.pack\.sqlite$")  # pack.PACK_FILE (not imported: no Polars here)

PASS, WARN, FAIL = "pass", "warn", "fail"
WAREHOUSE_WAIT = 5.0  # seconds to wait for a flush to release the warehouse
T = TypeVar("T")
_SLASH_DIGIT = re.compile(rb"/[0-9]")  # in every user-agent shape (see _explained)
MAX_SHOWN = 5  # values shown per finding; the rest are counted

# Columns of values from a request's query (utm_source, ref, utm_medium, utm_campaign): anyone can
# put a user-agent shape there; an IP never (referrers.py stores it as `(ip address)`).
QUERY_COLUMNS = {
    ("referrers", "source"),
    ("campaigns", "source"),
    ("campaigns", "medium"),
    ("campaigns", "campaign"),
    ("views", "source"),
    ("views", "medium"),
    ("views", "campaign"),
    ("day", "top_referrers"),
    ("daily", "top_referrers"),
}
# Columns whose text is a request path (or made of them): anyone can put anything there.
PATH_COLUMNS = {
    ("pages", "path"),
    ("views", "path"),
    ("views", "post_id"),
    ("content", "post_id"),
    ("day", "top_pages"),
    ("daily", "top_pages"),
}


# --- Result -------------------------------------------------------------------------------------
@dataclass
class Check:
    """One promise: `failures` break it, `warnings` are worth a look, `notes` say what was seen."""

    name: str
    promise: str
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return FAIL if self.failures else WARN if self.warnings else PASS


@dataclass
class Stored:
    """What the state dir holds, in counts."""

    files: int = 0
    bytes: int = 0
    do_files_open: int = 0
    do_files_finalized: int = 0
    packs: int = 0  # monthly packs of finalized tenant-days (pack.py)
    packed_days: int = 0
    tenants: int = 0
    days: int = 0
    tenant_days: int = 0
    salts: int = 0
    checkpoints: int = 0
    warehouse_rows: dict[str, int] | None = None


@dataclass
class AuditResult:
    state_dir: str
    stored: Stored
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_dir": self.state_dir,
            "ok": self.ok,
            "stored": asdict(self.stored),
            "checks": [{**asdict(c), "status": c.status} for c in self.checks],
        }

    def text(self) -> str:
        """Plain lines: what is stored, one line per check, one per failure and warning, a summary."""
        s = self.stored
        rows = s.warehouse_rows
        lines = [
            f"State dir {self.state_dir}: {s.files} files, {s.bytes:,} bytes",
            f"  DO files: {s.do_files_open + s.do_files_finalized} ({s.do_files_open} open, "
            f"{s.do_files_finalized} finalized); tenants: {s.tenants}; days: {s.days}; "
            f"tenant-days: {s.tenant_days}; packs: {s.packs} ({s.packed_days} tenant-days)",
            "  warehouse rows: "
            + (", ".join(f"{t} {n:,}" for t, n in rows.items()) if rows is not None else "not read"),
            f"  salts: {s.salts}; file checkpoints: {s.checkpoints}",
        ]
        for c in self.checks:
            lines.append(f"{c.status.upper():<5} {c.name}: {c.promise}")
            lines += [f"  FAIL {c.name}: {f}" for f in c.failures]
            lines += [f"  WARN {c.name}: {w}" for w in c.warnings]
            lines += [f"  note: {n}" for n in c.notes]
        failed = [c for c in self.checks if c.status == FAIL]
        warned = sum(len(c.warnings) for c in self.checks)
        if failed:
            problems = sum(len(c.failures) for c in failed)
            lines.append(
                f"Audit FAILED: {len(failed)} of {len(self.checks)} checks failed "
                f"({', '.join(c.name for c in failed)}), {problems} problems, {warned} warnings."
            )
        else:
            lines.append(f"Audit passed: all {len(self.checks)} checks hold, {warned} warnings.")
        return "\n".join(lines)


# --- Salts (one function lists them, one says whether each is due to be gone) ------------------
_SALT_NAME = re.compile(r"^\.?(\d{4}-\d{2}-\d{2})\.key(?:\.\d+\.[0-9a-f]+)?$")  # also crash leftovers
_TENANT_RE = re.compile(TENANT_PATTERN)


@dataclass(frozen=True)
class SaltFile:
    """A salt file and the tenant-day it keys (`tenant` None: a whole date's salt, salts/<date>.key)."""

    path: Path
    date: str | None
    tenant: str | None = None


@dataclass
class Finalized:
    """What is finalized: tenant-days (the catalog's `finalized_days`, finalized DO files) and whole
    dates (an earlier release's `finalized` table, or every known tenant-day of the date final)."""

    dates: set[str] = field(default_factory=set)
    tenant_days: set[tuple[str, str]] = field(default_factory=set)

    def close_dates(self, known: set[tuple[str, str]]) -> None:
        """Add the dates whose every known tenant-day is finalized (what an old date salt keyed)."""
        for date in {d for _, d in known}:
            if all((t, d) in self.tenant_days for t, d in known if d == date):
                self.dates.add(date)


def salt_files(state: StateDir) -> list[SaltFile]:
    """Every file under salts/: `<date>.key` and `<tenant>/<date>.key`; `date` None when unknown."""
    out = []
    for path in sorted(state.salts_dir.rglob("*")) if state.salts_dir.is_dir() else []:
        if path.is_dir() and not path.is_symlink():
            continue
        parts = path.relative_to(state.salts_dir).parts
        match = _SALT_NAME.match(parts[-1])
        tenant = parts[0] if len(parts) == 2 and _TENANT_RE.match(parts[0]) else None
        if match and (len(parts) == 1 or tenant):
            out.append(SaltFile(path, match[1], tenant))
        else:
            out.append(SaltFile(path, None))
    return out


def salt_outlived(salt: SaltFile, finalized: Finalized) -> bool:
    """True when the salt's tenant-day (an old date salt: its date) is finalized, so the salt
    should be gone."""
    if salt.date is None:
        return False
    if salt.tenant is None:
        return salt.date in finalized.dates
    return (salt.tenant, salt.date) in finalized.tenant_days


# --- Reading ------------------------------------------------------------------------------------
def _sqlite(path: Path, immutable: bool | None = None) -> sqlite3.Connection:
    """Read-only. Without a -wal file nobody is writing, and `immutable` creates no -wal/-shm of
    its own; with one, a plain read-only open sees what the writer committed."""
    if immutable is None:
        immutable = not path.with_name(path.name + "-wal").exists()
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    return sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True)


def _read_sqlite(path: Path, read: Callable[[sqlite3.Connection], T]) -> T:
    """`read(connection)`; again through a plain read-only open if a writer started meanwhile
    (an `immutable` reader may then see pages change under it)."""
    try:
        with closing(_sqlite(path)) as con:
            return read(con)
    except sqlite3.Error:
        with closing(_sqlite(path, immutable=False)) as con:
            return read(con)


def _sqlite_columns(con: sqlite3.Connection) -> Iterator[tuple[str, str, list[bytes]]]:
    """(table, column, distinct text and blob values) of every column of every table. SQLite
    columns take any type, so integer-declared columns are read too."""
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        for column in [r[1] for r in con.execute(f"PRAGMA table_info({quoted})")]:
            col = '"' + column.replace('"', '""') + '"'
            values = con.execute(
                f"SELECT DISTINCT CAST({col} AS BLOB) FROM {quoted} WHERE typeof({col}) IN ('text', 'blob')"
            ).fetchall()
            yield table, column, [v[0] for v in values]


@dataclass
class _FileData:
    """What the audit reads from one SQLite file (the catalog or a DO file)."""

    columns: list[tuple[str, str, list[bytes]]]
    finalized: set[str] = field(default_factory=set)  # catalog of an earlier release: finalized dates
    finalized_days: set[tuple[str, str]] = field(default_factory=set)  # catalog: finalized tenant-days
    days: set[tuple[str, str]] = field(default_factory=set)  # catalog: tenant-days
    checkpoints: int = 0
    views: int = 0  # DO file: page views with visitor hashes
    free_pages: int = 0
    is_final: bool = False


def _read_catalog(con: sqlite3.Connection) -> _FileData:
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    data = _FileData(list(_sqlite_columns(con)))
    if "finalized" in names:
        data.finalized = {r[0] for r in con.execute("SELECT date FROM finalized")}
    if "finalized_days" in names:
        data.finalized_days = {(t, d) for t, d in con.execute("SELECT tenant, date FROM finalized_days")}
    if "days" in names:
        data.days = {(t, d) for t, d in con.execute("SELECT tenant, date FROM days")}
    if "checkpoints" in names:
        data.checkpoints = con.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    return data


def _read_do(con: sqlite3.Connection) -> _FileData:
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    return _FileData(
        list(_sqlite_columns(con)),
        views=con.execute("SELECT count(*) FROM views").fetchone()[0],
        free_pages=con.execute("PRAGMA freelist_count").fetchone()[0],
        is_final=meta.get("finalized") == "1",
    )


@dataclass
class _Scan:
    """Findings of the logical scan; what it read explains byte hits (see `_explained`)."""

    check: Check
    tenants: set[str] = field(default_factory=set)  # tenant names: from Host headers, unless mapped
    texts: set[str] = field(default_factory=set)  # every shape found in a value
    values: set[bytes] = field(default_factory=set)  # every value with a `/<digit>` in it

    def add(self, where: str, table: str, column: str, values: Iterable[bytes]) -> None:
        values = set(values)
        self.values |= {v for v in values if _SLASH_DIGIT.search(v)}
        found = find_shapes(b"\n".join(values))
        for kind in (IP, UA):
            texts = sorted(t for k, t in found if k == kind)
            if not texts:
                continue
            self.texts.update(texts)
            if (table, column) in PATH_COLUMNS:
                self.check.warnings.append(
                    f"{where}: {table}.{column} holds {_few(kind, texts)} "
                    "(in request paths, which anyone can choose)"
                )
                continue
            if kind == UA and (table, column) in QUERY_COLUMNS:
                self.check.warnings.append(
                    f"{where}: {table}.{column} holds {_few(kind, texts)} "
                    "(from utm_source, ref or utm_* in a request, which anyone can choose)"
                )
                continue
            # A site reached by its address, or any client sending `Host: 1.2.3.4`, names a tenant.
            named = [t for t in texts if any(t in name for name in self.tenants)]
            if named:
                self.check.warnings.append(
                    f"{where}: {table}.{column} holds {_few(kind, named)} (a tenant name, from a Host "
                    "header, which anyone can send; map it to a name in rings.toml)"
                )
            if others := [t for t in texts if t not in named]:
                self.check.failures.append(f"{where}: {table}.{column} holds {_few(kind, others)}")


def _few(kind: str, texts: list[str]) -> str:
    """`an IP address: 1.2.3.4`, or `3 user agents: a, b, c`, at most MAX_SHOWN of them shown."""
    shown = ", ".join(texts[:MAX_SHOWN]) + (
        f" and {len(texts) - MAX_SHOWN} more" if len(texts) > MAX_SHOWN else ""
    )
    if len(texts) == 1:
        return f"{'an' if kind == IP else 'a'} {kind}: {shown}"
    return f"{len(texts)} {kind}es: {shown}" if kind == IP else f"{len(texts)} {kind}s: {shown}"


def _rel(state: StateDir, path: Path) -> str:
    """A path inside the state dir as printable text (file names may hold anything)."""
    text = str(path.relative_to(state.root)) if path.is_relative_to(state.root) else str(path)
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


# --- The audit ----------------------------------------------------------------------------------
def audit(state: StateDir, warehouse_wait: float = WAREHOUSE_WAIT) -> AuditResult:
    """Run every check on `state` (which must exist); never writes to it."""
    state.require()
    stored = Stored()
    tables = Check("tables", "no IP address or user agent in any table (request paths: warnings)")
    scan = _Scan(tables)
    hashes = Check("hashes", "no visitor hash survives in a finalized tenant-day")
    salts = Check("salts", "no salt outlives its tenant-day's finalization")
    finalized = Finalized()
    tenant_days: set[tuple[str, str]] = set()

    scan.tenants = {p.name for p in (state.root / "do").glob("*") if p.is_dir()}
    # Catalog: finalized tenant-days (and dates, of an earlier release), tenant-days, checkpoints;
    # its own text columns.
    if state.catalog_path.exists() and not state.catalog_path.is_symlink():
        where = _rel(state, state.catalog_path)
        try:
            catalog = _read_sqlite(state.catalog_path, _read_catalog)
        except sqlite3.Error as e:
            tables.failures.append(f"{where}: cannot be read ({e})")
        else:
            finalized.dates |= catalog.finalized
            finalized.tenant_days |= catalog.finalized_days
            finalized.tenant_days |= {(t, d) for t, d in catalog.days if d in catalog.finalized}
            tenant_days |= catalog.days
            scan.tenants |= {t for t, _ in catalog.days}
            stored.checkpoints = catalog.checkpoints
            for table, column, values in catalog.columns:
                scan.add(where, table, column, values)

    # DO files.
    for path in sorted((state.root / "do").glob("*/*.sqlite")):
        if not _inside(state, path):
            continue  # behind a symbolic link: never followed (the bytes check fails on the link)
        where = _rel(state, path)
        if _PACK_FILE.match(path.name):
            _audit_pack(state, path, where, scan, hashes, stored, finalized, tenant_days)
            continue
        tenant, date = path.parent.name, path.stem
        tenant_days.add((tenant, date))
        try:
            do = _read_sqlite(path, _read_do)
        except sqlite3.Error as e:
            tables.failures.append(f"{where}: cannot be read ({e})")
            hashes.failures.append(f"{where}: cannot be read ({e})")
            continue
        if do.is_final:
            stored.do_files_finalized += 1
            finalized.tenant_days.add((tenant, date))
        else:
            stored.do_files_open += 1
        for table, column, values in do.columns:
            scan.add(where, table, column, values)
        # A tenant-day the catalog lists as finalized counts too: its DO file may keep no hash.
        if do.is_final or (tenant, date) in finalized.tenant_days or date in finalized.dates:
            _check_hashes(hashes, path, where, do.views, do.free_pages)

    # The warehouse: its tenant-days count too (days written straight to it have no DO file).
    stored.warehouse_rows = _scan_warehouse(state, scan, warehouse_wait, tenant_days)
    tenants = {t for t, _ in tenant_days}
    aside = _audit_set_aside(state, scan, hashes, finalized, tenants, warehouse_wait)
    stored.tenants, stored.days = len(tenants), len({d for _, d in tenant_days})
    stored.tenant_days = len(tenant_days)

    # Salts.
    finalized.close_dates(tenant_days)
    found = salt_files(state)
    stored.salts = sum(1 for s in found if s.date is not None)
    for salt in found:
        if salt.date is None:
            salts.warnings.append(f"{_rel(state, salt.path)}: not a salt file name; what is it?")
        elif salt_outlived(salt, finalized):
            day = f"{salt.tenant}/{salt.date}" if salt.tenant else salt.date
            salts.failures.append(f"{_rel(state, salt.path)}: {day} is finalized but its salt still exists")

    byte_check, stored.files, stored.bytes = _scan_bytes(state, scan)
    return AuditResult(
        str(state.root), stored, [tables, byte_check, hashes, salts, aside, _check_permissions(state)]
    )


def _audit_pack(
    state: StateDir,
    path: Path,
    where: str,
    scan: _Scan,
    hashes: Check,
    stored: Stored,
    finalized: Finalized,
    tenant_days: set[tuple[str, str]],
) -> None:
    """A pack holds finalized tenant-days only: its text columns are scanned like a DO file's, it
    may have no page views table, and no free page (erased days leave no byte)."""
    try:
        pack = _read_sqlite(path, _read_pack)
    except sqlite3.Error as e:
        scan.check.failures.append(f"{where}: cannot be read ({e})")
        hashes.failures.append(f"{where}: cannot be read ({e})")
        return
    days = {(path.parent.name, d) for d, _ in pack.days}
    stored.packs += 1
    stored.packed_days += len(days)
    tenant_days |= days
    finalized.tenant_days |= days
    for table, column, values in pack.columns:
        scan.add(where, table, column, values)
    if pack.views:
        hashes.failures.append(f"{where}: a pack with a page views table (packs hold finalized days only)")
    _check_hashes(hashes, path, where, 0, pack.free_pages)


def _read_pack(con: sqlite3.Connection) -> _FileData:
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return _FileData(
        list(_sqlite_columns(con)),
        days={(d, "") for (d,) in con.execute("SELECT date FROM days")},
        views=int("views" in names),
        free_pages=con.execute("PRAGMA freelist_count").fetchone()[0],
    )


def _check_hashes(check: Check, path: Path, where: str, left: int, free: int) -> None:
    """A finalized tenant-day: no rows in `views`, and a vacuumed file (no free pages that could
    still hold deleted ones). A WAL with content means a process has the file open: say so."""
    if left:
        check.failures.append(f"{where}: finalized, yet {left} page views with visitor hashes remain")
    if free:
        check.failures.append(
            f"{where}: finalized, yet {free} free pages may still hold deleted visitor hashes (not vacuumed)"
        )
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        check.warnings.append(
            f"{where}-wal: {wal.stat().st_size:,} bytes of WAL on a finalized tenant-day "
            "(a process has it open?); audit again when it is idle"
        )


def _scan_warehouse(
    state: StateDir, scan: _Scan, wait: float, tenant_days: set[tuple[str, str]]
) -> dict[str, int] | None:
    """Text columns and row counts of the warehouse (the state dir's file, or the shared database's
    tables); None when there is none or it stayed busy. Its tenant-days are added to `tenant_days`,
    their tenants to the tenant names: a tenant named by an address (a Host header) is a warning
    here too, as in the catalog."""
    warehouse = open_warehouse(state)
    if warehouse.kind == "duckdb" and state.warehouse_path.is_symlink():
        return None  # named by the links check; nothing is read through it
    if not warehouse.exists():
        return None
    where = _rel(state, state.warehouse_path) if warehouse.kind == "duckdb" else warehouse.describe()
    try:
        return _take(warehouse.audit(wait), where, scan, tenant_days)
    except StateLockedError:
        scan.check.warnings.append(
            f"{where}: busy (a flush held it for {wait:g}s), its tables were not read; audit again"
        )
        return None
    except RingsError as e:
        scan.check.failures.append(f"{where}: cannot be read ({e})")
        return None


def _read_duckdb(
    path: Path, where: str, scan: _Scan, wait: float, tenant_days: set[tuple[str, str]]
) -> dict[str, int]:
    """Row counts and text columns of a DuckDB file (a copy a repair set aside); its `daily`
    tenant-days are added to `tenant_days`."""
    return _take(Warehouse(path).audit(wait), where, scan, tenant_days) or {}


def _take(
    found: Audited | None, where: str, scan: _Scan, tenant_days: set[tuple[str, str]]
) -> dict[str, int] | None:
    """What a warehouse's audit found, into the scan: its tenant-days, tenants and text values."""
    if found is None:
        return None
    tenant_days |= found.days
    scan.tenants |= {t for t, _ in found.days}
    for table, column, values in found.values:
        scan.add(where, table, column, values)
    return found.counts


_ASIDE = re.compile(r"\.damaged-\d{8}T\d{6}Z$")  # what check --repair names a file it sets aside


def _audit_set_aside(
    state: StateDir,
    scan: _Scan,
    hashes: Check,
    finalized: Finalized,
    live: set[str],
    wait: float,
) -> Check:
    """Files `rings check --repair` set aside are read like the live ones (their tables for the
    `tables` check, a DO file's visitor hashes for `hashes`); none may hold a tenant the state dir
    no longer has (an erase or retention covers them)."""
    check = Check(
        "set-aside",
        "files a repair set aside hold no tenant the state dir no longer has (erase covers them)",
    )
    top = [p for p in state.root.iterdir() if _ASIDE.search(p.name) and not p.is_symlink()]
    tenant_files = [p for p in (state.root / "do").glob("*/*") if _ASIDE.search(p.name) and _inside(state, p)]
    for path in sorted(top + tenant_files):
        where = _rel(state, path)
        held: set[str] = set() if path.parent == state.root else {path.parent.name}
        try:
            if path.name.startswith("warehouse.duckdb"):
                days: set[tuple[str, str]] = set()
                _read_duckdb(path, where, scan, wait, days)
                held |= {t for t, _ in days}
            elif path.name.startswith("catalog.sqlite"):
                data = _read_sqlite(path, _read_catalog)
                held |= {t for t, _ in data.days | data.finalized_days}
            elif path.name.startswith("secret.key"):
                continue  # keys file identities only: no tenant's data
            else:
                data = _read_sqlite(path, _read_pack if ".pack." in path.name else _read_do)
                day = (path.parent.name, path.name[:10])
                closed = day in finalized.tenant_days or day[1] in finalized.dates
                if ".pack." not in path.name and data.views and closed:
                    hashes.failures.append(
                        f"{where}: set aside by a repair, it keeps {data.views} page views with visitor "
                        f"hashes of finalized tenant-day {day[0]}/{day[1]}; delete it"
                    )
            for table, column, values in data.columns if not path.name.startswith("warehouse") else []:
                scan.add(where, table, column, values)
        except (sqlite3.Error, RingsError):
            if path.parent == state.root:
                check.warnings.append(
                    f"{where}: set aside by a repair and cannot be read, so what it holds is not known "
                    "(its bytes are scanned); delete it once you no longer need it"
                )
                continue
        gone = sorted(held - live)
        if gone:
            check.failures.append(
                f"{where}: holds {', '.join(gone)}, which the state dir no longer has (erased?): "
                f"run `rings erase --tenant {gone[0]}` again, or delete it"
            )
        else:
            check.notes.append(
                f"{where}: set aside by `rings check --repair`; delete it once you no longer need it"
            )
    return check


def _scan_bytes(state: StateDir, scan: _Scan) -> tuple[Check, int, int]:
    """The physical scan; returns the check, the number of files and their total size.

    A byte hit that is text of a value the tables hold was judged by the `tables` check (a
    failure there, or a request path's warning), so only the others fail here: bytes no table
    shows, such as deleted rows in free pages or a WAL."""
    live = b"\n".join(scan.values)
    check = Check("bytes", "no IP address or user agent in the bytes of any file (WAL, free pages too)")
    files = total = 0
    for path in _files(state.root):
        where = _rel(state, path)
        if path.is_symlink():
            if path != state.root / CONFIG_NAME:
                check.failures.append(
                    f"{where}: a symbolic link (to {safe_text(os.readlink(path))}); not followed, so "
                    "what it points to is not audited (and no command runs while it is there)"
                )
            continue
        if path == state.root / CONFIG_NAME:
            check.notes.append(f"{where}: your configuration, not scanned (it may name proxies)")
            continue
        try:
            size = path.stat().st_size
            found = scan_file(path)
        except FileNotFoundError:
            continue  # gone meanwhile (a WAL checkpointed away): nothing left to hold anything
        except OSError as e:
            check.failures.append(f"{where}: cannot be read ({e.strerror})")
            continue
        files, total = files + 1, total + size
        shown = {(k, t) for k, t in found if _explained(t, live, scan.texts)}
        for kind in (IP, UA):
            texts = sorted(t for k, t in found - shown if k == kind)
            if texts:
                check.failures.append(f"{where}: bytes hold {_few(kind, texts)}, in no table (deleted data?)")
    check.notes.append(f"scanned {files} files, {total:,} bytes")
    return check, files, total


def _explained(text: str, live: bytes, texts: set[str]) -> bool:
    """Whether a byte hit is (part of) a value the tables hold. In a file, the bytes next to a
    value can complete a shape (a path `/tool/id/120` followed by the bytes ` (` and preceded by
    others is `toolid/120 (`) or extend one (a path's `2001:db8::1` followed by `ab`); so a
    shape found in a value counts by containment either way, and a `Name/version (` shape when
    its text, less a glued-on start of the name, is in a value."""
    if any(t in text or text in t for t in texts):
        return True
    core = text.encode().removesuffix(b" (")
    name_length = core.find(b"/")
    return any(core[i:] in live for i in range(max(1, name_length - 1)))


def _inside(state: StateDir, path: Path) -> bool:
    """No folder between the state dir and `path` is a symbolic link (nor `path` itself)."""
    for part in [path, *path.parents]:
        if part == state.root:
            return True
        if part.is_symlink():
            return False
    return True


def _files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        yield from (base / n for n in sorted(filenames))
        yield from (base / n for n in dirnames if (base / n).is_symlink())


def _check_permissions(state: StateDir) -> Check:
    """Nothing wider than the state dir's modes; salts 0600 in a 0700 directory in any case."""
    group = load_config(None, state).group_readable
    dir_mode, file_mode = (0o750, 0o640) if group else (0o700, 0o600)
    check = Check(
        "permissions",
        f"owner-only permissions ({dir_mode:o} dirs, {file_mode:o} files; salts 600 in a 700 dir)",
    )
    if group:
        check.notes.append("group_readable = true in rings.toml: the group may read reports")
    for path in [state.root, *sorted(state.root.rglob("*"))]:
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            continue
        mode, is_dir = stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode)
        in_salts = path.is_relative_to(state.salts_dir)
        allowed = (0o700 if in_salts else dir_mode) if is_dir else (0o600 if in_salts else file_mode)
        if mode & ~allowed:
            what = "directory" if is_dir else "file"
            check.failures.append(
                f"{_rel(state, path) if path != state.root else '.'}: {what} is "
                f"{mode:04o}, wider than {allowed:04o}"
            )
    return check
