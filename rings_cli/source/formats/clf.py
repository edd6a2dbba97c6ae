"""The NCSA family: common, combined, Apache's vhost variants, and Traefik's CLF.

Formats with a user agent accept extra fields after it (nginx's trailing `"-"`, a request time,
an upstream address). Traefik's CLF is combined plus request count, router, server URL and
duration (`12ms`); it is listed first so detection prefers it over plain combined.

Hosting variants read too: unquoted fields separated by runs of spaces, and an extra
parenthesised field after the time (Gandi's `(0 s)`, the time taken).
"""

from __future__ import annotations

from rings_cli.source.formats.base import CLF, SIZE, RegexFormat, quoted

_VHOST = r"(?P<vhost>[^\s:]+(?::\d+)?) +"
_EXTRA = r"(?:\s.*)?$"
_TRAEFIK_TAIL = r' \d+ "[^"]*" "[^"]*" (?P<duration_ms>\d+)ms\s*$'


def _grammar(vhost: bool, agent: bool, escaped: bool, tail: str = _EXTRA) -> str:
    head = (
        r"(?P<ip>\S+) +\S+ +\S+ +\[(?P<time>[^\]]+)\] +(?:\([^()\"]*\) +)?"
        + quoted("request", escaped)
        + rf" +(?P<status>\d{{3}}) +(?P<bytes>{SIZE})"
    )
    agent_fields = " +" + quoted("referrer", escaped) + " +" + quoted("ua", escaped) + tail
    return "^" + (_VHOST if vhost else "") + head + (agent_fields if agent else r"\s*$")


def _format(
    name: str, description: str, example: str, vhost: bool, agent: bool, tail: str = _EXTRA
) -> RegexFormat:
    return RegexFormat(
        name=name,
        description=description,
        example=example,
        time_kind=CLF,
        pattern=_grammar(vhost, agent, True, tail),
        fast_pattern=_grammar(vhost, agent, False, tail),
    )


_EXAMPLE = '203.0.113.9 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 512'
_AGENT = ' "https://duckduckgo.com/" "Mozilla/5.0"'

CLF_FORMATS = [
    _format(
        "vcombined",
        "Apache vhost combined (`%v:%p` first)",
        "example.com:443 " + _EXAMPLE + _AGENT,
        vhost=True,
        agent=True,
    ),
    _format(
        "traefik",
        "Traefik access log, CLF (the default)",
        _EXAMPLE + _AGENT + ' 42 "blog@docker" "http://10.0.0.5:80" 3ms',
        vhost=False,
        agent=True,
        tail=_TRAEFIK_TAIL,
    ),
    _format("combined", "Combined (Apache, nginx default)", _EXAMPLE + _AGENT, vhost=False, agent=True),
    _format("vcommon", "Apache vhost common", "example.com:443 " + _EXAMPLE, vhost=True, agent=False),
    _format("common", "Common (no referrer, no user agent)", _EXAMPLE, vhost=False, agent=False),
]
