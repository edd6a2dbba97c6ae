"""The definitions' versions: what Rings counted as what, and since when.

Every tenant-day records how many of its requests each version counted (the `definitions` table,
keyed by `version`); a day's requests that no row accounts for were counted before the record
existed, by version 1. Days keep the numbers they were counted with (their lines are gone), so a
report whose range holds days of more than one version says so (`definitions_changed`). A change
of what a request, bot, page view or visitor is takes a new version here, described in
docs/definitions.md.
"""

from __future__ import annotations

VERSION = 3
# Why a request is a bot (enrich/classify.py), in the order they are tried: the report's `bots` keys.
BOT_REASONS = ("crawler", "library", "referrer spam", "outdated browser")
NOT_RECORDED = "(not recorded)"  # bot requests of days counted before reasons were recorded
FIRST = 1  # the version of requests no `definitions` row accounts for

# What each version changed, in a few words (the report's note; docs/definitions.md has the rest).
CHANGES: dict[int, str] = {
    1: "bots: crawler-user-agents' list; a line without a status was unparseable",
    2: "bots also: HTTP libraries and tools, device-detector's bot list, referrer spam, outdated "
    "browsers; a line without a status is a request of status -",
    3: "a page path keeps the query parameters named in page_params (default p, page_id); /wp-json/ "
    "and *.json are no pages",
}
