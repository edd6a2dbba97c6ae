"""The report's response times ("Time served"): queries/times.sql, time_hours.sql and
slowest_pages.sql shaped into seconds. Percentiles are nearest-rank over the range's summed
buckets (count/times.py), within 2% of the exact ones; counts, sums and means are exact."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rings_cli.core.histogram import quantile, value_of
from rings_cli.query.model import ResponseTimes, SlowPage, TimeHour

QUERIES = ("times", "time_hours", "slowest_pages")


def _n(value: Any) -> int:
    return int(value) if isinstance(value, Decimal) else int(value or 0)


def _s(value: float) -> float:
    return round(value, 6)


def section(rows: dict[str, list[dict[str, Any]]]) -> ResponseTimes | None:
    """`response_times`, or None when no request of the range carries a time."""
    buckets = [(int(r["bucket"]), _n(r["requests"])) for r in rows.get("times", [])]
    count = sum(n for _, n in buckets)
    if not count:
        return None
    total_us = sum(_n(r["total_us"]) for r in rows.get("times", []))
    hours: dict[int, list[dict[str, Any]]] = {}
    for r in rows.get("time_hours", []):
        hours.setdefault(int(r["hour"]), []).append(r)
    return {
        "count": count,
        "mean": _s(total_us / count / 1e6),
        "p50": _s(quantile(buckets, 0.5)),
        "p95": _s(quantile(buckets, 0.95)),
        "p99": _s(quantile(buckets, 0.99)),
        "max": _s(value_of(buckets[-1][0])),
        "slowest_pages": [_slow(r) for r in rows.get("slowest_pages", [])],
        "hours": [_hour(hour, hours[hour]) for hour in sorted(hours)],
    }


def _slow(row: dict[str, Any]) -> SlowPage:
    count = _n(row["count"])
    return {
        "path": row["path"],
        "count": count,
        "mean": _s(_n(row["total_us"]) / count / 1e6) if count else 0.0,
        "p50": _s(value_of(int(row["p50_bucket"]))),
        "p95": _s(value_of(int(row["p95_bucket"]))),
        "max": _s(value_of(int(row["max_bucket"]))),
    }


def _hour(hour: int, rows: list[dict[str, Any]]) -> TimeHour:
    buckets = [(int(r["bucket"]), _n(r["requests"])) for r in rows]
    count = sum(n for _, n in buckets)
    total_us = sum(_n(r["total_us"]) for r in rows)
    return {
        "hour": hour,
        "count": count,
        "mean": _s(total_us / count / 1e6) if count else 0.0,
        "p50": _s(quantile(buckets, 0.5)),
        "p95": _s(quantile(buckets, 0.95)),
    }
