"""What every stage shares: the error family, defaults, the state dir's paths and lock, rings.toml,
the aggregate tables (defined once), secrets and the keyed visitor hash, and safe text.

May import: nothing else of Rings (the lowest layer; docs/architecture.md). No Typer or Rich; only
`privacy` imports Polars (for the visitor hash of a batch).
"""
