"""Agent throughput on one core, beside mawk and mtail on the same file in the same run.

    .venv/bin/python bench/agent_throughput.py [--lines 2000000] [--repeats 3] [--chunk 16MiB]

- the agent: `streamstats agent --once --output json` with the default `cdn` set (30 statistics), with
  its native parser (the default) and with `parser: polars` (the reference path), same statistics;
- mawk (Debian's): bench/ten_statistics.awk, 10 of them;
- mtail (Debian's, one-shot): bench/mtail/bytes_per_customer.mtail, bytes and requests per customer.

Each is pinned to the same CPU (taskset; POLARS_MAX_THREADS=1, GOMAXPROCS=1) and run `--repeats` times,
interleaved, so all three see the same load. The measure is the process's own CPU time (wait4): other
sessions share this machine, and wall time is reported beside it. Where the statistics overlap, the
totals are cross-checked equal (the run fails otherwise). Writes bench/results/agent_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from streamstats.formats import builtin_formats
from streamstats.statistics import load_statistic_set

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Machine, Run, log_file, measure, spread, spread_max, write_result

AWK = ROOT / "bench" / "ten_statistics.awk"
MTAIL_PROGS = ROOT / "bench" / "mtail"


def _agent_command(config: Path, cpu: int) -> list[str]:
    agent = [sys.executable, "-m", "streamstats.cli", "agent", "--config", str(config), "--once"]
    return ["taskset", "-c", str(cpu), *agent, "--output", "json"]


def _env() -> dict[str, str]:
    return {**os.environ, "POLARS_MAX_THREADS": "1", "GOMAXPROCS": "1"}


def _tables(doc: dict[str, Any]) -> dict[str, pl.DataFrame]:
    return {name: pl.DataFrame(rows) for name, rows in doc["statistics"].items()}


def _sums(frame: pl.DataFrame, keys: list[str], values: list[str]) -> dict[tuple, tuple]:
    grouped = frame.group_by(keys).agg(pl.col(values).sum())
    return {tuple(r[: len(keys)]): tuple(r[len(keys) :]) for r in grouped.iter_rows()}


def _awk_tables(text: str) -> dict[str, dict[tuple, tuple]]:
    """mawk's rows: NAME, keys..., values... (numbers as printed: "N" or "N.000")."""
    widths = {"billing": 2, "request_time": 2}
    out: dict[str, dict[tuple, tuple]] = defaultdict(dict)
    for line in text.splitlines():
        name, *fields = line.split("\t")
        width = widths.get(name, 1)
        keys = tuple(int(float(k)) if k.replace(".", "").isdigit() else k for k in fields[:-width])
        out[name][keys] = tuple(float(v) for v in fields[-width:])
    return out


def _check(label: str, ours: dict[tuple, tuple], theirs: dict[tuple, tuple]) -> dict[str, Any]:
    equal = ours == theirs
    if not equal:
        missing = len(set(theirs) ^ set(ours))
        differ = sum(1 for k in set(ours) & set(theirs) if ours[k] != theirs[k])
        raise AssertionError(f"{label}: {missing} keys on one side only, {differ} values differ")
    return {"rows": len(ours), "equal": True}


# The statistics mawk and the agent both count: label, the agent's table, its keys and values, mawk's name.
SAME_AS_MAWK = (
    ("billing", "customer_traffic", ["customer", "bucket"], ["requests", "bytes_sent"], "billing"),
    ("status class", "customer_status", ["customer", "bucket", "status_class"], ["requests"], "status_class"),
    ("cache status", "customer_cache", ["customer", "bucket", "cache_status"], ["requests"], "cache"),
    ("bytes per POP", "pop_traffic", ["pop", "bucket"], ["bytes_sent"], "pop_bytes"),
    ("countries", "customer_country", ["customer", "bucket", "country"], ["requests"], "country"),
    ("status codes", "status_codes", ["status", "bucket"], ["requests"], "status_code"),
    ("TLS versions", "tls_versions", ["tls_version", "bucket"], ["requests"], "tls"),
    ("methods", "customer_method", ["customer", "bucket", "method"], ["requests"], "method"),
)


def cross_check_mawk(doc: dict[str, Any], awk_text: str) -> dict[str, Any]:
    """The 9 statistics mawk and the agent both compute, row by row (URLs: the agent's top_urls is a
    sampled top-N, not a full count)."""
    t = _tables(doc)
    # mawk keys the status class by its digit ("2"), the agent spells it "2xx".
    t["customer_status"] = t["customer_status"].with_columns(
        pl.col("status_class").str.head(1).cast(pl.Int64)
    )
    awk = _awk_tables(awk_text)
    checks = {
        f"{label} ({table})": (
            _sums(t[table], keys, values),
            {k: tuple(round(v) for v in vs) for k, vs in awk[name].items()},
        )
        for label, table, keys, values, name in SAME_AS_MAWK
    }
    request_time = _sums(
        t["customer_quality"], ["customer", "bucket"], ["request_time_ms_sum", "request_time_ms_count"]
    )
    awk_rt = {k: (round(v[0] * 1000), round(v[1])) for k, v in awk["request_time"].items()}
    checks["request time (customer_quality)"] = (request_time, awk_rt)
    return {label: _check(label, ours, theirs) for label, (ours, theirs) in checks.items()}


def cross_check_parsers(native: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """The agent with its native parser against itself with the polars one: every statistic but the
    top-N ones row for row (a top-N list breaks ties at its cut in hash order, which differs from one
    process to the next whichever the parser)."""
    top = {s.name for s in load_statistic_set("cdn", builtin_formats(), ROOT).statistics if s.top}
    differ = {n for n in native["statistics"] if native["statistics"][n] != reference["statistics"][n]}
    totals = [(doc["lines"], doc["counted"]) for doc in (native, reference)]
    if differ - top or totals[0] != totals[1]:
        raise AssertionError(f"the native and the polars parser differ: {sorted(differ - top)} {totals}")
    return {"statistics_equal": len(native["statistics"]) - len(top), "top_n_not_compared": sorted(top)}


def cross_check_mtail(doc: dict[str, Any], mtail_json: bytes) -> dict[str, Any]:
    metrics = json.loads(mtail_json)
    theirs: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for index, name in enumerate(("requests_total", "bytes_sent_total")):
        for metric in metrics.get(name, []):
            for entry in metric["LabelValues"]:
                theirs[(entry["Labels"][0],)][index] = int(entry["Value"]["Value"])
    ours = _sums(
        pl.DataFrame(doc["statistics"]["customer_traffic"]), ["customer"], ["requests", "bytes_sent"]
    )
    return {
        "bytes and requests per customer (customer_traffic)": _check(
            "mtail", ours, {k: tuple(v) for k, v in theirs.items()}
        )
    }


def _rates(runs: list[Run], lines: int) -> dict[str, Any]:
    return {
        "cpu_seconds": spread([r.cpu_seconds for r in runs]),
        "wall_seconds": spread([r.wall_seconds for r in runs]),
        "lines_per_cpu_second": spread_max([lines / r.cpu_seconds for r in runs]),
        "lines_per_wall_second": spread_max([lines / r.wall_seconds for r in runs]),
        "peak_rss_mb": round(max(r.peak_rss_mb for r in runs), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", default="16MiB")
    parser.add_argument("--cpu", type=int, default=1, help="the CPU every process is pinned to")
    parser.add_argument(
        "--rss-lines", type=int, default=500_000, help="a smaller log: peak RSS must not grow"
    )
    args = parser.parse_args()
    machine = Machine.now()
    log = log_file(args.lines)
    small = log_file(args.rss_lines)
    runs: dict[str, list[Run]] = {"agent": [], "agent_polars": [], "mawk": [], "mtail": []}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {}
        for path, parser in ((log, "native"), (log, "polars"), (small, "native")):
            configs[path, parser] = Path(tmp) / f"agent-{path.stem}-{parser}.yml"
            agent = {"id": "bench", "files": [str(path)], "chunk_size": args.chunk, "threads": 1}
            agent["parser"] = parser
            configs[path, parser].write_text(yaml.safe_dump({"statistics": "cdn", "agent": agent}))
        mawk = ["taskset", "-c", str(args.cpu), "mawk", "-F\t", "-f", str(AWK), str(log)]
        mtail = ["taskset", "-c", str(args.cpu), "mtail", "--one_shot", "--one_shot_format", "json"]
        mtail += ["--address", "127.0.0.1", "--port", "0", "--logtostderr", "--progs", str(MTAIL_PROGS)]
        mtail += ["--logs", str(log)]
        for _ in range(args.repeats):
            runs["agent"].append(measure(_agent_command(configs[log, "native"], args.cpu), _env()))
            runs["agent_polars"].append(measure(_agent_command(configs[log, "polars"], args.cpu), _env()))
            runs["mawk"].append(measure(mawk, _env()))
            runs["mtail"].append(measure(mtail, _env()))
        small_run = measure(_agent_command(configs[small, "native"], args.cpu), _env())
    doc = json.loads(runs["agent"][-1].stdout)
    lines = doc["lines"]
    checks = {
        "native parser": cross_check_parsers(doc, json.loads(runs["agent_polars"][-1].stdout)),
        "mawk": cross_check_mawk(doc, runs["mawk"][-1].stdout.decode()),
        "mtail": cross_check_mtail(doc, runs["mtail"][-1].stdout),
    }
    agent, polars_agent, awk, mt = (
        _rates(runs[name], lines) for name in ("agent", "agent_polars", "mawk", "mtail")
    )
    best = agent["lines_per_cpu_second"]["best"]
    mawk_best = awk["lines_per_cpu_second"]["best"]
    median_ratio = agent["lines_per_cpu_second"]["median"] / awk["lines_per_cpu_second"]["median"]
    results = {
        "log": {
            "lines": lines,
            "bytes": log.stat().st_size,
            "bytes_per_line": round(log.stat().st_size / lines, 1),
            "fields": 26,
            "customers": 1000,
        },
        "lines_per_s": best,
        "mawk_lines_per_s": mawk_best,
        "ratio_vs_mawk": round(best / mawk_best, 2),
        "ratio_vs_mawk_median": round(median_ratio, 2),
        "agent": {
            "what": f"streamstats agent --once --output json, cdn set ({len(doc['statistics'])} statistics), "
            f"chunk_size {args.chunk}, one CPU",
            "counted": doc["counted"],
            **agent,
            "peak_rss_mb_at_lines": {
                str(args.rss_lines): round(small_run.peak_rss_mb, 1),
                str(lines): agent["peak_rss_mb"],
            },
        },
        "agent_polars": {
            "what": "the same with parser: polars (the reference path)",
            **polars_agent,
            "ratio_vs_mawk": round(polars_agent["lines_per_cpu_second"]["best"] / mawk_best, 2),
        },
        "mawk": {"what": "mawk -F'\\t' -f bench/ten_statistics.awk (10 statistics)", **awk},
        "mtail": {"what": "mtail --one_shot, bench/mtail/bytes_per_customer.mtail", **mt},
        "cross_checks": checks,
        "repeats": args.repeats,
    }
    write_result("agent_throughput", " ".join(["bench/agent_throughput.py", *sys.argv[1:]]), machine, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
