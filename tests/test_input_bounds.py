"""Issue 25, item 9: one line, never a traceback, never a 500. Every option and query value is
bounded where it enters (dates at 0001-01-01 and 9999-12-31, huge integers, digits that are not
ASCII), a damaged block of the warehouse is `Error: ... damaged ...` (exit 1) and a 503, and an
open-file limit too low for the run is one line."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from rings_cli.core import bounds
from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from tests.conftest import line, run_cli, run_rings
from tests.test_serve import Server


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> StateDir:
    """Three tenants' page views on three days of December 2025, flushed and finalized."""
    tmp = tmp_path_factory.mktemp("bounds")
    log = tmp / "access.log"
    log.write_text(
        "".join(
            line(ip=f"203.0.113.{i}", when=f"0{d}/Dec/2025:10:00:00 +0000", vhost=f"t{i % 3}.example") + "\n"
            for d in (1, 2, 3)
            for i in range(1, 10)
        )
    )
    state = StateDir(tmp / "state")
    result = run_cli("ingest", "--state-dir", str(state.root), "-q", str(log))
    assert result.exit_code == 0, result.output
    return state


def one_line(result: subprocess.CompletedProcess[bytes], code: int) -> str:
    err = result.stderr.decode()
    assert result.returncode == code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


# --- dates at the ends of the calendar --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "start", "end"),
    [
        (["--end", "0001-01-01"], "0001-01-01", "0001-01-01"),
        (["--end", "0001-01-03"], "0001-01-01", "0001-01-03"),
        (["--start", "9999-12-31"], "9999-12-31", "9999-12-31"),
        (["--start", "9999-12-28"], "9999-12-28", "9999-12-31"),
        (["--start", "9999-12-30", "--compare"], "9999-12-30", "9999-12-31"),
        (["--start", "0001-01-02", "--end", "0001-01-02", "--compare"], "0001-01-02", "0001-01-02"),
        (["--start", "0001-01-01", "--end", "9999-12-31", "--compare", "0001-01-01:0001-01-01"], None, None),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_reports(sample: StateDir, args: list[str], start, end) -> None:
    result = run_rings("report", "--state-dir", str(sample.root), "--format", "json", *args)
    assert result.returncode == 0, result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    report = json.loads(result.stdout)
    if start is not None:
        assert (report["start"], report["end"]) == (start, end)
        assert report["totals"]["requests"] == 0
    else:
        assert report["totals"]["requests"] == 27
    for fmt in ("table", "html", "csv"):  # every rendering of the same report
        shown = run_rings("report", "--state-dir", str(sample.root), "--format", fmt, *args)
        assert shown.returncode == 0 and b"Traceback" not in shown.stderr, shown.stderr.decode()


def test_no_period_before_the_first_day_is_a_usage_error(sample: StateDir) -> None:
    # (--start alone runs to the newest data since issue 28: the week is given as a range)
    for args in (
        ["--start", "0001-01-01", "--end", "0001-01-07", "--compare"],
        ["--end", "0001-01-07", "--compare"],
    ):
        err = one_line(run_rings("report", "--state-dir", str(sample.root), *args), 2)
        assert "--compare: no period of 7 days before 0001-01-01" in err


# --- options: huge numbers, digits that are not ASCII ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["report", "--limit", "9223372036854775808"], "--limit"),
        (["report", "--limit", "1000001"], "--limit"),
        (["report", "--limit", "\u00b2"], "--limit"),  # superscript two: int() refuses it
        (["report", "--limit", "\u0663"], "--limit"),  # Arabic-Indic three: int() takes it as 3
        (["report", "--start", "2025-12-0\u0663"], "--start"),
        (["report", "--start", "20251201"], "--start: '20251201' is not a date (YYYY-MM-DD)"),
        (["report", "--compare", "0001-01-01:99999-01-01"], "--compare"),
        (["ingest", "--grace", "99999999999999d", "x.log"], "--grace: '99999999999999d' is longer than"),
        (["ingest", "--grace", "\u0663h", "x.log"], "--grace"),
        (["finalize", "--grace", "99999999999999d"], "--grace"),
        (["ingest", "--batch-bytes", "99999999999999999999", "x.log"], "--batch-bytes"),
        (["ingest", "--batch-bytes", "9223372036854775807", "x.log"], "--batch-bytes"),
        (["ingest", "--batch-bytes", "4095", "x.log"], "--batch-bytes"),
        (["ingest", "--rejects-limit", "99999999999999999999", "--rejects", "r", "x"], "--rejects-limit"),
        (["ingest", "--flush-interval", "nan", "x.log"], "--flush-interval"),
        (["ingest", "--flush-interval", "inf", "--follow", "x.log"], "--flush-interval"),
        (["ingest", "--flush-interval", "1e400", "--follow", "x.log"], "--flush-interval"),
        (["ingest", "--flush-interval", "0", "--follow", "x.log"], "--flush-interval"),
        (["live", "--once", "--interval", "nan"], "--interval"),
        (["live", "--once", "--date", "0001-13-01"], "--date"),
        (["serve", "--port", "\u0668\u0660\u0668\u0660"], "--port"),
        (["serve", "--port", "65536"], "--port"),
        (["erase", "--tenant", "t1.example", "--before", "\u0662025-01-01", "--dry-run"], "--before"),
    ],
)
def test_options_out_of_bounds_are_one_line_and_exit_2(
    sample: StateDir, tmp_path: Path, args: list[str], says: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rings_cli", *args, "--state-dir", str(sample.root)],
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
    )
    err = one_line(result, 2)
    assert says in err, err
    assert result.stdout == b""


@pytest.mark.parametrize("keep", ["keep_days = 99999999999", '[keep_days]\n"t1.example" = 3650000'])
def test_a_retention_of_a_million_days_is_a_config_error(sample: StateDir, tmp_path: Path, keep) -> None:
    import shutil

    state = StateDir(tmp_path / "state")
    shutil.copytree(sample.root, state.root)
    (state.root / "rings.toml").write_text(keep + "\n")
    for command in (["gc"], ["ingest", str(tmp_path / "none.log")]):
        (tmp_path / "none.log").write_text("")
        err = one_line(run_rings(*command, "--state-dir", str(state.root)), 2)
        assert "keep_days" in err and "from 1 to 36500 (100 years)" in err, err


def test_bounds_of_values_from_outside() -> None:
    assert bounds.whole_number("10", "n", 1, 10) == 10
    assert bounds.seconds("0.5", "s", 0.05, 1) == 0.5
    assert bounds.date("9999-12-31", "d").isoformat() == "9999-12-31"
    for bad in ("11", "0", "-1", "+1", " 1", "1_0", "\u00b2", "\u0661", "1" * 40, ""):
        with pytest.raises(UsageError, match=r"^n: "):
            bounds.whole_number(bad, "n", 1, 10)
    for bad in ("nan", "inf", "1e3", "-1", "0.01", "\uff11", "2"):
        with pytest.raises(UsageError, match=r"^s: "):
            bounds.seconds(bad, "s", 0.05, 1)
    for bad in ("0000-12-31", "10000-01-01", "2025-W01-1", "2025-02-29", "2025-1-01"):
        with pytest.raises(UsageError, match=r"^d: "):
            bounds.date(bad, "d")
    assert bounds.shift(bounds.LAST_DAY, 6) == bounds.LAST_DAY
    assert bounds.shift(bounds.FIRST_DAY, -6) == bounds.FIRST_DAY
    assert bounds.shift(bounds.FIRST_DAY, 6).isoformat() == "0001-01-07"


# --- rings serve: query values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/t1.example/range?limit=%C2%B2", 400),  # superscript two
        ("/api/t1.example/range?limit=%D9%A3", 400),  # Arabic-Indic three
        ("/api/t1.example/range?limit=9223372036854775808", 400),
        ("/api/t1.example/range?start=2025-12-0%D9%A3", 400),
        ("/api/t1.example/range?end=0001-01-01", 200),
        ("/api/t1.example/range?start=9999-12-31", 200),
        ("/api/_all/range?end=0001-01-01", 200),
        ("/api/_all/range?start=9999-12-30", 200),
        ("/analytics/range?tenant=t1.example&end=0001-01-01", 200),
    ],
)
def test_serve_query_values_are_bounded(sample: StateDir, serve_sample, path: str, status: int) -> None:
    body = serve_sample(sample).json(path, status)
    if status == 200:
        assert body["totals"]["requests"] == 0
    else:
        assert body["error"]


def test_serve_websocket_at_the_end_of_the_calendar(sample: StateDir, serve_sample) -> None:
    server = serve_sample(sample)
    with server.ws("/api/t1.example/live?end=0001-01-01") as ws:
        init = json.loads(ws.recv(timeout=30))
        assert init["type"] == "init" and init["stats"]["start"] == "0001-01-01"
    with server.ws("/api/t1.example/live?start=9999-12-31") as ws:
        assert json.loads(ws.recv(timeout=30))["stats"]["end"] == "9999-12-31"


@pytest.fixture(scope="module")
def serve_sample():
    servers: dict[Path, Server] = {}

    def get(state: StateDir) -> Server:
        if state.root not in servers:
            servers[state.root] = Server(state)
        return servers[state.root]

    yield get
    for s in servers.values():
        err = s.stop()
        assert "Traceback" not in err, err


# --- a damaged block of the warehouse ---------------------------------------------------------


def damage_one_block(path: Path) -> None:
    """Overwrite part of one data block past the headers: the file opens, a query reading that
    block fails its checksum (DuckDB: "Corrupt database file")."""
    with open(path, "r+b") as f:
        f.seek(12288 + 262144 * 3 + 1000)
        f.write(b"\xab" * 5000)


@pytest.fixture
def damaged(sample: StateDir, tmp_path: Path) -> StateDir:
    import shutil

    state = StateDir(tmp_path / "state")
    shutil.copytree(sample.root, state.root)
    size = state.warehouse_path.stat().st_size
    assert size > 12288 + 262144 * 4, size  # the block damaged is one the queries read
    damage_one_block(state.warehouse_path)
    return state


def test_a_damaged_warehouse_block_is_one_line_in_report_and_live(damaged: StateDir) -> None:
    for args in (["report"], ["report", "--format", "json"], ["live", "--once", "--date", "2025-12-02"]):
        err = one_line(run_rings(*args, "--state-dir", str(damaged.root)), 1)
        assert f"Error: {damaged.warehouse_path}: damaged warehouse (Corrupt database file" in err, err
        assert "rings check --repair" in err


def test_a_damaged_warehouse_block_is_a_503_from_serve(damaged: StateDir) -> None:
    server = Server(damaged)
    try:
        for path in (
            "/api/_all/range?start=2025-12-01&end=2025-12-03",
            "/analytics/range?tenant=t1.example&start=2025-12-01&end=2025-12-03",
        ):
            body = server.json(path, 503)
            assert "damaged warehouse" in body["error"], body
    finally:
        err = server.stop()
    assert "Traceback" not in err and server.proc.returncode == 0, err


# --- the open-file limit ----------------------------------------------------------------------


def _limit(n: int):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def test_an_open_file_limit_too_low_for_an_ingest_is_one_line(tmp_path: Path, write_log) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    log = write_log([line(ip=f"10.1.{s}.1", when=now, vhost=f"site{s}.example") for s in range(120)])
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "rings_cli", "ingest", "--state-dir", str(state), "--json", str(log)]
    low = subprocess.run(cmd, capture_output=True, preexec_fn=_limit(16), timeout=300)
    err = one_line(low, 1)
    assert err.startswith("Error: the open-file limit (ulimit -n) is 16, too low"), err
    assert not state.exists()  # refused before anything was read
    # At the least it needs, 120 open tenant-days at once are counted (the DO files it keeps open
    # are sized from the limit).
    ok = subprocess.run(cmd, capture_output=True, preexec_fn=_limit(64), timeout=300)
    assert ok.returncode == 0, ok.stderr.decode()[-2000:]
    assert json.loads(ok.stdout)["requests"] == 120


def test_the_open_file_limit_reached_mid_run_is_one_line(tmp_path: Path, write_log) -> None:
    """Reached anyway (here: a DO-file cache sized for more than the limit allows), SQLite's
    "unable to open database file" is named for what it is."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    log = write_log([line(ip=f"10.1.{s}.1", when=now, vhost=f"site{s}.example") for s in range(120)])
    code = (
        "import sys, rings_cli.store.docache as d, rings_cli.cli.ingest as i; "
        "d.MAX_OPEN_DO_FILES = 64; i.ensure_open_files = lambda: None; "
        "from rings_cli.cli import main; sys.argv[0] = 'rings'; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "ingest", "-q", "--state-dir", str(tmp_path / "s"), str(log)],
        capture_output=True,
        preexec_fn=_limit(40),
        timeout=300,
    )
    err = one_line(result, 1)
    assert err.startswith("Error: too many open files: the open-file limit (ulimit -n) is 40"), err
