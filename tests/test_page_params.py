"""Page identity (issue 28, item 7): a page path keeps the query parameters rings.toml `page_params`
names (an allow-list, sorted by name; default WordPress's `p` and `page_id`) and no other; `/wp-json/`
and `*.json` are no pages. Real `rings ingest` and `rings report` on real state dirs; exact counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rings_cli.core.config import DEFAULT_EXCLUDE_PATHS, DEFAULT_PAGE_PARAMS, Config, parse_config
from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.enrich.classify import classify
from tests.conftest import line, report_json, run_rings

DAY = ("--start", "2025-12-01", "--end", "2025-12-01")
SECRET = "tok3n-9f2c"  # a value of a parameter no page keeps: never stored anywhere


def ingest(state: StateDir, tmp_path: Path, requests: list[str], config: str | None = None) -> None:
    state.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if config is not None:
        (state.root / "rings.toml").write_text(config)
    log = tmp_path / "access.log"
    log.write_text(
        "".join(
            line(
                ip=f"192.0.2.{i}",
                when=f"01/Dec/2025:10:{i:02d}:00 +0000",
                request=f"{r if r.startswith('POST ') else 'GET ' + r} HTTP/1.1",
            )
            + "\n"
            for i, r in enumerate(requests, start=1)
        )
    )
    result = run_rings("ingest", "--state-dir", str(state.root), "-q", str(log))
    assert result.returncode == 0, result.stderr.decode()


def pages(report: dict[str, Any]) -> dict[str, int]:
    return {row["path"]: row["views"] for row in report["top_pages"]}


def no_byte_of(state: StateDir, text: str) -> None:
    """No file of the state dir holds `text` (SQLite and DuckDB keep such short strings as written)."""
    for path in state.root.rglob("*"):
        if path.is_file():
            assert text.encode() not in path.read_bytes(), path


JOOMLA = [
    "/index.php?option=com_content&id=46",
    f"/index.php?id=46&option=com_content&Itemid=101&session={SECRET}",  # the same page
    "/index.php?option=com_content&id=47",
    "/index.php?option=com_content&id=47&utm_source=news",
    "/index.php?option=com_contact",
    "/index.php",
    "/index.php?id=&option=com_content",  # an empty value is no value
]


def test_joomla_articles_stay_apart_when_configured(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path, JOOMLA, 'page_params = ["option", "id"]\n')
    report = report_json(state, *DAY)
    assert pages(report) == {
        "/index.php?id=46&option=com_content": 2,
        "/index.php?id=47&option=com_content": 2,
        "/index.php": 1,
        "/index.php?option=com_contact": 1,
        "/index.php?option=com_content": 1,
    }
    assert report["totals"]["page_views"] == 7
    assert {"source": "news", "visits": 1} in report["top_referrers"]  # utm_source still read, not kept
    no_byte_of(state, SECRET)
    no_byte_of(state, "Itemid")


def test_joomla_articles_collapse_without_it(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path, JOOMLA)
    assert pages(report_json(state, *DAY)) == {"/index.php": 7}
    no_byte_of(state, SECRET)


WORDPRESS = [
    "/?p=123",
    f"/?p=123&replytocom=9&secret={SECRET}",
    "/?p=124",
    "/?page_id=7",
    "/?page_id=7&p=123",  # both kept, sorted by name
    "/?s=hello",
    "/?utm_source=news",
    "/wp-json/",
    "/wp-json/oembed/1.0/embed?url=https%3A%2F%2Fblog.example%2F%3Fp%3D123",
    "/WP-JSON/wp/v2/posts",
    "/feed.json",
    "/data/items.json?p=3",
    "/about/",
]


def test_wordpress_posts_are_pages_by_default(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path, WORDPRESS)
    report = report_json(state, *DAY)
    assert pages(report) == {
        "/?p=123": 2,
        "/": 2,
        "/?p=124": 1,
        "/?page_id=7": 1,
        "/?p=123&page_id=7": 1,
        "/about/": 1,
    }
    assert report["totals"]["page_views"] == 8
    assert report["totals"]["requests"] == len(WORDPRESS)  # /wp-json/ and *.json: requests only
    no_byte_of(state, SECRET)
    no_byte_of(state, "replytocom")


def test_no_parameter_at_all(state: StateDir, tmp_path: Path) -> None:
    ingest(state, tmp_path, WORDPRESS[:6], "page_params = []\n")
    assert pages(report_json(state, *DAY)) == {"/": 6}


def test_the_post_route_and_rules_match_the_page_path(state: StateDir, tmp_path: Path) -> None:
    config = (
        'page_params = ["p", "option", "id"]\n'
        "post_route = '^/\\?p=(?P<post_id>[0-9]+)$'\n"
        "[[rules]]\n"
        "event = 'reaction'\n"
        "method = 'POST'\n"
        "path = '^/index\\.php\\?id=(?P<post_id>[0-9]+)&option=com_vote$'\n"
    )
    requests = ["/?p=5", "/?p=5&c=1", "/?p=6", "POST /index.php?option=com_vote&id=5&token=x"]
    ingest(state, tmp_path, requests, config)
    content = {
        row["post_id"]: (row["views"], row["reactions"]) for row in report_json(state, *DAY)["content"]
    }
    assert content == {"5": (2, 1), "6": (1, 0)}


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('page_params = "p"\n', "page_params must be a list of query parameter names"),
        ('page_params = ["a b"]\n', "page_params: 'a b' is not a query parameter name"),
        ('page_params = ["a=b"]\n', "page_params: 'a=b' is not a query parameter name"),
        ('page_params = [""]\n', "page_params: '' is not a query parameter name"),
        ("page_params = [" + ", ".join(f'"p{i}"' for i in range(17)) + "]\n", "at most 16 names, not 17"),
    ],
)
def test_bad_page_params_are_one_line_and_exit_2(tmp_path: Path, toml: str, says: str) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "rings.toml").write_text(toml)
    log = tmp_path / "a.log"
    log.write_text(line() + "\n")
    result = run_rings("ingest", "--state-dir", str(state), str(log))
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith("Error: ") and says in err and len(err.strip().splitlines()) == 1, err


def test_the_defaults() -> None:
    assert DEFAULT_PAGE_PARAMS == ("p", "page_id") == Config().page_params
    assert parse_config({"page_params": ["option", "id", "id"]}).page_params == ("id", "option")
    assert r"^/wp-json(?:/|$)" in DEFAULT_EXCLUDE_PATHS and r"\.json$" in DEFAULT_EXCLUDE_PATHS
    with pytest.raises(UsageError):
        parse_config({"page_params": [1]})


def test_classify_takes_each_line_s_page_path() -> None:
    """Many lines, a few distinct targets (computed once each): every line gets its page path."""
    targets = ["/?p=1&x=2", "/a.css?v=3", "/?page_id=2", "/b", None] * 2_000
    frame = pl.DataFrame(
        {"target": targets, "method": "GET", "status": 200, "ua": "Mozilla/5.0 Firefox/140.0"},
        schema_overrides={"target": pl.String},
    )
    out = classify(frame)
    expected = ["/?p=1", "/a.css", "/?page_id=2", "/b", None] * 2_000
    assert out.get_column("path").to_list() == expected
    assert out.get_column("is_page_view").to_list() == [True, False, True, True, False] * 2_000
