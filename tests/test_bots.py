"""Issue 29: HTTP libraries and tools, crawlers, referrer spam and outdated browsers are bots, each
with its reason; people's current browsers are not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from rings_cli.core.config import Config, parse_config
from rings_cli.core.errors import UsageError
from rings_cli.enrich import bots, spam, stale
from rings_cli.enrich.classify import classify
from rings_cli.enrich.stale import cutoff, release_month
from tests.conftest import line, report_json, run_cli

DATA = Path(__file__).parent / "data"
# Current browsers (2024-2026 versions), written from their vendors' formats, not copied from logs:
# desktop, phone and tablet; Chrome, Firefox, Safari, Edge, Samsung Internet, Opera, Yandex,
# WebViews and in-app browsers. The second file: Android 15 phones whose build id a
# crawler-user-agents pattern (AP3A.240617.008) flags, left out (bots.CRAWLER_EXCLUDED).
BROWSERS = (DATA / "browsers.txt").read_text().splitlines()
ANDROID_15 = (DATA / "browsers_android15.txt").read_text().splitlines()

LIBRARIES = [
    "Java/1.6.0_04",
    "Java/1.8.0_73",
    "Java/17.0.2",
    "Apache-HttpClient/4.5.13 (Java/17.0.2)",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "python-requests/2.31.0",
    "python-urllib3/2.5.0",
    "Python/3.11 aiohttp/3.9.1",
    "GRequests/0.10",
    "libwww-perl/6.72",
    "curl/8.5.0",
    "Wget/1.21.4",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "axios/1.7.2",
    "Ruby",
    "HTTP_Request2/2.1.1 (http://pear.php.net/package/http_request2) PHP/8.2.12",
    "GuzzleHttp/7",
    "WinHttp-Autoproxy-Service/5.1",
    "Mozilla/4.0 (compatible; Win32; WinHttp.WinHttpRequest.5)",
    "Dart/3.5 (dart:io)",
    "fasthttp",
]
CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",  # a narrowed pattern
    "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/",  # device-detector's list only
]
# People whose agent holds a word a careless test would take for a bot.
PEOPLE = [
    "Mozilla/5.0 (Linux; Android 7.0; S710 Ruby) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SogouMSE) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
]
IN_2026 = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {"ts": IN_2026, "method": "GET", "target": "/", "status": 200, "referrer": "-", "ua": BROWSERS[0]}
    return pl.DataFrame(
        [{**base, **r} for r in rows],
        schema_overrides={"target": pl.String, "method": pl.String, "referrer": pl.String},
    )


def reasons(rows: list[dict[str, object]], config: Config | None = None) -> list[str | None]:
    return classify(frame(rows), config=config).get_column("bot_reason").to_list()


def test_the_browser_list_is_long_and_varied() -> None:
    assert len(BROWSERS) >= 30
    for name in ("Chrome/", "Firefox/", "Version/18", "Edg/", "SamsungBrowser/", "OPR/", "iPad", "Mobile"):
        assert any(name in ua for ua in BROWSERS), name


@pytest.mark.parametrize("ua", BROWSERS + ANDROID_15 + PEOPLE)
def test_current_browsers_are_people(ua: str) -> None:
    out = classify(frame([{"ua": ua}]))
    assert out.get_column("bot_reason").to_list() == [None]
    assert out.get_column("is_page_view").to_list() == [True]


def test_every_browser_of_the_list_at_once_stays_human() -> None:
    """The whole list in one batch (one pass per distinct agent), at a date in 2026."""
    out = classify(frame([{"ua": ua} for ua in BROWSERS + ANDROID_15]))
    assert out.get_column("is_bot").sum() == 0


@pytest.mark.parametrize("ua", LIBRARIES)
def test_libraries_and_tools_are_bots(ua: str) -> None:
    out = classify(frame([{"ua": ua}]))
    assert out.get_column("bot_reason").to_list() == ["library"]
    assert out.get_column("is_page_view").to_list() == [False]


@pytest.mark.parametrize("ua", CRAWLERS)
def test_crawlers_are_bots(ua: str) -> None:
    assert reasons([{"ua": ua}]) == ["crawler"]


def test_internet_explorer_with_net_clr_is_a_person_of_its_time() -> None:
    ie11 = "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; SLCC2; .NET CLR 2.0.50727; rv:11.0) like Gecko"
    assert reasons([{"ua": ie11, "ts": at(2015, 5)}]) == [None]  # `.NET CLR` is no library


def test_no_agent_is_not_a_bot() -> None:
    assert reasons([{"ua": ""}, {"ua": "-"}]) == [None, None]


def test_verdicts_are_per_distinct_agent_and_cached() -> None:
    """A batch asks device-detector once per new distinct agent; the next batch not at all."""
    ua = "Mozilla/5.0 (compatible; SomeNewFeedFetcher/9.1)"
    bots._verdicts.pop(ua, None)
    asked: list[str] = []
    real = bots.detector_bot
    try:
        bots.detector_bot = lambda text: asked.append(text) or real(text)  # type: ignore[assignment]
        classify(frame([{"ua": ua}] * 50))
        classify(frame([{"ua": ua}] * 50))
    finally:
        bots.detector_bot = real  # type: ignore[assignment]
    assert asked == [ua]


# --- referrer spam -------------------------------------------------------------------------------


def test_the_shipped_spam_list_says_where_it_is_from() -> None:
    text = (Path(spam.__file__).parent / "data" / spam.LIST_FILE).read_text()
    assert "Public Domain" in text and "Source:" in text and "Refreshed:" in text
    assert len(spam.shipped()) > 2000 and "semalt.com" in spam.shipped()
    assert all(d == d.lower() for d in spam.shipped())


def test_a_spam_referrer_and_its_subdomains_are_bots() -> None:
    rows = [
        {"referrer": "http://semalt.com/"},
        {"referrer": "https://www.semalt.com/page?x=1"},
        {"referrer": "http://a.b.semalt.com:8080/"},
        {"referrer": "https://notsemalt.com/"},  # another domain that merely ends alike
        {"referrer": "https://www.google.com/"},
    ]
    assert reasons(rows) == ["referrer spam"] * 3 + [None, None]


def test_referrer_spam_can_be_off_or_extended() -> None:
    rows = [{"referrer": "http://semalt.com/"}, {"referrer": "https://spam.example/x"}]
    assert reasons(rows, parse_config({"referrer_spam": False})) == [None, None]
    extended = parse_config({"referrer_spam": ["Spam.Example"]})
    assert reasons(rows, extended) == ["referrer spam", "referrer spam"]


@pytest.mark.parametrize("value", [1, "yes", ["not a domain"], [3]])
def test_referrer_spam_setting_is_checked(value: object) -> None:
    with pytest.raises(UsageError, match="referrer_spam"):
        parse_config({"referrer_spam": value})


def test_a_spam_referrer_gives_no_page_view_and_shows_in_bots(state, write_log) -> None:
    lines = [
        line(referrer="http://semalt.com/", ip="198.51.100.1"),
        line(referrer="http://shop.semalt.com/offer", ip="198.51.100.2"),
        line(referrer="https://news.example/", ip="198.51.100.3"),
    ]
    result = run_cli("ingest", "--state-dir", str(state.root), "-q", str(write_log(lines)))
    assert result.exit_code == 0, result.output
    report = report_json(state, "--start", "2025-12-01", "--end", "2025-12-01")
    assert report["totals"]["page_views"] == 1
    assert report["totals"]["bot_requests"] == 2
    assert report["bots"] == {"crawler": 0, "library": 0, "referrer spam": 2, "outdated browser": 0}
    assert [r["source"] for r in report["top_referrers"]] == ["news.example"]


def test_make_update_data_refreshes_the_list_from_a_file(tmp_path: Path) -> None:
    given = tmp_path / "spammers.txt"
    given.write_text("b-spam.example\nA-Spam.example\n\nb-spam.example\n")
    dest = tmp_path / "list.txt"
    assert spam.main([str(given), "--source", "upstream abc123, 2026-12-01", "--dest", str(dest)]) == 0
    text = dest.read_text()
    assert spam.read_domains(text) == ["a-spam.example", "b-spam.example"]
    assert "Source: upstream abc123, 2026-12-01" in text and "Public Domain" in text
    given.write_text("fine.example\n<html>\n")
    assert spam.main([str(given), "--dest", str(dest)]) == 1  # a wrong file is refused
    assert spam.read_domains(dest.read_text()) == ["a-spam.example", "b-spam.example"]
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    assert "update-data:" in makefile and "rings_cli.enrich.spam" in makefile


# --- outdated browsers ---------------------------------------------------------------------------

IE8 = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"
CHROME_80 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.132 Safari/537.36"  # noqa: E501


def at(year: int, month: int) -> dt.datetime:
    return dt.datetime(year, month, 15, tzinfo=dt.UTC)


def test_an_outdated_browser_on_its_date_is_a_bot_and_years_earlier_is_not() -> None:
    rows = [
        {"ua": CHROME_80, "ts": at(2021, 6)},
        {"ua": CHROME_80, "ts": at(2025, 2)},  # 60 months after Chrome 80 (2020-02): not yet
        {"ua": CHROME_80, "ts": at(2025, 3)},  # 61 months: outdated
        {"ua": IE8, "ts": at(2010, 1)},
        {"ua": IE8, "ts": at(2016, 1)},
    ]
    assert reasons(rows) == [None, None, "outdated browser", None, "outdated browser"]
    assert reasons(rows, parse_config({"outdated_browsers": False})) == [None] * 5


def test_the_release_table() -> None:
    assert release_month("Chrome", "80") == 2020 * 12 + 1
    assert release_month("Chrome", "82") == 2020 * 12 + 4  # between 81 (04) and 83 (05): the later
    assert release_month("Chrome", "999") is None  # past the table: never outdated
    assert release_month("Unheard Of", "1") is None
    assert release_month("IE Mobile", "10") == 2014 * 12 + 3  # a family that stopped: its last
    assert cutoff("Chrome", "80") == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    tv = "Mozilla/5.0 (SMART-TV; Linux; Tizen 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/63.0 TV"
    assert release_month("Chrome", "63", tv) is None  # embedded: never judged by age
    for segments in stale.RELEASES.values():
        for segment in segments:
            assert [m for m, _ in segment] == sorted({m for m, _ in segment})
            assert [d for _, d in segment] == sorted(d for _, d in segment)


def test_outdated_is_judged_per_agent_and_line_date_in_one_batch() -> None:
    rows = [{"ua": IE8, "ts": at(2009 + i, 6)} for i in range(10)]
    got = reasons(rows)
    assert got == [None] * 5 + ["outdated browser"] * 5  # IE 8 (2009-03): outdated from 2014-04


def test_the_bot_test_without_the_apps_details_gives_device_detectors_verdicts() -> None:
    """bots.bot_parser skips the apps' details that device-detector's `Bot` loads and never reads:
    on device-detector's own 1,348 bot agents, the browsers and the crawler lists above, the
    verdicts are `Bot`'s own."""
    import device_detector
    import yaml_rs
    from device_detector.parser.device.bot import Bot
    from device_detector.utils import clean_ua

    fixtures = Path(device_detector.__file__).parent / "tests" / "fixtures"
    listed = yaml_rs.loads((fixtures / "upstream" / "bots.yml").read_text())
    agents = [str(e["user_agent"]) for e in listed] + BROWSERS + ANDROID_15 + LIBRARIES + CRAWLERS + PEOPLE
    ours = [bots.detector_bot(ua) for ua in agents]
    theirs = [bool(Bot(clean_ua(ua, ua.lower()), None).parse().is_bot()) for ua in agents]
    assert ours == theirs
    assert sum(ours) > 1300 and not any(bots.detector_bot(ua) for ua in BROWSERS)
