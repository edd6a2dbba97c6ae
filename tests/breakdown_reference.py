"""Plain per-line reference for browsers, OS, devices, countries and not-found (test oracle).

Independent of rings_cli: the user agents of the generated log are a fixed table whose browser,
version, OS and device type are written out by hand below, and the countries of the addresses
are known; a loop over the lines counts what Rings must report (page views and unique visitors,
per value and UTC day, using tests/reference.py's page-view rules).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from reference import is_bot, is_page, page_path, parse_line

# user agent -> (browser, major version, OS, device type), as a person reads them.
KNOWN_AGENTS: dict[str, tuple[str, str, str, str]] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36": ("Chrome", "120", "Windows", "desktop"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0": ("Edge", "120", "Windows", "desktop"),
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0": (
        "Firefox",
        "121",
        "Linux",
        "desktop",
    ),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15": ("Safari", "17", "Mac OS X", "desktop"),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1": ("Mobile Safari", "17", "iOS", "mobile"),
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1": ("Mobile Safari", "16", "iOS", "tablet"),
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36": ("Chrome Mobile", "120", "Android", "mobile"),
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36": ("Chrome", "119", "Android", "tablet"),
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36": ("Chrome", "120", "Chrome OS", "desktop"),
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": (
        "Googlebot",
        "2",
        "unknown",
        "bot",
    ),
    "curl/8.4.0": ("curl", "8", "unknown", "bot"),
    "-": ("unknown", "", "unknown", "other"),
}

# address -> ISO country (checked against the RIR data iptocc ships); documentation ranges,
# private and loopback addresses are unknown.
KNOWN_ADDRESSES: dict[str, str] = {
    "8.8.8.8": "US",
    "2001:4860:4860::8888": "US",
    "1.1.1.1": "AU",
    "81.2.69.160": "GB",
    "193.0.6.139": "NL",
    "133.11.0.1": "JP",
    "200.160.2.3": "BR",
    "192.0.2.1": "unknown",
    "198.51.100.7": "unknown",
    "203.0.113.5": "unknown",
    "2001:db8::1": "unknown",
    "10.0.0.1": "unknown",
    "127.0.0.1": "unknown",
}

PATHS = ("/", "/about", "/blog/hello", "/missing", "/style.css", "/old-page", "/wp-login.php")
STATUSES = (200, 200, 200, 200, 304, 404, 404, 500)


def generated_log(lines: int, seed: int = 15, days: int = 2) -> list[str]:
    """Combined-format lines whose user agents and addresses are all known (tables above)."""
    rng = random.Random(seed)
    agents, addresses = list(KNOWN_AGENTS), list(KNOWN_ADDRESSES)
    out = []
    for _ in range(lines):
        day, hour, minute = rng.randrange(days) + 1, rng.randrange(24), rng.randrange(60)
        method = "GET" if rng.random() < 0.9 else "POST"
        out.append(
            f"{rng.choice(addresses)} - - [{day:02d}/Dec/2025:{hour:02d}:{minute:02d}:00 +0000] "
            f'"{method} {rng.choice(PATHS)} HTTP/1.1" {rng.choice(STATUSES)} 100 "-" "{rng.choice(agents)}"'
        )
    return out


@dataclass
class Breakdown:
    """Per (day, value): page views, and the visitors ((ip, ua) pairs) with a page view."""

    views: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    visitors: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))

    def as_counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        return {k: (v, len(self.visitors[k])) for k, v in self.views.items()}


def breakdown_reference(lines: Iterable[str]) -> dict[str, object]:
    """browsers / os / devices / countries: {(day, value): (page views, unique visitors)};
    requests_by_device: {(day, device): requests}; not_found: {(day, path): (requests, bots)}."""
    tables = {name: Breakdown() for name in ("browsers", "os", "devices", "countries")}
    requests_by_device: dict[tuple[str, str], int] = defaultdict(int)
    not_found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for text in lines:
        parsed = parse_line(text)
        assert parsed is not None
        day = parsed.when.strftime("%Y-%m-%d")
        ua = parsed.ua or "-"
        browser, version, os_family, device = KNOWN_AGENTS[ua]
        bot = is_bot(parsed.ua, parsed.referrer, parsed.when)
        requests_by_device[(day, "bot" if bot else device)] += 1
        method_path = page_path(parsed.request)
        assert method_path is not None
        method, bare, path = method_path  # (path: the page path, as 404s are listed)
        if parsed.status == "404":
            not_found[(day, path)][0] += 1
            not_found[(day, path)][1] += bot
        status = int(parsed.status)
        if bot or method != "GET" or not (200 <= status <= 299 or status == 304) or not is_page(bare):
            continue
        person = (parsed.ip, ua)
        for name, value in (
            ("browsers", f"{browser} {version}".strip()),
            ("os", os_family),
            ("devices", device),
            ("countries", KNOWN_ADDRESSES[parsed.ip]),
        ):
            tables[name].views[(day, value)] += 1
            tables[name].visitors[(day, value)].add(person)
    return {
        **{name: table.as_counts() for name, table in tables.items()},
        "requests_by_device": dict(requests_by_device),
        "not_found": {k: tuple(v) for k, v in not_found.items()},
    }
