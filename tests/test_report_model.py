"""Issue 24, typed end to end: the report's types (rings_cli/query/model.py) are the report's
shape. Every row of every section has exactly the keys of its row type (the columns of its query
in queries/), and a report has only keys its type names, in the order it names them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import pytest

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.query import model
from rings_cli.query.report import build_report, empty_report
from tests.conftest import SAMPLE_LOG

ROW_TYPES: dict[str, Any] = {
    "days": model.DayRow,
    "hours": model.HourRow,
    "top_pages": model.PageRow,
    "top_referrers": model.ReferrerRow,
    "top_campaigns": model.CampaignRow,
    "content": model.ContentRow,
    "tenants": model.TenantRow,
    "browsers": model.BrowserRow,
    "os": model.OsRow,
    "devices": model.DeviceRow,
    "countries": model.CountryRow,
    "not_found": model.NotFoundRow,
}
COMPARED_ROWS = ("top_pages", "top_referrers", "top_campaigns", "content")


def assert_shape(value: Mapping[str, Any], kind: Any) -> None:
    """`value` has every key `kind` requires, and no key it does not name."""
    keys = set(value)
    assert kind.__required_keys__ <= keys, f"{kind.__name__}: missing {kind.__required_keys__ - keys}"
    named = kind.__required_keys__ | kind.__optional_keys__
    assert keys <= named, f"{kind.__name__}: not in the model: {keys - named}"


def assert_report(report: Mapping[str, Any]) -> None:
    assert_shape(report, model.Report)
    assert list(report) == [k for k in model.Report.__annotations__ if k in report]  # the JSON's order
    assert_shape(report["totals"], model.Totals)
    for section, kind in ROW_TYPES.items():
        for row in report.get(section, []):
            assert_shape(row, kind)
    if "compare" in report:
        compared = report["compare"]
        assert_shape(compared, model.Compare)
        assert_shape(compared["totals"], model.Totals)
        assert_shape(compared["change"], model.Change)
        for section in COMPARED_ROWS:
            assert len(compared[section]) == len(report[section])
            for row in compared[section]:
                assert_shape(row, ROW_TYPES[section])


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> StateDir:
    state = StateDir(Path(tmp_path_factory.mktemp("model")) / "state")
    Ingest(state, grace=None).run([str(SAMPLE_LOG)])
    return state


def test_the_total_keys_are_the_totals_and_the_changes() -> None:
    assert get_args(model.TotalKey) == tuple(model.Totals.__annotations__)
    assert tuple(model.Change.__annotations__) == tuple(model.Totals.__annotations__)


@pytest.mark.parametrize("tenant", [None, "alice.example"])
def test_every_section_of_a_report_has_the_shape_of_its_type(sample: StateDir, tenant: str | None) -> None:
    report = build_report(sample, tenant=tenant, start="2025-12-01", end="2025-12-03")
    assert_report(report)
    has_rows = {section for section in ROW_TYPES if report.get(section)}
    assert has_rows == set(ROW_TYPES) - ({"tenants"} if tenant else set())  # every type was checked
    assert ("utc_offset" in report["hours"][0]) == (tenant is not None)


def test_a_comparison_has_the_shape_of_its_type(sample: StateDir) -> None:
    """Compared with a day that has data (rows found) and with one that has none (rows of zeros)."""
    for against in ("2025-12-02:2025-12-02", "previous"):
        report = build_report(sample, start="2025-12-01", end="2025-12-03", compare=against)
        assert "compare" in report
        assert_report(report)


def test_a_long_range_and_an_empty_report_have_the_shape_of_their_type(sample: StateDir) -> None:
    long = build_report(sample, start="2024-01-01", end="2025-12-31")
    assert "hours_omitted" in long and long["hours"] == []
    assert_report(long)
    assert_report(empty_report(None, dt.date(2025, 12, 1), dt.date(2025, 12, 1)))
