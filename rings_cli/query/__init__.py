"""Query: the read path and the report. Dirty tenant-days from their DO files, the rest from
the warehouse, under the report SQL of `queries/`; the report as JSON and CSV; what `rings live`
shows and how it notices a commit.

May import: everything below it (core up to ingest).
"""
