"""provision.yml's batches: `serial` (provision_serial, default [1, 5]) and `max_fail_percentage`
(provision_max_fail_percentage, default 20) stop the play before the next batch once too many of a batch
failed. Seven hosts, the 2nd and 3rd with a bad server id, only the preflight stage run (nothing else is
needed to fail a host): batch 1 is host 1 alone, batch 2 hosts 2-6 (2 of 5 failed: 40 %), batch 3 host 7.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from lab.paths import REPO_ROOT

BAD = ("b2", "b3")
HOSTS = ("b1", *BAD, "b4", "b5", "b6", "b7")


def _run(tmp_path: Path, *extra: str) -> dict[str, str]:
    hosts = {name: {"leaseweb_server_id": "bad id!" if name in BAD else "91000009"} for name in HOSTS}
    inventory = {
        "all": {
            "vars": {
                "ipxe_server_public_url": "http://127.0.0.1:9",
                "provision_boot_server": "localhost",
                "provision_ssh_public_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholder batches"],
                "provision_ssh_private_key_file": "/dev/null",
            },
            "children": {"ipxe_server": {"hosts": {}}, "baremetal": {"hosts": hosts}},
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    argv = ["ansible-playbook", "-i", str(path), "provision.yml", "--tags", "provision_preflight", *extra]
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    recap = dict(re.findall(r"^(b\d)\s+:\s+(.*)$", proc.stdout, re.MULTILINE))
    assert recap, proc.stdout[-3000:] + proc.stderr[-3000:]
    return recap


@pytest.mark.parametrize(
    ("extra", "last_batch_ran"), [((), False), (("-e", "provision_max_fail_percentage=50"), True)]
)
def test_too_many_failures_in_a_batch_stop_the_next_one(tmp_path, extra, last_batch_ran):
    recap = _run(tmp_path, *extra)
    assert all("failed=1" in recap[name] for name in BAD)
    assert all("failed=0" in recap[name] for name in ("b1", "b4", "b5", "b6"))
    assert ("b7" in recap) is last_batch_ran
