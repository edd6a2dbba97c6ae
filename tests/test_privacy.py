"""Privacy: secret random tenant-day salts, keyed hashes, and no raw IP or user agent in any file."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sqlite3
import stat

import polars as pl

from rings_cli.core.privacy import SALT_BYTES, SaltStore, hash_visitors
from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from tests.conftest import line

SECRET_IP = "198.51.100.77"
SECRET_UA = "UniqueAgentString/9.9 (Rings privacy test)"


def test_salts_are_random_secret_files_per_tenant_day(state: StateDir) -> None:
    state.ensure()
    salts = SaltStore(state)
    a, b = salts.get("alice", "2025-12-01"), salts.get("alice", "2025-12-02")
    c = salts.get("bob", "2025-12-01")
    assert len(a) == SALT_BYTES and len({a, b, c}) == 3
    path = state.salt_path("alice", "2025-12-01")
    assert path == state.salts_dir / "alice" / "2025-12-01.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(state.salts_dir.stat().st_mode) == 0o700
    assert SaltStore(state).get("alice", "2025-12-01") == a  # persisted, reused by the next process
    salts.destroy("alice", "2025-12-01")
    assert not path.exists()
    assert SaltStore(state).get("bob", "2025-12-01") == c  # bob's day is his own
    # Gone for good: a new key, old hashes unrecoverable.
    assert SaltStore(state).get("alice", "2025-12-01") != a


def test_visitor_hash_is_hmac_sha256_of_tenant_ip_ua(state: StateDir) -> None:
    state.ensure()
    salts = SaltStore(state)
    visitors = pl.DataFrame(
        {
            "date": [dt.date(2025, 12, 1)] * 3,
            "tenant": ["a", "b", "a"],
            "ip": ["1.2.3.4", "1.2.3.4", "::1"],
            "ua": ["Mozilla é", "Mozilla é", ""],
        }
    )
    hashed = hash_visitors(visitors, salts)
    assert "ip" not in hashed.columns and "ua" not in hashed.columns
    expected = [
        int(
            hmac.new(salts.get(t, "2025-12-01"), f"{t}\n{i}\n{u}".encode(), hashlib.sha256).hexdigest()[:15],
            16,
        )
        for t, i, u in visitors.select("tenant", "ip", "ua").iter_rows()
    ]
    assert hashed.get_column("visitor").to_list() == expected
    assert expected[0] != expected[1]  # the same person on two tenants is two visitors


def test_no_raw_ip_or_user_agent_reaches_any_file(state: StateDir, write_log) -> None:
    log = write_log(
        [
            line(ip=SECRET_IP, ua=SECRET_UA, vhost="alice.example"),
            line(ip=SECRET_IP, ua=SECRET_UA, vhost="alice.example", request="GET /x.css HTTP/1.1"),
            line(ip=SECRET_IP, ua=SECRET_UA, vhost="alice.example", request="POST /login HTTP/1.1"),
        ]
    )
    Ingest(state).run([str(log)])
    files = [p for p in state.root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite" for p in files) and state.warehouse_path.exists()
    for path in files:
        data = path.read_bytes()
        for secret in (SECRET_IP, SECRET_UA, "UniqueAgentString"):
            assert secret.encode() not in data, f"{secret} found in {path}"
            assert secret.encode("utf-16-le") not in data, f"{secret} found in {path}"


def test_do_file_visitors_hold_only_hashes(state: StateDir, write_log) -> None:
    Ingest(state, grace=None).run([str(write_log([line(ip=SECRET_IP, ua=SECRET_UA)]))])
    con = sqlite3.connect(state.do_path("default", "2025-12-01"))
    rows = con.execute("SELECT * FROM visitors").fetchall()
    assert len(rows) == 1 and isinstance(rows[0][0], int)
    assert con.execute("SELECT count(*) FROM views").fetchone() == (1,)
