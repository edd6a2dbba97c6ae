#!/usr/bin/env python3
"""Deterministic synthetic web-server access-log generator (stdlib only).

Produces realistic-looking traffic for Rings tests and demos: human visitors
with sessions, page views followed by asset requests, Zipf-like page
popularity, referrers, bots and tools, mixed timezone offsets, slightly
out-of-order lines, a few extra trailing fields and a small fraction of
malformed lines.

Usage::

    python sample_data/generate.py --out sample_data/access.log
    python sample_data/generate.py --out - --lines 200 --format common

Importable: ``generate(lines, seed, start, days, fmt, hosts, garbage)`` yields
lines without trailing newline.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

FORMATS = ("vcombined", "combined", "common")
DEFAULT_HOSTS = ("alice.example", "www.bob.example:443", "carol.example")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_WIN = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"
_WK = "AppleWebKit/537.36 (KHTML, like Gecko)"
_SF = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
_IOS = "CPU iPhone OS {} like Mac OS X"

BROWSER_UAS: tuple[str, ...] = (
    # Chrome (and Edge/Opera) desktop
    f"Mozilla/5.0 ({_WIN}) {_WK} Chrome/131.0.0.0 Safari/537.36",
    f"Mozilla/5.0 ({_WIN}) {_WK} Chrome/130.0.0.0 Safari/537.36",
    f"Mozilla/5.0 ({_MAC}) {_WK} Chrome/131.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (X11; Linux x86_64) {_WK} Chrome/131.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {_WK} Chrome/130.0.0.0 Safari/537.36",
    f"Mozilla/5.0 ({_WIN}) {_WK} Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    f"Mozilla/5.0 ({_MAC}) {_WK} Chrome/129.0.0.0 Safari/537.36 OPR/115.0.0.0",
    # Firefox desktop
    f"Mozilla/5.0 ({_WIN}; rv:133.0) Gecko/20100101 Firefox/133.0",
    f"Mozilla/5.0 ({_WIN}; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    # Safari desktop
    f"Mozilla/5.0 ({_MAC}) {_SF} Version/18.1 Safari/605.1.15",
    f"Mozilla/5.0 ({_MAC}) {_SF} Version/17.6 Safari/605.1.15",
    f"Mozilla/5.0 ({_MAC}) {_SF} Version/18.2 Safari/605.1.15",
    # iOS: Safari, Chrome, Firefox
    f"Mozilla/5.0 (iPhone; {_IOS.format('18_1')}) {_SF} Version/18.1 Mobile/15E148 Safari/604.1",
    f"Mozilla/5.0 (iPhone; {_IOS.format('17_6_1')}) {_SF} Version/17.6 Mobile/15E148 Safari/604.1",
    f"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) {_SF} Version/18.1 Mobile/15E148 Safari/604.1",
    f"Mozilla/5.0 (iPhone; {_IOS.format('18_1')}) {_SF} CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    f"Mozilla/5.0 (iPhone; {_IOS.format('18_1')}) {_SF} FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
    # Android: Chrome, Samsung Internet, Firefox
    f"Mozilla/5.0 (Linux; Android 10; K) {_WK} Chrome/131.0.0.0 Mobile Safari/537.36",
    f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_WK} Chrome/131.0.6778.81 Mobile Safari/537.36",
    f"Mozilla/5.0 (Linux; Android 13; SM-S911B) {_WK} Chrome/130.0.0.0 Mobile Safari/537.36",
    f"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-A546B) {_WK} SamsungBrowser/26.0 "
    "Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (Android 13; Mobile; rv:132.0) Gecko/132.0 Firefox/132.0",
    f"Mozilla/5.0 (Linux; Android 12; moto g(60)) {_WK} Chrome/131.0.0.0 Mobile Safari/537.36",
    f"Mozilla/5.0 (Linux; Android 14; Pixel 7a) {_WK} Chrome/130.0.6723.107 Mobile Safari/537.36",
    f"Mozilla/5.0 (Linux; Android 10; K) {_WK} Chrome/131.0.0.0 Safari/537.36",
)

# (user agent, IP prefix, weight, kind): "crawler" fetches robots/sitemap + pages, "tool" fetches a few URLs.
BOTS: tuple[tuple[str, str, float, str], ...] = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "66.249.66.", 4, "crawler"),
    (
        f"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) {_WK} Chrome/131.0.6778.69 "
        "Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "66.249.68.",
        2,
        "crawler",
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "40.77.167.", 3, "crawler"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "54.36.148.", 3, "crawler"),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        "20.171.207.",
        2,
        "crawler",
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        "34.162.46.",
        2,
        "crawler",
    ),
    ("curl/8.5.0", "203.0.113.", 1.5, "tool"),
    ("python-requests/2.31.0", "198.51.100.", 1.5, "tool"),
    ("Go-http-client/1.1", "192.0.2.", 1, "tool"),
    ("Wget/1.21.4", "198.18.0.", 0.7, "tool"),
)

SLUGS: tuple[str, ...] = (
    "hello-world",
    "why-i-self-host",
    "sqlite-tricks",
    "duckdb-for-logs",
    "nginx-caching",
    "apache-vhosts",
    "privacy-analytics",
    "rust-vs-go",
    "python-packaging",
    "home-lab-2025",
    "static-sites",
    "my-dotfiles",
    "keyboard-review",
    "learning-zig",
    "postgres-upgrade",
    "backup-strategy",
    "tailscale-setup",
    "caddy-tls",
    "emacs-config",
    "vim-to-neovim",
    "docker-compose-tips",
    "systemd-timers",
    "log-rotation",
    "regex-pitfalls",
    "unicode-normalization",
    "timezones-are-hard",
    "gzip-vs-zstd",
    "writing-a-parser",
    "benchmarks-lie",
    "year-in-review",
    "reading-list",
    "bike-commute",
    "sourdough",
    "garden-notes",
    "camera-gear",
    "travel-japan",
    "book-notes-sicp",
    "raspberry-pi-cluster",
    "ipv6-at-home",
    "goodbye-google-analytics",
)

EXTERNAL_REFERRERS: tuple[tuple[str, float], ...] = (
    ("-", 45),
    ("https://www.google.com/", 22),
    ("https://duckduckgo.com/", 6),
    ("https://www.bing.com/", 3),
    ("https://news.ycombinator.com/item?id=1", 6),
    ("https://news.ycombinator.com/", 2),
    ("https://www.reddit.com/r/selfhosted/", 4),
    ("https://t.co/", 3),
    ("https://mastodon.social/", 3),
    ("https://www.linkedin.com/", 2),
    ("https://lobste.rs/", 2),
    ("android-app://com.google.android.gm/", 1),
)

ASSETS: tuple[tuple[str, int, int], ...] = (
    ("/assets/style.css", 4_000, 40_000),
    ("/assets/app.js", 8_000, 120_000),
    ("/assets/logo.png", 1_000, 60_000),
    ("/images/header.png", 20_000, 250_000),
    ("/fonts/inter.woff2", 20_000, 90_000),
    ("/favicon.ico", 1_150, 15_000),
)

SCANNER_PATHS: tuple[str, ...] = (
    "/wp-login.php",
    "/.env",
    "/xmlrpc.php",
    "/wp-admin/",
    "/.git/config",
    "/phpmyadmin/",
    "/admin.php",
)

PROTOCOLS: tuple[tuple[str, float], ...] = (("HTTP/1.1", 70), ("HTTP/2.0", 28), ("HTTP/1.0", 2))
# Log timezone (minutes east of UTC) per host, by host index; the instant is kept,
# only its rendering changes. A few lines of any host use another offset
# (e.g. a second server behind the same name).
OFFSETS: tuple[int, ...] = (0, 60, -300)
# Relative traffic per UTC hour (quiet nights, busy days).
_AM = (1.0, 0.7, 0.5, 0.4, 0.4, 0.5, 0.8, 1.4, 2.2, 2.8, 3.0, 3.0)
_PM = (2.8, 3.0, 3.1, 3.0, 2.8, 2.6, 2.5, 2.6, 2.5, 2.2, 1.8, 1.3)
HOUR_WEIGHTS: tuple[float, ...] = _AM + _PM


@dataclass(frozen=True)
class Visitor:
    """A (possibly bot) client: IP, user agent and the vhost it talks to."""

    ip: str
    ua: str
    host: str  # "name:port"
    bot: bool
    offset: int = 0  # log timezone, minutes east of UTC


@dataclass
class Record:
    """One synthetic request before rendering."""

    t: float  # UTC epoch seconds
    visitor: Visitor
    method: str
    target: str
    status: int
    size: int | None  # None renders as "-"
    referrer: str
    sort_jitter: float = 0.0


def _weighted(rng: random.Random, items: Sequence[tuple[str, float]]) -> str:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def _host_port(host: str, rng: random.Random) -> str:
    if ":" in host:
        return host
    return f"{host}:{80 if rng.random() < 0.1 else 443}"


_FIRST_OCTETS = (24, 31, 37, 45, 62, 73, 77, 81, 86, 89, 93, 98, 104, 109, 141, 151, 176, 185, 188, 213)


def _random_ip(rng: random.Random) -> str:
    if rng.random() < 0.1:
        a, b, c = (rng.randrange(1, 0xFFFF) for _ in range(3))
        return f"2001:db8:{a:x}:{b:x}::{c:x}"
    first = rng.choice(_FIRST_OCTETS)
    return f"{first}.{rng.randrange(0, 256)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"


def _page_catalog(rng: random.Random) -> tuple[list[str], list[float]]:
    """Pages ranked Zipf-like: the top few are fixed, post order is shuffled per seed."""
    head = ["/", "/blog/", "/about"]
    posts = [f"/posts/{s}/" for s in SLUGS] + [f"/blog/{s}" for s in SLUGS]
    rng.shuffle(posts)
    tail = ["/contact.php", "/index.html", "/archive/Old-Page.HTML", "/projects", "/now"]
    pages = head + posts[:6] + tail[:2] + posts[6:] + tail[2:]
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(pages))]
    return pages, weights


class _Builder:
    """Builds Records for human and bot sessions."""

    def __init__(self, rng: random.Random, t0: float, t1: float, hosts: Sequence[str]) -> None:
        self.rng = rng
        self.t0 = t0
        self.t1 = t1
        self.hosts = list(hosts)
        self.pages, self.page_weights = _page_catalog(rng)
        self.hour_weights = HOUR_WEIGHTS

    def start_time(self) -> float:
        """A session start: uniform day, diurnal hour, uniform minute/second."""
        rng = self.rng
        ndays = int((self.t1 - self.t0) // 86400) or 1
        day = rng.randrange(ndays)
        hour = rng.choices(range(24), weights=self.hour_weights)[0]
        return self.t0 + day * 86400 + hour * 3600 + rng.randrange(3600)

    def pick_page(self) -> str:
        return self.rng.choices(self.pages, weights=self.page_weights)[0]

    def page_size(self) -> int:
        return self.rng.randrange(2_500, 65_000)

    def human_visitor(self, known: list[Visitor]) -> Visitor:
        """A new visitor; some share an IP (NAT) or a UA with earlier ones."""
        rng = self.rng
        if known and rng.random() < 0.08:
            other = rng.choice(known)
            ip, host, offset = other.ip, other.host, other.offset
        else:
            ip, (host, offset) = _random_ip(rng), self.pick_host()
        return Visitor(ip=ip, ua=rng.choice(BROWSER_UAS), host=host, bot=False, offset=offset)

    def pick_host(self) -> tuple[str, int]:
        """A ``name:port`` vhost and its log timezone offset."""
        i = self.rng.randrange(len(self.hosts))
        return _host_port(self.hosts[i], self.rng), OFFSETS[i % len(OFFSETS)]

    def human_session(self, v: Visitor, t: float) -> list[Record]:
        """A browsing session: 1..8 page views, each followed by assets."""
        rng = self.rng
        out: list[Record] = []
        site = "https://" + v.host.split(":")[0]
        n = 1 if rng.random() < 0.4 else rng.randint(2, 8)
        referrer = _weighted(rng, EXTERNAL_REFERRERS)
        prev_url: str | None = None
        for i in range(n):
            if i:
                # Mostly short reading gaps; sometimes > 30 minutes (new session).
                t += rng.uniform(1_860, 7_200) if rng.random() < 0.12 else rng.expovariate(1 / 90) + 2
                referrer = prev_url if prev_url and rng.random() < 0.85 else "-"
            target, method, status = self.pick_page(), "GET", 200
            r = rng.random()
            if i == 0 and r < 0.06:
                target += "?utm_source=newsletter&utm_medium=email"
                referrer = "-"
            elif i == 0 and r < 0.09:
                target += "?ref=producthunt"
            elif target == "/blog/" and r < 0.3:
                target += "?page=2"
            elif r > 0.995:
                target = '/search?q=\\"rings\\"&lang=en'  # escaped quotes inside the request field
            s = rng.random()
            size: int | None = self.page_size()
            if s < 0.06:
                status = 304
                size = None if rng.random() < 0.6 else 0
            elif s < 0.075:
                status, size = 500, rng.randrange(0, 600)
            elif s < 0.09:
                status, size = 404, rng.randrange(150, 550)
                target = f"/posts/{rng.choice(SLUGS)}-draft/"
            elif s < 0.11 and target.rstrip("/").count("/") == 2 and not target.endswith("/"):
                status, size = 301, rng.randrange(162, 180)
                out.append(Record(t, v, method, target, status, size, referrer))
                target, status, size = target + "/", 200, self.page_size()
                t += rng.choice((0, 0, 1))
            out.append(Record(t, v, method, target, status, size, referrer))
            page_url = site + target
            if status in (200, 304):
                for path, lo, hi in rng.sample(ASSETS, rng.randint(2, 5)):
                    dt = rng.choice((0, 0, 1))
                    if rng.random() < 0.3 and i:
                        out.append(
                            Record(t + dt, v, "GET", path, 304, None if rng.random() < 0.5 else 0, page_url)
                        )
                    else:
                        out.append(Record(t + dt, v, "GET", path, 200, rng.randrange(lo, hi), page_url))
            if status == 200 and "/posts/" in target and rng.random() < 0.04:
                t += rng.randrange(30, 400)
                out.append(
                    Record(
                        t,
                        v,
                        "POST",
                        "/comment",
                        rng.choice((302, 303, 200, 403)),
                        rng.randrange(0, 900),
                        page_url,
                    )
                )
            if rng.random() < 0.01:
                t += rng.randrange(5, 60)
                out.append(
                    Record(
                        t, v, "POST", "/login", rng.choice((200, 302, 401)), rng.randrange(0, 2000), page_url
                    )
                )
            prev_url = page_url
        return out

    def scanner_session(self, v: Visitor, t: float) -> list[Record]:
        """A vulnerability scan with a browser-looking UA: mostly 404s."""
        rng = self.rng
        out = []
        for path in rng.sample(SCANNER_PATHS, rng.randint(1, 4)):
            out.append(
                Record(t, v, rng.choice(("GET", "GET", "POST")), path, 404, rng.randrange(150, 550), "-")
            )
            t += rng.choice((0, 1, 2))
        return out

    def bot_session(self, v: Visitor, kind: str, t: float) -> list[Record]:
        """A crawler (robots.txt, sitemap.xml, pages) or a tool (a few URLs)."""
        rng = self.rng
        out: list[Record] = []
        if kind == "crawler":
            if rng.random() < 0.5:
                out.append(Record(t, v, "GET", "/robots.txt", 200, rng.randrange(60, 400), "-"))
                t += rng.randrange(0, 5)
            if rng.random() < 0.4:
                out.append(Record(t, v, "GET", "/sitemap.xml", 200, rng.randrange(2_000, 20_000), "-"))
                t += rng.randrange(0, 5)
            for _ in range(rng.randint(1, 6)):
                status = rng.choices((200, 304, 301, 404), weights=(85, 8, 4, 3))[0]
                size = None if status == 304 else rng.randrange(2_500, 65_000)
                out.append(Record(t, v, "GET", self.pick_page(), status, size, "-"))
                t += rng.expovariate(1 / 20)
        else:
            targets = [self.pick_page(), "/feed.xml", "/", "/index.xml", "/.well-known/security.txt"]
            for target in rng.sample(targets, rng.randint(1, 3)):
                method = "HEAD" if rng.random() < 0.15 else "GET"
                out.append(Record(t, v, method, target, 200, rng.randrange(500, 60_000), "-"))
                t += rng.randrange(0, 3)
        return out


def _ts(t: float, offset_min: int) -> str:
    local = datetime.fromtimestamp(int(t), tz=timezone(timedelta(minutes=offset_min)))
    sign = "+" if offset_min >= 0 else "-"
    hh, mm = divmod(abs(offset_min), 60)
    return f"{local.day:02d}/{MONTHS[local.month - 1]}/{local.year}:{local:%H:%M:%S} {sign}{hh:02d}{mm:02d}"


def _render(rec: Record, fmt: str, rng: random.Random) -> str:
    v = rec.visitor
    request = f"{rec.method} {rec.target} {_weighted(rng, PROTOCOLS)}"
    size = "-" if rec.size is None else str(rec.size)
    offset = rng.choice(OFFSETS) if rng.random() < 0.02 else v.offset
    line = f'{v.ip} - - [{_ts(rec.t, offset)}] "{request}" {rec.status} {size}'
    if fmt == "common":
        return line
    line += f' "{rec.referrer}" "{v.ua}"'
    if rng.random() < 0.05:
        line += rng.choice((' "-"', f" {rng.random() * 0.5:.3f}", f' {rng.random() * 0.2:.3f} "-"'))
    if fmt == "vcombined":
        line = f"{v.host} {line}"
    return line


def _garbage(kind: str, rng: random.Random, sample: str, fmt: str, t: float, host: str) -> str:
    """One malformed (or odd-but-valid) line of the given kind."""
    if kind == "empty":
        return ""
    if kind == "truncated":
        cut = sample.index('"') + rng.randrange(1, 12)  # always inside the request field
        return sample[: max(5, min(cut, len(sample) - 1))]
    if kind == "dash":
        line = f'{_random_ip(rng)} - - [{_ts(t, 0)}] "-" 408 0'
        if fmt != "common":
            line += ' "-" "-"'
        if fmt == "vcombined":
            line = f"{host} {line}"
        return line
    if kind == "nonascii" and fmt != "common":
        ua = "Mozilla/5.0 (X11; Linux x86_64) Navigateur-Café/1.0 (Zürich; 日本語)"
        size = rng.randrange(2500, 65000)
        line = f'{_random_ip(rng)} - - [{_ts(t, 0)}] "GET / HTTP/1.1" 200 {size} "-" "{ua}"'
        return f"{host} {line}" if fmt == "vcombined" else line
    alphabet = string.ascii_letters + string.digits + string.punctuation + " "
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(8, 90)))


def _day_start(start: date | str) -> float:
    d = date.fromisoformat(start) if isinstance(start, str) else start
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def generate(
    lines: int = 5000,
    seed: int = 7,
    start: date | str = "2025-12-01",
    days: int = 3,
    fmt: str = "vcombined",
    hosts: Sequence[str] = DEFAULT_HOSTS,
    garbage: float = 0.002,
) -> Iterator[str]:
    """Yield exactly ``lines`` synthetic access-log lines (no trailing newline)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if lines <= 0:
        return
    if days <= 0 or not hosts:
        raise ValueError("days must be positive and hosts non-empty")
    rng = random.Random(seed)
    t0 = _day_start(start)
    t1 = t0 + days * 86400
    b = _Builder(rng, t0, t1, hosts)

    n_garbage = min(lines, round(lines * garbage))
    n_valid = lines - n_garbage
    n_bot = round(n_valid * 0.15)
    n_human = n_valid - n_bot

    humans: list[Record] = []
    known: list[Visitor] = []
    while len(humans) < n_human:
        if rng.random() < 0.25 and known:
            v = rng.choice(known)  # returning visitor, new session
        else:
            v = b.human_visitor(known)
            known.append(v)
        if rng.random() < 0.03:
            humans.extend(b.scanner_session(v, b.start_time()))
        else:
            humans.extend(b.human_session(v, b.start_time()))
    bots: list[Record] = []
    bot_weights = [w for _, _, w, _ in BOTS]
    while len(bots) < n_bot:
        ua, prefix, _, kind = rng.choices(BOTS, weights=bot_weights)[0]
        host, offset = b.pick_host()
        v = Visitor(f"{prefix}{rng.randrange(1, 255)}", ua, host, True, offset)
        bots.extend(b.bot_session(v, kind, b.start_time()))

    def trim(recs: list[Record], n: int) -> list[Record]:
        recs = [r for r in recs if t0 <= r.t < t1]
        while len(recs) < n:  # sessions running past the end were dropped; top up
            recs.append(
                Record(b.start_time(), recs[0].visitor if recs else known[0], "GET", "/", 200, 4000, "-")
            )
        drop = set(rng.sample(range(len(recs)), len(recs) - n))
        return [r for i, r in enumerate(recs) if i not in drop]

    records = trim(humans, n_human) + trim(bots, n_bot)
    for r in records:
        if rng.random() < 0.03:
            r.sort_jitter = rng.uniform(-6, 6)  # printed a few seconds out of order
    records.sort(key=lambda r: r.t + r.sort_jitter)
    rendered = [_render(r, fmt, rng) for r in records]

    # Malformed lines go at random positions; they borrow the time, host and (for
    # truncation) the text of a neighbouring well-formed line.
    kinds = ["dash", "truncated", "empty", "junk", "nonascii"]
    extra: dict[int, list[str]] = {}
    for k in range(n_garbage):
        kind = kinds[k] if k < len(kinds) else rng.choice([*kinds, "junk", "truncated"])
        pos = rng.randrange(len(rendered) + 1)
        if records:
            near = min(pos, len(records) - 1)
            t, host, sample = records[near].t, records[near].visitor.host, rendered[near]
        else:
            t, host, sample = t0, _host_port(hosts[0], rng), '0.0.0.0 - - [x] "GET / HTTP/1.1" 200 1'
        extra.setdefault(pos, []).append(_garbage(kind, rng, sample, fmt, t, host))
    for i in range(len(rendered) + 1):
        yield from extra.get(i, ())
        if i < len(rendered):
            yield rendered[i]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description="Generate a deterministic synthetic access log.")
    p.add_argument("--out", required=True, help="output path, or - for stdout")
    p.add_argument("--lines", type=int, default=5000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", default="2025-12-01", help="first UTC day, YYYY-MM-DD")
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="vcombined")
    p.add_argument("--tenants", default=",".join(DEFAULT_HOSTS), help="comma-separated host[:port] list")
    p.add_argument("--garbage", type=float, default=0.002, help="fraction of malformed lines")
    a = p.parse_args(argv)
    hosts = [h.strip() for h in a.tenants.split(",") if h.strip()]
    it = generate(a.lines, a.seed, a.start, a.days, a.fmt, hosts, a.garbage)
    if a.out == "-":
        for line in it:
            sys.stdout.write(line + "\n")
    else:
        with open(a.out, "w", encoding="utf-8", newline="\n") as f:
            for line in it:
                f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
