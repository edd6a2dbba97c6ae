"""Count: a batch of enriched requests into per tenant-day deltas: request counts, hashed page
views, and the visitor metrics (uniques, sessions, bounces, time on page) as exact differences.

May import: core, source, enrich.
"""
