"""Read ahead: compute the next item of an iterator in a worker thread while the caller uses this one.

An ingest parses block N+1 (reading, splitting lines, the regex parse, classification: Polars
work that releases the GIL) while block N merges into its DO files (SQLite, which releases it
too), so a second core has work. Exactly one item is computed ahead, never more: each costs a
batch's memory. The worker only produces; everything that writes state (merges, checkpoints)
stays with the caller, in order. An exception raised by the worker is raised to the caller at the
item it stands for, so it ends the run as it would have without the thread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from rings_cli.enrich.bots import load_detector

T = TypeVar("T")
_END = object()
_M_ARENA_MAX = -8  # glibc's mallopt parameter

# A batch's Polars work (parsing in the worker, aggregating in the caller) one at a time: run
# together they held two batches' working sets at once, the peak of a run on a quiet machine.
# The worker still parses while the caller's SQLite merge runs, which is where the time goes.
BATCH_WORK = threading.Lock()


@functools.cache
def _glibc() -> Any:
    """The process's C library when it is glibc (its malloc is what the calls below tune), else
    None (musl, macOS): nothing to do there."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)  # the symbols the process has loaded: its C library's among them
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None


@functools.cache
def _one_malloc_arena() -> None:
    """Keep glibc's malloc to one arena: the worker builds a block's Python objects and the main
    thread frees them, and a second arena kept those pages resident (about 10 MiB of peak RSS for
    an ingest, README: Performance)."""
    if (libc := _glibc()) is not None:
        libc.mallopt(_M_ARENA_MAX, 1)


def give_back_memory() -> None:
    """Return the pages of freed Python objects and SQLite caches to the system (glibc keeps free
    chunks inside its heap resident): called once the batches are read, before finalization's
    flushes load DuckDB, the end of a run that peaks highest."""
    import gc

    gc.collect()
    if (libc := _glibc()) is not None:
        libc.malloc_trim(0)


def ahead(items: Iterator[T]) -> Generator[T]:
    """`items`, each computed in one worker thread while the caller works on the one before.

    Closing the result early (the caller stopped, or failed) waits for the item being computed,
    so the worker never outlives it: a file it reads may then be closed.
    """
    _one_malloc_arena()  # before the worker first allocates
    load_detector()  # device-detector's YAML loads here, never in the worker (enrich/bots.py)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rings-ahead")
    pending: Future[object] = pool.submit(next, items, _END)
    try:
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = pool.submit(next, items, _END)  # the next one, while the caller has this one
            yield item  # type: ignore[misc]
            del item  # not held while the caller waits for the next
    finally:
        pending.cancel()
        pool.shutdown(wait=True)
