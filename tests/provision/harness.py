"""A private provisioning lab for the tests: boot web server, LeaseWeb simulator, goiardi, one twin.

Nothing is shared with a running `make demo` lab: every port is a free one, every state directory a
temporary one, the twin's server id and MAC are the tests' own, and the QEMU process is named after it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.daemons import Daemon
from lab.paths import REPO_ROOT
from lab.twin import Twin
from tests.support import simulator_admin
from tests.twin.support import BootServer

SERVER_ID = "91000001"
MAC = "52:54:00:cd:91:01"
HOST = "ptwin1"
PLAYBOOK_TIMEOUT = 300
# Every boot of the twin has a new host key (the live image and the installed OS run from RAM).
FRESH_HOST_KEYS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
# The profile_tasks callback's closing table: "Task name ----- 12.34s".
_TASK_TIME = re.compile(r"^(?P<task>\S.*?) -+ (?P<seconds>\d+\.\d+)s$", re.MULTILINE)


def seed(path: Path) -> Path:
    """LeaseWeb's view of the tests' twin: switched off, no lease."""
    server = {
        "id": SERVER_ID,
        "reference": HOST,
        "site": "TEST-01",
        "power": "off",
        "interfaces": {"public": {"mac": MAC, "ip": "10.0.2.15", "gateway": "10.0.2.2"}},
    }
    path.write_text(yaml.safe_dump({"servers": [server]}))
    return path


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    seconds: float

    def recap(self, host: str = HOST) -> dict[str, int]:
        match = re.search(rf"^{host}\s+:\s+(.*)$", self.output, re.MULTILINE)
        assert match, self.output[-3000:]
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}

    def task_times(self) -> list[tuple[str, float]]:
        return [(m["task"], float(m["seconds"])) for m in _TASK_TIME.finditer(self.output)]


@dataclass
class ProvisionLab:
    work: Path
    boot: BootServer
    simulator: Daemon
    chef: Daemon
    api_key: str
    ssh_port: int
    operator_key: Path
    runs: list[PlaybookRun] = field(default_factory=list)

    @property
    def twin(self) -> Twin:
        return Twin(self.work / "twins", SERVER_ID)

    @property
    def chef_key_dir(self) -> Path:
        return self.work / "chef-clients"

    @property
    def chef_url(self) -> str:
        return f"http://127.0.0.1:{self.chef.port}"

    def inventory(self, host_vars: dict[str, Any] | None = None) -> Path:
        """A production-shaped inventory: the twin in `baremetal`, the boot server on the controller.
        `host_vars`: more of the twin's own variables (provision_method, ...)."""
        boot_vars = {k: v for k, v in self.boot.role_vars().items() if k.startswith("ipxe_server_")}
        data = {
            "all": {
                "vars": {
                    **boot_vars,
                    "leaseweb_base_url": f"http://127.0.0.1:{self.simulator.port}",
                    "leaseweb_api_key": self.api_key,
                    "chef_server_url": self.chef_url,
                    "chef_client_name": "admin",
                    "chef_client_key": str(self.chef.state_dir / "admin.pem"),
                    "provision_chef_key_dir": str(self.chef_key_dir),
                    "provision_chef_environment": "provision_test",
                    "provision_chef_run_list": ["role[edge]"],
                    # nginx runs on the controller here, as the tests' own process (the lab uses boot1).
                    "provision_boot_server": "localhost",
                    "provision_ssh_public_keys": [self.operator_key.with_suffix(".pub").read_text().strip()],
                    # The twin starts switched off: no need to wait long for an sshd that is not there.
                    "provision_ssh_probe_timeout": 3,
                    "provision_job_poll_interval": 1,
                },
                "children": {
                    "ipxe_server": {"hosts": {}},
                    "baremetal": {
                        "hosts": {
                            HOST: {
                                "ansible_host": "127.0.0.1",
                                "ansible_port": self.ssh_port,
                                "ansible_user": "root",
                                "ansible_ssh_private_key_file": str(self.operator_key),
                                "ansible_ssh_common_args": FRESH_HOST_KEYS,
                                "leaseweb_server_id": SERVER_ID,
                                "provision_server_mac": MAC,
                                **(host_vars or {}),
                            }
                        }
                    },
                },
            }
        }
        path = self.work / "inventory.yml"
        path.write_text(yaml.safe_dump(data))
        return path

    def provision(self, *extra: str, host_vars: dict[str, Any] | None = None) -> PlaybookRun:
        """`ansible-playbook provision.yml` from the repository's root, as an operator runs it."""
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            # Tasks get their own control sockets, away from the operator's ~/.ansible.
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.work / "cp"),
            # profile_tasks (ansible.cfg): every task's time, in the order the tasks ran, i.e. stage by stage.
            "PROFILE_TASKS_SORT_ORDER": "none",
            "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
        }
        start = time.monotonic()
        proc = subprocess.run(
            ["ansible-playbook", "-i", str(self.inventory(host_vars)), "provision.yml", *extra],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=PLAYBOOK_TIMEOUT,
            check=False,
        )
        run = PlaybookRun(proc.returncode, proc.stdout + proc.stderr, round(time.monotonic() - start, 1))
        self.runs.append(run)
        return run

    def admin(self, method: str, name: str, payload: Any = None) -> Any:
        url = f"http://127.0.0.1:{self.simulator.port}"
        response = simulator_admin(url, self.api_key, method, name, payload)
        return response.json() if response.content else None

    def server_state(self) -> dict[str, Any]:
        return next(s for s in self.admin("GET", "state")["servers"] if s["id"] == SERVER_ID)

    def calls(self) -> list[str]:
        """The simulator's journal as 'METHOD path' lines of the changing calls, oldest first."""
        return [
            f"{e['method']} {e['path']}"
            for e in self.admin("GET", "exchanges")["exchanges"]
            if e["method"] in ("POST", "DELETE", "PUT")
        ]

    def boots(self) -> int:
        boot = self.twin.boot()
        return boot.number if boot else 0

    def console(self, number: int) -> str:
        return self.twin.console_text(number)


def console_evidence(text: str) -> list[str]:
    """The lines of a serial console that tell what booted: iPXE, the project's images, SYSLINUX."""
    wanted = re.compile(r"cdn-infra:|iPXE \d|SYSLINUX|Booting from|http://10\.0\.2\.100")
    return [line.strip() for line in text.splitlines() if wanted.search(line)]


def deployments(chef: Any) -> list[dict[str, Any]]:
    return [chef.get(f"data/deployments/{name}") for name in chef.get("data/deployments")]


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
