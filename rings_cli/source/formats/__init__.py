"""Log formats: the predefined ones and custom `nginx:`/`apache:`/`json:` specs (detection is
`source/formatcheck.py`'s).

One module per family (`clf`, `jsonlog`, `jsonkeys`, `w3c`, `aws`, `proxies`, `storage`, `custom`);
each format turns a batch of
lines into raw fields (see `base.py`) and `parse.py` does the rest the same way for all.
"""

from __future__ import annotations

from rings_cli.core.errors import UsageError
from rings_cli.source.formats.aws import AWS_FORMATS
from rings_cli.source.formats.base import CLF_TIME_FORMAT, LogFormat, RegexFormat, check_timezone
from rings_cli.source.formats.clf import CLF_FORMATS
from rings_cli.source.formats.custom import apache_format, nginx_format
from rings_cli.source.formats.jsonkeys import JSON_ALIASES, json_format
from rings_cli.source.formats.jsonlog import EVENT_TYPES, JSON_FORMATS
from rings_cli.source.formats.proxies import PROXY_FORMATS
from rings_cli.source.formats.storage import STORAGE_FORMATS
from rings_cli.source.formats.w3c import W3C_FORMATS

__all__ = [
    "EVENT_TYPES",
    "FORMATS",
    "TIME_FORMAT",
    "LogFormat",
    "RegexFormat",
    "check_timezone",
    "get_format",
]

TIME_FORMAT = CLF_TIME_FORMAT

# Ordered so that, of equally good candidates, detection keeps the first (the richer one); the
# generic `json` (key aliases) comes after the JSON formats with fixed keys.
FORMATS: dict[str, LogFormat] = {
    f.name: f
    for f in [
        *CLF_FORMATS,
        *JSON_FORMATS,
        JSON_ALIASES,
        *W3C_FORMATS,
        *AWS_FORMATS,
        *PROXY_FORMATS,
        *STORAGE_FORMATS,
    ]
}
ALIASES = {
    "iis": "w3c",
    "ndjson": "events",
    "caddy-json": "caddy",
    "traefik-clf": "traefik",
    "s3-access": "s3",
    "google-cloud-storage": "gcs",
}


def get_format(spec: str) -> LogFormat:
    """`--format SPEC`: a predefined name, `nginx:<log_format>`, `apache:<LogFormat>` or `json:<keys>`.

    Custom specs are compiled here, so a bad one is a usage error before any data moves.
    """
    if spec.startswith("nginx:"):
        return nginx_format(spec.removeprefix("nginx:"))
    if spec.startswith("apache:"):
        return apache_format(spec.removeprefix("apache:"))
    if spec.startswith("json:"):
        return json_format(spec.removeprefix("json:"))
    name = ALIASES.get(spec.lower(), spec.lower())
    try:
        return FORMATS[name].fresh()
    except KeyError:
        known = ", ".join(
            ["auto", *FORMATS, "nginx:<log_format>", "apache:<LogFormat>", "json:<field>=<key>,..."]
        )
        raise UsageError(f"unknown format {spec!r} (known: {known})") from None
