"""The shared PostgreSQL warehouse (issue 27), on a real server (tests/pgserver.py; skipped, with
the reason, where Debian's PostgreSQL binaries are missing; CI installs them).

- the same reports from the local DuckDB file and from PostgreSQL, with live tenant-days too;
- two shard hosts (two processes, two state dirs) over one mixed log of 50 sites: exactly the
  single host's warehouse, every table, every tenant; both flushing at the same moment;
- kill -9 of a host mid-flush, then a restart: nothing changes;
- erase: no trace of the tenant in pg_dump nor in the cluster's files (base/, byte by byte);
- migrate a local warehouse, export Parquet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rings_cli.core.state import StateDir
from rings_cli.enrich.tenants import shard_of
from rings_cli.query.report import build_report
from rings_cli.store.catalog import Catalog
from rings_cli.warehouse import postgres
from tests.conftest import line, run_cli, use_postgres

SITES = [f"site{i:02d}.example" for i in range(50)]
SECRET_TENANT = "site07.example"
SECRET_PATH = "/only-on-site-seven-xq7"
BROWSERS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "Version/17.0 Mobile Safari/604.1",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "curl/8.4.0",
]
PATHS = ["/", "/about", "/posts/hello", "/posts/world/", "/blog/x", "/style.css", "/feed", "/missing"]
REFERRERS = [
    "-",
    "https://news.ycombinator.com/item",
    "https://www.google.com/",
    "https://x.example/?utm_source=nl",
]


def mixed_log(out: Path, lines: int = 6000, seed: int = 27) -> Path:
    """One vcombined log of 50 sites over the last three days and today (until 10 minutes ago)."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for _ in range(lines):
        site = rng.choice(SITES)
        back = rng.randint(0, 3)
        room = 86_399 if back else max(1, int((now - midnight).total_seconds()) - 600)
        when = midnight - dt.timedelta(days=back) + dt.timedelta(seconds=rng.randint(0, room))
        path = rng.choice([*PATHS, SECRET_PATH]) if site == SECRET_TENANT else rng.choice(PATHS)
        status = 404 if path == "/missing" else rng.choice([200, 200, 200, 304, 500])
        rows.append(
            (
                when,
                line(
                    ip=f"198.51.100.{rng.randint(1, 40)}",
                    when=when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                    request=f"GET {path} HTTP/1.1",
                    status=status,
                    size=str(rng.randint(100, 5000)),
                    referrer=rng.choice(REFERRERS),
                    ua=rng.choice(BROWSERS),
                    vhost=site,
                ),
            )
        )
    rows.sort(key=lambda r: r[0])
    out.write_text("".join(text + "\n" for _, text in rows))
    return out


def rings(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rings_cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def ingest(state: StateDir, log: Path, *extra: str) -> dict[str, Any]:
    return finish(rings("ingest", "--state-dir", str(state.root), "--json", "--quiet", *extra, str(log)))


def table_rows(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every warehouse table, sorted: two warehouses compare exactly (the record of
    lines without its file ids, keyed by each state dir's own secret)."""
    out = {}
    with psycopg.connect(dsn) as con:
        for table in postgres.WRITTEN:
            columns = "tenant, date, line" if table == "absorbed" else "*"
            rows = con.execute(f"SELECT {columns} FROM rings.{table}").fetchall()  # type: ignore[arg-type]
            out[table] = sorted(rows, key=repr)
    return out


def reports(state: StateDir) -> dict[str | None, dict[str, Any]]:
    """The all-tenants report and each site's, over the log's four days (freshness left out)."""
    today = dt.datetime.now(dt.UTC).date()
    start, end = (today - dt.timedelta(days=3)).isoformat(), today.isoformat()
    out: dict[str | None, dict[str, Any]] = {}
    for tenant in [None, *SITES]:
        report = dict(build_report(state, tenant, start, end, limit=50, compare="previous"))
        for key in ("as_of", "as_of_parts", "data_from", "data_to"):
            report.pop(key, None)
        out[tenant] = report
    return out


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mixed_log(tmp_path_factory.mktemp("logs") / "mixed.log")


def test_postgres_reports_equal_duckdb_with_live_days(tmp_path: Path, log: Path, pg_dsn: str) -> None:
    """One log into the local file and into PostgreSQL: the same reports, every tenant and section,
    also while some tenant-days are read live from their DO files (dirty in the catalog)."""
    local, shared = StateDir(tmp_path / "local"), StateDir(tmp_path / "shared")
    use_postgres(shared, pg_dsn)
    ingest(local, log)
    ingest(shared, log)
    assert reports(shared) == reports(local)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for state in (local, shared):  # today's days still have DO files: read them live
        catalog = Catalog(state.catalog_path)
        catalog.mark_dirty([(t, today) for t in SITES[:10] if state.do_path(t, today).exists()])
        catalog.close()
    live = reports(shared)
    assert live == reports(local)
    result = run_cli("report", "--state-dir", str(shared.root), "--format", "json", "--tenant", SITES[0])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["live_tenant_days"] >= 1
    assert set(report["as_of_parts"]) == {"warehouse", "this_host"}


def test_two_shard_hosts_give_the_single_host_warehouse(tmp_path: Path, log: Path, pg_server: Any) -> None:
    """Two ingest hosts (two processes, two state dirs, shards 1/2 and 2/2) read the same mixed log
    and flush at the same moment (both held inside their flush transaction, then let go): the
    shared warehouse equals the single host's, every table and tenant; every line is counted once,
    by its owner, and as `other shard` by the other."""
    single_dsn, shared_dsn = pg_server.database(), pg_server.database()
    single = StateDir(tmp_path / "single")
    use_postgres(single, single_dsn)
    whole = ingest(single, log)
    hosts = [StateDir(tmp_path / f"host{k}") for k in (1, 2)]
    for k, host in enumerate(hosts, 1):
        use_postgres(host, shared_dsn, shard=f"{k}/2")
    assert run_cli("warehouse", "init", "--state-dir", str(hosts[0].root)).exit_code == 0
    with psycopg.connect(shared_dsn) as hold:  # both flushes wait inside their transaction
        hold.execute("LOCK TABLE rings.flushes IN ACCESS EXCLUSIVE MODE")
        procs = [rings("ingest", "--state-dir", str(h.root), "--json", "--quiet", str(log)) for h in hosts]
        waiting = _wait_for(shared_dsn, lambda n: n >= 2, "waiting")
        assert waiting == 2  # two hosts mid-flush at the same moment
        hold.rollback()
    parts = [finish(p) for p in procs]
    assert table_rows(shared_dsn) == table_rows(single_dsn)
    assert parts[0]["parsed"] + parts[1]["parsed"] == whole["parsed"]
    assert parts[0]["other_shard"] == parts[1]["parsed"] and parts[1]["other_shard"] == parts[0]["parsed"]
    assert parts[0]["requests"] + parts[1]["requests"] == whole["requests"]
    for k, part in enumerate(parts, 1):
        assert {shard_of(t, 2) for t in part["tenants"]} == {k}
    assert reports(hosts[0]) == reports(single) == reports(hosts[1])
    with psycopg.connect(shared_dsn) as con:
        assert len(con.execute("SELECT host FROM rings.flushes").fetchall()) == 2


def test_kill_9_mid_flush_then_restart_changes_nothing(tmp_path: Path, log: Path, pg_server: Any) -> None:
    """A host killed (SIGKILL) while its flush transaction has written every row but not committed,
    then started again: the warehouse is exactly the single host's."""
    single_dsn, shared_dsn = pg_server.database(), pg_server.database()
    single = StateDir(tmp_path / "single")
    use_postgres(single, single_dsn)
    ingest(single, log)
    hosts = [StateDir(tmp_path / f"host{k}") for k in (1, 2)]
    for k, host in enumerate(hosts, 1):
        use_postgres(host, shared_dsn, shard=f"{k}/2")
    assert run_cli("warehouse", "init", "--state-dir", str(hosts[0].root)).exit_code == 0
    with psycopg.connect(shared_dsn) as hold:
        hold.execute("LOCK TABLE rings.flushes IN ACCESS EXCLUSIVE MODE")
        victim = rings("ingest", "--state-dir", str(hosts[0].root), "--json", "--quiet", str(log))
        _wait_for(shared_dsn, lambda n: n >= 1, "waiting")
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=60)
        hold.rollback()
    _wait_for(shared_dsn, lambda n: n == 0, "connected")  # its server process has gone
    with psycopg.connect(shared_dsn) as con:
        assert con.execute("SELECT count(*) FROM rings.daily").fetchone() == (0,)  # nothing committed
    ingest(hosts[0], log)  # the restart
    ingest(hosts[1], log)
    assert table_rows(shared_dsn) == table_rows(single_dsn)
    ingest(hosts[0], log)  # and once more: nothing new
    assert table_rows(shared_dsn) == table_rows(single_dsn)


def _wait_for(dsn: str, done: Any, what: str, timeout: float = 120.0) -> int:
    """Poll the server's sessions of Rings: `waiting` (for a lock), or `connected`, until `done(n)`."""
    where = "application_name = 'rings' AND datname = current_database()"
    if what == "waiting":
        where += " AND wait_event_type = 'Lock'"
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as con:
        while True:
            row = con.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {where}").fetchone()  # type: ignore[arg-type]
            n = int(row[0]) if row else 0
            if done(n):
                return n
            assert time.monotonic() < deadline, f"{n} sessions {what} after {timeout:.0f}s"
            time.sleep(0.02)


def test_erase_leaves_no_trace_in_pg_dump_nor_base(tmp_path: Path, log: Path, pg_server: Any) -> None:
    dsn = pg_server.database()
    state = StateDir(tmp_path / "state")
    use_postgres(state, dsn)
    ingest(state, log)
    needles = [SECRET_TENANT.encode(), SECRET_PATH.encode()]
    assert all(n in _dump(pg_server, dsn) for n in needles)
    result = run_cli("erase", "--state-dir", str(state.root), "--tenant", SECRET_TENANT, "--yes")
    assert result.exit_code == 0, result.output
    dump = _dump(pg_server, dsn)
    assert not [n for n in needles if n in dump]
    assert b"site08.example" in dump  # the other tenants stay
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CHECKPOINT")  # dropped files unlinked, every page on disk
        oid = con.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()
    assert oid is not None
    base = pg_server.data / "base" / str(oid[0])
    found = []
    for path in sorted(base.iterdir()):
        data = path.read_bytes()
        found += [f"{path.name}: {n.decode()}" for n in needles if n in data]
    assert found == []
    report = build_report(state, None, "2000-01-01", "2100-01-01")
    assert SECRET_TENANT not in {row["tenant"] for row in report["tenants"]}
    assert len(report["tenants"]) == len(SITES) - 1


def _dump(server: Any, dsn: str) -> bytes:
    name = dsn.split("dbname=")[1].split()[0]
    result = subprocess.run(
        [*server.prefix, str(server.bin / "pg_dump"), "-h", str(server.root), "-U", "rings", name],
        capture_output=True,
        timeout=120,
        cwd=server.root,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_migrate_export_check_audit(tmp_path: Path, log: Path, pg_dsn: str) -> None:
    """A local warehouse's history moved into PostgreSQL (twice: nothing doubles), the same
    reports; Parquet export of both; check and audit pass."""
    state = StateDir(tmp_path / "state")
    ingest(state, log)
    before = reports(state)
    local_export = tmp_path / "local-parquet"
    assert run_cli("export", "--state-dir", str(state.root), "--parquet", str(local_export)).exit_code == 0
    use_postgres(state, pg_dsn)
    state = StateDir(state.root)  # rings.toml read again
    for _ in range(2):
        result = run_cli("warehouse", "migrate", "--state-dir", str(state.root))
        assert result.exit_code == 0, result.output
    assert reports(state) == before
    shared_export = tmp_path / "shared-parquet"
    result = run_cli("export", "--state-dir", str(state.root), "--parquet", str(shared_export), "--json")
    assert result.exit_code == 0, result.output
    import polars as pl

    for table, rows in json.loads(result.stdout).items():
        mine = pl.read_parquet(shared_export / f"{table}.parquet")
        theirs = pl.read_parquet(local_export / f"{table}.parquet")
        assert mine.height == theirs.height == rows
    result = run_cli("check", "--state-dir", str(state.root))
    assert result.exit_code == 0, result.output
    result = run_cli("audit", "--state-dir", str(state.root))
    assert result.exit_code == 0, result.output


def test_bad_warehouse_config_is_a_usage_error(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.root.mkdir(parents=True)
    for text, words in [
        ('[warehouse]\nkind = "postgres"\n', "needs a dsn"),
        ('[warehouse]\nkind = "oracle"\n', "kind must be one of"),
        ('shard = "3/2"\n', "shard must be"),
    ]:
        (state.root / "rings.toml").write_text(text)
        result = run_cli("ingest", "--state-dir", str(state.root), "-")
        assert result.exit_code == 2 and words in result.output, result.output


def test_a_serialization_failure_is_retried(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk whose transaction fails to serialize (or deadlocks) is tried again, whole."""
    import polars as pl

    warehouse = postgres.PostgresWarehouse(pg_dsn, "test")
    real = postgres.PostgresWarehouse._write
    failures = [psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected]

    def flaky(self: Any, con: Any, keys: Any, copies: Any) -> int:
        statements = real(self, con, keys, copies)  # written, then the commit is refused
        if failures:
            raise failures.pop(0)()
        return statements

    monkeypatch.setattr(postgres.PostgresWarehouse, "_write", flaky)
    status = pl.DataFrame(
        {"tenant": ["a", "a"], "date": ["2025-12-01"] * 2, "status": [200, 404], "requests": [5, 1]}
    )
    # 2 rows; a DELETE per table it writes, then the one COPY (the failed tries are not counted)
    assert warehouse.flush([{"status": [status]}]) == (2, len(postgres.WRITTEN) + 1)
    assert failures == []
    with psycopg.connect(pg_dsn) as con:
        assert con.execute("SELECT sum(requests) FROM rings.status").fetchone() == (6,)


def test_retention_in_the_shared_warehouse(tmp_path: Path, log: Path, pg_dsn: str) -> None:
    """keep_days on a shard host deletes its own tenants' old days from PostgreSQL, not the others'."""
    state = StateDir(tmp_path / "state")
    use_postgres(state, pg_dsn, shard="1/2")
    text = (state.root / "rings.toml").read_text()
    (state.root / "rings.toml").write_text("keep_days = 1\n" + text)
    other = StateDir(tmp_path / "other")
    use_postgres(other, pg_dsn, shard="2/2")
    ingest(other, log)
    ingest(state, log)
    cutoff = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    with psycopg.connect(pg_dsn) as con:
        rows = con.execute("SELECT tenant, min(date) FROM rings.daily GROUP BY tenant").fetchall()
    mine = {t: d for t, d in rows if shard_of(t, 2) == 1}
    theirs = {t: d for t, d in rows if shard_of(t, 2) == 2}
    assert mine and all(d >= cutoff for d in mine.values())
    assert theirs and min(theirs.values()) < cutoff  # another host's tenants: its own retention


def test_live_and_serve_read_the_shared_warehouse(tmp_path: Path, pg_dsn: str) -> None:
    """`rings live --once` and what `rings serve` computes show what the report shows, from PostgreSQL."""
    from rings_cli.web.hub import Key, compute_report, known_tenants
    from tests.conftest import SAMPLE_LOG, report_json, run_rings

    state = StateDir(tmp_path / "state")
    use_postgres(state, pg_dsn)
    assert run_cli("ingest", "--state-dir", str(state.root), "-q", str(SAMPLE_LOG)).exit_code == 0
    report = report_json(state, "--tenant", "bob.example", "--start", "2025-12-02", "--end", "2025-12-02")
    out = run_rings(
        "live", "--once", "--tenant", "bob.example", "--date", "2025-12-02", "--state-dir", str(state.root),
        env={"COLUMNS": "100"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr.decode()
    assert f"{report['totals']['page_views']:,}" in out.stdout.decode().splitlines()[2]
    served = compute_report(StateDir(state.root), Key("bob.example", "2025-12-02", "2025-12-02", 10))
    assert served["totals"] == report["totals"]
    assert "bob.example" in known_tenants(StateDir(state.root))


def test_check_finds_a_row_twice_and_repair_flushes_again(tmp_path: Path, pg_dsn: str) -> None:
    from tests.conftest import SAMPLE_LOG

    state = StateDir(tmp_path / "state")
    use_postgres(state, pg_dsn)
    assert run_cli("ingest", "--state-dir", str(state.root), "-q", str(SAMPLE_LOG)).exit_code == 0
    before = table_rows(pg_dsn)
    with psycopg.connect(pg_dsn) as con:
        con.execute("INSERT INTO rings.pages SELECT * FROM rings.pages LIMIT 1")
    result = run_cli("check", "--state-dir", str(state.root))
    assert result.exit_code == 1 and "rows of pages twice" in result.output, result.output
    result = run_cli("check", "--state-dir", str(state.root), "--repair")
    assert result.exit_code == 0, result.output
    assert run_cli("check", "--state-dir", str(state.root)).exit_code == 0
    assert table_rows(pg_dsn) == before


GOALS = """
[goals]
about = "/about"
blog = "/blog/**"

[funnels]
reader = ["/", "/blog/**", "goal:about"]
"""
TIMED = (
    'nginx:$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time'
)


def test_goals_funnels_and_response_times_equal_on_postgres(tmp_path: Path, pg_dsn: str) -> None:
    """Issue 30's queries (goals, goal sources, funnels, times, slowest pages) give PostgreSQL's
    warehouse exactly the local one's answers."""
    rng = random.Random(30)
    day = dt.date(2025, 12, 1)
    lines = []
    for i in range(3000):
        when = dt.datetime(2025, 12, 1 + i % 3, 8 + i % 12, i % 60, tzinfo=dt.UTC)
        path = rng.choice(["/", "/blog/a", "/blog/b/c", "/about", "/x.css"])
        host = f"site{i % 3}.example"
        ref = rng.choice(["-", "https://www.google.com/", "https://news.example/"])
        lines.append(
            f'{host} 10.{i % 7}.{i % 11}.{i % 13} - - [{when:%d/%b/%Y:%H:%M:%S +0000}] "GET {path} HTTP/1.1" '
            f'200 10 "{ref}" "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0" '
            f"{rng.expovariate(10):.3f}"
        )
    log = tmp_path / "timed.log"
    log.write_text("".join(x + "\n" for x in lines))
    local, shared = StateDir(tmp_path / "local"), StateDir(tmp_path / "shared")
    use_postgres(shared, pg_dsn)
    local.root.mkdir(parents=True)
    (local.root / "rings.toml").write_text(GOALS)
    with open(shared.root / "rings.toml", "a") as f:
        f.write(GOALS)
    ingest(local, log, "--format", TIMED)
    ingest(shared, log, "--format", TIMED)
    keys = ("goals", "funnels", "response_times")
    for tenant in (None, "site1.example"):
        args = (tenant, day.isoformat(), (day + dt.timedelta(days=2)).isoformat())
        here = build_report(local, *args, limit=50)
        there = build_report(shared, *args, limit=50)
        assert all(k in here for k in keys)
        assert {k: there.get(k) for k in keys} == {k: here.get(k) for k in keys}
