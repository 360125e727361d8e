"""Verify the boot web server on the converged host (testinfra, podman:// backend)."""

HOST = "podman://mol-ipxe-server"
testinfra_hosts = [HOST]
DOCROOT = "/srv/ipxe"
HTTP = """python3 - <<'PY'
import urllib.request, urllib.error
request = urllib.request.Request("http://127.0.0.1{path}", method="{method}")
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        print(response.status)
        print(response.read().decode(), end="")
except urllib.error.HTTPError as exc:
    print(exc.code)
PY"""


def http(host, path, method="GET"):
    result = host.run(HTTP.format(path=path, method=method))
    assert result.rc == 0, result.stderr
    status, _, body = result.stdout.partition("\n")
    return int(status), body


def test_nginx_package_and_service(host):
    assert host.package("nginx-light").is_installed
    nginx = host.service("nginx")
    assert nginx.is_enabled
    assert nginx.is_running


def test_site_configuration(host):
    site = host.file("/etc/nginx/conf.d/ipxe_server.conf")
    assert (site.user, site.group, site.mode) == ("root", "root", 0o644)
    assert "Ansible managed" in site.content_string
    assert f"root {DOCROOT};" in site.content_string
    assert "log_format ipxe_server_callback" in site.content_string
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    assert host.run("nginx -t").rc == 0


def test_docroot_layout_and_modes(host):
    for directory in ("", "/servers", "/images", "/images/live"):
        entry = host.file(DOCROOT + directory)
        assert entry.is_directory
        assert (entry.user, entry.mode) == ("root", 0o755)
    kernel = host.file(f"{DOCROOT}/images/live/vmlinuz")
    assert kernel.mode == 0o644
    assert kernel.content_string == "not really a kernel\n"


def test_listens_on_port_80(host):
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_server_script_rendered_and_served(host):
    script = host.file(f"{DOCROOT}/servers/mol-101.ipxe")
    assert script.mode == 0o644
    text = script.content_string
    assert text.startswith("#!ipxe\n")
    assert "iseq ${net0/mac} 52:54:00:aa:01:01 || goto wrong_server" in text
    assert "cdn.callback=http://10.0.2.100/callback/mol-101 cdn.token=molecule-run" in text
    assert http(host, "/servers/mol-101.ipxe") == (200, text)
    assert http(host, "/servers/mol-101.keys") == (
        200,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMolecule101 molecule\n",
    )
    assert not host.file(f"{DOCROOT}/servers/mol-101.preseed").exists


def test_removed_server_has_no_boot_files(host):
    for suffix in ("ipxe", "keys", "preseed"):
        assert not host.file(f"{DOCROOT}/servers/mol-gone.{suffix}").exists
    assert http(host, "/servers/mol-gone.ipxe")[0] == 404


def test_callback_answered_and_logged(host):
    assert (
        http(host, "/callback/mol-101/live?token=verify-1&mac=52:54:00:aa:01:01&ip=10.0.2.15", "POST")[0]
        == 204
    )
    log = host.file("/var/log/nginx/ipxe-callback.log").content_string
    assert " server_id=mol-101 stage=live token=verify-1 mac=52:54:00:aa:01:01 ip=10.0.2.15 " in log
    assert http(host, "/callback/mol-101/UPPER", "POST")[0] == 404
