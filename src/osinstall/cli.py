"""`cdn-install-os`: install the OS on a server that runs the live image, and report whether it changed.

It personalises the project's disk image for the server (hostname, the operator's keys, callback, the
/etc/cdn-provisioned marker), then runs the pyinfra deploy in osinstall.deploy over SSH. The last line
on stdout is JSON, for Ansible:

    - name: Install the OS from the live image
      ansible.builtin.command:
        argv: [cdn-install-os, --host, "{{ ansible_host }}", --port, "{{ ansible_port }}", ...]
      register: __install
      changed_when: (__install.stdout_lines | last | from_json).changed
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.deploy import add_deploy
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operations import run_ops

from netboot.build import build_all
from netboot.cache import file_digest
from netboot.diskimage import DiskImage, DiskImageError, SiteConfig, personalise
from osinstall.deploy import ImageSpec, InstallError, install_image

log = logging.getLogger("osinstall")


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    key: Path


def _compress(image: Path, dest: Path) -> None:
    with image.open("rb") as source, gzip.GzipFile(dest, "wb", 6, mtime=0) as target:
        shutil.copyfileobj(source, target, 1024 * 1024)


def run_deploy(target: Target, spec: ImageSpec, work: Path) -> bool:
    """Run the install deploy on one host; True when it wrote the disk."""
    data = {
        "ssh_port": target.port,
        "ssh_user": target.user,
        "ssh_key": str(target.key),
        # The live image makes a new host key on every boot: trust it for this run only.
        "ssh_known_hosts_file": str(work / "known_hosts"),
        "ssh_strict_host_key_checking": "off",
        "ssh_connect_retries": 3,
    }
    state = State(Inventory(([(target.host, data)], {})), Config())
    connect_all(state)
    try:
        if state.failed_hosts:
            raise InstallError(f"cannot connect to {target.user}@{target.host}:{target.port}")
        add_deploy(state, install_image, spec)
        run_ops(state)
        if state.failed_hosts:
            raise InstallError(f"the install failed on {target.host}:{target.port} (see the output above)")
        (host,) = list(state.inventory)
        return any(op.operation_meta.did_change() for op in state.ops[host].values())
    finally:
        disconnect_all(state)


def install(target: Target, site: SiteConfig, generic: DiskImage, device: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="cdn-install-") as tmp:
        work = Path(tmp)
        image = personalise(generic, site, work / "disk.img")
        _compress(image.path, work / "disk.img.gz")
        spec = ImageSpec(work / "disk.img.gz", image.size, image.sha256, device)
        changed = run_deploy(target, spec, work)
    return {"changed": changed, "server_id": site.server_id, "device": device, "sha256": image.sha256}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdn-install-os", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", required=True, help="address of the server's live image sshd")
    parser.add_argument("--port", type=int, default=22)
    parser.add_argument("--user", default="root")
    parser.add_argument("--key", type=Path, required=True, help="the operator's private key")
    parser.add_argument("--server-id", required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument(
        "--authorized-keys", type=Path, required=True, help="public keys for the installed OS, one per line"
    )
    parser.add_argument("--callback-url", default="", help="the installed OS reports stage 'installed' here")
    parser.add_argument("--token", default="", help="this provisioning run's token, echoed in callbacks")
    parser.add_argument("--image", type=Path, help="a generic disk image (default: build the project's)")
    parser.add_argument(
        "--image-sha256", help="the generic image's published sha256: any other image is refused, unwritten"
    )
    parser.add_argument("--device", default="/dev/vda")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        keys = tuple(line.strip() for line in args.authorized_keys.read_text().splitlines() if line.strip())
        if not keys:
            raise InstallError(
                f"{args.authorized_keys}: no public keys: nobody could log in to the installed OS"
            )
        site = SiteConfig(args.server_id, args.hostname, keys, args.callback_url, args.token)
        if args.image:
            generic = DiskImage(args.image, args.image.stat().st_size, file_digest(args.image))
        else:
            generic = build_all().disk
        if args.image_sha256 and generic.sha256 != args.image_sha256.lower():
            raise InstallError(
                f"{generic.path} has sha256 {generic.sha256}, not {args.image_sha256}: refusing to install it"
            )
        result = install(Target(args.host, args.port, args.user, args.key), site, generic, args.device)
    except (InstallError, DiskImageError, PyinfraError, OSError) as exc:
        log.error("%s", exc)
        print(json.dumps({"failed": True, "msg": str(exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
