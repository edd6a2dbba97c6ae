"""Defaults the CLI shows in `--help`, kept apart from the (slow to import) modules that use them."""

DEFAULT_FLUSH_INTERVAL = 60.0  # seconds between flushes in follow mode
DEFAULT_LIMIT = 10  # rows in a report's top lists
# Past this many days a report leaves out `hours` (up to 24 rows a day) and says so.
MAX_HOURS_DAYS = 92
