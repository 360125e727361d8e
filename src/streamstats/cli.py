"""`streamstats`: the edge agent, the aggregator and their tools.

streamstats agent --config FILE [--once [--output json]]
streamstats aggregator --config FILE
streamstats check-config --config FILE       validate, print what would run
streamstats schema --config FILE [--apply]   print (or apply) the aggregator's SQL schema
streamstats log-format [--format cdn]        the nginx log_format directive for a tsv format
streamstats generate --lines N --seed S      a realistic access log on stdout (or --output FILE)
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import sys
from pathlib import Path

from streamstats.config import Config, load
from streamstats.errors import ConfigError
from streamstats.logs import event, setup_logging

log = logging.getLogger("streamstats")


# polars' allocator (jemalloc) gives freed pages back after this long unused: at once (0) cost the agent
# a page fault per page of every chunk (a third of its CPU time in the kernel); 120 ms keeps one
# chunk's pages for the next one (a 16 MiB chunk takes about 90 ms), and the resident size near one
# chunk's working set (250 ms kept two to three chunks' garbage once chunks went faster).
JEMALLOC_CONF = "background_thread:false,dirty_decay_ms:120,muzzy_decay_ms:0"
# glibc's malloc, which holds Python's chunk buffers: served from the heap and kept there instead of a
# fresh mmap per chunk (whose pages fault in again each time). Its ceiling for the threshold is 32 MiB.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20


def _runtime_env(threads: int) -> None:
    """Set before polars and numpy load: polars' thread pool and its allocator's policy, numpy's use of
    huge pages; and glibc's malloc."""
    os.environ.setdefault("POLARS_MAX_THREADS", str(threads))
    os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)
    # numpy asks for 2 MiB pages for arrays of 4 MiB and more: the counters' tables, touched sparsely,
    # would then be resident whole (about 15 MB more at peak).
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, 4 * _MMAP_THRESHOLD)
    except (OSError, AttributeError):
        pass  # not glibc: its defaults


def _load(path: Path, section: str) -> Config:
    config = load(path)
    if getattr(config, section) is None:
        raise ConfigError(section, f"{path} has no {section} section")
    return config


def cmd_agent(args: argparse.Namespace) -> int:
    config = _load(args.config, "agent")
    assert config.agent is not None
    sends = not args.once or args.output != "json"
    if sends and not (config.agent.aggregator_url and config.agent.token):
        raise ConfigError("agent.aggregator_url", "aggregator_url and a token are needed to send batches")
    setup_logging(config.agent.log_level)
    _runtime_env(config.agent.threads)
    from streamstats.agent import agent_main

    return agent_main(config, args.once, args.output == "json")


def cmd_aggregator(args: argparse.Namespace) -> int:
    config = _load(args.config, "aggregator")
    assert config.aggregator is not None
    setup_logging(config.aggregator.log_level)
    _runtime_env(config.aggregator.threads)
    from streamstats.aggregator import Aggregator

    return Aggregator(config).serve()


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load(args.config)
    print(f"{args.config}: ok")
    print(f"format {config.statistics.format.name}, {len(config.statistics.statistics)} statistics:")
    for stat in config.statistics.statistics:
        flags = " billing" if stat.billing else ""
        flags += f" sampled 1/{stat.sample.one_in}" if stat.sample else ""
        print(f"  {stat.name}: keys {','.join(stat.key_columns) or '-'} every {stat.bucket}s{flags}")
    if config.agent:
        print(
            f"agent {config.agent.id}: {len(config.agent.files)} file entries"
            f" -> {config.agent.aggregator_url or '-'}"
        )
    if config.aggregator:
        print(f"aggregator on {config.aggregator.listen} -> mysql {config.aggregator.mysql.database}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    config = load(args.config)
    from streamstats.schema import create_table_sql, migrate, rollup_tables

    prefix = config.aggregator.table_prefix if config.aggregator else "stat_"
    if not args.apply:
        for stat in config.statistics.statistics:
            table = prefix + stat.name
            for name in [table, *rollup_tables(stat, table).values()]:
                print(create_table_sql(stat, name) + ";\n")
        return 0
    if config.aggregator is None:
        raise ConfigError("aggregator", "--apply needs the aggregator section (MySQL credentials)")
    from streamstats.sink import connect

    conn = connect(config.aggregator.mysql)
    try:
        for step in migrate(conn, config.statistics, prefix):
            print(step)
    finally:
        conn.close()
    return 0


def cmd_log_format(args: argparse.Namespace) -> int:
    from streamstats.formats import builtin_formats

    fmt = builtin_formats()[args.format]
    if fmt.type != "tsv":
        raise ConfigError("format", f"{args.format} is not a tab-separated format")
    variables = "\\t".join(f.nginx for f in fmt.fields)
    print(f"log_format {args.format} escape=default '{variables}';")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    _runtime_env(1)
    from streamstats import generate

    out = open(args.output, "ab" if args.append else "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    try:
        for block in generate.blocks(
            args.lines,
            seed=args.seed,
            first=args.first,
            fmt=args.format,
            start=args.start,
            rate=args.rate,
            customers=args.customers,
            edge=args.edge,
        ):
            out.write(block)
    finally:
        if args.output:
            out.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamstats", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    agent = sub.add_parser("agent", help="follow logs, count, send to the aggregator")
    agent.add_argument("--config", type=Path, required=True)
    agent.add_argument(
        "--once", action="store_true", help="read the files to their end, send (or print), exit"
    )
    agent.add_argument(
        "--output", choices=("json",), help="with --once: print the statistics instead of sending"
    )
    agent.set_defaults(func=cmd_agent)
    aggregator = sub.add_parser("aggregator", help="receive batches, write MySQL")
    aggregator.add_argument("--config", type=Path, required=True)
    aggregator.set_defaults(func=cmd_aggregator)
    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("--config", type=Path, required=True)
    check.set_defaults(func=cmd_check_config)
    schema = sub.add_parser("schema", help="print or apply the SQL schema")
    schema.add_argument("--config", type=Path, required=True)
    schema.add_argument("--apply", action="store_true", help="create and migrate the tables")
    schema.set_defaults(func=cmd_schema)
    log_format = sub.add_parser("log-format", help="print the nginx log_format for a tab-separated format")
    log_format.add_argument("--format", default="cdn")
    log_format.set_defaults(func=cmd_log_format)
    gen = sub.add_parser("generate", help="write a seeded, realistic access log")
    gen.add_argument("--lines", type=int, required=True)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--first", type=int, default=0, help="number of the first line (to continue a log)")
    gen.add_argument("--format", choices=("cdn", "combined"), default="cdn")
    gen.add_argument("--start", type=int, default=1_732_579_200, help="epoch seconds of line 0")
    gen.add_argument("--rate", type=float, default=10_000.0, help="lines per second of log time")
    gen.add_argument("--customers", type=int, default=1000)
    gen.add_argument("--edge", default="edge01")
    gen.add_argument("--output", help="file to write (default stdout)")
    gen.add_argument("--append", action="store_true", help="append to --output")
    gen.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"streamstats: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last word of a service: logged, not a traceback on stdout
        event(log, logging.CRITICAL, "fatal", error=f"{exc.__class__.__name__}: {exc}")
        raise


if __name__ == "__main__":
    sys.exit(main())
