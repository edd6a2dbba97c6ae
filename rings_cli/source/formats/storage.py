"""Object storage access logs: Amazon S3 server access logs and Google Cloud Storage usage logs.

S3: `owner bucket [time] ip requester request-id operation key "request" status error bytes-sent
object-size total-time turn-around "referrer" "user agent"`, then the newer fields (version id,
host id, signature version, cipher, auth type, host header, TLS version, access point, ACL ...);
a line may stop after any of them. An operation that was no HTTP request (`S3.EXPIRE.OBJECT`:
request and status `-`) counts as `no request`.

GCS: CSV with a header row (`"time_micros","c_ip",...`), every value double-quoted; columns come
from the header, like W3C's `#Fields:`, so new columns are fine. The header row counts as `comment`.

Tenant: the host the client asked for when it is the site's own domain (a website bucket behind a
CNAME), else the bucket; a provider endpoint (`*.amazonaws.com`, `*.googleapis.com`) is no site.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import polars as pl

from rings_cli.source.formats.base import (
    CLF,
    EPOCH_US,
    SIZE,
    UNPARSEABLE,
    UTC,
    LogFormat,
    RegexFormat,
    quoted,
)
from rings_cli.source.formats.w3c import COMMENT

_ENDPOINT = r"(?:^|\.)(?:amazonaws\.com|googleapis\.com)(?::\d+)?\.?$"


def site_host(host: pl.Expr, bucket: pl.Expr) -> pl.Expr:
    """The host when it is a site's own name, else the bucket (see the module docstring)."""
    lower = host.str.to_lowercase()
    none = host.is_null() | lower.is_in(["", "-"]) | lower.str.contains(_ENDPOINT)
    return pl.when(none).then(bucket).otherwise(host)


def _s3(escaped: bool) -> str:
    q = lambda name: f"(?:{quoted(name, escaped)}|-)"  # noqa: E731
    return (
        r"^(?P<owner>\S+) (?P<bucket>\S+) \[(?P<time>[^\]]+)\] (?P<ip>\S+) \S+ \S+ [A-Z][A-Z0-9_.]* \S+ "
        + q("request")
        + rf" (?P<status>\d{{3}}|-) \S+ (?P<bytes>{SIZE}) \S+ \S+ \S+ "
        + q("referrer")
        + " "
        + q("ua")
        + r"(?: \S+ \S+ \S+ \S+ \S+ (?P<host>\S+))?(?:\s.*)?$"
    )


@dataclass(frozen=True)
class S3Format(RegexFormat):
    """S3 server access log: the tenant's host from the host header, else the bucket."""

    def extract(self, lines: pl.DataFrame, tz: str = UTC) -> pl.DataFrame:
        out = super().extract(lines, tz)
        return out.with_columns(vhost=site_host(pl.col("host"), pl.col("bucket"))).drop(
            "owner", "bucket", "host"
        )


S3 = S3Format(
    name="s3",
    description="Amazon S3 server access log",
    example="79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be example-bucket "
    "[01/Dec/2025:10:00:00 +0000] 203.0.113.9 - 3E57427F3EXAMPLE WEBSITE.GET.OBJECT index.html "
    '"GET /index.html HTTP/1.1" 200 - 512 512 12 11 "https://duckduckgo.com/" "Mozilla/5.0" - '
    "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= - - - "
    "www.example.com - - -",
    time_kind=CLF,
    pattern=_s3(True),
    fast_pattern=_s3(False),
)

# GCS column → our field.
_GCS_COLUMNS = {
    "time_micros": "time",
    "c_ip": "ip",
    "cs_method": "method",
    "cs_uri": "target",
    "sc_status": "status",
    "sc_bytes": "bytes",
    "cs_host": "host",
    "cs_referer": "referrer",
    "cs_user_agent": "ua",
    "cs_bucket": "bucket",
}
GCS_FIELDS = (
    "time_micros",
    "c_ip",
    "c_ip_type",
    "c_ip_region",
    "cs_method",
    "cs_uri",
    "sc_status",
    "cs_bytes",
    "sc_bytes",
    "time_taken_micros",
    "cs_host",
    "cs_referer",
    "cs_user_agent",
    "s_request_id",
    "cs_operation",
    "cs_bucket",
    "cs_object",
)
_VALUE = r'"(?:[^"]|"")*"|[^,"]*'  # a CSV value, quoted (`""` is a quote) or bare


def _unquote(expr: pl.Expr) -> pl.Expr:
    inner = expr.str.strip_prefix('"').str.strip_suffix('"').str.replace_all('""', '"', literal=True)
    return pl.when(expr.str.starts_with('"')).then(inner).otherwise(expr)


@dataclass(frozen=True)
class GcsFormat(LogFormat):
    """GCS usage logs: columns from the CSV header row, kept across batches of one file."""

    _state: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def fresh(self) -> GcsFormat:
        return GcsFormat(
            name=self.name, description=self.description, example=self.example, time_kind=self.time_kind
        )

    def extract(self, lines: pl.DataFrame, tz: str = UTC) -> pl.DataFrame:
        line = lines.get_column("line").fill_null("")
        headers = line.str.starts_with('"time_micros"').arg_true().to_list()
        parts = []
        for start, end in itertools.pairwise([0, *headers, line.len()]):
            if end <= start:
                continue
            if start in headers:
                names = line[start].split(",")
                self._state["fields"] = tuple(n.strip().strip('"') for n in names)
            regex = _regex(self._state.get("fields", GCS_FIELDS))
            parts.append(lines[start:end].select(pl.col("line").str.extract_groups(regex)).unnest("line"))
        raw = pl.concat(parts, how="diagonal") if parts else pl.DataFrame()
        for name in ("time", *_GCS_COLUMNS.values()):
            if name not in raw.columns:
                raw = raw.with_columns(pl.lit(None, pl.String).alias(name))
        raw = raw.with_columns(pl.col(c).pipe(_unquote) for c in set(_GCS_COLUMNS.values()))
        empty_null = {c: pl.when(pl.col(c) != "").then(c) for c in ("referrer", "host", "bucket")}
        return (
            raw.with_columns(**empty_null)
            .with_columns(
                line=line,
                vhost=site_host(pl.col("host"), pl.col("bucket")),
                reject=pl.when(line.str.starts_with('"time_micros"'))
                .then(pl.lit(COMMENT))
                .when(pl.col("time").is_null())
                .then(pl.lit(UNPARSEABLE)),
            )
            .drop("line", "host", "bucket")
        )


def _regex(names: tuple[str, ...]) -> str:
    cols = []
    for name in names:
        ours = _GCS_COLUMNS.get(name)
        cols.append(f"(?P<{ours}>{_VALUE})" if ours else f"(?:{_VALUE})")
    return "^" + ",".join(cols) + r"(?:,.*)?\s*$"


GCS = GcsFormat(
    name="gcs",
    description="Google Cloud Storage usage log (CSV with a header row)",
    example='"1764583200584000","203.0.113.9","1","","GET","/example-bucket/index.html","200","0","512",'
    '"29000","www.example.com","https://duckduckgo.com/","Mozilla/5.0 (X11, Linux)",'
    '"AAANB3X8r9","GET_Object","example-bucket","index.html"',
    time_kind=EPOCH_US,
)
STORAGE_FORMATS = [S3, GCS]
