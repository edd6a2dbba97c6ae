"""rings.toml: tenants from hosts and patterns, route rules, client IP; bad config is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from rings_cli.core.config import Config, load_config, parse_config
from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.enrich.tenants import host_to_tenant
from rings_cli.ingest.run import Ingest
from tests.conftest import line, run_cli

CONFIG = """
post_route = '^/p/(?P<post_id>[0-9]+)$'
client_ip = "x-forwarded-for"
trusted_proxies = ["10.0.0.0/8"]

[tenants]
"Blog.Example.com" = "alice"
"*.grove.place" = "{subdomain}"
"*.shared.example" = "shared"

[[rules]]
event = "reaction"
method = "POST"
path = '^/api/react/(?P<post_id>[0-9]+)$'
"""


def tenants_of(hosts: list[str | None], config: Config) -> list[str | None]:
    frame = pl.DataFrame({"vhost": hosts}, schema={"vhost": pl.String})
    return frame.select(host_to_tenant(pl.col("vhost"), config)).to_series().to_list()


def test_host_mapping_patterns_and_contract_fallbacks() -> None:
    config = parse_config({"tenants": {"Blog.Example.com": "alice", "*.grove.place": "{subdomain}"}})
    hosts = [
        "www.blog.example.com:443",
        "autumn.grove.place",
        "a.b.grove.place",
        "WWW.Other.org:80",
        None,
        "-",
        "../../etc",
        "x" * 70,
        "grove.place",
    ]
    assert tenants_of(hosts, config) == [
        "alice",
        "autumn",
        "a.b.grove.place",
        "other.org",
        "default",
        "default",
        None,
        None,
        "grove.place",
    ]


def test_pattern_subdomain_that_is_not_a_tenant_name_is_rejected(tmp_path: Path) -> None:
    config = parse_config({"tenants": {"*.grove.place": "{subdomain}"}})
    assert tenants_of(["_bad_.grove.place"], config) == [None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("post_rout = 'x'", "unknown key 'post_rout'"),
        ("post_route = '^/(?P<slug>.*)$'", "post_route needs a named group (?P<post_id>...)"),
        ("post_route = '^/(?<=a)(?P<post_id>x)$'", "bad regex"),
        ("[tenants]\n'a.com' = '../x'", "not a valid tenant name"),
        ("[tenants]\n'a.*.com' = 'x'", "'*' may only stand for the first label"),
        ("[[rules]]\nevent = 'Like Button'\npath = '^/l$'", "event must be one of"),
        ("[[rules]]\nevent = 'reaction'\npath = '^/l$'\nverb = 'POST'", "unknown key 'verb'"),
        ("client_ip = 'cookie'", "client_ip must be one of remote, x-forwarded-for"),
        ("trusted_proxies = ['10.0.0.0/33']", "is not an IP address or network"),
        ("this is not toml", "not valid TOML"),
        ("breakdowns = 'no'", "breakdowns must be true or false"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, write_log, text: str, message: str) -> None:
    config = tmp_path / "rings.toml"
    config.write_text(text)
    with pytest.raises(UsageError) as error:
        load_config(config)
    assert message in str(error.value)
    log = write_log([line()])
    state = tmp_path / "state"
    result = run_cli("ingest", "--state-dir", str(state), "--config", str(config), str(log))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (state / "do").exists()  # validated before any data moved


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("ingest", "--config", str(tmp_path / "nope.toml"), "-")
    assert result.exit_code == 2 and "no such config file" in result.stderr


def test_config_in_state_dir_drives_tenants_events_and_client_ip(tmp_path: Path, write_log) -> None:
    state = StateDir(tmp_path / "state")
    state.root.mkdir()
    (state.root / "rings.toml").write_text(CONFIG)
    log = write_log(
        [
            line(vhost="blog.example.com:443", request="GET /p/7 HTTP/1.1", ip="10.0.0.5")
            + ' "203.0.113.50, 10.1.2.3"',
            line(vhost="autumn.grove.place", request="POST /api/react/7 HTTP/1.1", status=201) + ' "-"',
            line(vhost="autumn.grove.place", request="POST /api/react/8 HTTP/1.1", status=403) + ' "-"',
            line(vhost="Bad/Host", request="GET / HTTP/1.1") + ' "-"',
        ]
    )
    ingest = Ingest(
        state,
        fmt='nginx:$host $remote_addr - $remote_user [$time_local] "$request" $status '
        '$body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
        grace=None,
    )
    from rings_cli.source.parse import lines_from_bytes

    assert ingest.forced_format is not None
    frame = ingest.prepare(
        lines_from_bytes(log.read_bytes()), ingest.forced_format.fresh(), ingest.rejects
    ).frame
    assert frame.select("tenant", "ip", "event", "post_id", "is_page_view").rows() == [
        ("alice", "203.0.113.50", "post_view", "7", True),
        ("autumn", "203.0.113.1", "reaction", "7", False),
        ("autumn", "203.0.113.1", None, None, False),  # 403: not a reaction
    ]
    assert ingest.rejects.counts == {"bad tenant": 1}


def test_client_ip_option_overrides_config(tmp_path: Path, write_log) -> None:
    log = write_log([line(ip="10.0.0.1") + ' "198.51.100.9"'])
    state = tmp_path / "s"
    fmt = (
        'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"'
    )
    result = run_cli(
        "ingest", "--state-dir", str(state), "--json", "--client-ip", "x-forwarded-for", "-f", fmt, str(log)
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["page_views"] == 1
    bad = run_cli("ingest", "--state-dir", str(state), "--client-ip", "cookie", str(log))
    assert bad.exit_code == 2 and "--client-ip must be one of" in bad.stderr
