"""What every benchmark shares: the machine's description, the generated log, measuring a child
process (CPU seconds, wall seconds, peak RSS of that child alone), best and median of repeated runs,
private MariaDB servers (tuned like roles/mysql_server, or as Debian installs it), and writing results
to bench/results/NAME.json.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.mariadb: the private MariaDB server the tests use

from streamstats import generate  # noqa: E402
from tests.mariadb import MariaDB, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cdn-infra" / "bench"
ROLE = ROOT / "roles" / "mysql_server"
# The machine is shared: the benchmark's MariaDB gets this buffer pool (the role's own variable for
# it), not half of the machine's memory. The written rows fit in it many times over.
BENCH_BUFFER_POOL_MB = 1024


def _version(command: list[str], pattern: str = r"[0-9][^\s,]*") -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    match = re.search(pattern, done.stdout + done.stderr)
    if not match:
        return "unknown"
    return match.group(1) if match.groups() else match.group(0)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


@dataclass
class Machine:
    """Described at the start of a benchmark; `describe()` adds the load average at its end."""

    load_at_start: tuple[float, float, float]

    @classmethod
    def now(cls) -> Machine:
        return cls(os.getloadavg())

    def describe(self) -> dict[str, Any]:
        return {
            "cpu_model": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "kernel": platform.release(),
            "load_average_start": [round(x, 2) for x in self.load_at_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "polars": pl.__version__,
            "mawk": _version(["mawk", "-W", "version"]),
            "mtail": _version(["mtail", "--version"], r"version (\S+)"),
            "mariadb": _version(["mariadbd", "--version"], r"Ver (\S+)"),
            "note": "a shared 2-core VM: other sessions run tests at the same time, so CPU seconds of each "
            "process are the measure; wall time is reported too",
        }


def log_file(lines: int, seed: int = 1) -> Path:
    """The generated cdn log (seeded, Zipf-skewed customers, 26 fields), made once and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"cdn-{lines}-{seed}.log"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            for block in generate.blocks(lines, seed=seed):
                out.write(block)
        tmp.rename(path)
    return path


@dataclass
class Run:
    cpu_seconds: float
    wall_seconds: float
    peak_rss_mb: float
    stdout: bytes


def measure(command: list[str], env: dict[str, str] | None = None, timeout: float = 1800) -> Run:
    """Run `command` to its end: its own CPU seconds and peak RSS, through GNU time (a child forked from
    this big Python process would count this process's pages in its peak until it execs)."""
    with tempfile.NamedTemporaryFile("r") as usage, tempfile.TemporaryFile() as out:
        timed = ["/usr/bin/time", "-f", "%U %S %M", "-o", usage.name, *command]
        began = time.monotonic()
        done = subprocess.run(timed, stdout=out, stderr=subprocess.PIPE, env=env, timeout=timeout)
        wall = time.monotonic() - began
        if done.returncode:
            raise RuntimeError(f"{command} exited with {done.returncode}: {done.stderr.decode()[-2000:]}")
        user, system, rss_kb = usage.read().split()[-3:]
        out.seek(0)
        stdout = out.read()
    return Run(float(user) + float(system), wall, int(rss_kb) / 1024, stdout)


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a running process so far (/proc/PID/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spread(values: list[float], digits: int = 2) -> dict[str, float]:
    """Best (the least disturbed run on a shared machine) and median of repeated measurements."""
    return {"best": round(min(values), digits), "median": round(statistics.median(values), digits)}


def spread_max(values: list[float], digits: int = 0) -> dict[str, float]:
    """For rates: the best is the highest."""
    return {"best": round(max(values), digits), "median": round(statistics.median(values), digits)}


def write_result(name: str, command: str, machine: Machine, results: dict[str, Any]) -> dict[str, Any]:
    doc = {"benchmark": name, "command": command, "machine": machine.describe(), **results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2) + "\n"
    (RESULTS / f"{name}.json").write_text(text)
    print(text, end="", flush=True)
    return doc


# --- private MariaDB servers: tuned like production, or as Debian installs it ---------------------------
# Variables that describe a server in the results: what the role tunes, what a fresh install leaves at
# MariaDB's compiled-in defaults, and what the write path depends on.
SETTINGS = (
    "innodb_buffer_pool_size",
    "innodb_log_file_size",
    "innodb_log_buffer_size",
    "innodb_flush_log_at_trx_commit",
    "innodb_flush_method",
    "innodb_log_file_buffering",
    "innodb_io_capacity",
    "innodb_io_capacity_max",
    "innodb_doublewrite",
    "innodb_adaptive_hash_index",
    "innodb_change_buffering",
    "innodb_autoinc_lock_mode",
    "tx_isolation",
    "log_bin",
    "local_infile",
    "max_connections",
    "skip_name_resolve",
    "slow_query_log",
    "character_set_server",
    "collation_server",
)
# What a fresh `apt-get install mariadb-server` on Debian 12 adds to the compiled-in defaults for the
# server: /etc/mysql/mariadb.conf.d/50-server.cnf (the other files of /etc/mysql set paths, the
# clients' and mysqld_safe's options, and leave Galera off). No log_bin: the binary log is off.
DEBIAN_SERVER_CNF = {
    "bind-address": "127.0.0.1",
    "expire_logs_days": "10",
    "character-set-server": "utf8mb4",
    "collation-server": "utf8mb4_general_ci",
}


def _private_cnf(base: Path) -> str:
    return f"""
# The benchmark's private instance (later settings win).
[mysqld]
user = {getpass.getuser()}
datadir = {base / "data"}
socket = {base / "mysqld.sock"}
pid-file = {base / "mysqld.pid"}
log-error = {base / "error.log"}
slow_query_log_file = {base / "slow.log"}
"""


def _debian_cnf() -> str:
    settings = "".join(f"{name} = {value}\n" for name, value in DEBIAN_SERVER_CNF.items())
    return f"# Debian 12's 50-server.cnf\n[mysqld]\n{settings}"


def tuning_cnf(port: int, base: Path) -> str:
    """As the role leaves a Debian host: Debian's server settings, then
    roles/mysql_server/templates/tuning.cnf.j2 rendered with the role's defaults (sized as the role
    sizes it for a BENCH_BUFFER_POOL_MB pool), then the private instance's paths and port."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    pool = BENCH_BUFFER_POOL_MB
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "".join(f"# {line}\n" for line in str(text).splitlines())
    template = env.from_string((ROLE / "templates" / "tuning.cnf.j2").read_text())
    rendered = template.render(
        **{**defaults, "mysql_server_port": port},
        ansible_managed="rendered by bench/common.py from roles/mysql_server",
        ansible_facts={"memtotal_mb": pool * 2},
        __mysql_server_buffer_pool_mb=pool,
        __mysql_server_log_file_mb=max(256, min(pool // 4, 4096)),
        # A standalone server, as the role's defaults make it (no replication).
        __mysql_server_binlog=defaults["mysql_server_binlog_enabled"]
        or defaults["mysql_server_replication_role"] == "primary",
    )
    return _debian_cnf() + "\n" + rendered + _private_cnf(base)


def debian_default_cnf(port: int, base: Path) -> str:
    """Debian's server settings (DEBIAN_SERVER_CNF), the private instance's paths and port, nothing else."""
    return _debian_cnf() + f"port = {port}\n" + _private_cnf(base)


def cnf_options(text: str) -> list[str]:
    """The `name = value` lines of a configuration file, for the results."""
    return [line.strip() for line in text.splitlines() if line.strip() and line.strip()[0] not in "#["]


class ConfiguredMariaDB(MariaDB):
    """tests.mariadb's server started from one configuration file (`--defaults-file`: nothing from
    /etc/mysql) instead of the tests' options."""

    def config(self) -> str:
        raise NotImplementedError

    def command(self) -> list[str]:
        cnf = self.base / "server.cnf"
        cnf.write_text(self.config())
        return [shutil.which("mariadbd") or "/usr/sbin/mariadbd", f"--defaults-file={cnf}"]

    def settings(self) -> dict[str, str]:
        """The SETTINGS variables as the running server has them."""
        with self.root() as conn, conn.cursor() as cur:
            marks = ", ".join(["%s"] * len(SETTINGS))
            cur.execute(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({marks})", SETTINGS)
            return dict(sorted(cur.fetchall()))


class TunedMariaDB(ConfiguredMariaDB):
    """With roles/mysql_server's tuning."""

    def config(self) -> str:
        return tuning_cnf(self.port, self.base)


class DebianDefaultMariaDB(ConfiguredMariaDB):
    """As a fresh Debian 12 install runs it."""

    def config(self) -> str:
        return debian_default_cnf(self.port, self.base)


def _started(server: ConfiguredMariaDB) -> ConfiguredMariaDB:
    server.install()
    server.start()
    server.create_user()
    return server


def start_tuned_mariadb(base: Path) -> ConfiguredMariaDB:
    return _started(TunedMariaDB(base, free_port()))


def start_default_mariadb(base: Path) -> ConfiguredMariaDB:
    return _started(DebianDefaultMariaDB(base, free_port()))
