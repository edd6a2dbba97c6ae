"""Rings installs like any tool (issue 31): the wheel holds the web assets, the report queries and
the data files, and, installed into a fresh environment, `rings --version`, `ingest`, `report` and
`serve` run from it. The new environment borrows the dependencies `make test` installed (a .pth
line), so the test needs no network; Rings itself comes only from the wheel."""

from __future__ import annotations

import http.client
import json
import re
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("hatchling", reason="building the wheel needs hatchling (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (found,) = out.glob("rings-*.whl")
    return found


def test_the_wheel_holds_queries_web_assets_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    queries = {p.name for p in (ROOT / "queries").glob("*.sql")}
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("rings_cli/queries/")} == queries
    static = {p.name for p in (ROOT / "rings_cli" / "web" / "static").iterdir() if p.is_file()}
    assert static and {f"rings_cli/web/static/{n}" for n in static} <= names
    data = {p.name for p in (ROOT / "rings_cli" / "enrich" / "data").iterdir() if p.is_file()}
    assert data and {f"rings_cli/enrich/data/{n}" for n in data} <= names
    assert not any(n.startswith(("tests/", "benchmarks/")) or "__pycache__" in n for n in names)


def test_the_wheel_installed_alone_runs_every_command(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))
    # The dependencies of this environment, on the path after the new one's own site-packages: a
    # path line in a .pth file is not a site dir, so this environment's editable Rings stays out.
    deps = Path(sysconfig.get_path("purelib"))
    (purelib / "_rings_test_deps.pth").write_text(f"{deps}\n")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_dir / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    rings = env_dir / "bin" / "rings"
    work = tmp_path / "elsewhere"  # not the repository: nothing found by the current directory
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(rings), *args], cwd=work, capture_output=True, text=True, timeout=300)

    where = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import rings_cli; print(rings_cli.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.strip().startswith(str(purelib)), where
    version = run("--version")
    assert version.returncode == 0 and re.fullmatch(r"rings \S+\n", version.stdout), version
    log = work / "access.log"
    shutil.copy(ROOT / "sample_data" / "access.log", log)
    state = work / "state"
    ingested = run("ingest", "--state-dir", str(state), "--json", "--quiet", str(log))
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["requests"] > 0
    report = run("report", "--state-dir", str(state), "--limit", "5", "-f", "json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["totals"]["requests"] > 0

    server = subprocess.Popen(
        [str(rings), "serve", "--state-dir", str(state), "--port", "0"],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 60
        while not select.select([server.stdout], [], [], 0.1)[0]:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "no start line"
        port = int(re.search(rb"http://[^ ]+:(\d+)/", server.stdout.readline()).group(1))  # type: ignore[union-attr]
        page = _get(port, "/")
        assert page[0] == 200 and b"<html" in page[1].lower()
        for asset in re.findall(rb'(?:src|href)="(/static/[^"]+)"', page[1]):
            assert _get(port, asset.decode())[0] == 200, asset
        assert _get(port, "/api/tenants")[0] == 200
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)
    assert server.returncode == 0


def _get(port: int, path: str) -> tuple[int, bytes]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        con.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
        response = con.getresponse()
        return response.status, response.read()
    finally:
        con.close()
