"""Helpers for the twin tests: a private nginx from the ipxe_server role's template, SSH, waiting on logs."""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lab.paths import REPO_ROOT
from lab.twin import free_port

RENDER_PLAYBOOK = Path(__file__).with_name("render_boot_files.yml")
NGINX_CONF = """\
{user}
daemon on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 128; }}
http {{
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    include {prefix}/site.conf;
}}
"""


@dataclass(frozen=True)
class BootServer:
    """A boot web server: nginx run as the current user, site configuration rendered from the role."""

    prefix: Path
    port: int

    @property
    def docroot(self) -> Path:
        return self.prefix / "docroot"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    @property
    def callback_log(self) -> Path:
        return self.prefix / "callback.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def role_vars(self) -> dict[str, object]:
        return {
            "ipxe_server_public_url": "http://10.0.2.100",
            "ipxe_server_docroot": str(self.docroot),
            "ipxe_server_listen": [self.address],
            "ipxe_server_access_log": str(self.access_log),
            "ipxe_server_callback_log": str(self.callback_log),
            "twin_test_site_conf": str(self.prefix / "site.conf"),
        }

    def start(self) -> None:
        (self.prefix / "tmp").mkdir(exist_ok=True)
        # As root, nginx would run its workers as nobody, who cannot read a private temp directory.
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        conf = self.prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, prefix=self.prefix))
        subprocess.run(
            ["nginx", "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "error.log")],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        pid_file = self.prefix / "nginx.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), 15)


def ansible_env() -> dict[str, str]:
    return {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}


def render_boot_files(server: BootServer, servers: list[dict[str, object]], work: Path) -> None:
    """Run the role's `server` entry point (and render its nginx site) with ansible-playbook."""
    extra = work / "render-vars.json"
    extra.write_text(json.dumps({**server.role_vars(), "twin_test_servers": servers}))
    proc = subprocess.run(
        ["ansible-playbook", str(RENDER_PLAYBOOK), "-e", f"@{extra}"],
        capture_output=True,
        text=True,
        env=ansible_env(),
        cwd=REPO_ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def wait_for_text(path: Path, pattern: str, timeout: float) -> re.Match[str]:
    """Poll a log until a line matches; fail with the log's tail when it never does."""
    regex = re.compile(pattern, re.MULTILINE)
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        match = regex.search(text)
        if match:
            return match
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} not in {path} after {timeout} s; it ends with:\n{text[-3000:]}")


def ssh(port: int, key: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh",
            "-i",
            str(key),
            "-p",
            str(port),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
            "root@127.0.0.1",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def new_port() -> int:
    return free_port()
