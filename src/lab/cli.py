"""`lab`: bring the local lab up and down.

lab image                      build (or reuse) the Debian base image
lab up | down | status         the lab: container hosts (inventory/lab/hosts.yml), the LeaseWeb
                               simulator, goiardi and Redmine on loopback, the bare-metal twins
lab redmine                    only the lab's Redmine: set up (project cdn, the issues the repository's
                               commits reference) and started, as `lab up` does
lab rollout                    the release notes of the lab's last analytics rollout and the Redmine
                               issues it was noted on (URL and note)
lab container up|down NAME...  single containers from the same recipe (Molecule's create/destroy)
lab panel                      the control panel's URL, a demo customer's login and a screenshot of
                               its Usage page
lab twin power-event           the LeaseWeb simulator's power hook: one JSON event on stdin
lab twin status | console ID | stop ID
                               the bare-metal twins (QEMU VMs), by hand
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from chef_api import ChefClient, ChefError, ChefSettings
from lab.baremetal import load_lab_servers, restore_power, wait_for_sshd
from lab.daemons import DaemonError
from lab.hosts import LAB_NETWORK, boot_server_address, group_containers, lab_container, load_lab_hosts
from lab.image import ensure_base_image
from lab.panel import DemoLogin, demo_password, ensure_customer_user, usage_screenshot
from lab.paths import LAB_INVENTORY, LAB_STATE, REPO_ROOT
from lab.podman import (
    ContainerHost,
    PodmanError,
    container_rm,
    container_state,
    container_up,
    ensure_network,
    remove_network,
    wait_for_systemd,
)
from lab.redmine import RedmineSetup, ensure_lab_setup, lab_instance
from lab.rollout import rollout_report
from lab.services import ServicePorts, ensure_api_key, lab_services
from lab.sshkey import ensure_ssh_key
from lab.traffic import (
    edge_requests_plan,
    format_comparison,
    random_requests,
    send_requests,
    wait_until_billed,
)
from lab.twin import HookOptions, PowerEvent, Twin, TwinError, handle_power_event, list_twins, ssh_port_for
from leaseweb_api import LeasewebClient, LeasewebError
from redmine_api.client import RedmineClient, RedmineError
from releasenotes.commits import GitError

log = logging.getLogger("lab")
# A twin's disk boot reaches sshd in 3-6 s under TCG; an unprovisioned disk never does.
TWIN_BOOT_TIMEOUT = 60.0


def _start(hosts: list[ContainerHost]) -> None:
    if hosts:
        ensure_network(hosts[0].network)
    for host in hosts:
        print(f"{host.name}: {'started' if container_up(host) else 'running'}")
    for host in hosts:
        state = wait_for_systemd(host.name)
        if state not in ("running", "degraded"):
            raise PodmanError(f"{host.name}: systemd did not finish booting ({state or 'no answer'})")


def _stop(names: list[str]) -> None:
    for name in names:
        print(f"{name}: {'removed' if container_rm(name) else 'absent'}")


def cmd_image(_: argparse.Namespace) -> None:
    tag, built = ensure_base_image()
    print(f"{tag}: {'built' if built else 'cached'}")


def cmd_up(args: argparse.Namespace) -> None:
    print(f"operator key: {ensure_ssh_key()}")
    image, _ = ensure_base_image()
    _start([spec.container_host(image) for spec in load_lab_hosts(args.inventory)])
    api_key = ensure_api_key(LAB_STATE / "leaseweb" / "api-key")
    services = lab_services(args.inventory, LAB_STATE, api_key)
    _redmine_setup(LAB_STATE)
    for daemon in services.daemons:
        print(f"{daemon.name}: {'started' if daemon.start() else 'running'} ({daemon.status()})")
    # Servers LeaseWeb reports on come back on, as after a power failure in a data centre.
    with LeasewebClient(api_key, services.leaseweb_url) as api:
        restored = restore_power(api, load_lab_servers(args.inventory), LAB_STATE / "twin")
    for server in restored:
        answering = wait_for_sshd(server.ssh_port, TWIN_BOOT_TIMEOUT)
        sshd = "sshd answering" if answering else f"no sshd after {TWIN_BOOT_TIMEOUT:.0f} s"
        print(f"{server.inventory_name}: powered on (server {server.server_id}), {sshd}")


def cmd_down(args: argparse.Namespace) -> None:
    for twin in list_twins(LAB_STATE / "twin"):
        print(f"twin {twin.server_id}: {'stopped' if twin.stop() else 'off'}")
    for daemon in reversed(lab_services(args.inventory, LAB_STATE).daemons):
        print(f"{daemon.name}: {'stopped' if daemon.stop() else 'not running'}")
    _stop([spec.container for spec in load_lab_hosts(args.inventory)])
    if remove_network(LAB_NETWORK):
        print(f"network {LAB_NETWORK}: removed")


def cmd_status(args: argparse.Namespace) -> None:
    for spec in load_lab_hosts(args.inventory):
        print(f"{spec.inventory_name}\t{spec.container}\t{container_state(spec.container) or 'absent'}")
    for daemon in lab_services(args.inventory, LAB_STATE).daemons:
        print(f"{daemon.name}\t{daemon.log.parent.relative_to(LAB_STATE.parent)}\t{daemon.status()}")
    for server in load_lab_servers(args.inventory):
        pid = Twin(LAB_STATE / "twin", server.server_id).pid()
        state = f"running pid={pid}" if pid else "off"
        print(f"{server.inventory_name}\ttwin {server.server_id}\t{state} ssh=127.0.0.1:{server.ssh_port}")


def _redmine_setup(state: Path) -> None:
    """Before Redmine starts: its database migrated and seeded (once, and for newly referenced issues)."""
    setup, seeded = ensure_lab_setup(lab_instance(state), REPO_ROOT)
    issues = ", ".join(f"#{n}" for n in setup.issues) or "none"
    print(f"redmine: project {setup.project}, issues {issues} ({'set up' if seeded else 'kept'})")


def cmd_redmine(args: argparse.Namespace) -> None:
    port = args.port or ServicePorts.from_inventory(args.inventory).redmine
    _redmine_setup(args.state_dir)
    daemon = lab_instance(args.state_dir).server(port)
    print(f"{daemon.name}: {'started' if daemon.start() else 'running'} ({daemon.status()})")
    print(f"redmine: http://127.0.0.1:{port}/ (admin's API key in {daemon.state_dir / 'setup.json'})")


def cmd_rollout(args: argparse.Namespace) -> None:
    ports = ServicePorts.from_inventory(args.inventory)
    state = args.state_dir
    setup_file = state / "redmine" / "setup.json"
    if not setup_file.exists():
        raise LookupError(f"{setup_file}: the lab's Redmine is not set up (lab up, or lab redmine)")
    setup = RedmineSetup.from_json(setup_file.read_text())
    # As the lab inventory's playbooks sign: goiardi's admin (chef_client_name, chef_client_key).
    chef = ChefSettings(f"http://127.0.0.1:{ports.goiardi}", "admin", str(state / "goiardi" / "admin.pem"))
    redmine_url = f"http://127.0.0.1:{ports.redmine}"
    with ChefClient.from_settings(chef) as client, RedmineClient(redmine_url, setup.api_key) as redmine:
        report = rollout_report(
            client, redmine, args.app, args.environment, state / "release-notes", args.bag
        )
    print(report.render(args.notes_lines), end="")


def cmd_traffic(args: argparse.Namespace) -> None:
    hostnames, paths = edge_requests_plan(args.inventory.parent / "group_vars" / "edge.yml")
    for number, edge in enumerate(group_containers(args.inventory, "edge")):
        plan = random_requests(hostnames, paths, args.requests, seed=args.seed + number)
        print(f"{edge}: {send_requests(edge, plan)} requests")


def cmd_billing(args: argparse.Namespace) -> int:
    edges = group_containers(args.inventory, "edge")
    db = group_containers(args.inventory, "analytics_db")[0]
    time.sleep(1.5)  # nginx writes its buffered access log lines at least every second
    from_logs, from_mysql = wait_until_billed(edges, db, args.wait)
    print(format_comparison(from_logs, from_mysql))
    return 0 if from_logs == from_mysql else 1


def cmd_panel(args: argparse.Namespace) -> None:
    panel = group_containers(args.inventory, "panel")[0]
    spec = next(s for s in load_lab_hosts(args.inventory) if s.container == panel)
    host, port, _ = spec.publish[0].rsplit(":", 2)
    password = demo_password(LAB_STATE / "secrets", args.user)
    created = ensure_customer_user(panel, args.user, args.customer, password)
    login = DemoLogin(f"https://{host}:{port}", args.user, password, args.customer)
    shot = usage_screenshot(login, args.screenshot)
    print(f"panel: {login.url}/ (the lab's self-signed certificate)")
    print(f"customer login: {login.username} / {login.password} ({'created' if created else 'exists'}; "
          f"customer {login.customer})")  # fmt: skip
    print(f"operator login: ops / the password in {LAB_STATE / 'secrets' / 'panel-operator-ops'}")
    print(f"usage page screenshot: {shot}")


def cmd_container(args: argparse.Namespace) -> None:
    if args.action == "down":
        _stop(args.names)
        return
    image, _ = ensure_base_image()
    _start([lab_container(name, image, args.network, role="molecule") for name in args.names])


def cmd_twin_power_event(args: argparse.Namespace) -> None:
    boot_server = args.boot_server or boot_server_address(args.inventory)
    if not boot_server:
        raise TwinError("no --boot-server and no published port for the inventory's ipxe_server host")
    event = PowerEvent.from_json(sys.stdin.read())
    options = HookOptions(
        args.state_dir, boot_server, ssh_port_for(event.server_id, args.ssh_port), args.memory
    )
    result = handle_power_event(event, options)
    log.info("power_event %s", " ".join(f"{k}={v}" for k, v in result.items()))
    print(json.dumps(result))


def cmd_twin_status(args: argparse.Namespace) -> None:
    for twin in list_twins(args.state_dir):
        settings, boot, pid = twin.settings(), twin.boot(), twin.pid()
        if settings is None:
            continue
        state = f"running pid={pid}" if pid else "off"
        last = f"boot={boot.number} device={boot.device}" if boot else "never booted"
        print(f"{twin.server_id}\t{state}\tmac={settings.mac}\tssh=127.0.0.1:{settings.ssh_port}\t{last}")


def cmd_twin_console(args: argparse.Namespace) -> None:
    print(Twin(args.state_dir, args.server_id).console_text(args.boot, args.raw), end="")


def cmd_twin_stop(args: argparse.Namespace) -> None:
    stopped = Twin(args.state_dir, args.server_id).stop()
    print(f"{args.server_id}: {'stopped' if stopped else 'not running'}")


def _twin_parser(sub: argparse._SubParsersAction) -> None:
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument("--state-dir", type=Path, default=LAB_STATE / "twin", help="twins' state (.lab/twin)")
    twin = sub.add_parser("twin", help="the bare-metal twin: QEMU VMs driven by power events")
    tsub = twin.add_subparsers(dest="twin_command", required=True)
    event = tsub.add_parser("power-event", parents=[state], help="act on one power-hook JSON object (stdin)")
    event.add_argument("--boot-server", help="HOST:PORT of the boot web server on this host's loopback")
    event.add_argument(
        "--ssh-port",
        action="append",
        default=[],
        metavar="[SERVER_ID=]PORT",
        help="loopback port of the guest's sshd, for one server or any (default: a free port, kept)",
    )
    event.add_argument("--memory", type=int, help="guest RAM in MiB (default 256)")
    event.set_defaults(func=cmd_twin_power_event)
    tsub.add_parser("status", parents=[state], help="every twin's state").set_defaults(func=cmd_twin_status)
    console = tsub.add_parser("console", parents=[state], help="print a twin's serial console log")
    console.add_argument("server_id")
    console.add_argument("--boot", type=int, help="boot number (default: the latest)")
    console.add_argument("--raw", action="store_true", help="keep terminal escape sequences")
    console.set_defaults(func=cmd_twin_console)
    stop = tsub.add_parser("stop", parents=[state], help="power a twin off")
    stop.add_argument("server_id")
    stop.set_defaults(func=cmd_twin_stop)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", type=Path, default=LAB_INVENTORY, help="the lab's hosts.yml")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("image", help="build or reuse the base image").set_defaults(func=cmd_image)
    sub.add_parser("up", help="start the lab's hosts, services and twins").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop the twins and services, remove the hosts").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show the lab's hosts, services and twins").set_defaults(func=cmd_status)
    redmine = sub.add_parser("redmine", help="set up and start the lab's Redmine only")
    redmine.add_argument("--state-dir", type=Path, default=LAB_STATE, help="the lab's state (.lab)")
    redmine.add_argument("--port", type=int, help="loopback port (default: the inventory's lab_redmine_port)")
    redmine.set_defaults(func=cmd_redmine)
    rollout = sub.add_parser(
        "rollout", help="the last rollout's release notes and the Redmine issues it noted"
    )
    rollout.add_argument("--app", default="analytics")
    rollout.add_argument("--environment", default="lab")
    rollout.add_argument("--bag", default="deployments", help="the deployment log's data bag")
    rollout.add_argument("--notes-lines", type=int, default=40, help="release notes lines shown (0: all)")
    rollout.add_argument("--state-dir", type=Path, default=LAB_STATE, help="the lab's state (.lab)")
    rollout.set_defaults(func=cmd_rollout)
    traffic = sub.add_parser("traffic", help="send requests through every edge node's nginx")
    traffic.add_argument("--requests", type=int, default=1000, help="per edge node")
    traffic.add_argument("--seed", type=int, default=1)
    traffic.set_defaults(func=cmd_traffic)
    billing = sub.add_parser("billing", help="bytes and requests per customer: the edges' logs beside MySQL")
    billing.add_argument("--wait", type=float, default=75.0, help="seconds to wait for MySQL to catch up")
    billing.set_defaults(func=cmd_billing)
    panel = sub.add_parser("panel", help="the panel's URL, a demo customer's login, a Usage screenshot")
    panel.add_argument("--user", default="acme-demo")
    panel.add_argument("--customer", default="acme")
    panel.add_argument("--screenshot", type=Path, default=REPO_ROOT / ".cache" / "demo" / "panel-usage.png")
    panel.set_defaults(func=cmd_panel)
    container = sub.add_parser("container", help="single containers from the lab's recipe")
    container.add_argument("action", choices=("up", "down"))
    container.add_argument("names", nargs="+")
    container.add_argument("--network", default=LAB_NETWORK)
    container.set_defaults(func=cmd_container)
    _twin_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (
        PodmanError,
        TwinError,
        DaemonError,
        LeasewebError,
        ChefError,
        RedmineError,
        GitError,
        LookupError,
        ValueError,
        OSError,
    ) as exc:
        log.error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
