"""Warehouse: the history. The local DuckDB file (short connections, a gate for the writer,
in-place migrations) and the flush that replaces whole tenant-days in it from their DO files.

May import: core, source, enrich, count, store.
"""
