"""Referrer spam: a request whose referrer's host, or a parent domain of it, is on the spam list is
a bot request (reason `referrer spam`): such referrers are sent by bots to get their names into
exactly the report's referrer list.

The list ships inside the package (`data/referrer-spam.txt`: Matomo's community list of
referrer-spam domains, public domain, with its source and date in its header) and is refreshed
from a given file by `make update-data FROM=FILE` (this module's `main`). rings.toml
`referrer_spam` turns it off (`false`) or adds domains (a list). Checked per batch on its distinct
referrers, and each distinct host once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

LIST_FILE = "referrer-spam.txt"
# The authority's host of a URL (as referrers.py reads it), lower-cased below.
_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:\[\]]+)"
DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def read_domains(text: str) -> list[str]:
    """The domains of a list: one a line, `#` comments and blank lines skipped, lower-cased."""
    out = []
    for raw in text.splitlines():
        line = raw.strip().lower()
        if line and not line.startswith("#"):
            out.append(line)
    return out


@cache
def shipped() -> frozenset[str]:
    """The list inside the package."""
    text = resources.files("rings_cli.enrich").joinpath("data", LIST_FILE).read_text(encoding="utf-8")
    return frozenset(read_domains(text))


@cache
def spam_domains(enabled: bool = True, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The domains in force: the shipped list (unless `enabled` is false) and `extra`."""
    return (shipped() if enabled else frozenset()) | frozenset(extra)


def is_spam_host(host: str, domains: frozenset[str]) -> bool:
    """`host` or one of its parent domains is on the list (`a.b.spam.example` by `spam.example`)."""
    labels = host.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in domains for i in range(len(labels) - 1))


def spam_referrers(referrer: pl.Series, domains: frozenset[str]) -> pl.Series:
    """The distinct values of `referrer` whose host is referrer spam (often none)."""
    if not domains:
        return pl.Series([], dtype=pl.String)
    distinct = referrer.drop_nulls().unique()
    hosts = distinct.str.extract(_HOST, 1).str.to_lowercase()
    spam = [h for h in hosts.drop_nulls().unique().to_list() if is_spam_host(h, domains)]
    if not spam:
        return pl.Series([], dtype=pl.String)
    return distinct.filter(hosts.is_in(pl.Series(spam, dtype=pl.String).implode()).fill_null(False))


def render(domains: list[str], source: str, name: str, today: dt.date) -> str:
    """The shipped file: a header saying what the list is, where and when it came from."""
    header = [
        "# Referrer-spam domains: Matomo's community list (the matomo-org/referrer-spam-list",
        "# repository on GitHub, file spammers.txt). Licence: Public Domain (no copyright), as its",
        "# README states. A domain matches itself and its subdomains.",
        f"# Source: {source}",
        f"# Refreshed: {today.isoformat()} from {name} by `make update-data`; {len(domains):,} domains.",
    ]
    return "\n".join([*header, *domains]) + "\n"


def refresh(source_file: Path, dest: Path, source: str, today: dt.date | None = None) -> int:
    """Write `dest` from a downloaded spammers.txt; every line must be a domain (a wrong file is
    refused, not shipped). Returns how many domains it holds."""
    domains = sorted(set(read_domains(source_file.read_text(encoding="utf-8"))))
    bad = [d for d in domains if not DOMAIN.match(d)]
    if bad:
        raise ValueError(f"{source_file}: not a domain: {bad[0]!r} ({len(bad)} such lines)")
    if not domains:
        raise ValueError(f"{source_file}: no domains")
    dest.write_text(render(domains, source, source_file.name, today or dt.date.today()), encoding="utf-8")
    return len(domains)


def main(argv: list[str] | None = None) -> int:
    """`python -m rings_cli.enrich.spam FILE [--source TEXT]`: `make update-data`."""
    parser = argparse.ArgumentParser(description="Refresh the shipped referrer-spam list from a file.")
    parser.add_argument("file", type=Path, help="a spammers.txt (one domain a line)")
    parser.add_argument("--source", default="", help="where it came from (upstream commit and date)")
    parser.add_argument("--dest", type=Path, default=Path(__file__).parent / "data" / LIST_FILE)
    args = parser.parse_args(argv)
    try:
        count = refresh(args.file, args.dest, args.source or f"the file {args.file.name}")
    except (OSError, ValueError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    print(f"{args.dest}: {count:,} domains")
    return 0


if __name__ == "__main__":
    sys.exit(main())
