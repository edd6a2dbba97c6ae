"""W3C extended logs: IIS (space-separated) and CloudFront standard logs (tab-separated).

Columns come from the `#Fields:` directive, which may appear again mid-file with other columns,
so these formats keep the last header seen per file (`fresh()` starts a new file). A batch is cut
at its few `#Fields:` lines and each part is read with one regex. Directive lines (`#...`) are
counted under `comment`. The `date` and `time` columns are UTC; `date-local` and `time-local`
(IIS Advanced Logging) are in `--log-timezone` (default UTC); seconds may have a fraction. IIS
writes spaces in the user agent as `+`; IIS Advanced Logging and Incapsula write values in double
quotes, spaces and all; CloudFront URL-encodes it, and its real host is `x-host-header`
(`cs(Host)` is the CloudFront domain).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import polars as pl

from rings_cli.source.formats.base import ISO, UNPARSEABLE, UTC, LogFormat

COMMENT = "comment"

# W3C column (lower case) → (our field, rank: lower wins when two columns give one field).
_COLUMNS: dict[str, tuple[str, int]] = {
    "date": ("wdate", 0),
    "time": ("wclock", 0),
    "date-local": ("wdate", 1),
    "time-local": ("wclock", 1),
    "c-ip": ("ip", 0),
    "cs-method": ("method", 0),
    "cs-uri-stem": ("path", 0),
    "cs-uri-query": ("query", 0),
    "cs-uri": ("target", 0),
    "sc-status": ("status", 0),
    "sc-bytes": ("bytes", 0),
    "cs(user-agent)": ("ua", 0),
    "cs(referer)": ("referrer", 0),
    "x-host-header": ("vhost", 0),
    "cs-host": ("vhost", 1),
    "cs(host)": ("vhost", 2),
    "x-forwarded-for": ("xff", 0),
    "cs(x-forwarded-for)": ("xff", 1),
    "time-taken": ("time_taken", 0),  # IIS: milliseconds; CloudFront: seconds (W3CFormat.taken_in)
}

IIS_FIELDS = [
    "date",
    "time",
    "s-ip",
    "cs-method",
    "cs-uri-stem",
    "cs-uri-query",
    "s-port",
    "cs-username",
    "c-ip",
    "cs(User-Agent)",
    "cs(Referer)",
    "sc-status",
    "sc-substatus",
    "sc-win32-status",
    "time-taken",
]
CLOUDFRONT_FIELDS = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
]

# Percent-escapes of printable ASCII, decoded in one vectorised pass.
_ESCAPES = [f"%{c:02X}" for c in range(0x20, 0x7F)] + [
    f"%{c:02x}" for c in range(0x20, 0x7F) if f"{c:02x}".upper() != f"{c:02x}"
]
_DECODED = [chr(int(e[1:], 16)) for e in _ESCAPES]


def percent_decode(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(_ESCAPES, _DECODED)


@dataclass(frozen=True)
class W3CFormat(LogFormat):
    """W3C extended format with a column separator and the columns assumed before any header."""

    separator: str = " "
    default_fields: tuple[str, ...] = ()
    url_encoded_agent: bool = False
    taken_in: str = "duration_ms"  # the field `time-taken` gives: IIS writes ms, CloudFront seconds
    _state: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)

    def fresh(self) -> W3CFormat:
        return W3CFormat(
            name=self.name,
            description=self.description,
            example=self.example,
            time_kind=self.time_kind,
            separator=self.separator,
            default_fields=self.default_fields,
            url_encoded_agent=self.url_encoded_agent,
            taken_in=self.taken_in,
        )

    def extract(self, lines: pl.DataFrame, tz: str = UTC) -> pl.DataFrame:
        line = lines.get_column("line").fill_null("")
        headers = line.str.contains(r"^\s*#\s*Fields\s*:").arg_true().to_list()
        cuts = [0, *headers, line.len()]
        parts = []
        for start, end in itertools.pairwise(cuts):
            if end <= start:
                continue
            if start in headers:
                self._state["fields"] = [n.strip('"') for n in line[start].split(":", 1)[1].split()]
            names = self._state.get("fields") or list(self.default_fields)
            # UTC columns get a `Z`; local ones (only `date-local`/`time-local`) none: --log-timezone.
            utc = bool({"date", "time"} & {n.lower() for n in names})
            parts.append(
                lines[start:end]
                .select(pl.col("line").str.extract_groups(self._regex(tuple(names))))
                .unnest("line")
                .with_columns(_zone=pl.lit("Z" if utc else ""))
            )
        raw = pl.concat(parts, how="diagonal") if parts else pl.DataFrame()
        raw = raw.with_columns(line=line)
        if "time_taken" in raw.columns:
            raw = raw.rename({"time_taken": self.taken_in})
        for col in ("wdate", "wclock", "ua", "vhost", "_zone"):
            if col not in raw.columns:
                raw = raw.with_columns(pl.lit(None, pl.String).alias(col))
        quoted = [c for c in raw.columns if c not in ("line", "_zone")]
        raw = raw.with_columns(
            pl.col(quoted).str.strip_prefix('"').str.strip_suffix('"'),
            _quoted_ua=pl.col("ua").str.starts_with('"'),
        )
        if "target" in raw.columns:  # Incapsula's `cs-uri` is `host/path`: read it as a URL (host, path)
            host_path = pl.col("target").str.contains(r"^[A-Za-z0-9.-]+(?::\d+)?/")
            raw = raw.with_columns(
                target=pl.when(host_path).then("http://" + pl.col("target")).otherwise("target")
            )
        ua = pl.col("ua")
        ua = (
            percent_decode(ua)
            if self.url_encoded_agent
            else pl.when("_quoted_ua").then(ua).otherwise(ua.str.replace_all("+", " ", literal=True))
        )
        out = raw.with_columns(
            time=pl.col("wdate") + "T" + pl.col("wclock") + pl.col("_zone").fill_null("Z"),
            ua=ua,
            vhost=pl.when(pl.col("vhost") != "-").then("vhost"),
            reject=pl.when(pl.col("line").str.starts_with("#"))
            .then(pl.lit(COMMENT))
            .when(pl.col("wdate").is_null() | pl.col("wclock").is_null())
            .then(pl.lit(UNPARSEABLE)),
        )
        return out.drop("line", "wdate", "wclock", "_zone", "_quoted_ua")

    def _regex(self, names: tuple[str, ...]) -> str:
        sep = re.escape(self.separator)
        best: dict[str, tuple[int, int]] = {}
        for i, name in enumerate(names):
            target = _COLUMNS.get(name.lower())
            if target and (target[0] not in best or target[1] < best[target[0]][0]):
                best[target[0]] = (target[1], i)
        chosen = {i: f for f, (_, i) in best.items()}
        value = f'"[^"]*"|[^{sep}]*'  # quoted (IIS Advanced Logging, Incapsula), spaces and all, or bare
        cols = [f"(?P<{chosen[i]}>{value})" if i in chosen else f"(?:{value})" for i in range(len(names))]
        between = " +" if self.separator == " " else sep  # spaces may pad; tabs are one each
        return "^" + between.join(cols) + f"(?:{sep}.*)?$"


W3C = W3CFormat(
    name="w3c",
    description="W3C extended / IIS (columns from the `#Fields:` header)",
    example="2025-12-01 10:00:00 10.0.0.1 GET / - 443 - 203.0.113.9 Mozilla/5.0+(X11) "
    "https://duckduckgo.com/ 200 0 0 12",
    time_kind=ISO,
    default_fields=tuple(IIS_FIELDS),
)
CLOUDFRONT = W3CFormat(
    name="cloudfront",
    description="Amazon CloudFront standard log (tab-separated W3C)",
    example="\t".join(
        [
            "2025-12-01",
            "10:00:00",
            "FRA56-C1",
            "512",
            "203.0.113.9",
            "GET",
            "d111111abcdef8.cloudfront.net",
            "/",
            "200",
            "https://duckduckgo.com/",
            "Mozilla/5.0%20(X11)",
            "-",
            "-",
            "Hit",
            "abc==",
            "example.com",
            "https",
            "300",
            "0.001",
            "-",
            "TLSv1.3",
            "TLS_AES_128_GCM_SHA256",
            "Hit",
            "HTTP/2.0",
            "-",
            "-",
            "443",
            "0.001",
            "Hit",
            "text/html",
            "512",
            "-",
            "-",
        ]
    ),
    time_kind=ISO,
    separator="\t",
    default_fields=tuple(CLOUDFRONT_FIELDS),
    url_encoded_agent=True,
    taken_in="duration_s",
)
W3C_FORMATS = [W3C, CLOUDFRONT]
