"""Enrich: facts about each request, computed per batch on distinct values: the client behind
proxies, the tenant, app events, bot/page/page view, the referrer source, browser/OS/device/country,
and the tenant's local date and hour.

May import: core, source.
"""
