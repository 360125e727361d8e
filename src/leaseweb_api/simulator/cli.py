"""`leaseweb-simulator`: a stateful LeaseWeb Dedicated Server API on a local port (see docs/leaseweb.md)."""

from __future__ import annotations

import argparse
import os
import random
import shlex
import signal
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from leaseweb_api.simulator import logfmt
from leaseweb_api.simulator.app import Simulator
from leaseweb_api.simulator.faults import FaultInjector, FaultSpecError, parse_rule
from leaseweb_api.simulator.hook import PowerHook
from leaseweb_api.simulator.http import SimulatorServer
from leaseweb_api.simulator.journal import Journal
from leaseweb_api.simulator.records import SeedError
from leaseweb_api.simulator.state import Behaviour, SimState

API_KEY_ENV = "LSW_SIMULATOR_API_KEY"
EXAMPLE_SEED = "example-seed.yml"


def load_seed(path: Path | None) -> dict[str, Any]:
    """A seed file (YAML or JSON), or the example shipped with the package."""
    text = path.read_text() if path else resources.files(__package__).joinpath(EXAMPLE_SEED).read_text()
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise SeedError(f"{path or EXAMPLE_SEED}: expected a mapping with a 'servers' list")
    return data


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="leaseweb-simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port, printed on start)")
    p.add_argument(
        "--seed", type=Path, help="servers to start with, YAML or JSON (default: the packaged example)"
    )
    p.add_argument(
        "--state",
        type=Path,
        help="state file: loaded instead of the seed if it exists, rewritten on every change",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"accept only this X-LSW-Auth key (env {API_KEY_ENV}; default: any non-empty key)",
    )
    p.add_argument(
        "--power-hook",
        help="command run on every successful powerCycle/powerOn/powerOff and install job (JSON on stdin)",
    )
    p.add_argument(
        "--power-hook-timeout",
        type=float,
        default=300.0,
        help="seconds before a hook is killed (default 300)",
    )
    p.add_argument(
        "--power-delay",
        type=float,
        default=0.0,
        help="seconds a powerCycle shows the server off in powerInfo (default 0)",
    )
    p.add_argument("--job-step-seconds", type=float, default=5.0, help="seconds per job task (default 5)")
    p.add_argument(
        "--lease-ttl",
        type=float,
        help="expire leases after this many seconds (default: never; unconfirmed behaviour)",
    )
    p.add_argument(
        "--on-existing-lease",
        choices=("replace", "conflict"),
        default="replace",
        help="POST /leases over an existing lease",
    )
    p.add_argument(
        "--on-active-job",
        choices=("conflict", "replace"),
        default="conflict",
        help="a new job while one is running",
    )
    p.add_argument(
        "--page-limit", type=int, default=10, help="page size when a request gives no limit (default 10)"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        help="fault rule for the whole run, e.g. 'status=503,probability=0.1' (repeatable)",
    )
    p.add_argument("--random-seed", type=int, help="seed for probabilistic faults (reproducible runs)")
    p.add_argument(
        "--journal-size",
        type=int,
        default=1000,
        help="exchanges kept for GET /_simulator/exchanges (default 1000)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logfmt.setup()
    try:
        faults = [parse_rule(spec) for spec in args.fault]
        seed = load_seed(args.seed)
        behaviour = Behaviour(
            power_delay=args.power_delay,
            job_step=args.job_step_seconds,
            lease_ttl=args.lease_ttl,
            on_existing_lease=args.on_existing_lease,
            on_active_job=args.on_active_job,
            page_limit=args.page_limit,
        )
        hook = PowerHook(shlex.split(args.power_hook), args.power_hook_timeout) if args.power_hook else None
        state = SimState(seed, behaviour, state_path=args.state, on_power=hook)
        if hook is not None:
            hook.on_install_done = state.automation_done
    except (OSError, SeedError, FaultSpecError, yaml.YAMLError) as exc:
        print(f"leaseweb-simulator: {exc}", file=sys.stderr)
        return 2
    app = Simulator(
        state,
        FaultInjector(faults, random.Random(args.random_seed)),
        Journal(args.journal_size),
        args.api_key,
    )
    server = SimulatorServer(args.host, args.port, app)
    host, port = server.server_address[:2]

    def stop(signum: int, _frame: object) -> None:
        logfmt.event("stopping", signal=signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logfmt.event(
        "listening", host=host, port=port, servers=len(state.list_servers()), power_hook=args.power_hook
    )
    # Scripts that asked for port 0 read the URL from this first line of standard output.
    print(f"listening http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if hook is not None:
            hook.close(timeout=10.0)
        logfmt.event("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
