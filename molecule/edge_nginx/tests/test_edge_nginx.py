"""Verify the edge nginx: sites per customer and the tab-separated access log (testinfra, podman://)."""

import time

testinfra_hosts = ["podman://mol-edge"]
LOG = "/var/log/nginx/cdn-access.log"


def test_nginx_running_and_listening(host):
    assert host.package("nginx").is_installed
    assert host.service("nginx").is_running
    assert host.service("nginx").is_enabled
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    assert host.file("/etc/nginx/conf.d/cdn-http.conf").mode == 0o644


def test_objects_have_their_sizes(host):
    assert host.file("/var/www/cdn/acme/large.bin").size == 1024 * 1024
    assert host.file("/var/www/cdn/globex/small.bin").size == 4096


# Fetch a URL inside the host (the image has no curl); prints "STATUS LENGTH", or the HTTP error code.
FETCH = """
import sys, urllib.error, urllib.request as u
headers = {"Host": sys.argv[1], "User-Agent": "probe\tagent"}
request = u.Request("http://127.0.0.1" + sys.argv[2], headers=headers)
try:
    with u.urlopen(request) as response:
        print(response.status, len(response.read()))
except urllib.error.HTTPError as error:
    print(error.code, 0)
"""


def _get(host, hostname: str, path: str) -> str:
    return host.check_output("python3 -c %s %s %s", FETCH, hostname, path)


def _log_lines(host) -> list[list[str]]:
    time.sleep(1.5)  # the access log buffer is flushed every second
    return [line.split("\t") for line in host.file(LOG).content_string.splitlines()]


def test_requests_are_logged_in_the_cdn_format(host):
    assert _get(host, "static.acme.test", "/large.bin") == f"200 {1024 * 1024}"
    fields = _log_lines(host)[-1]
    assert len(fields) == 26
    assert fields[1] == "acme"
    assert fields[2] == "static.acme.test"
    assert fields[6] == "/large.bin"
    assert fields[8] == "200"
    assert int(fields[9]) > 1024 * 1024  # bytes_sent includes the headers
    assert fields[10] == str(1024 * 1024)
    assert fields[15] == "probe\\x09agent"  # a tab inside a value is escaped
    assert (fields[17], fields[18], fields[19]) == ("NL", "60781", "ams1")


def test_unknown_host_is_refused_and_logged(host):
    assert _get(host, "nobody.test", "/") == "421 0"
    fields = _log_lines(host)[-1]
    assert (fields[1], fields[8]) == ("-", "421")
