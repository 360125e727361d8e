"""Fixtures of the Chef tests: a private goiardi (auth on), mixlib-authentication through Ruby, keys,
and ansible-playbook / ansible-inventory runs against that goiardi."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chef_api import ChefClient, ChefSettings
from chef_api.clients import create_client, save_private_key
from tests.chef.redmine import redmine  # noqa: F401  (the fixture, for the deployment-tracker tests)
from tests.support import require_binary

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
PLAYBOOKS = HERE / "playbooks"
MIXLIB_PEER = HERE / "mixlib_peer.rb"
STARTUP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def unique(prefix: str) -> str:
    """goiardi lives for the whole session: every test names its objects uniquely."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Goiardi:
    url: str
    admin_key: Path
    # A non-admin API client: can read and search, cannot create clients or delete nodes.
    user_key: Path
    user_name: str

    def client(self, name: str = "admin", key: Path | None = None, **settings: Any) -> ChefClient:
        return ChefClient.from_settings(
            ChefSettings(self.url, name, client_key=str(key or self.admin_key), **settings)
        )

    def env(self, name: str = "admin", key: Path | None = None) -> dict[str, str]:
        """The environment the modules and the inventory plugin read their credentials from."""
        return {
            "CHEF_SERVER_URL": self.url,
            "CHEF_CLIENT_NAME": name,
            "CHEF_CLIENT_KEY": str(key or self.admin_key),
        }


def _wait_until_ready(process: subprocess.Popen, url: str, admin_key: Path, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    host, port = url.removeprefix("http://").split(":")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"goiardi exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
        except OSError:
            time.sleep(0.1)
            continue
        if admin_key.exists():
            return
        time.sleep(0.1)
    pytest.fail(f"goiardi did not come up within {STARTUP_TIMEOUT} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def goiardi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Goiardi]:
    """goiardi in memory with authentication on, on a free port of 127.0.0.1; SIGTERM at the end.

    It writes admin.pem (an admin user) into its conf root on start; a non-admin client is made for the
    permission tests.
    """
    binary = require_binary("goiardi")
    root = tmp_path_factory.mktemp("goiardi")
    port = free_port()
    log = root / "goiardi.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            # -A: authentication on; -H: the host name in the URLs goiardi returns.
            [
                binary,
                "-A",
                "-I",
                "127.0.0.1",
                "-P",
                str(port),
                "-H",
                "127.0.0.1",
                "--conf-root",
                str(root),
                "-g",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        admin_key = root / "admin.pem"
        _wait_until_ready(process, url, admin_key, log)
        user_name = unique("reader")
        with ChefClient.from_settings(ChefSettings(url, "admin", client_key=str(admin_key))) as admin:
            created = create_client(admin, user_name)
        user_key = root / f"{user_name}.pem"
        save_private_key(user_key, created.private_key)
        yield Goiardi(url, admin_key, user_key, user_name)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def stranger_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid RSA key that no Chef server knows."""
    path = tmp_path_factory.mktemp("keys") / "stranger.pem"
    path.write_text(pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def key_4096() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


@pytest.fixture(scope="session")
def mixlib() -> Any:
    """Run cases through Ruby's mixlib-authentication (tests/chef/mixlib_peer.rb), one process per call."""
    ruby = require_binary("ruby")

    def run(cases: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [ruby, str(MIXLIB_PEER)],
            input=json.dumps(list(cases)),
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run


@dataclass(frozen=True)
class AnsibleRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def tasks(self) -> dict[str, dict[str, Any]]:
        """Task name -> localhost's result, from the ansible.posix.json callback's output."""
        report = json.loads(self.stdout)
        return {
            task["task"]["name"]: task["hosts"]["localhost"]
            for play in report["plays"]
            for task in play["tasks"]
            if "localhost" in task["hosts"]
        }


def ansible_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHEF_")}
    env.update(
        {
            "PATH": f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            # One process per task on the local connection instead of several (no temporary module file).
            "ANSIBLE_PIPELINING": "True",
        }
    )
    env.update(extra)
    return env


def run_ansible(args: Sequence[str], env: Mapping[str, str], *, json_output: bool = True) -> AnsibleRun:
    callback = "ansible.posix.json" if json_output else "ansible.builtin.default"
    # Only the stdout callback: profile_tasks (ansible.cfg) would write into the JSON on stdout.
    extra = {"ANSIBLE_STDOUT_CALLBACK": callback, "ANSIBLE_CALLBACKS_ENABLED": callback}
    proc = subprocess.run(
        list(args),
        cwd=REPO_ROOT,
        env=ansible_env({**extra, **env}),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return AnsibleRun(proc.returncode, proc.stdout, proc.stderr)


def run_playbook(
    name: str,
    env: Mapping[str, str],
    extra_vars: Mapping[str, Any] | None = None,
    *,
    args: Sequence[str] = (),
    json_output: bool = True,
) -> AnsibleRun:
    command = ["ansible-playbook", *args, str(PLAYBOOKS / name), "-e", json.dumps(dict(extra_vars or {}))]
    return run_ansible(command, env, json_output=json_output)
