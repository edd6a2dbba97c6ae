"""The report for machines: JSON and CSV, exact values, no terminal library.

Split from render.py so that `rings report -f json` (and csv) never imports Rich; render.py
re-exports these names.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rings_cli.core.text import csv_cell
from rings_cli.query.model import Report

CSV_SECTIONS = (
    "days",
    "hours",
    "top_pages",
    "top_referrers",
    "top_campaigns",
    "content",
    "tenants",
    "status",
    "bots",
    "browsers",
    "os",
    "devices",
    "countries",
    "not_found",
    "goals",
    "goal_sources",
    "funnels",
    "slowest_pages",
    "time_hours",
)


def report_json(report: Report) -> str:
    """Exact values for machines; `ensure_ascii` writes every control, bidi and non-ASCII
    character as `\\uXXXX`, so no raw control character reaches stdout."""
    return json.dumps(report, indent=2, ensure_ascii=True)


def report_csv(report: Report, section: str) -> str:
    """One section of the report as CSV (header row included); text cells through `csv_cell`
    (control characters escaped, formula-like cells prefixed with `'`), numbers untouched."""
    rows = section_rows(report, section)
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def section_rows(report: Report, section: str) -> Sequence[Mapping[str, Any]]:
    """One of CSV_SECTIONS as rows (`status` and `bots` as rows of a key and requests); none for a section
    the report does not have (`tenants` of one tenant's report)."""
    if section == "status":
        return [{"status": k, "requests": v} for k, v in report["status"].items()]
    if section == "bots":
        return [{"reason": k, "requests": v} for k, v in report["bots"].items()]
    if section == "goals":  # one row a goal; its sources are `goal_sources`
        return [{k: v for k, v in g.items() if k != "sources"} for g in report.get("goals", [])]
    if section == "goal_sources":
        return [{"goal": g["goal"], **s} for g in report.get("goals", []) for s in g["sources"]]
    if section in ("slowest_pages", "time_hours"):  # response times, where the log has them
        times = report.get("response_times")
        return times["slowest_pages" if section == "slowest_pages" else "hours"] if times else []
    if section == "funnels":  # one row a step
        return [
            {"funnel": f["funnel"], "step_number": n, "step": s["step"], "visitors": s["visitors"]}
            for f in report.get("funnels", [])
            for n, s in enumerate(f["steps"], 1)
        ]
    rows = report.get(section, [])
    if not isinstance(rows, list):
        raise ValueError(f"{section!r} is not one of the report's lists")
    return rows
