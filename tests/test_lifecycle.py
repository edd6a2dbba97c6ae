"""The per tenant-day lifecycle (issue 11): a salt and a finalization per tenant-day, late lines that
keep every count that needs no visitor, and state dirs of earlier releases migrated without loss."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
import tarfile
from pathlib import Path

from rings_cli.core.privacy import copy_key
from rings_cli.core.state import StateDir
from rings_cli.days.finalize import finalize_days
from rings_cli.ops.audit import audit
from rings_cli.store.catalog import Catalog
from rings_cli.store.lifecycle import day_end
from tests.conftest import line, report_json, run_cli, run_rings

FIXTURES = Path(__file__).parent / "fixtures"
DATES = ["2025-12-01", "2025-12-02", "2025-12-03"]
WINDOW = ("--start", DATES[0], "--end", DATES[-1])
# The fixture's visitor of 2025-11-02 08:00 on a.example (fixtures/make_legacy_state.py, line 0).
FIXTURE_IP, FIXTURE_UA = "198.51.100.10", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"


def history(host: str, n: int = 6) -> list[str]:
    """`n` lines a day on each of DATES for `host`: page views of 3 visitors, an asset, a 404, a bot."""
    out = []
    for day in range(1, 4):
        for i in range(n):
            when = f"{day:02d}/Dec/2025:{9 + i:02d}:{i * 7:02d}:00 +0000"
            request = ["GET / HTTP/1.1", "GET /about HTTP/1.1", "GET /app.css HTTP/1.1"][i % 3]
            out.append(line(ip=f"203.0.113.{i % 3}", when=when, request=request, vhost=host))
        out.append(line(ip="203.0.113.9", when=f"{day:02d}/Dec/2025:20:00:00 +0000", status=404, vhost=host))
        out.append(line(when=f"{day:02d}/Dec/2025:21:00:00 +0000", ua="Googlebot/2.1", vhost=host))
    return out


def ingest(state: StateDir, *paths: Path, extra: tuple[str, ...] = ()) -> dict:
    result = run_cli("ingest", "--state-dir", str(state.root), "--json", *extra, *map(str, paths))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def salts(state: StateDir) -> list[str]:
    return sorted(str(p.relative_to(state.salts_dir)) for p in state.salts_dir.rglob("*") if p.is_file())


# --- two sites' history, in two runs ------------------------------------------------------------


def test_a_second_sites_history_for_finalized_dates_imports_fully(tmp_path: Path, write_log) -> None:
    a_log, b_log = write_log(history("site-a"), "a.log"), write_log(history("site-b"), "b.log")
    state = StateDir(tmp_path / "state")
    first = ingest(state, a_log)
    assert first["finalized"] == [f"site-a/{d}" for d in DATES]  # all long past: closed at the end
    assert salts(state) == []

    second = ingest(state, b_log)
    assert (second["rejected"], second["late_tenant_days"], second["late_lines"]) == (0, [], 0)
    assert second["finalized"] == [f"site-b/{d}" for d in DATES]
    assert second["requests"] == second["parsed"] == 24

    alone = StateDir(tmp_path / "alone")  # site-b imported into a state dir of its own
    ingest(alone, b_log)
    assert report_json(state, "--tenant", "site-b", *WINDOW) == report_json(
        alone, "--tenant", "site-b", *WINDOW
    )
    assert report_json(state, "--tenant", "site-b", *WINDOW)["totals"]["unique_visitors"] == 6  # 2 a day
    both = report_json(state, *WINDOW)
    assert [(t["tenant"], t["requests"]) for t in both["tenants"]] == [("site-a", 24), ("site-b", 24)]
    assert audit(state).ok


def test_finalizing_one_tenants_day_leaves_anothers_open(state: StateDir, write_log) -> None:
    ingest(state, write_log([line(vhost="alice")], "a.log"))  # 2025-12-01, long past: finalized
    ingest(state, write_log([line(vhost="bob")], "b.log"), extra=("--no-finalize",))
    assert salts(state) == ["bob/2025-12-01.key"]
    mode = stat.S_IMODE((state.salts_dir / "bob").stat().st_mode)
    assert (mode, stat.S_IMODE((state.salts_dir / "bob/2025-12-01.key").stat().st_mode)) == (0o700, 0o600)
    with sqlite3.connect(state.do_path("bob", "2025-12-01")) as con:
        assert con.execute("SELECT count(*) FROM views").fetchone() == (1,)  # bob's day is open
    done = run_cli("finalize", "--state-dir", str(state.root), "--json")
    assert json.loads(done.stdout) == {"finalized": ["bob/2025-12-01"]}
    assert salts(state) == [] and not (state.salts_dir / "bob").exists()


def test_a_tenant_day_ends_at_the_end_of_its_utc_date() -> None:
    assert day_end("alice", "2025-12-01") == dt.datetime(2025, 12, 2, tzinfo=dt.UTC)


# --- late lines ---------------------------------------------------------------------------------


def late_lines() -> list[str]:
    return [
        line(
            ip="198.51.100.5",
            when="02/Dec/2025:09:30:00 +0000",
            request="GET /about HTTP/1.1",
            vhost="site-a",
        ),
        line(
            ip="198.51.100.5", when="02/Dec/2025:09:31:00 +0000", request="GET /late HTTP/1.1", vhost="site-a"
        ),
        line(
            ip="198.51.100.5",
            when="02/Dec/2025:09:32:00 +0000",
            request="GET /x.png HTTP/1.1",
            vhost="site-a",
        ),
        line(when="02/Dec/2025:09:33:00 +0000", status=500, request="POST /api HTTP/1.1", vhost="site-a"),
        line(when="02/Dec/2025:09:34:00 +0000", ua="python-requests/2.31", vhost="site-a"),
    ]


def test_a_late_file_adds_its_requests_and_page_views_once_and_no_visitor(state: StateDir, write_log) -> None:
    ingest(state, write_log(history("site-a"), "a.log"))
    day = ("--start", "2025-12-02", "--end", "2025-12-02")
    before = report_json(state, *day)
    late = write_log(late_lines(), "late.log")

    summary = ingest(state, late)
    assert (summary["parsed"], summary["rejected"], summary["requests"], summary["page_views"]) == (
        5,
        0,
        5,
        2,
    )
    assert (summary["late_lines"], summary["late_tenant_days"]) == (5, ["site-a/2025-12-02"])
    assert summary["bot_requests"] == 1
    after = report_json(state, *day)
    t0, t1 = before["totals"], after["totals"]
    assert t1["requests"] == t0["requests"] + 5 and t1["page_views"] == t0["page_views"] + 2
    assert t1["bot_requests"] == t0["bot_requests"] + 1 and t1["bytes"] == t0["bytes"] + 5 * 512
    for key in ("unique_visitors", "sessions", "bounce_rate", "avg_session_duration"):
        assert t1[key] == t0[key], key  # visitor metrics stay as finalized
    assert after["status"]["500"] == 1 and after["status"]["200"] == before["status"]["200"] + 4
    pages = {p["path"]: p for p in after["top_pages"]}
    old_pages = {p["path"]: p for p in before["top_pages"]}
    assert pages["/late"] == {
        "path": "/late",
        "views": 1,
        "unique_views": 0,
        "entries": 0,
        "exits": 0,
        "avg_time_seconds": 0.0,
    }
    assert pages["/about"]["views"] == old_pages["/about"]["views"] + 1
    assert {k: v for k, v in pages["/about"].items() if k != "views"} == {
        k: v for k, v in old_pages["/about"].items() if k != "views"
    }
    hour9 = [h for h in after["hours"] if h["hour"] == 9]
    old9 = [h for h in before["hours"] if h["hour"] == 9]
    assert hour9[0]["page_views"] == old9[0]["page_views"] + 2
    assert hour9[0]["unique_visitors"] == old9[0]["unique_visitors"]
    assert after["top_referrers"] == before["top_referrers"]
    assert salts(state) == []  # no salt for a finalized tenant-day, ever
    assert audit(state).ok  # and its DO file is compacted again: no free pages, no WAL

    # Exactly once: read again, and again with the file checkpoints lost (as after a crash before
    # they were saved): each DO file knows the lines it absorbed.
    assert ingest(state, late)["lines_read"] == 0
    with sqlite3.connect(state.catalog_path) as con:
        con.execute("DELETE FROM checkpoints")
    again = ingest(state, late)
    assert (again["lines_read"], again["requests"], again["late_lines"]) == (5, 0, 0)
    assert report_json(state, *day) == after


def test_the_summary_says_which_tenant_days_were_late_and_why_their_visitors_are_missing(
    state: StateDir, write_log
) -> None:
    ingest(state, write_log(history("site-a"), "a.log"))
    proc = run_rings("ingest", "--state-dir", str(state.root), str(write_log(late_lines(), "late.log")))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode() + proc.stderr.decode()
    assert "Read 5 lines: 5 parsed, 0 rejected" in out
    assert (
        "5 late lines, for 1 finalized tenant-day (site-a/2025-12-02): their requests and page views "
        "are counted, their visitors could not be (uniques, sessions and referrer visits stay as finalized)"
    ) in out


def test_late_lines_in_the_same_batch_as_open_ones(state: StateDir, write_log) -> None:
    """One batch: a finalized tenant-day (late), a new tenant on that date and an open day."""
    ingest(state, write_log([line(vhost="alice")], "a.log"))
    mixed = [
        line(ip="1.1.1.1", when="01/Dec/2025:11:00:00 +0000", vhost="alice"),
        line(ip="1.1.1.1", when="01/Dec/2025:11:00:00 +0000", vhost="bob"),
        line(ip="1.1.1.1", when="05/Dec/2025:11:00:00 +0000", vhost="alice"),
    ]
    summary = ingest(state, write_log(mixed, "m.log"), extra=("--no-finalize",))
    assert summary["late_tenant_days"] == ["alice/2025-12-01"] and summary["late_lines"] == 1
    assert salts(state) == ["alice/2025-12-05.key", "bob/2025-12-01.key"]
    report = report_json(state, "--start", "2025-12-01", "--end", "2025-12-05")
    assert [(d["date"], d["page_views"], d["unique_visitors"]) for d in report["days"] if d["requests"]] == [
        ("2025-12-01", 3, 2),
        ("2025-12-05", 1, 1),
    ]


# --- finalization waits for the WAL truncate ----------------------------------------------------


def test_a_tenant_day_whose_wal_cannot_be_truncated_stays_open_until_the_next_run(
    state: StateDir, write_log
) -> None:
    ingest(state, write_log([line(vhost="alice"), line(vhost="bob")]), extra=("--no-finalize",))
    reader = sqlite3.connect(state.do_path("alice", "2025-12-01"), timeout=0)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM hourly").fetchone()  # holds a snapshot: the WAL must stay
    try:
        done = finalize_days(state, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    finally:
        reader.close()
    assert done == ["bob/2025-12-01"]
    assert salts(state) == ["alice/2025-12-01.key"]  # kept until the hashes are surely gone
    assert finalize_days(state, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == ["alice/2025-12-01"]
    assert salts(state) == []
    assert audit(state).ok


# --- a state dir of an earlier release ----------------------------------------------------------


def legacy(tmp_path: Path) -> tuple[StateDir, Path]:
    """The fixture: day 1 (2025-11-01) finalized, day 2 (2025-11-02) open, a.example and b.example."""
    with tarfile.open(FIXTURES / "legacy_state.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    for path in [state.root, *state.root.rglob("*")]:  # the tar's modes are not what these tests are about
        path.chmod(0o700 if path.is_dir() else 0o600)
    return state, tmp_path / "logs"


def day_report(state: StateDir, tenant: str, date: str) -> dict:
    return report_json(state, "--tenant", tenant, "--start", date, "--end", date)["totals"]


def test_a_legacy_state_dir_is_migrated_without_losing_a_count(tmp_path: Path) -> None:
    state, _ = legacy(tmp_path)
    old_salt = state.legacy_salt_path("2025-11-02").read_bytes()
    assert salts(state) == ["2025-11-02.key"]
    open_a, final_a = (
        day_report(state, "a.example", "2025-11-02"),
        day_report(state, "a.example", "2025-11-01"),
    )

    added = [
        # A visitor the fixture already counted on the open day: same IP and user agent, later page.
        line(
            ip=FIXTURE_IP,
            ua=FIXTURE_UA,
            vhost="a.example",
            when="02/Nov/2025:23:00:00 +0000",
            request="GET /new HTTP/1.1",
        ),
        # A new visitor on the open day.
        line(ip="192.0.2.50", vhost="a.example", when="02/Nov/2025:23:10:00 +0000"),
        # The finalized day: late, its page view counts, its visitor cannot.
        line(ip=FIXTURE_IP, ua=FIXTURE_UA, vhost="a.example", when="01/Nov/2025:23:00:00 +0000"),
    ]
    (tmp_path / "more.log").write_text("".join(x + "\n" for x in added))
    summary = ingest(state, tmp_path / "more.log", extra=("--no-finalize",))
    assert (summary["parsed"], summary["rejected"], summary["late_tenant_days"]) == (
        3,
        0,
        ["a.example/2025-11-01"],
    )

    assert salts(state) == ["a.example/2025-11-02.key", "b.example/2025-11-02.key"]
    for tenant in ("a.example", "b.example"):
        assert state.salt_path(tenant, "2025-11-02").read_bytes() == old_salt  # stored hashes still match
    now_a = day_report(state, "a.example", "2025-11-02")
    assert now_a["page_views"] == open_a["page_views"] + 2
    assert now_a["unique_visitors"] == open_a["unique_visitors"] + 1  # the returning visitor is one
    late_a = day_report(state, "a.example", "2025-11-01")
    assert late_a["page_views"] == final_a["page_views"] + 1
    assert late_a["unique_visitors"] == final_a["unique_visitors"]
    with sqlite3.connect(state.catalog_path) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        closed = con.execute("SELECT tenant, date FROM finalized_days ORDER BY 1").fetchall()
    assert "finalized" not in tables
    assert closed == [("a.example", "2025-11-01"), ("b.example", "2025-11-01")]
    assert audit(state).ok

    # Finalizing the open day afterwards closes it per tenant-day, salts and all.
    done = run_cli("finalize", "--state-dir", str(state.root), "--json")
    assert json.loads(done.stdout) == {"finalized": ["a.example/2025-11-02", "b.example/2025-11-02"]}
    assert salts(state) == []


def test_a_migration_cut_short_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """Killed after copying one salt, or after marking the catalog (before the old salt went)."""
    for cut in ("copied", "marked"):
        state, _ = legacy(tmp_path / cut)
        old = state.legacy_salt_path("2025-11-02")
        copy_key(old, state.salt_path("a.example", "2025-11-02"))
        if cut == "marked":
            copy_key(old, state.salt_path("b.example", "2025-11-02"))
            catalog = Catalog(state.catalog_path)
            catalog.migrate_finalized()
            catalog.close()
        key = old.read_bytes()
        before = day_report(state, "b.example", "2025-11-02")
        revisit = line(
            ip="198.51.100.11",
            ua="Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
            vhost="b.example",
            when="02/Nov/2025:23:00:00 +0000",
            request="GET /p HTTP/1.1",
        )
        (tmp_path / cut / "more.log").write_text(revisit + "\n")
        assert ingest(state, tmp_path / cut / "more.log", extra=("--no-finalize",))["rejected"] == 0
        assert salts(state) == ["a.example/2025-11-02.key", "b.example/2025-11-02.key"], cut
        assert state.salt_path("b.example", "2025-11-02").read_bytes() == key
        after = day_report(state, "b.example", "2025-11-02")
        assert after["page_views"] == before["page_views"] + 1
        assert after["unique_visitors"] == before["unique_visitors"], cut  # the fixture's visitor


def test_check_finds_and_destroys_stale_salts_of_both_layouts(tmp_path: Path) -> None:
    state, _ = legacy(tmp_path)
    # Before any migration: the old open-day salt is fine, an old finalized-day salt is stale.
    state.legacy_salt_path("2025-11-01").write_bytes(b"k" * 32)
    stale_new = state.salt_path("a.example", "2025-11-01")
    stale_new.parent.mkdir(mode=0o700)
    stale_new.write_bytes(b"n" * 32)
    (state.salts_dir / "a.example" / "notes").write_text("x")
    for path in state.salts_dir.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    out = run_cli("check", "--state-dir", str(state.root)).stdout
    assert f"{state.legacy_salt_path('2025-11-01')}: salt of a finalized tenant-day still present" in out
    assert f"{stale_new}: salt of a finalized tenant-day still present" in out
    assert f"{state.salts_dir / 'a.example' / 'notes'}: stray file" in out
    assert "2025-11-02.key" not in out
    assert out.endswith("3 problems\n")

    repaired = run_cli("check", "--state-dir", str(state.root), "--repair")
    assert "destroyed the salt of finalized tenant-day 2025-11-01" in repaired.stdout
    assert "destroyed the salt of finalized tenant-day a.example/2025-11-01" in repaired.stdout
    assert salts(state) == ["2025-11-02.key", "a.example/notes"]
