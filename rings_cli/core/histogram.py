"""The bucket maths of response times, written once (count/times.py fills buckets with Polars, the
report reads them back here without it): DDSketch's log-spaced mapping. Bucket i holds the times in
(G^(i-1), G^i] with G = (1+A)/(1-A), and stands for 2G^i/(G+1): within A of every time in it."""

from __future__ import annotations

import math

ALPHA = 0.02  # the relative error of a time read back from its bucket
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LN_GAMMA = math.log(GAMMA)
MIN_TIME = 1e-6  # seconds: shorter is `0` (bucket ZERO)
ZERO = -(2**20)  # the bucket of times under MIN_TIME; it stands for 0


def value_of(bucket: int) -> float:
    """The time a bucket stands for, in seconds."""
    return 0.0 if bucket == ZERO else 2 * GAMMA**bucket / (GAMMA + 1)


def quantile(buckets: list[tuple[int, int]], q: float) -> float:
    """The nearest-rank `q` quantile of a histogram [(bucket, count)] sorted by bucket: the value
    of the bucket holding the ceil(q·n)-th time (within ALPHA of the exact one)."""
    total = sum(n for _, n in buckets)
    if not total:
        return 0.0
    rank = max(1, math.ceil(q * total - 1e-9))  # 0.95 * 100 is 95, not 95.00000000000001
    seen = 0
    for bucket, n in buckets:
        seen += n
        if seen >= rank:
            return value_of(bucket)
    return value_of(buckets[-1][0])
