"""AWS load balancer logs: Application Load Balancer and Classic ELB (space-separated, quoted request).

The request field holds an absolute URL (`GET https://example.com:443/path HTTP/1.1`); the parser
takes the virtual host from it. The status is the one the load balancer returned to the client;
bytes are `sent_bytes`. The client field is `address:port`.
"""

from __future__ import annotations

from rings_cli.source.formats.base import ISO, SIZE, RegexFormat, quoted

_TAIL = r"(?:\s.*)?$"


def _grammar(escaped: bool, alb: bool) -> str:
    head = r"^\S+ (?P<time>\S+) \S+ " if alb else r"^(?P<time>\S+) \S+ "
    return (
        head
        + rf"(?P<ip>\S+) \S+ (?P<duration_sum_s>\S+ \S+ \S+) (?P<status>\d{{3}}|-) \S+ \S+ (?P<bytes>{SIZE}) "
        + quoted("request", escaped)
        + " "
        + quoted("ua", escaped)
        + _TAIL
    )


def _format(name: str, description: str, example: str, alb: bool) -> RegexFormat:
    return RegexFormat(
        name=name,
        description=description,
        example=example,
        time_kind=ISO,
        ip_with_port=True,
        pattern=_grammar(True, alb),
        fast_pattern=_grammar(False, alb),
    )


ALB = _format(
    "alb",
    "AWS Application Load Balancer",
    "https 2025-12-01T10:00:00.123456Z app/my-lb/50dc6c495c0c9188 203.0.113.9:2817 10.0.0.1:80 0.000 "
    '0.001 0.000 200 200 34 512 "GET https://example.com:443/ HTTP/1.1" "Mozilla/5.0" '
    'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:1:targetgroup/t/1 "Root=1-1" '
    '"example.com" "-" 0 2025-12-01T10:00:00.120000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"',
    alb=True,
)
ELB = _format(
    "elb",
    "AWS Classic Load Balancer",
    "2025-12-01T10:00:00.123456Z my-lb 203.0.113.9:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 "
    '0 512 "GET https://example.com:443/ HTTP/1.1" "Mozilla/5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2',
    alb=False,
)
AWS_FORMATS = [ALB, ELB]
