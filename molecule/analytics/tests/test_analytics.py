"""Verify the analytics pipeline on its three hosts, then bill real traffic end to end."""

import hashlib
import json
import time

import testinfra

from lab.traffic import format_comparison, random_requests, send_requests, wait_until_billed

DB = "mol-an-db"
EDGES = ["mol-an-edge1", "mol-an-edge2"]
testinfra_hosts = [f"podman://{name}" for name in (DB, *EDGES)]

HOSTNAMES = ["acme.cdn.test", "globex.cdn.test", "initech.cdn.test", "unknown.cdn.test"]
PATHS = ["/small.bin", "/medium.bin", "/large.bin", "/missing.bin"]
# customer_traffic flushes every 30 s and agents every 5 s: two flush intervals plus the agent's.
DEADLINE_SECONDS = 2 * 30 + 5 + 10


def _is(host, name: str) -> bool:
    return host.backend.get_hostname() == name


def test_packages_and_venv(host):
    assert host.package("python3-venv").is_installed
    streamstats = host.file("/opt/streamstats/venv/bin/streamstats")
    assert streamstats.exists and streamstats.user == "root"
    assert host.run("/opt/streamstats/venv/bin/streamstats --help").rc == 0
    if _is(host, DB):
        assert host.package("mariadb-server").is_installed
    else:
        assert host.package("nginx").is_installed
        # The controller's binary wheel: its native parser loads here, and the agent parses with it.
        assert host.run("/opt/streamstats/venv/bin/python -c 'import streamstats._tsv'").rc == 0
        metrics = host.check_output(
            "python3 -c %s",
            "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9401/metrics').read().decode())",
        )
        assert 'streamstats_agent_parser_info{path="native"} 1.0' in metrics


def test_service_users_and_units(host):
    if _is(host, DB):
        service, user = "streamstats-aggregator-1", "streamstats"
        assert host.service("streamstats-aggregator-2").is_running
    else:
        service = user = "streamstats-agent"
    unit = host.service(service)
    assert unit.is_running and unit.is_enabled
    account = host.user(user)
    assert account.shell == "/usr/sbin/nologin"
    if not _is(host, DB):
        assert "adm" in account.groups
    properties = host.check_output(f"systemctl show {service} -p NoNewPrivileges -p ProtectSystem -p User")
    assert "NoNewPrivileges=yes" in properties and "ProtectSystem=strict" in properties
    assert f"User={user}" in properties


def test_configuration_and_secret_modes(host):
    name = "streamstats-aggregator-1" if _is(host, DB) else "streamstats-agent"
    config = host.file(f"/etc/streamstats/{name}.yml")
    assert (config.user, config.mode) == ("root", 0o640)
    secrets = ["mysql.password"] if _is(host, DB) else ["agent.token"]
    for secret in secrets:
        secret_file = host.file(f"/etc/streamstats/{secret}")
        assert secret_file.mode == 0o640
        # Secrets live only in their files, never in the (templated, diffed) configuration.
        assert secret_file.content_string.split()[0] not in config.content_string


def test_listening_sockets(host):
    if _is(host, DB):
        assert host.socket("tcp://127.0.0.1:3306").is_listening
        assert not host.socket("tcp://0.0.0.0:3306").is_listening
        assert host.socket("tcp://0.0.0.0:9400").is_listening  # the balancer (nginx, TLS)
        for port in (9411, 9412):  # the aggregator processes, on loopback only
            assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
            assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
    else:
        assert host.socket("tcp://0.0.0.0:80").is_listening
        assert host.socket("tcp://127.0.0.1:9401").is_listening


def test_health_endpoints(host):
    url = "https://127.0.0.1:9400/healthz" if _is(host, DB) else "http://127.0.0.1:9401/healthz"  # via nginx
    # A liveness probe on the host itself (the certificate names the host for the agents, not 127.0.0.1).
    body = host.check_output(
        "python3 -c %s %s",
        "import ssl, sys, urllib.request as u;"
        " print(u.urlopen(sys.argv[1], context=ssl._create_unverified_context()).read().decode())",
        url,
    )
    assert json.loads(body)


# Run on an edge node: the aggregator's status for a URL, verified against the CA the role installed.
_STATUS_OF = """
import ssl, sys, urllib.error, urllib.request as u
request = u.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.stdin.read().strip()})
context = ssl.create_default_context(cafile="/etc/streamstats/aggregator-ca.pem")
try:
    print(u.urlopen(request, context=context).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
"""


def test_each_edge_node_may_write_only_its_own_counters():
    """The aggregator holds only digests; an edge node's token opens its own positions, not another's."""
    db, edge1, edge2 = (testinfra.get_host(f"podman://{name}") for name in (DB, *EDGES))
    token = edge1.file("/etc/streamstats/agent.token").content_string.strip()
    other = edge2.file("/etc/streamstats/agent.token").content_string.strip()
    credentials = db.file("/etc/streamstats/aggregator.credentials").content_string
    assert token not in credentials and other not in credentials
    assert f"{EDGES[0]} sha256:{hashlib.sha256(token.encode()).hexdigest()}" in credentials
    assert f"{EDGES[1]} sha256:{hashlib.sha256(other.encode()).hexdigest()}" in credentials

    def status(agent: str, scheme: str = "https") -> str:
        url = f"{scheme}://{DB}:9400/v1/agents/{agent}/positions"
        return edge1.check_output("echo %s | python3 -c %s %s", token, _STATUS_OF, url)

    assert status(EDGES[0]) == "200"
    assert status(EDGES[1]) == "403"
    assert status(EDGES[0], "http") == "400"  # plain HTTP to the TLS port


def test_traffic_is_billed_exactly():
    """Runs once (no `host` fixture): requests through both edges, then MySQL against the logs."""
    for number, edge in enumerate(EDGES):
        assert send_requests(edge, random_requests(HOSTNAMES, PATHS, 400, seed=number)) == 400
    time.sleep(1.5)  # nginx flushes its log buffer every second
    expected, billed = wait_until_billed(EDGES, DB, DEADLINE_SECONDS)
    print(format_comparison(expected, billed))
    assert {"acme", "globex", "initech", "-"} <= set(expected)
    assert billed == expected
