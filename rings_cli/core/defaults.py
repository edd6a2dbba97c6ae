"""Defaults and vocabularies the CLI and the config need, kept apart from the (slow to import)
modules that use them: `rings --help` and `rings report` import no Polars."""

DEFAULT_FLUSH_INTERVAL = 60.0  # seconds between flushes in follow mode
DEFAULT_LIMIT = 10  # rows in a report's top lists
CHUNK_BYTES = 8 * 1024 * 1024  # a batch: docs/performance.md says why this size (memory)

# The bounds of the options (core/bounds.py checks them where they enter; docs/commands.md lists them).
MAX_LIMIT = 1_000_000  # rows in a top list (`rings serve` allows 1,000)
MIN_BATCH_BYTES = 4096
MAX_BATCH_BYTES = 1 << 30  # 1 GiB: two batches are in memory at once
MAX_REJECTS = 1_000_000  # rejected lines kept for --rejects (held in memory until the end)
MAX_FLUSH_INTERVAL = 86_400.0  # a day
MIN_FLUSH_INTERVAL = 0.01
MIN_REDRAW, MAX_REDRAW = 0.05, 3600.0  # rings live --interval
# Past this many days a report leaves out `hours` (up to 24 rows a day) and says so.
MAX_HOURS_DAYS = 92

# Analytics event types, plus `post_created` for the hourly posts_created.
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
