"""Real traffic through the lab's edge nodes, and billing totals from both ends of the pipeline.

The totals straight from the nginx logs (every line of the current and rotated logs) and the totals in
MySQL must be equal: that is the end-to-end check of `make demo` and of the analytics Molecule scenario.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.podman import podman
from streamstats.formats import builtin_formats

ACCESS_LOG = "/var/log/nginx/cdn-access.log"

# Runs inside an edge host (Python is there, curl is not): fetches each (Host, path) from local nginx.
_FETCH = """
import json, sys, urllib.error, urllib.request
done = 0
for host, path in json.load(sys.stdin):
    request = urllib.request.Request("http://127.0.0.1" + path, headers={"Host": host})
    try:
        with urllib.request.urlopen(request) as response:
            response.read()
    except urllib.error.HTTPError as error:
        error.read()
    done += 1
print(done)
"""

# Sums requests and bytes_sent per customer over the current and rotated logs (gzip or plain).
_SUM = """
import collections, glob, gzip, json, sys
customer, bytes_sent = int(sys.argv[1]), int(sys.argv[2])
totals = collections.defaultdict(lambda: [0, 0])
for name in glob.glob(sys.argv[3] + "*"):
    opener = gzip.open if name.endswith(".gz") else open
    with opener(name, "rt", encoding="utf-8", errors="replace") as log:
        for line in log:
            fields = line.rstrip("\\n").split("\\t")
            totals[fields[customer]][0] += 1
            totals[fields[customer]][1] += int(fields[bytes_sent])
print(json.dumps(totals))
"""


@dataclass(frozen=True)
class Totals:
    requests: int
    bytes_sent: int


def send_requests(container: str, requests: Sequence[tuple[str, str]]) -> int:
    """Fetch every (Host header, path) from the container's nginx; return how many were made."""
    payload = json.dumps(list(requests)).encode()
    out = podman(["exec", "-i", container, "python3", "-c", _FETCH], stdin=payload)
    return int(out.strip())


def random_requests(
    hostnames: Sequence[str], paths: Sequence[str], count: int, seed: int
) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(rng.choice(hostnames), rng.choice(paths)) for _ in range(count)]


def log_totals(containers: Sequence[str], log_path: str = ACCESS_LOG) -> dict[str, Totals]:
    """Per-customer totals counted straight from the edge nodes' logs, with the cdn format's columns."""
    names = [field.name for field in builtin_formats()["cdn"].fields]
    columns = [str(names.index("customer")), str(names.index("bytes_sent"))]
    merged: dict[str, list[int]] = {}
    for container in containers:
        counted = json.loads(podman(["exec", container, "python3", "-c", _SUM, *columns, log_path]))
        for customer, (requests, sent) in counted.items():
            total = merged.setdefault(customer, [0, 0])
            total[0] += requests
            total[1] += sent
    return {customer: Totals(*values) for customer, values in merged.items()}


def mysql_totals(
    container: str, database: str = "analytics", table: str = "stat_customer_traffic"
) -> dict[str, Totals]:
    """Per-customer totals from the billing statistic's table (root over the server's unix socket)."""
    query = f"SELECT customer, SUM(requests), SUM(bytes_sent) FROM `{table}` GROUP BY customer"
    out = podman(["exec", container, "mysql", "--batch", "--skip-column-names", database, "-e", query])
    rows = (line.split("\t") for line in out.splitlines() if line)
    return {customer: Totals(int(requests), int(sent)) for customer, requests, sent in rows}


def format_comparison(from_logs: dict[str, Totals], from_mysql: dict[str, Totals]) -> str:
    """A side-by-side table; the last column says whether the two ends agree."""
    header = (
        f"{'customer':<12} {'log requests':>12} {'log bytes':>14} {'db requests':>12} {'db bytes':>14}  equal"
    )
    lines = [header, "-" * len(header)]
    for customer in sorted(set(from_logs) | set(from_mysql)):
        log, db = from_logs.get(customer, Totals(0, 0)), from_mysql.get(customer, Totals(0, 0))
        lines.append(
            f"{customer:<12} {log.requests:>12} {log.bytes_sent:>14} {db.requests:>12} {db.bytes_sent:>14}  "
            f"{'yes' if log == db else 'NO'}"
        )
    return "\n".join(lines)


def wait_until_billed(
    edges: Sequence[str], db: str, timeout: float, poll: float = 3.0
) -> tuple[dict[str, Totals], dict[str, Totals]]:
    """Totals from the logs, and from MySQL once it equals them (or as it stands at the timeout)."""
    expected = log_totals(edges)
    deadline = time.monotonic() + timeout
    billed = mysql_totals(db)
    while billed != expected and time.monotonic() < deadline:
        time.sleep(poll)
        billed = mysql_totals(db)
    return expected, billed


def edge_requests_plan(edge_group_vars: Path) -> tuple[list[str], list[str]]:
    """Host names (the customers' and one unknown) and paths (the test objects and one missing)."""
    edge_vars = yaml.safe_load(edge_group_vars.read_text()) or {}
    hostnames = [name for customer in edge_vars["edge_nginx_customers"] for name in customer["hostnames"]]
    paths = [f"/{item['name']}" for item in edge_vars.get("edge_nginx_test_objects", [])]
    return [*hostnames, "unknown.cdn.test"], [*paths, "/missing.bin"]
