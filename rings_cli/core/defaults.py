"""Defaults and vocabularies the CLI and the config need, kept apart from the (slow to import)
modules that use them: `rings --help` and `rings report` import no Polars."""

DEFAULT_FLUSH_INTERVAL = 60.0  # seconds between flushes in follow mode
DEFAULT_LIMIT = 10  # rows in a report's top lists
CHUNK_BYTES = 8 * 1024 * 1024  # a batch: docs/performance.md says why this size (memory)
# Past this many days a report leaves out `hours` (up to 24 rows a day) and says so.
MAX_HOURS_DAYS = 92

# The seed's event types (AnalyticsEvent.type), plus `post_created` for the hourly posts_created.
EVENT_TYPES = (
    "page_view",
    "page_exit",
    "post_view",
    "post_read_complete",
    "reaction",
    "comment",
    "share",
    "search",
    "signup",
    "login",
    "post_created",
)
