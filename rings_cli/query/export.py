"""The report for machines: JSON and CSV, exact values, no terminal library.

Split from render.py so that `rings report -f json` (and csv) never imports Rich; render.py
re-exports these names.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rings_cli.core.text import csv_cell

CSV_SECTIONS = (
    "days",
    "hours",
    "top_pages",
    "top_referrers",
    "top_campaigns",
    "content",
    "tenants",
    "status",
    "browsers",
    "os",
    "devices",
    "countries",
    "not_found",
)


def report_json(report: dict[str, Any]) -> str:
    """Exact values for machines; `ensure_ascii` writes every control, bidi and non-ASCII
    character as `\\uXXXX`, so no raw control character reaches stdout."""
    return json.dumps(report, indent=2, ensure_ascii=True)


def report_csv(report: dict[str, Any], section: str) -> str:
    """One section of the report as CSV (header row included); text cells through `csv_cell`
    (control characters escaped, formula-like cells prefixed with `'`), numbers untouched."""
    if section == "status":
        rows: list[dict[str, Any]] = [{"status": k, "requests": v} for k, v in report["status"].items()]
    else:
        rows = report.get(section, [])
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()
