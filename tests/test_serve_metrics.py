"""Issue 31, `GET /metrics` and `GET /healthz` of a real `rings serve`: the ingest counters are
what every ingest process committed (the sums of their summaries), and health turns 503 when the
warehouse is damaged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from rings_cli.core.state import StateDir
from tests.conftest import SAMPLE_LOG, line, run_rings
from tests.test_serve import now_line

ADMIN = "admin-token-for-metrics"


def ingest_json(state: StateDir, log: Path) -> dict[str, Any]:
    proc = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", "--json", str(log))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in found.get(name, []) if all(got.get(k) == x for k, x in labels.items()))


def test_counters_are_the_sums_of_two_ingest_processes(tmp_path: Path, serve) -> None:
    state = StateDir(tmp_path / "state")
    first = ingest_json(state, SAMPLE_LOG)
    second_log = tmp_path / "second.log"
    lines = [now_line(i, path=f"/m{i}") for i in range(5)]
    lines += ["this is not a log line", line(when="99/Zzz/2025:10:00:00 +0000"), "\x00\x01 junk"]
    second_log.write_text("".join(x + "\n" for x in lines))
    second = ingest_json(state, second_log)
    assert second["rejected"] >= 2
    server = serve(state, env={"RINGS_TOKEN": ADMIN})
    status, head, body = server.request("/metrics", {"Authorization": f"Bearer {ADMIN}"})
    assert status == 200 and head["content-type"].startswith("text/plain"), body
    found = samples(body.decode())
    runs = (first, second)
    assert total(found, "rings_ingest_lines_read_total") == sum(r["lines_read"] for r in runs)
    assert total(found, "rings_ingest_parsed_total") == sum(r["parsed"] for r in runs)
    assert total(found, "rings_ingest_page_views_total") == sum(r["page_views"] for r in runs)
    reasons = {k for r in runs for k in r["rejected_by_reason"]}
    for reason in reasons:
        expected = sum(r["rejected_by_reason"].get(reason, 0) for r in runs)
        assert total(found, "rings_ingest_rejected_total", reason=reason) == expected, reason
    assert total(found, "rings_ingest_rejected_total") == sum(r["rejected"] for r in runs)
    sources = {labels["source"] for labels, _ in found["rings_ingest_lines_read_total"]}
    assert sources == {str(SAMPLE_LOG), str(second_log)}, sources
    ages = [v for _, v in found["rings_ingest_seconds_since_last_commit"]]
    assert len(ages) == 2 and all(0 <= a < 600 for a in ages)
    assert total(found, "rings_open_tenant_days") > 0
    assert total(found, "rings_warehouse_bytes") == (state.root / "warehouse.duckdb").stat().st_size + (
        (state.root / "warehouse.duckdb.wal").stat().st_size
        if (state.root / "warehouse.duckdb.wal").exists()
        else 0
    )
    assert total(found, "rings_last_flush_duration_seconds") >= 0
    assert total(found, "rings_open_websockets") == 0
    # The server's own: requests by route template (never a tenant's name or a token).
    server.request("/api/alice.example/today", {"Authorization": f"Bearer {ADMIN}"})
    again = samples(server.request("/metrics", {"Authorization": f"Bearer {ADMIN}"})[2].decode())
    assert total(again, "rings_http_requests_total", route="/api/{tenant}/today", status="200") == 1
    assert total(again, "rings_http_request_duration_seconds_count", route="/api/{tenant}/today") == 1
    assert "alice.example" not in json.dumps(again["rings_http_requests_total"])
    # A restarted server reads the same committed numbers.
    server.stop()
    fresh = serve(state, env={"RINGS_TOKEN": ADMIN})
    later = samples(fresh.request("/metrics", {"Authorization": f"Bearer {ADMIN}"})[2].decode())
    assert total(later, "rings_ingest_page_views_total") == sum(r["page_views"] for r in runs)


def test_metrics_need_the_admin_token(tmp_path: Path, serve) -> None:
    state = StateDir(tmp_path / "state")
    ingest_json(state, SAMPLE_LOG)
    site = run_rings(
        "token", "add", "--state-dir", str(state.root), "--tenant", "bob.example", "--label", "b"
    )
    mine = site.stdout.decode().strip()
    server = serve(state, env={"RINGS_TOKEN": ADMIN})
    assert server.request("/metrics")[0] == 401
    assert server.request("/metrics", {"Authorization": f"Bearer {mine}"})[0] == 403
    assert server.request("/metrics", {"Authorization": f"Bearer {ADMIN}"})[0] == 200
    assert server.json("/healthz", 200, {"Authorization": f"Bearer {mine}"}) == {"status": "ok"}


def test_healthz_is_503_when_the_warehouse_is_damaged(tmp_path: Path, serve) -> None:
    state = StateDir(tmp_path / "state")
    ingest_json(state, SAMPLE_LOG)
    server = serve(state)
    assert server.json("/healthz") == {"status": "ok"}
    warehouse = state.root / "warehouse.duckdb"
    size = warehouse.stat().st_size
    with open(warehouse, "r+b") as f:  # its header and first blocks overwritten
        f.write(b"\xde\xad\xbe\xef" * (min(size, 1 << 16) // 4))
    got = server.json("/healthz", 503)
    assert got["status"] == "unavailable" and "warehouse" in got["error"], got
    missing = serve(StateDir(tmp_path / "nothing"))
    assert "no state dir" in missing.json("/healthz", 503)["error"]
