"""Defaults the CLI shows in `--help`, kept apart from the (slow to import) modules that use them."""

DEFAULT_FLUSH_INTERVAL = 60.0  # seconds between flushes in follow mode (the seed's alarm)
DEFAULT_LIMIT = 10  # rows in a report's top lists
