"""Classification per the contract: bots, pages versus assets, page views."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from rings_cli.core.config import Config, load_config
from rings_cli.core.errors import UsageError
from rings_cli.enrich.classify import classify
from tests.reference import is_page as reference_is_page

BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "Wget/1.21.4",
]
HUMANS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
]


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {
        "ts": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        "method": "GET",
        "target": "/",
        "status": 200,
        "ua": HUMANS[0],
    }
    return pl.DataFrame(
        [{**base, **r} for r in rows], schema_overrides={"target": pl.String, "method": pl.String}
    )


@pytest.mark.parametrize("ua", BOTS)
def test_bots_from_the_crawler_list(ua: str) -> None:
    out = classify(frame([{"ua": ua}]))
    assert out.get_column("is_bot").to_list() == [True]
    assert out.get_column("is_page_view").to_list() == [False]


@pytest.mark.parametrize("ua", HUMANS)
def test_browsers_are_not_bots(ua: str) -> None:
    out = classify(frame([{"ua": ua}]))
    assert out.get_column("is_bot").to_list() == [False]
    assert out.get_column("is_page_view").to_list() == [True]


@pytest.mark.parametrize(
    ("target", "page"),
    [
        ("/", True),
        ("/about", True),
        ("/blog/post/", True),
        ("/index.html", True),
        ("/INDEX.HTM", True),
        ("/contact.php?x=1.png", True),
        ("/a.asp", True),
        ("/a.aspx", True),
        ("/a.jsp", True),
        ("/style.css", False),
        ("/app.js?v=3", False),
        ("/img/logo.png", False),
        ("/font.woff2", False),
        ("/feed.xml", False),
        ("/robots.txt", False),
        ("/sitemap.xml", False),
        ("/download.zip", False),
        ("/v1.2/docs", True),
    ],
)
def test_page_or_asset(target: str, page: bool) -> None:
    out = classify(frame([{"target": target}]))
    assert out.get_column("is_page_view").to_list() == [page]


@pytest.mark.parametrize(
    ("method", "status", "view"),
    [
        ("GET", 200, True),
        ("GET", 204, True),
        ("GET", 299, True),
        ("GET", 304, True),
        ("GET", 301, False),
        ("GET", 404, False),
        ("GET", 500, False),
        ("HEAD", 200, False),
        ("POST", 200, False),
        ("-", 408, False),
    ],
)
def test_page_view_needs_get_and_success(method: str, status: int, view: bool) -> None:
    out = classify(frame([{"method": method, "status": status}]))
    assert out.get_column("is_page_view").to_list() == [view]


def test_missing_target_is_never_a_page_view() -> None:
    out = classify(frame([{"method": "-", "target": None, "status": 200}]))
    assert out.get_column("is_page_view").to_list() == [False]


@pytest.mark.parametrize(
    ("target", "view"),
    [
        ("/feed/", False),
        ("/feed", False),
        ("/comments/feed/", False),
        ("/blog/RSS", False),
        ("/atom", False),
        ("/index.atom", False),
        ("/feed.rss", False),
        ("/feeds/", True),  # only the segments `feed`, `rss`, `atom` are feeds
        ("/posts/feeding-cats", True),
        ("/wp-login.php", False),
        ("/wp-login.php?redirect_to=x", False),
        ("/xmlrpc.php", False),
        ("/.env", False),
        ("/.env.production", False),
        ("/.git/config", False),
        ("/wp-admin/", False),
        ("/WP-Admin/options.php", False),
        ("/admin", False),
        ("/login/", False),
        ("/administrator/index.php", False),
        ("/administration-tips", True),
        ("/blog/login-screens", True),
    ],
)
def test_feeds_and_login_admin_scanner_endpoints_are_never_page_views(target: str, view: bool) -> None:
    out = classify(frame([{"target": target}]))
    assert out.get_column("is_page_view").to_list() == [view]
    assert reference_is_page(target.split("?")[0]) == view  # the oracle agrees


def test_exclude_paths_is_configurable(tmp_path: Path) -> None:
    assert classify(frame([{"target": "/wp-login.php"}]), ()).get_column("is_page_view").to_list() == [True]
    own = load_config_text(tmp_path, 'exclude_paths = ["^/members/"]\n')
    out = classify(frame([{"target": "/members/x"}, {"target": "/wp-login.php"}]), own.exclude_paths)
    assert out.get_column("is_page_view").to_list() == [False, True]
    with pytest.raises(UsageError, match="exclude_paths"):
        load_config_text(tmp_path, "exclude_paths = [3]\n")
    with pytest.raises(UsageError, match=r"exclude_paths\[1\]: bad regex"):
        load_config_text(tmp_path, 'exclude_paths = ["(?<=x)"]\n')


def load_config_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "rings.toml"
    path.write_text(text)
    return load_config(path)
