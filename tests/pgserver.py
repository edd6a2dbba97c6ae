"""A throw-away PostgreSQL server for tests: Debian's binaries, `initdb` + `pg_ctl` in a temp dir,
listening on a Unix socket in that dir only (no TCP), run as an unprivileged user (PostgreSQL
refuses root: under root the server runs as `nobody` through `runuser`)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SKIP_REASON = (
    "PostgreSQL binaries (initdb, pg_ctl) not found: install Debian's `postgresql` package "
    "(apt-get install postgresql; .ci/run does) to run the shared-warehouse tests"
)


def pg_bin() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb, else the one on PATH."""
    for folder in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    ):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


class Server:
    """One cluster; `database()` makes a new, empty database and gives its DSN."""

    def __init__(self, fsync: bool = False) -> None:
        folder = pg_bin()
        if folder is None:
            raise RuntimeError(SKIP_REASON)
        self.bin = folder
        self.root = Path(tempfile.mkdtemp(prefix="rings-pg-"))
        self.data = self.root / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            os.chown(self.root, 65534, 65534)  # nobody:nogroup
            os.chmod(self.root, 0o700)
            self.prefix = ["runuser", "-u", "nobody", "--"]
        self._run(
            str(folder / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "rings",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = f"-k {self.root} -c listen_addresses='' -c fsync={'on' if fsync else 'off'}"
        self._run(
            str(folder / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        self._made = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([*self.prefix, *args], capture_output=True, timeout=120, cwd=self.root)
        if result.returncode:
            raise RuntimeError(f"{args[0]} failed: {result.stderr.decode(errors='replace')[-2000:]}")
        return result

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.root} dbname={dbname} user=rings"

    def database(self) -> str:
        """A new database; its DSN."""
        import psycopg

        self._made += 1
        name = f"t{os.getpid()}_{self._made}"
        with psycopg.connect(self.dsn(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        return self.dsn(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            cwd=self.root,
        )
        shutil.rmtree(self.root, ignore_errors=True)
