"""The first hour of `rings ingest` without traps (issue 12).

A wrong forced `--format` is refused before it uses up a file; a file none of whose lines parsed
is never checkpointed; a known file says how far it was read; stdin on a terminal says it is
waiting; many files give one `format` line per format; a referrer from the site's own hosts
(`--tenant`, rings.toml `[tenants]`) is internal navigation, and tests/reference.py agrees.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from rings_cli.core.state import StateDir
from tests.conftest import REAL_DATA, ROOT, line, report_json, run_rings

sys.path.insert(0, str(ROOT / "tests"))
from reference import read_lines, reference_sessions

WORDPRESS = REAL_DATA / "wordpress-2025" / "access.log.gz"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def views(n: int, day: int = 1, vhost: str | None = None, referrer: str = "-") -> list[str]:
    """`n` page views of distinct visitors on December `day`, 2025, a minute apart."""
    return [
        line(
            ip=f"10.1.{i // 250}.{i % 250 + 1}",
            when=f"{day:02d}/Dec/2025:{10 + i // 60:02d}:{i % 60:02d}:00 +0000",
            request=f"GET /p{i % 7} HTTP/1.1",
            referrer=referrer,
            ua=CHROME,
            vhost=vhost,
        )
        for i in range(n)
    ]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(x + "\n" for x in lines))
    return path


def ingest(state: StateDir, *args: str, input: bytes | None = None) -> Any:
    return run_rings("ingest", "--state-dir", str(state.root), *args, input=input)


def summary(state: StateDir, *args: str, input: bytes | None = None) -> dict[str, Any]:
    proc = ingest(state, "--json", *args, input=input)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def checkpoints(state: StateDir) -> list[tuple[int, int]]:
    """Every file checkpoint (offset, line) the catalog holds; none when there is no catalog."""
    if not state.catalog_path.exists():
        return []
    with sqlite3.connect(state.catalog_path) as con:
        return con.execute("SELECT offset, line FROM checkpoints").fetchall()


def do_files(state: StateDir) -> list[Path]:
    return sorted(state.root.glob("do/**/*.sqlite"))


# --- 1. a forced --format checked against the file's first lines ---------------------------------


def test_a_forced_format_that_reads_none_of_a_file_is_refused_naming_the_better_one(
    state: StateDir, tmp_path: Path
) -> None:
    good = write(tmp_path / "good.log", views(5, day=2))
    log = write(tmp_path / "access.log", views(300))
    proc = ingest(state, "-f", "common", str(good), str(log))
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        f"Error: {log}: --format common read 0 of its first 200 lines, combined reads 200: "
        "use --format combined\n"
    )
    assert proc.stdout == b""
    # Nothing written or checkpointed, not even of the file before it that common reads.
    assert do_files(state) == [] and checkpoints(state) == []
    # The right format reads it all, once.
    assert summary(state, "-f", "combined", str(log))["requests"] == 300
    assert report_json(state, "--start", "2025-12-01", "--end", "2025-12-01")["totals"]["requests"] == 300


def test_a_forced_format_that_reads_the_file_is_used(state: StateDir, tmp_path: Path) -> None:
    """combined on a log of which it reads most (a few scanner lines aside) is not refused."""
    lines = views(50)
    lines[3] = lines[7] = "\x16\x03\x01 garbage from a scanner"
    log = write(tmp_path / "access.log", lines)
    got = summary(state, "-f", "combined", str(log))
    assert (got["requests"], got["rejected"]) == (48, 2)


def test_a_forced_format_on_stdin_is_checked_on_its_first_block(state: StateDir) -> None:
    data = "".join(x + "\n" for x in views(40)).encode()
    proc = ingest(state, "-f", "common", input=data)
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        "Error: <stdin>: --format common read 0 of its first 40 lines, combined reads 40: "
        "use --format combined\n"
    )
    assert do_files(state) == []
    assert summary(state, "-f", "combined", input=data)["requests"] == 40


def test_follow_mode_refuses_a_forced_format_that_fits_none_of_the_files_there(
    state: StateDir, tmp_path: Path
) -> None:
    log = write(tmp_path / "access.log", views(20))
    proc = ingest(state, "--follow", "-f", "common", str(tmp_path / "*.log"))
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        f"Error: {log}: --format common read 0 of its first 20 lines, combined reads 20: "
        "use --format combined\n"
    )
    assert do_files(state) == [] and checkpoints(state) == []


# --- 2. never checkpoint a file none of whose lines parsed ---------------------------------------


def test_a_file_none_of_whose_lines_parsed_is_not_checkpointed(state: StateDir, tmp_path: Path) -> None:
    """First lines no format reads (the check in 1 cannot judge), then combined lines: `-f common`
    rejects every line; the file is not used up, and the right format then reads it, exactly once."""
    junk = [f"junk {i} that no format reads" for i in range(250)]
    log = write(tmp_path / "access.log", junk + views(100))
    proc = ingest(state, "-f", "common", str(log))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert "Read 350 lines: 0 parsed, 350 rejected" in text
    assert (
        f"warning: {log}: none of its 350 lines parsed as common; it is not checkpointed, "
        "so a run with the right --format reads it whole"
    ) in text
    assert all(c == (0, 0) for c in checkpoints(state))  # known by its head, but not read
    got = summary(state, "-f", "combined", str(log))
    assert (got["lines_read"], got["requests"], got["rejected"], got["unparsed"]) == (350, 100, 250, [])
    again = summary(state, "-f", "combined", str(log))
    assert (again["lines_read"], again["requests"]) == (0, 0)
    assert again["already_read"] == [{"file": str(log), "line": 350}]
    assert report_json(state, "--start", "2025-12-01", "--end", "2025-12-01")["totals"]["requests"] == 100


def test_lines_parsed_then_dropped_still_checkpoint_the_file(state: StateDir, tmp_path: Path) -> None:
    """Too old to count is parsed: the file is read, and not read again."""
    old = [x.replace("/2025:", "/1980:") for x in views(5)]
    log = write(tmp_path / "access.log", old)
    first = summary(state, str(log))
    assert (first["parsed"], first["requests"], first["unparsed"]) == (0, 0, [])
    assert first["rejected_by_reason"] == {"too old": 5}
    assert summary(state, str(log))["already_read"] == [{"file": str(log), "line": 5}]


# --- 3. a known file: already read up to line N --------------------------------------------------


def test_a_known_file_says_how_far_it_was_read(state: StateDir, tmp_path: Path) -> None:
    log = write(tmp_path / "access.log", views(5))
    other = write(tmp_path / "other.log", views(3, day=2))
    assert ingest(state, str(log)).returncode == 0
    proc = ingest(state, str(log))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == f"{log}: already read up to line 5\n"
    # With a new file beside it: the counts of what was read, and the known file's line.
    text = ingest(state, str(log), str(other)).stdout.decode()
    assert text.startswith("Read 3 lines: 3 parsed, 0 rejected\n")
    assert f"{log}: already read up to line 5\n" in text
    # JSON keeps its keys; `already_read` is added.
    got = summary(state, str(log))
    assert (got["lines_read"], got["requests"]) == (0, 0)
    assert got["already_read"] == [{"file": str(log), "line": 5}]


# --- 4. stdin on a terminal ------------------------------------------------------------------------

PROMPT = "Reading log lines from stdin; Ctrl-D ends. To read a file, name it: rings ingest access.log"


def spawn_ingest(state: StateDir, *args: str) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    return pexpect.spawn(
        sys.executable,
        ["-m", "rings_cli", "ingest", "--state-dir", str(state.root), "--no-finalize", *args],
        env=env,
        dimensions=(30, 120),
        timeout=60,
    )


def test_stdin_on_a_terminal_says_it_is_reading_it(state: StateDir) -> None:
    child = spawn_ingest(state)
    child.expect_exact(PROMPT)
    child.sendline(views(1)[0])
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert b"Read 1 line: 1 parsed" in child.before
    assert report_json(state, "--start", "2025-12-01", "--end", "2025-12-01")["totals"]["requests"] == 1


def test_no_stdin_prompt_for_a_pipe_or_a_named_file(state: StateDir, tmp_path: Path) -> None:
    piped = ingest(state, "--no-finalize", input=(views(1)[0] + "\n").encode())
    assert piped.returncode == 0 and PROMPT not in piped.stderr.decode()
    log = write(tmp_path / "access.log", views(2, day=2))
    child = spawn_ingest(state, str(log))  # stdin a terminal, but a file named: nothing to wait for
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert b"Read 2 lines" in child.before and PROMPT.encode() not in child.before


# --- 5. one `format` line per format ---------------------------------------------------------------


def test_many_files_give_one_format_line_per_format(state: StateDir, tmp_path: Path) -> None:
    names = ["access.log.4", "access.log.3", "access.log.2", "access.log.1", "access.log"]
    files = [write(tmp_path / n, views(2, day=i + 1)) for i, n in enumerate(names)]
    common = write(tmp_path / "legacy.log", [x.rsplit(' "', 2)[0] for x in views(2, day=9)])
    proc = ingest(state, *map(str, files), str(common))
    assert proc.returncode == 0, proc.stderr
    formats = [x for x in proc.stdout.decode().splitlines() if x.startswith("format")]
    assert formats == [
        "format combined: 5 files (access.log.4, access.log.3, \u2026, access.log)",
        f"format of {common}: common",
    ]


# --- 6. own-host referrers -------------------------------------------------------------------------


def referrers(report: dict[str, Any]) -> dict[str, int]:
    return {r["source"]: r["visits"] for r in report["top_referrers"]}


def oracle_referrers(
    lines: list[str], tenant: str | None, hosts: dict[str, str] | None = None
) -> dict[str, int]:
    """Visits per source over every tenant-day, counted by tests/reference.py."""
    total: dict[str, int] = {}
    for counts in reference_sessions(lines, tenant, hosts).values():
        for source, n in counts.referrers.items():
            total[source] = total.get(source, 0) + n
    return total


@pytest.mark.skipif(not WORDPRESS.is_file(), reason="no ../shared/data/real")
@pytest.mark.parametrize(
    ("tenant", "config", "hosts"),
    [
        ("www.Website.Local.Lan", "", None),  # --tenant names the site, written as a host
        ("wp", '[tenants]\n"website.local.lan" = "wp"\n', {"website.local.lan": "wp"}),
    ],
    ids=["tenant-names-the-site", "host-mapped-to-the-tenant"],
)
def test_own_host_referrals_are_internal_on_the_real_log(
    state: StateDir, tenant: str, config: str, hosts: dict[str, str] | None
) -> None:
    """The WordPress log has no vhost; its pages link to each other by the site's own host."""
    if config:
        state.root.mkdir(parents=True, exist_ok=True)
        (state.root / "rings.toml").write_text(config)
    assert ingest(state, "-q", "--tenant", tenant, str(WORDPRESS)).returncode == 0
    name = "website.local.lan" if tenant.startswith("www.") else tenant
    report = report_json(
        state, "--tenant", name, "--start", "2025-01-01", "--end", "2025-12-31", "--limit", "1000"
    )
    got = referrers(report)
    assert "website.local.lan" not in got
    assert got == oracle_referrers(list(read_lines(str(WORDPRESS))), tenant, hosts)
    assert sum(got.values()) == report["totals"]["sessions"]


def test_hosts_mapped_to_a_tenant_are_its_own(state: StateDir, tmp_path: Path) -> None:
    """With a vhost: a referral from another host of the same tenant is internal, one from a host
    of another tenant is not."""
    state.root.mkdir(parents=True)
    (state.root / "rings.toml").write_text(
        '[tenants]\n"site.example" = "site"\n"blog.site.example" = "site"\n"shop.example" = "shop"\n'
    )
    visits = [  # (vhost, referrer), each from its own visitor
        ("site.example", "https://Blog.Site.Example:443/post"),
        ("www.site.example", "https://www.site.example/"),
        ("site.example", "https://shop.example/cart"),
        ("shop.example", "https://site.example/"),
    ]
    lines = [
        line(ip=f"10.2.0.{i + 1}", when="01/Dec/2025:10:00:00 +0000", referrer=ref, ua=CHROME, vhost=host)
        for i, (host, ref) in enumerate(visits)
    ]
    assert ingest(state, "-q", str(write(tmp_path / "access.log", lines))).returncode == 0
    day = ("--start", "2025-12-01", "--end", "2025-12-01")
    assert referrers(report_json(state, "--tenant", "site", *day)) == {"direct": 2, "shop.example": 1}
    assert referrers(report_json(state, "--tenant", "shop", *day)) == {"site.example": 1}
    hosts = {"site.example": "site", "blog.site.example": "site", "shop.example": "shop"}
    assert oracle_referrers(lines, None, hosts) == {"direct": 2, "shop.example": 1, "site.example": 1}
