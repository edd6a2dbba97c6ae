"""Ingest: the orchestration of a run. Inputs checked once, batches through source, enrich,
count and store, checkpoints after each commit, flushes and finalization scheduled, follow mode.

May import: everything below it (core up to days).
"""
