"""Days: the end of a tenant-day. Finalization (summary written, hashes and salt destroyed,
packed) and erasure and retention (no byte left).

May import: core, source, enrich, count, store, warehouse.
"""
