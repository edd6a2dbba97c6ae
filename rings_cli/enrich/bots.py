"""Bots by user agent: crawlers, and HTTP libraries and tools, decided once per distinct agent.

Three tests, cheapest first, each on the agents the one before left:

1. `LIBRARY`: a hand-written regex of HTTP libraries, language runtimes and command-line tools
   (`Java/1.8`, `python-requests/2.31`, `curl/8.5`, `okhttp/4`, `Go-http-client/2.0`, `Ruby`, ...).
   Each name must start the agent or follow a space, `;`, `(` or `,`, and most need their version
   slash, so no browser's agent contains one by accident. Reason `library`.
2. The `crawler-user-agents` list (MIT, pinned: its patterns change between releases) without
   `CRAWLER_EXCLUDED`, ten of its patterns that match real browsers (device names, Android build
   ids, in-app browsers), with `CRAWLER_NARROWED` in their place. Reason `crawler`.
3. device-detector's bot list (Matomo's `bots.yml`, read from the installed package, LGPL), through
   its `Bot` parser alone, never its full parse (24 ms an agent): imported on first use, about
   0.1 ms an agent. Reason `crawler`.

Tests 1 and 2 are one Polars regex each over a batch's distinct agents; every verdict is kept in a
bounded cache, so follow mode and the next batch ask again only for agents they have not seen.
Left out on purpose: `Dalvik/` (the agent of Android apps' own requests, people's apps as often as
scripts), bare `.NET CLR` (Internet Explorer carries it), `Java` without a slash (JavaFX's browser),
Apple's `CFNetwork` (icons fetched for a person's Safari), and crawlerdetect (its broad substrings
flag device names and apps).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

from rings_cli.core.definitions import BOT_REASONS

CRAWLER, LIBRARY, REFERRER_SPAM, OUTDATED = BOT_REASONS

# HTTP libraries, runtimes and command-line tools (case-insensitive).
_LIBRARIES = (
    r"java(?:-http-client)?/\d",  # Java/1.8.0_151, Java-http-client/17
    r"apache-httpclient/",
    r"(?:jakarta )?commons-httpclient/",
    r"ahc/\d",
    r"\w*-?asynchttpclient",
    r"okhttp/",
    r"google-http-java-client/",
    r"reactor-netty/",
    r"unirest-java/",
    r"go-http-client/",
    r"go http package",
    r"fasthttp\b",
    r"resty/",
    r"req/v?\d",
    r"python-requests/",
    r"python-urllib3?/",
    r"urllib3/",
    r"python-httpx/",
    r"httpx/",
    r"aiohttp/",
    r"python/\d[\d.]* (?:aiohttp|requests)",
    r"grequests/",
    r"pycurl/",
    r"httplib2/",
    r"python-tornado/",
    r"libwww-perl/",
    r"lwp::\w+/",
    r"lwp-(?:request|trivial)/",
    r"www-mechanize/",
    r"http-tiny/",
    r"mojolicious \(perl\)",
    r"curl/\d",
    r"libcurl/",
    r"wget/\d",
    r"wget2/",
    r"fetch libfetch/",
    r"httpie/",
    r"node-fetch\b",
    r"axios/",
    r"undici\b",
    r"node(?:\.js)?/v?\d",
    r"got \(https",
    r"superagent/",
    r"deno/\d",
    r"bun/\d",
    r"ruby$",  # the whole agent, or its last word: a phone may be named "Ruby"
    r"ruby/\d",
    r"ruby-\d",
    r"faraday v\d",
    r"http\.rb/",
    r"typhoeus",
    r"rest-client/",
    r"php/\d",
    r"php-curl-class",
    r"guzzlehttp/",
    r"http_request2/",
    r"wordpress/\d",
    r"winhttp",
    r"microsoft url control",
    r"microsoft winrm client",
    r"restsharp/",
    r"system\.net\.http",
    r"\.net framework",
    r"windowspowershell/",
    r"powershell/\d",
    r"dart/\d",
    r"reqwest/",
    r"hyper/\d",
    r"isahc/",
    r"ureq/",
    r"libsoup/",
    r"htmlparser/",
    r"postmanruntime/",
    r"insomnia/",
    r"fuzz faster u fool",
)
LIBRARY_PATTERN = r"(?i)(?:^|[\s;(,])(?:" + "|".join(_LIBRARIES) + ")"

# crawler-user-agents patterns that match people's browsers (checked on Matomo's 34,130 real-device
# browser agents): left out by their exact text, so a fixed upstream pattern stops matching here.
CRAWLER_EXCLUDED = frozenset(
    {
        r"AP3A\.240617\.008",  # the Android 15 build of most OPPO, Realme and OnePlus phones
        "Sogou",  # also Sogou's mobile browser; its spiders are in device-detector's list
        "Sonic",  # device names (Cherry Sonic, O+ Sonic)
        "Butterfly",  # HTC Butterfly phones
        "Fever",  # device names (Fever_Plus)
        "Expanse",  # a device named Expanse; Palo Alto's scanner is in device-detector's list
        r"008\/",  # inside Android build strings
        "Fluid",  # Fluid, a site-specific browser
        r"Code\/1\.",  # VS Code's window (Electron): a person's editor
        "Viber",  # Viber's in-app browser
    }
)
# What some of those were meant to catch, narrowed to the bot's own agent.
CRAWLER_NARROWED = (
    r"^Viber\b",  # Viber's link previews (its in-app browser has `Viber/` inside a browser's agent)
    r"^Expanse\b",  # Palo Alto's scanner
    r"^008/",  # 008, AdvancedWebRanking
    "RankSonic",
    r"Sogou[\w -]*[Ss]pider",
    r"^Fever/",  # Fever's feed reader
)

_CACHE_SIZE = 50_000  # verdicts kept across batches
_DD_MAX = 1000  # characters of an agent device-detector reads (real agents are far shorter)
_verdicts: OrderedDict[str, str | None] = OrderedDict()  # agent -> reason, None: not a bot


@cache
def crawler_pattern() -> str:
    """One alternation of crawler-user-agents' patterns less CRAWLER_EXCLUDED (case-sensitive,
    as the list intends)."""
    data = resources.files("crawleruseragents").joinpath("crawler-user-agents.json").read_text()
    patterns = [e["pattern"] for e in json.loads(data) if e["pattern"] not in CRAWLER_EXCLUDED]
    patterns += CRAWLER_NARROWED
    return "|".join(f"(?:{p})" for p in patterns)


@cache
def load_detector() -> None:
    """Import device-detector and load its bot list (bots.yml and its prefilter's words): on the
    main thread, before the read-ahead worker starts (ingest/ahead.py). Its YAML parser (yaml-rs, a
    Rust extension) crashed the process when it first ran in the worker thread."""
    from device_detector.utils import clean_ua

    parser = bot_parser()(clean_ua("Mozilla/5.0", "mozilla/5.0"))
    parser.parse()  # the prefilter's words
    _ = parser.regex_list  # the bot regexes, which the prefilter let it skip for this agent


@cache
def bot_parser() -> type:
    """device-detector's `Bot` parser without the apps' details: every parser's `__init__` loads
    them (17 YAML files, about 6 MiB of a `rings live`), and a bot's test never reads them
    (`Bot._parse`: the prefilter, then bots.yml's regexes). The attributes are `Parser.__init__`'s
    of device-detector 6.5.1 (pinned); tests/test_bots.py checks the verdicts equal `Bot`'s."""
    from device_detector.parser.device.bot import Bot

    base: Any = Bot  # its slots are Parser's, which mypy does not see through the subclass

    class BotTest(base):
        def __init__(self, ua: str) -> None:
            self.user_agent = ua
            self.user_agent_lower = ua.lower()
            self.ua_data: dict[str, object] = {}
            self.app_name = ""
            self.app_name_no_punctuation = ""
            self.matched_regex = None
            self.app_version = ""
            self.known = False
            self.secondary_client: dict[str, str] = {}
            self.client_hints = None
            self.ch_client_data: dict[str, str] = {}
            self.os_details: dict[str, str] = {}
            self.app_custom_data: dict[str, object] = {}  # the apps' details: none
            self._is_ios_fragment = None

    return BotTest


def detector_bot(ua: str) -> bool:
    """device-detector's bot test alone (an Aho-Corasick prefilter, then bots.yml's regexes). A
    failure inside it (hostile input) is no verdict: not a bot."""
    from device_detector.utils import clean_ua  # ~40 ms and ~20 MB, on first use only

    text = ua[:_DD_MAX]
    try:
        return bool(bot_parser()(clean_ua(text, text.lower())).parse().is_bot())
    except Exception:
        return False


def agent_reasons(agents: pl.Series) -> dict[str, str]:
    """The bots among `agents` (distinct, no empty or `-`), each with its reason."""
    out: dict[str, str] = {}
    new: list[str] = []
    for ua in agents.to_list():
        if ua in _verdicts:
            _verdicts.move_to_end(ua)
            reason = _verdicts[ua]
            if reason is not None:
                out[ua] = reason
        else:
            new.append(ua)
    if not new:
        return out
    fresh = pl.Series(new, dtype=pl.String)
    library = fresh.str.contains(LIBRARY_PATTERN)
    crawler = fresh.str.contains(crawler_pattern())
    for ua, is_library, is_crawler in zip(new, library.to_list(), crawler.to_list(), strict=True):
        reason = LIBRARY if is_library else CRAWLER if is_crawler or detector_bot(ua) else None
        _verdicts[ua] = reason
        if reason is not None:
            out[ua] = reason
    while len(_verdicts) > _CACHE_SIZE:
        _verdicts.popitem(last=False)
    return out


def agent_reason(ua: str) -> str | None:
    """One agent's reason (`library`, `crawler`), None for a browser or no agent."""
    if not ua or ua == "-":
        return None
    return agent_reasons(pl.Series([ua], dtype=pl.String)).get(ua)
