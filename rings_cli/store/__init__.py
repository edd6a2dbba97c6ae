"""Store: the durable scratch of open tenant-days. One SQLite DO file per tenant-day (merges,
snapshots, finalization), the catalog (dirty, flushed, finalized; file checkpoints), monthly packs
of finalized days, the cache of open DO files, and the tenant-day's life and migrations.

May import: core, source, enrich, count.
"""
