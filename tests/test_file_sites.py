"""One log per site (issue 28): nginx's default `combined` names no host, so a file's path names its
site, by rings.toml `[files]` or `--tenant-from-path`; one `rings ingest --follow` follows them all."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rings_cli.core.state import StateDir
from tests.conftest import line, report_json, run_cli
from tests.test_file_identity import write
from tests.test_follow import Follow, do_requests


def now_lines(n: int, path: str, first: int = 0) -> list[str]:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return [line(ip=f"198.51.100.{first + i}", when=stamp, request=f"GET {path} HTTP/1.1") for i in range(n)]


def tenants(state: StateDir, today: str) -> dict[str, int]:
    report = report_json(state, "--start", today, "--end", today)
    return {t["tenant"]: t["requests"] for t in report["tenants"]}


def test_two_no_host_logs_mapped_by_files_are_followed_by_one_process(
    tmp_path: Path, state: StateDir
) -> None:
    logs = tmp_path / "nginx"
    logs.mkdir()
    state.root.mkdir(parents=True)
    (state.root / "rings.toml").write_text(
        f'[files]\n"{logs}/shop.*" = "shop.example"\n"{logs}/blog.*" = "Blog.Example"\n'
    )
    shop = write(logs / "shop.log", now_lines(3, "/cart"))
    blog = write(logs / "blog.log", now_lines(2, "/post"))
    running = Follow(state, str(logs / "*.log"))
    try:
        running.until(lambda: do_requests(state) == 5)
        write(shop, now_lines(4, "/cart", 10), "a")
        write(blog, now_lines(1, "/post", 10), "a")
        running.until(lambda: do_requests(state) == 10)
        assert running.stop() == 0
    finally:
        running.kill()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert tenants(state, today) == {"shop.example": 7, "blog.example": 3}


def test_tenant_from_path_names_each_file_and_tenant_wins(tmp_path: Path, state: StateDir) -> None:
    a = write(tmp_path / "alice.example.access.log", [line(), line(ip="2.2.2.2")])
    b = write(tmp_path / "bob.example.access.log", [line(ip="3.3.3.3")])
    pattern = r"/(?P<tenant>[^/]+)\.access\.log$"
    result = run_cli("ingest", "--state-dir", str(state.root), "--tenant-from-path", pattern, str(a), str(b))
    assert result.exit_code == 0, result.output
    assert "2 tenants (alice.example, bob.example)" in result.stdout
    whole = report_json(state, "--start", "2025-12-01", "--end", "2025-12-01")
    assert {t["tenant"]: t["requests"] for t in whole["tenants"]} == {"alice.example": 2, "bob.example": 1}
    c = write(tmp_path / "carol.example.access.log", [line(ip="4.4.4.4")])
    result = run_cli(
        "ingest",
        "--state-dir",
        str(state.root),
        "--tenant-from-path",
        pattern,
        "--tenant",
        "dave.example",
        str(c),
    )
    assert "1 tenant (dave.example)" in result.stdout  # --tenant first


def test_a_path_that_names_no_valid_tenant_is_refused_before_reading(tmp_path: Path, state: StateDir) -> None:
    bad = write(tmp_path / "shop+site.access.log", [line()])
    pattern = r"/(?P<tenant>[^/]+)\.access\.log$"
    result = run_cli("ingest", "--state-dir", str(state.root), "--tenant-from-path", pattern, str(bad))
    assert result.exit_code == 2 and "not a valid tenant name" in result.output
    result = run_cli("ingest", "--state-dir", str(state.root), "--tenant-from-path", "/(.*)", str(bad))
    assert result.exit_code == 2 and "(?P<tenant>" in result.output


def test_a_file_keeps_its_tenant_when_rotation_renames_it(tmp_path: Path, state: StateDir) -> None:
    """`[files]` names only shop.log; rotated to shop.log.1 and grown, its lines stay the shop's."""
    state.root.mkdir(parents=True)
    (state.root / "rings.toml").write_text(f'[files]\n"{tmp_path}/shop.log" = "shop.example"\n')
    log = write(tmp_path / "shop.log", [line(), line(ip="2.2.2.2")])
    assert run_cli("ingest", "--state-dir", str(state.root), "--no-finalize", str(log)).exit_code == 0
    rotated = log.rename(tmp_path / "shop.log.1")
    write(rotated, [line(ip="3.3.3.3")], "a")
    result = run_cli("ingest", "--state-dir", str(state.root), "--no-finalize", str(rotated))
    assert result.exit_code == 0, result.output
    assert "1 tenant (shop.example)" in result.stdout
    whole = report_json(state, "--start", "2025-12-01", "--end", "2025-12-01")
    assert {t["tenant"]: t["requests"] for t in whole["tenants"]} == {"shop.example": 3}


def test_erase_forgets_a_files_tenant_and_keeps_its_position(tmp_path: Path, state: StateDir) -> None:
    import sqlite3

    log = write(tmp_path / "alice.example.access.log", [line(), line(ip="2.2.2.2")])
    pattern = r"/(?P<tenant>[^/]+)\.access\.log$"
    assert (
        run_cli("ingest", "--state-dir", str(state.root), "--tenant-from-path", pattern, str(log)).exit_code
        == 0
    )
    erased = run_cli("erase", "--state-dir", str(state.root), "--tenant", "alice.example", "--yes")
    assert erased.exit_code == 0, erased.output
    with sqlite3.connect(state.catalog_path) as con:
        rows = con.execute("SELECT tenant, line FROM checkpoints").fetchall()
    assert rows == [(None, 2)]  # nothing names her; the file is still known as read
    again = run_cli("ingest", "--state-dir", str(state.root), "--tenant-from-path", pattern, str(log))
    assert "already read up to line 2" in again.stdout


def test_the_summary_suggests_the_site_a_no_host_log_links_from(tmp_path: Path, state: StateDir) -> None:
    """Its pages link to each other and load their assets: the referring host of the log's own
    paths is the site; the summary says so (and names the way to use it)."""
    rows = [line(ip=f"10.0.{i // 200}.{i % 200}", request="GET / HTTP/1.1") for i in range(30)]
    rows += [
        line(ip=f"10.1.0.{i}", request="GET /style.css HTTP/1.1", referrer="https://www.mysite.example/")
        for i in range(30)
    ]
    rows += [line(ip="10.2.0.1", referrer="https://news.example/some/story")] * 5
    log = write(tmp_path / "access.log", rows)
    result = run_cli("ingest", "--state-dir", str(state.root), str(log))
    assert "mysite.example looks like this site" in result.stdout
    assert "--tenant mysite.example" in result.stdout
    other = StateDir(tmp_path / "other")
    named = run_cli("ingest", "--state-dir", str(other.root), "--tenant", "mysite.example", str(log))
    assert "looks like this site" not in named.stdout
