"""Polars frames into DuckDB and back over the Arrow C stream interface, without PyArrow.

DuckDB scans any object with `__arrow_c_stream__`, and a DuckDB relation has one that Polars
reads. Handing DuckDB a Polars frame itself (or calling `.pl()`) goes through PyArrow instead:
importing it costs about 50 MiB of memory (and its own allocator's retained pages) in every
ingest, for the visitor hash and the flush, which need none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl


class ArrowStream:
    """A frame as DuckDB sees it: an Arrow C stream (register it under a name, then query it)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.frame.__arrow_c_stream__(requested_schema)
