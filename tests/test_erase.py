"""`rings erase`, `keep_days` and `rings gc`: a tenant's days go, and no byte of them stays.

Every test ingests several tenants, deletes some tenant-days, then scans every byte of every file
under the state dir (hidden ones too) for the tenant's name and its distinctive paths and referrers,
queries the warehouse and the catalog, and compares the other tenants' reports before and after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from rings_cli.core.config import parse_config
from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.days.erase import ERASED_NAME, erase_tenant, retention_cutoffs
from rings_cli.query.report import build_report
from rings_cli.store.catalog import Catalog
from rings_cli.warehouse.local import TABLES
from tests.conftest import SAMPLE_LOG, line, report_json, run_rings

ERASED = "carol.example"
OTHERS = ("alice.example", "bob.example")
# Paths and referrers only carol has (added below): none may survive anywhere.
CAROL_OLD_PATH = "/carol-only-zebra-page"  # on 2025-12-01 only
CAROL_NEW_PATH = "/carol-only-yak-page"  # on 2025-12-03
CAROL_REFERRER = "carol-only-referrer.test"  # on 2025-12-01 only


def extra_lines(mention: bool) -> list[str]:
    """Distinctive lines for carol; with `mention`, an alice line whose referrer is carol's site."""
    lines = [
        line(
            vhost="carol.example:443",
            when="01/Dec/2025:12:00:00 +0000",
            request=f"GET {CAROL_OLD_PATH} HTTP/1.1",
            referrer=f"https://{CAROL_REFERRER}/from",
        ),
        line(
            vhost="carol.example:443",
            when="03/Dec/2025:12:00:00 +0000",
            request=f"GET {CAROL_NEW_PATH} HTTP/1.1",
        ),
    ]
    mentions = [
        line(
            vhost="alice.example:443",
            ip="198.51.100.7",
            when="02/Dec/2025:12:00:00 +0000",
            request="GET /alice-page HTTP/1.1",
            referrer="https://carol.example/posts/hello/",
        ),
    ]
    return lines + (mentions if mention else [])


def ingest(state: StateDir, tmp_path: Path, mention: bool = False, direct: bool = False) -> None:
    """The sample log, and the extra lines in a directory named after carol (so a file
    checkpoint's name, the log's path, names her). Through DO files, finalized and packed (the
    days are long over: `direct` writes them straight to the warehouse instead)."""
    logs = tmp_path / f"{ERASED}-logs"
    logs.mkdir(exist_ok=True)
    (logs / "extra.log").write_text("".join(x + "\n" for x in extra_lines(mention)))
    shutil.copy(SAMPLE_LOG, tmp_path / "access.log")
    result = run_rings(
        "ingest",
        str(tmp_path / "access.log"),
        str(logs / "extra.log"),
        "--state-dir",
        str(state.root),
        "-q",
        *([] if direct else ["--no-finalize"]),
    )
    assert result.returncode == 0, result.stderr
    if not direct:
        done = run_rings("finalize", "--state-dir", str(state.root))
        assert done.returncode == 0, done.stderr


def scan(root: Path, needles: Iterable[str]) -> list[tuple[str, str]]:
    """(file, needle) for every needle found in the bytes of any file under root."""
    hits = []
    for path in sorted(root.rglob("*")):
        try:
            data = path.read_bytes() if path.is_file() else b""
        except FileNotFoundError:  # a DO file packed (or a WAL emptied) by a running ingest meanwhile
            continue
        hits += [(str(path.relative_to(root)), n) for n in needles if n.encode() in data]
    return hits


def snapshot(root: Path) -> dict[str, str]:
    """Every file's content hash: what "nothing changed" means (SQLite's shared-memory index and
    an empty WAL come and go with readers, and hold no data)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not p.name.endswith("-shm")
        and not (p.name.endswith("-wal") and not p.stat().st_size)
    }


def warehouse_rows(state: StateDir, where: str) -> dict[str, int]:
    con = duckdb.connect(str(state.warehouse_path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t} WHERE {where}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def catalog_rows(state: StateDir, tenant: str) -> list[tuple[str, str]]:
    con = sqlite3.connect(state.catalog_path)
    try:
        return con.execute(
            "SELECT tenant, date FROM days WHERE tenant = ? ORDER BY date", (tenant,)
        ).fetchall()
    finally:
        con.close()


def reports(state: StateDir, tenants: Iterable[str], *args: str) -> dict[str, dict]:
    return {
        t: report_json(state, "--tenant", t, "--start", "2025-11-01", "--end", "2025-12-31", *args)
        for t in tenants
    }


def erase(state: StateDir, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    result = run_rings("erase", "--state-dir", str(state.root), *args, input=stdin)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_erase_leaves_no_byte_of_the_tenant(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path)
    assert scan(state.root, [ERASED, CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER])  # the scan finds them
    before = reports(state, OTHERS)

    code, out, err = erase(state, "--tenant", ERASED, "--yes")

    assert (code, err) == (0, ""), err
    assert "Will delete 3 tenant-days" in out
    assert f"do/{ERASED}/2025-12.pack.sqlite" in out  # its finalized days, packed (pack.py)
    assert "1 naming the tenant" in out  # the checkpoint of carol.example-logs/extra.log
    assert f"Erased 3 tenant-days of {ERASED}." in out
    assert scan(state.root, [ERASED, CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER]) == []
    assert sum(warehouse_rows(state, f"tenant = '{ERASED}'").values()) == 0
    assert sum(warehouse_rows(state, "tenant <> 'alice.example' AND tenant <> 'bob.example'").values()) == 0
    assert catalog_rows(state, ERASED) == []
    assert not (state.root / "do" / ERASED).exists()
    assert not state.warehouse_path.with_name("warehouse.duckdb.wal").exists()
    # the file checkpoints stay (no file is imported twice), without carol's name
    con = sqlite3.connect(state.catalog_path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM checkpoints")]
    finally:
        con.close()
    assert len(names) == 2 and ERASED_NAME in names
    assert reports(state, OTHERS) == before

    # Reading the same files again imports nothing: carol does not come back.
    ingest(state, tmp_path)
    assert catalog_rows(state, ERASED) == []
    assert scan(state.root, [CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER]) == []
    assert reports(state, OTHERS) == before


def test_erase_of_days_written_straight_to_the_warehouse_leaves_no_byte(
    state: StateDir, tmp_path: Path
) -> None:
    """Days that went straight to the warehouse (no DO file): their rows and the record of their
    lines go; reading the files again brings nothing back."""
    ingest(state, tmp_path, direct=True)
    assert not (state.root / "do" / ERASED).exists()
    before = reports(state, OTHERS)
    code, _, err = erase(state, "--tenant", ERASED, "--yes")
    assert (code, err) == (0, ""), err
    assert scan(state.root, [ERASED, CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER]) == []
    con = duckdb.connect(str(state.warehouse_path), read_only=True)
    try:
        left = con.execute(f"SELECT count(*) FROM absorbed WHERE tenant = '{ERASED}'").fetchall()[0][0]
    finally:
        con.close()
    assert left == 0
    assert reports(state, OTHERS) == before
    ingest(state, tmp_path, direct=True)
    assert scan(state.root, [CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER]) == []
    assert reports(state, OTHERS) == before


def test_other_tenants_mentions_of_the_tenant_stay(state: StateDir, tmp_path: Path) -> None:
    """alice's referrer from carol's site is alice's data: erasing carol keeps it."""
    ingest(state, tmp_path, mention=True)
    before = reports(state, OTHERS)
    assert erase(state, "--tenant", ERASED, "--yes")[0] == 0
    assert scan(state.root, [CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER, f"do/{ERASED}"]) == []
    con = duckdb.connect(str(state.warehouse_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM pages WHERE path LIKE '/carol-only%'").fetchone()[0] == 0
        assert (
            con.execute("SELECT count(*) FROM referrers WHERE source = ?", [CAROL_REFERRER]).fetchone()[0]
            == 0
        )
        kept = con.execute("SELECT tenant FROM referrers WHERE source = 'carol.example'").fetchall()
    finally:
        con.close()
    assert kept == [("alice.example",)]
    assert reports(state, OTHERS) == before
    alice = report_json(state, "--tenant", "alice.example", "--start", "2025-12-01", "--limit", "1000")
    assert {"source": "carol.example", "visits": 1} in alice["top_referrers"]


def test_erase_before_only_deletes_older_days(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path)
    others = reports(state, OTHERS)
    kept = report_json(state, "--tenant", ERASED, "--start", "2025-12-02", "--end", "2025-12-03")

    code, out, err = erase(state, "--tenant", ERASED, "--before", "2025-12-02", "--yes")

    assert (code, err) == (0, ""), err
    assert "Will delete 1 tenant-day: carol.example/2025-12-01" in out
    assert catalog_rows(state, ERASED) == [(ERASED, "2025-12-02"), (ERASED, "2025-12-03")]
    assert scan(state.root, [CAROL_OLD_PATH, CAROL_REFERRER]) == []
    assert scan(state.root, [CAROL_NEW_PATH])  # the newer day is kept
    assert sum(warehouse_rows(state, f"tenant = '{ERASED}' AND date < DATE '2025-12-02'").values()) == 0
    assert warehouse_rows(state, f"tenant = '{ERASED}'")["daily"] == 2
    assert reports(state, OTHERS) == others
    assert report_json(state, "--tenant", ERASED, "--start", "2025-12-02", "--end", "2025-12-03") == kept


def test_dry_run_changes_nothing(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path)
    before = snapshot(state.root)
    code, out, _ = erase(state, "--tenant", ERASED, "--dry-run")
    assert code == 0
    assert "Would delete 3 tenant-days" in out
    assert "warehouse rows: " in out and "daily 3" in out
    assert snapshot(state.root) == before


def test_no_tty_and_no_yes_is_refused(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path)
    before = snapshot(state.root)
    code, _, err = erase(state, "--tenant", ERASED)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("Error: ") and "--yes" in err
    assert snapshot(state.root) == before


def test_erase_while_an_ingest_runs_fails_and_changes_nothing(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path)
    before = snapshot(state.root)
    with state.ingest_lock():  # what a running ingest holds
        code, _, err = erase(state, "--tenant", ERASED, "--yes")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("Error: ") and "ingest" in err
    assert snapshot(state.root) == before


def test_erase_names_rings_toml_lines_without_editing(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path)
    toml = state.root / "rings.toml"
    toml.write_text('[tenants]\n"shop.carol.example" = "carol.example"\n')
    code, out, _ = erase(state, "--tenant", ERASED, "--yes")
    assert code == 0
    assert 'rings.toml line 2 still names carol.example: "shop.carol.example" = "carol.example"' in out
    assert toml.read_text() == '[tenants]\n"shop.carol.example" = "carol.example"\n'


def test_erase_finishes_what_a_crash_left(state: StateDir, tmp_path: Path) -> None:
    """Warehouse and catalog done, files not yet (a crash): running erase again removes them."""
    ingest(state, tmp_path)
    saved = tmp_path / "saved"
    shutil.copytree(state.root / "do" / ERASED, saved)
    erase_tenant(state, ERASED)
    shutil.copytree(saved, state.root / "do" / ERASED)  # as if the unlinks had not happened
    todo, done = erase_tenant(state, ERASED)
    assert done and [d for _, d in todo.days] == ["2025-12-01", "2025-12-02", "2025-12-03"]
    assert scan(state.root, [ERASED, CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER]) == []


def test_per_tenant_salt_dirs_are_erased(state: StateDir, tmp_path: Path) -> None:
    """With salts per tenant-day (`salts/<tenant>/<date>.key`), the tenant's salts go; global
    `salts/<date>.key` files hold nothing of it and stay."""
    ingest(state, tmp_path)
    (state.salts_dir / ERASED).mkdir()
    (state.salts_dir / ERASED / "2025-12-04.key").write_bytes(b"\1" * 32)
    (state.salts_dir / "2025-12-04.key").write_bytes(b"\2" * 32)
    todo, done = erase_tenant(state, ERASED)
    assert done and state.salts_dir / ERASED / "2025-12-04.key" in todo.files
    assert not (state.salts_dir / ERASED).exists()
    assert (state.salts_dir / "2025-12-04.key").exists()


# --- retention --------------------------------------------------------------------------------------


def recent_log(tmp_path: Path, today: dt.date) -> Path:
    """Three tenants, on a day 10 days ago (distinctive paths) and yesterday."""
    old, new = today - dt.timedelta(days=10), today - dt.timedelta(days=1)
    stamp: Callable[[dt.date], str] = lambda d: d.strftime("%d/%b/%Y:12:00:00 +0000")  # noqa: E731
    lines = []
    for host in ("alice.example", "bob.example", "carol.example"):
        lines.append(line(vhost=host, when=stamp(old), request=f"GET /{host}-ancient-page HTTP/1.1"))
        lines.append(line(vhost=host, when=stamp(new), request=f"GET /{host}-fresh-page HTTP/1.1"))
    path = tmp_path / "recent.log"
    path.write_text("".join(x + "\n" for x in lines))
    return path


def test_keep_days_after_ingest(state: StateDir, tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    config = tmp_path / "rings.toml"
    config.write_text("keep_days = 5\n")
    result = run_rings(
        "ingest",
        str(recent_log(tmp_path, today)),
        "--state-dir",
        str(state.root),
        "--config",
        str(config),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    old = (today - dt.timedelta(days=10)).isoformat()
    summary = json.loads(result.stdout)
    assert summary["expired"] == [f"{t}/{old}" for t in ("alice.example", "bob.example", "carol.example")]
    assert scan(state.root, ["ancient-page"]) == []
    assert scan(state.root, ["fresh-page"])  # kept (in the warehouse: the day is over, no DO file)
    assert warehouse_rows(state, f"date = DATE '{old}'")["daily"] == 0
    assert warehouse_rows(state, "true")["daily"] == 3


def test_gc_applies_per_tenant_keep_days(state: StateDir, tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    result = run_rings("ingest", str(recent_log(tmp_path, today)), "--state-dir", str(state.root), "-q")
    assert result.returncode == 0, result.stderr
    config = tmp_path / "rings.toml"  # outside the state dir: it names carol
    config.write_text('[keep_days]\n"*" = 30\n"carol.example" = 0\n')
    bad = run_rings("gc", "--state-dir", str(state.root), "--config", str(config))
    assert bad.returncode == 2 and bad.stderr.decode().startswith("Error: ")
    since = ("--start", (today - dt.timedelta(days=30)).isoformat(), "--end", today.isoformat())
    others = {t: report_json(state, "--tenant", t, *since) for t in OTHERS}
    fresh = report_json(state, "--tenant", ERASED, "--start", (today - dt.timedelta(days=1)).isoformat())
    before = snapshot(state.root)
    config.write_text('[keep_days]\n"*" = 30\n"carol.example" = 5\n')

    dry = run_rings("gc", "--dry-run", "--state-dir", str(state.root), "--config", str(config))
    assert dry.returncode == 0 and "Would delete 1 tenant-day:" in dry.stdout.decode()
    assert snapshot(state.root) == before
    done = run_rings("gc", "--state-dir", str(state.root), "--config", str(config))

    assert done.returncode == 0, done.stderr
    old = (today - dt.timedelta(days=10)).isoformat()
    assert f"Deleted 1 tenant-day: carol.example/{old}" in done.stdout.decode()
    assert scan(state.root, ["carol.example-ancient-page"]) == []
    assert len(scan(state.root, ["alice.example-ancient-page", "carol.example-fresh-page"])) >= 2
    assert warehouse_rows(state, f"tenant = 'carol.example' AND date = DATE '{old}'")["pages"] == 0
    assert {t: report_json(state, "--tenant", t, *since) for t in OTHERS} == others
    assert (
        report_json(state, "--tenant", ERASED, "--start", (today - dt.timedelta(days=1)).isoformat()) == fresh
    )
    again = run_rings("gc", "--state-dir", str(state.root), "--config", str(config))
    assert again.returncode == 0 and "Nothing to delete." in again.stdout.decode()


@pytest.mark.parametrize(
    "text",
    [
        "keep_days = 0",
        'keep_days = "30"',
        "keep_days = 1.5",
        "keep_days = true",
        '[keep_days]\n"Bad Name" = 3',
    ],
)
def test_bad_keep_days_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="keep_days"):
        parse_config(tomllib.loads(text))


def test_keep_days_values() -> None:
    config = parse_config(tomllib.loads('[keep_days]\n"*" = 90\n"alice" = 30\n'))
    assert (config.keep_days_for("alice"), config.keep_days_for("bob")) == (30, 90)
    assert parse_config(tomllib.loads("keep_days = 7")).keep_days_for("x") == 7
    assert parse_config({}).keep_days_for("x") is None


def test_keep_days_count_from_each_tenants_own_today() -> None:
    """At 12:00 UTC on 1 December it is already 2 December in Kiritimati (UTC+14): keep_days counts
    back from each tenant's own today, as its days are its own (issue 16)."""
    config = parse_config(
        tomllib.loads('keep_days = 5\n[timezones]\n"east" = "Pacific/Kiritimati"\n"west" = "Pacific/Niue"\n')
    )
    now = dt.datetime(2025, 12, 1, 12, 0, tzinfo=dt.UTC)
    assert retention_cutoffs(config, ["utc", "west", "east"], now) == [
        ("east", "2025-11-27"),
        ("utc", "2025-11-26"),
        ("west", "2025-11-26"),
    ]
    late = dt.datetime(2025, 12, 1, 2, 0, tzinfo=dt.UTC)  # 15:00 on 30 November in Niue (UTC-11)
    assert retention_cutoffs(config, ["west"], late) == [("west", "2025-11-25")]


def test_catalog_file_keeps_no_freed_copy(state: StateDir, tmp_path: Path) -> None:
    """The catalog is vacuumed with secure_delete: not even a freed page holds the erased rows."""
    ingest(state, tmp_path)
    erase_tenant(state, ERASED)
    assert ERASED.encode() not in state.catalog_path.read_bytes()
    catalog = Catalog(state.catalog_path)
    try:
        assert all(t != ERASED for t, _, _ in catalog.days())
    finally:
        catalog.close()


def test_reports_keep_working_while_erase_runs(state: StateDir, tmp_path: Path) -> None:
    """A reader (`rings report`, `rings live`) running through an erase retries, never fails, and
    sees the other tenants' numbers unchanged throughout."""
    ingest(state, tmp_path)
    expected = build_report(state, tenant="alice.example", start="2025-11-01", end="2025-12-31")
    expected.pop("as_of")
    seen: list[dict] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                got = build_report(state, tenant="alice.example", start="2025-11-01", end="2025-12-31")
            except BaseException as e:
                errors.append(e)
                return
            got.pop("as_of")
            seen.append(got)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        code, _, err = erase(state, "--tenant", ERASED, "--yes")
    finally:
        stop.set()
        reader.join(timeout=120)
    assert (code, err) == (0, "")
    assert errors == []
    assert seen and all(s == expected for s in seen)
    assert scan(state.root, [ERASED, CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER]) == []


def test_keep_days_in_follow_mode(state: StateDir, tmp_path: Path) -> None:
    """`ingest --follow` applies keep_days after a flush tick, not only at exit."""
    today = dt.datetime.now(dt.UTC).date()
    config = tmp_path / "rings.toml"
    config.write_text("keep_days = 5\n")
    log = recent_log(tmp_path, today)
    args = ["ingest", "--follow", "-q", "--flush-interval", "0.2", "--config", str(config)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rings_cli", *args, "--state-dir", str(state.root), str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (
            len(scan(state.root / "do", ["fresh-page"])) >= 3 and not scan(state.root, ["ancient-page"])
        ):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "retention did not run while following"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert scan(state.root, ["ancient-page"]) == []
    assert warehouse_rows(state, "true")["daily"] == 3


# --- symbolic links ---------------------------------------------------------------------------------


def test_no_command_follows_a_symbolic_link_out_of_the_state_dir(state: StateDir, tmp_path: Path) -> None:
    """A linked `do/<tenant>`: erase used to delete every file in the link's target, then fail.
    Every command that writes refuses in one line, before touching anything; check names the link
    and its repair refuses too; audit fails on it; nothing behind the link changes."""
    ingest(state, tmp_path)
    outside = tmp_path / "elsewhere"
    (state.root / "do" / ERASED).rename(outside)
    (outside / "precious.txt").write_text("not Rings'")
    (state.root / "do" / ERASED).symlink_to(outside)
    behind = snapshot(outside)
    link = state.root / "do" / ERASED
    expected = (
        f"Error: {link} is a symbolic link (to {outside}): Rings never follows a link in its state dir; "
        "move what it points to into the state dir, or remove the link\n"
    )
    for args in (
        ("erase", "--tenant", ERASED, "--yes"),
        ("erase", "--tenant", ERASED, "--dry-run"),
        ("gc",),
        ("finalize",),
        ("ingest", "-q", str(tmp_path / "access.log")),
        ("check", "--repair"),
    ):
        result = run_rings(*args, "--state-dir", str(state.root))
        assert (result.returncode, result.stderr.decode()) == (1, expected), args
    assert snapshot(outside) == behind and link.is_symlink()
    checked = run_rings("check", "--state-dir", str(state.root))
    assert checked.returncode == 1
    assert f"{link}: a symbolic link (to {outside})" in checked.stdout.decode()
    audited = run_rings("audit", "--state-dir", str(state.root))
    assert audited.returncode == 1
    assert f"do/{ERASED}: a symbolic link (to {outside}); not followed" in audited.stdout.decode()
    assert snapshot(outside) == behind


# --- files a repair set aside ------------------------------------------------------------------------


def test_erase_after_a_repair_leaves_no_trace_in_the_files_it_set_aside(
    state: StateDir, tmp_path: Path
) -> None:
    """`rings check --repair` keeps damaged files as `<name>.damaged-<UTC>`: an erase removes the
    tenant from the copies that read (rows deleted, the rest kept) and deletes a warehouse copy
    that does not (DuckDB compresses text: no byte scan can prove it clean); audit passes after."""
    ingest(state, tmp_path)
    stamp = "20251201T000000Z"
    catalog_copy = state.root / f"catalog.sqlite.damaged-{stamp}"
    warehouse_copy = state.root / f"warehouse.duckdb.damaged-{stamp}"
    broken_copy = state.root / "warehouse.duckdb.damaged-20251202T000000Z"
    pack_copy = state.root / "do" / ERASED / f"2025-12.pack.sqlite.damaged-{stamp}"
    shutil.copy(state.catalog_path, catalog_copy)
    shutil.copy(state.warehouse_path, warehouse_copy)
    shutil.copy(state.warehouse_path, broken_copy)
    size = broken_copy.stat().st_size
    with open(broken_copy, "r+b") as f:  # every block after DuckDB's headers: checksums fail
        f.seek(12288)
        f.write(b"\xab" * (size - 12288))
    shutil.copy(state.root / "do" / ERASED / "2025-12.pack.sqlite", pack_copy)
    assert scan(state.root, [ERASED, CAROL_OLD_PATH])

    code, out, err = erase(state, "--tenant", ERASED, "--yes")
    assert (code, err) == (0, ""), err
    assert f"set aside by a repair: {catalog_copy.name}: its rows of these days" in out
    assert f"set aside by a repair: {broken_copy.name}: cannot be read, so the whole file" in out
    assert scan(state.root, [ERASED, CAROL_OLD_PATH, CAROL_NEW_PATH, CAROL_REFERRER]) == []
    assert not broken_copy.exists() and not pack_copy.exists()
    con = duckdb.connect(str(warehouse_copy), read_only=True)
    try:
        tenants = {t for (t,) in con.execute("SELECT DISTINCT tenant FROM daily").fetchall()}
    finally:
        con.close()
    assert tenants == set(OTHERS)  # the others' rows stay in the copy
    with closing(sqlite3.connect(catalog_copy)) as con:
        assert {t for (t,) in con.execute("SELECT DISTINCT tenant FROM days")} == set(OTHERS)
    audited = run_rings("audit", "--state-dir", str(state.root))
    assert audited.returncode == 0, audited.stdout.decode()
