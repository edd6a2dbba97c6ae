"""Rings: privacy-first web analytics from server access logs."""

import os

__version__ = "0.1.0"

# Polars' jemalloc keeps freed pages for seconds by default, so each batch's working set stays
# resident on top of the next one's: returned at once, a batch run's peak RSS is about 80 MiB lower
# for about the same wall time (README, Performance). jemalloc reads this when Polars is first
# loaded, which is after this package is; a value the user set is kept.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
