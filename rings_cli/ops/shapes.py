"""Shapes of personal data in text or bytes: IP addresses (v4, v6) and user agents.

Used by `rings audit` on table values and on the raw bytes of every file of a state dir, so the
patterns work on bytes, must not be fooled by what Rings legitimately stores (times `10:00:00`,
dates, versions `1.2.3`, hashes), and must be fast on files of gigabytes.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

IP, UA = "IP address", "user agent"
CHUNK_BYTES = 8 << 20  # scan_file reads this much at a time
_OVERLAP = 256  # more than a hint and its window: what may be cut at a chunk's end is seen next time
_CONTEXT = 128  # bytes kept before the overlap: the window before a hint

# IPv4: four decimal octets 0-255. Not part of a longer dotted number (`1.2.3.4.5` is a version),
# and a 4-digit year never starts one, so dates and 3-part versions (`1.2.3`) never match.
_OCTET = rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rb"(?<![0-9.])" + _OCTET + rb"(?:\." + _OCTET + rb"){3}(?!\.[0-9])")
# IPv6 candidates: hex groups joined by colons (at least two). Each is then validated with
# `ipaddress` and must either have all 8 groups or a `::` and at least 3 groups, so times
# (`10:00:00`), MAC addresses and stray `a::b` bytes do not count.
_IPV6_CANDIDATE = re.compile(rb"(?:[0-9A-Fa-f]{0,4}:){2,8}[0-9A-Fa-f]{0,4}")
# User agents: `Mozilla/<digit>` (every browser), the usual HTTP libraries and crawlers followed
# by `/<digit>`, and the generic RFC 9110 shape `Product/version (comment`.
_KNOWN_UA = (
    rb"Mozilla/[0-9][0-9.]*"
    rb"|(?i:(?<![A-Za-z0-9_-])(?:curl|wget|python-requests|python-urllib[0-9]?|python-httpx|aiohttp"
    rb"|go-http-client|okhttp|libwww-perl|apache-httpclient|axios|node-fetch|undici|postmanruntime"
    rb"|httpie|guzzlehttp|scrapy|googlebot|bingbot|ahrefsbot|gptbot|semrushbot|yandexbot"
    rb"|baiduspider|facebookexternalhit|headlesschrome)/[0-9][0-9.]*)"
)
_GENERIC_UA = rb"[A-Za-z][A-Za-z0-9._+-]{1,39}/[0-9][0-9A-Za-z._+-]{0,19} \("
_UA = re.compile(_KNOWN_UA + rb"|" + _GENERIC_UA)
_KNOWN_UA_RE = re.compile(_KNOWN_UA)


def _ipv6(candidate: bytes) -> str | None:
    """The address in a candidate run, allowing one stray group glued on either side."""
    text = candidate.decode("ascii")
    for s in (text, text.split(":", 1)[-1], text.rsplit(":", 1)[0]):
        groups = [g for g in s.split(":") if g]
        if ("::" not in s and len(groups) != 8) or len(groups) < 3:
            continue
        try:
            ipaddress.IPv6Address(s)
        except ValueError:
            continue
        return s
    return None


# Python's `re` tries a pattern at every byte unless it starts with a literal, which it finds with
# a fast search. So each shape is found through a hint that starts with one (`.` `:` `/`) and is
# part of every match; the full pattern then runs on a window around each hint.
_HINTS = (
    (re.compile(rb"\.[0-9]{1,3}\.[0-9]{1,3}\."), _IPV4, IP),
    (re.compile(rb":[0-9A-Fa-f]{0,4}:"), _IPV6_CANDIDATE, IP),
    (re.compile(rb"/[0-9]"), _UA, UA),
)
_WINDOW = 72  # longer than any match (IPv6 candidates <= 44 bytes, user agents <= 63) plus look-around


def find_shapes(data: bytes, start: int = 0, limit: int | None = None) -> set[tuple[str, str]]:
    """Every (kind, text) IP address or user agent in `data` that overlaps a hint starting in
    [start, limit)."""
    limit = len(data) if limit is None else limit
    found: set[tuple[str, str]] = set()
    for hint, full, kind in _HINTS:
        for h in hint.finditer(data, start):
            if h.start() >= limit:
                break
            for m in full.finditer(data, max(0, h.start() - _WINDOW), h.end() + _WINDOW):
                if m.start() >= h.end() or m.end() <= h.start():
                    continue
                if full is _IPV6_CANDIDATE:
                    if ip := _ipv6(m.group()):
                        found.add((kind, ip))
                elif full is _UA and (known := _KNOWN_UA_RE.search(m.group())):
                    found.add((kind, known.group().decode("ascii")))  # `abcMozilla/5.0 (` is Mozilla/5.0
                else:
                    found.add((kind, m.group().decode("ascii")))
    return found


def scan_file(path: Path, chunk_bytes: int = CHUNK_BYTES) -> set[tuple[str, str]]:
    """find_shapes over a file of any size, in chunks. Each chunk keeps the previous one's last
    bytes, so a match across a boundary is seen whole, with its context."""
    found: set[tuple[str, str]] = set()
    with open(path, "rb") as f:
        carry, skip = b"", 0
        while True:
            chunk = f.read(chunk_bytes)
            buf = carry + chunk
            limit = len(buf) if not chunk else len(buf) - _OVERLAP
            if limit > skip:
                # Hints starting before `skip` were seen with the previous chunk; those after
                # `limit` are seen with the next one, whole.
                found |= find_shapes(buf, skip, limit)
                keep = max(0, limit - _CONTEXT)
                carry, skip = buf[keep:], limit - keep
            else:
                carry = buf
            if not chunk:
                return found
