"""Configuration: the built-in sets load, and every mistake is refused naming the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streamstats.config import load
from streamstats.errors import ConfigError
from streamstats.formats import load_formats
from streamstats.sink import expiry_cutoff
from streamstats.statistics import builtin_statistics_names, load_statistic_set, parse_statistic_set

BILLING = {
    "name": "customer_traffic",
    "billing": True,
    "keys": ["customer"],
    "bucket": "1m",
    "values": {"requests": "count", "bytes_sent": "sum(bytes_sent)"},
    "flush_interval": "30s",
    "retention": "800d",
}


def _stats(*extra: dict, **changes) -> dict:
    return {"format": "cdn", "statistics": [{**BILLING, **changes}, *extra]}


def _error(document: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_statistic_set(document, load_formats(None), Path("."))
    return info.value


def test_the_cdn_default_set_has_about_30_statistics_billing_first():
    stats = load_statistic_set("cdn", load_formats(None), Path("."))
    assert 25 <= len(stats.statistics) <= 35
    first = stats.statistics[0]
    assert (first.name, first.billing, first.key_columns, first.bucket) == (
        "customer_traffic",
        True,
        ("customer",),
        60,
    )
    assert {"requests", "bytes_sent"} <= set(first.value_columns)
    assert not any(s.billing and (s.sample or s.top) for s in stats.statistics)
    assert {"cdn", "combined"} <= set(builtin_statistics_names())


@pytest.mark.parametrize(
    ("document", "key", "words"),
    [
        (
            _stats(sample={"one_in": 10, "by": "request_id"}),
            "statistics.statistics[0].sample",
            "never sampled",
        ),
        (_stats(top={"field": "path", "n": 10}), "statistics.statistics[0].top", "not exact"),
        (_stats(keys=["customr"]), "statistics.statistics[0].keys[0]", "unknown field 'customr'"),
        (_stats(bucket="7m"), "statistics.statistics[0].bucket", "dividing a day"),
        (_stats(bucket="soon"), "statistics.statistics[0].bucket", "not a duration"),
        (_stats(values={"bytes": "sum(customer)"}), "statistics.statistics[0].values.bytes", "not a number"),
        (
            _stats(values={"bytes": "median(bytes_sent)"}),
            "statistics.statistics[0].values.bytes",
            "count, sum",
        ),
        (_stats(retention="10s"), "statistics.statistics[0].retention", "at least 60s"),
        (_stats(flush_offset="30s"), "statistics.statistics[0].flush_offset", "less than the flush interval"),
        (_stats(flush_offset="-5s"), "statistics.statistics[0].flush_offset", "not a duration"),
        (_stats(colour="blue"), "statistics.statistics[0].colour", "unknown key"),
        (
            _stats(rollups=["90s"]),
            "statistics.statistics[0].rollups",
            "not a multiple of the statistic's 60s",
        ),
        (_stats(rollups=["1m"]), "statistics.statistics[0].rollups", "not a multiple"),
        (_stats(rollups=["7m"]), "statistics.statistics[0].rollups[0]", "dividing a day"),
        (_stats(rollups="1h"), "statistics.statistics[0].rollups", "a list of bucket sizes"),
        (
            _stats({**BILLING, "name": "x", "billing": False, "top": {"field": "path"}, "rollups": ["1h"]}),
            "statistics.statistics[1].rollups",
            "top-N statistic",
        ),
        (_stats(BILLING), "statistics.statistics[1].name", "duplicate statistic"),
        (_stats(keys=["bucket"]), "statistics.statistics[0].keys[0]", "unknown field"),
        ({"format": "nope", "statistics": [BILLING]}, "statistics.format", "unknown format"),
        ({"format": "cdn", "statistics": []}, "statistics.statistics", "non-empty"),
        (
            _stats({**BILLING, "name": "x", "billing": False, "sample": {"one_in": 1, "by": "request_id"}}),
            "statistics.statistics[1].sample.one_in",
            "at least 2",
        ),
        (
            _stats({**BILLING, "name": "x", "billing": False, "where": {"status_class": ["5xx", 5]}}),
            "statistics.statistics[1].where.status_class",
            "strings",
        ),
    ],
)
def test_statistic_mistakes_name_the_key(document, key, words):
    error = _error(document)
    assert error.key == key
    assert words in str(error)


def test_rollups_expire_with_the_rows_they_sum():
    """The retention cut falls on a boundary of the largest rollup: a rollup row never outlives or
    loses part of the rows it sums."""
    stat = parse_statistic_set(_stats(retention="30d", rollups=["1h", "5m"]), load_formats(None)).statistics[
        0
    ]
    assert stat.rollups == (300, 3600)
    now = 1_800_000_000 + 1234  # 30 days after 2026-12-16 08:20:34 UTC
    assert expiry_cutoff(stat, now) == "2026-12-16 08:00:00"  # down to the hour
    plain = parse_statistic_set(_stats(retention="30d"), load_formats(None)).statistics[0]
    assert expiry_cutoff(plain, now) == "2026-12-16 08:20:00"  # down to the minute


def test_flush_slots_are_spread_unless_a_statistic_places_its_own():
    """Without flush_offset, the i-th statistic is written SLOT_SPREAD x i seconds into its interval."""
    others = [{**BILLING, "name": f"s{i}", "billing": False, "flush_interval": "20s"} for i in range(1, 6)]
    placed = {**BILLING, "name": "placed", "billing": False, "flush_offset": "1s"}
    stats = load_statistic_set(_stats(*others, placed), load_formats(None), Path(".")).statistics
    assert [s.flush_offset for s in stats] == [0.0, 5.0, 10.0, 15.0, 0.0, 5.0, 1.0]
    cdn = load_statistic_set("cdn", load_formats(None), Path(".")).statistics
    assert len({s.flush_offset for s in cdn}) > 5  # the default set places its statistics apart


def _write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "streamstats.yml"
    path.write_text(yaml.safe_dump(document))
    return path


AGENT = {"id": "edge01", "files": ["/var/log/nginx/access.log"], "aggregator_url": "http://agg:8400"}
AGGREGATOR = {"tokens": ["a" * 32], "mysql": {"database": "streamstats"}}


@pytest.mark.parametrize(
    ("agent", "key"),
    [
        ({**AGENT, "id": "edge 01"}, "agent.id"),
        ({**AGENT, "files": []}, "agent.files"),
        ({**AGENT, "files": ["relative.log"]}, "agent.files[0].path"),
        ({**AGENT, "files": [{"path": "/x.log", "rotated": ["x.1"]}]}, "agent.files[0].rotated"),
        ({**AGENT, "chunk_size": "1KB"}, "agent.chunk_size"),
        ({**AGENT, "flush_interval": "fast"}, "agent.flush_interval"),
        ({**AGENT, "aggregator_url": "agg:8400"}, "agent.aggregator_url"),
        ({**AGENT, "token": "short"}, "agent.token"),
        ({**AGENT, "token": "t" * 20, "token_file": "x"}, "agent.token_file"),
        ({**AGENT, "token_file": "missing-file"}, "agent.token_file"),
        ({**AGENT, "start_at": "middle"}, "agent.start_at"),
        ({**AGENT, "backoff": {"initial": "2s", "max": "1s"}}, "agent.backoff.max"),
        ({**AGENT, "timestamp_max": "1999-01-01"}, "agent.timestamp_max"),
        ({**AGENT, "listen": "9400"}, "agent.listen"),
        ({**AGENT, "frobnicate": True}, "agent.frobnicate"),
    ],
)
def test_agent_mistakes_name_the_key(tmp_path, agent, key):
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, {"statistics": "cdn", "agent": agent}))
    assert info.value.key == key


@pytest.mark.parametrize(
    ("aggregator", "key"),
    [
        ({**AGGREGATOR, "tokens": []}, "aggregator.credentials_file"),
        ({**AGGREGATOR, "credentials_file": "missing"}, "aggregator.credentials_file"),
        ({**AGGREGATOR, "tokens": ["short"]}, "aggregator.tokens[0]"),
        ({**AGGREGATOR, "mysql": {}}, "aggregator.mysql.database"),
        ({**AGGREGATOR, "mysql": {"database": "x;drop"}}, "aggregator.mysql.database"),
        ({**AGGREGATOR, "mysql": {"database": "x", "port": 0}}, "aggregator.mysql.port"),
        ({**AGGREGATOR, "max_body": "12"}, "aggregator.max_body"),
        ({**AGGREGATOR, "table_prefix": "Stat-"}, "aggregator.table_prefix"),
    ],
)
def test_aggregator_mistakes_name_the_key(tmp_path, aggregator, key):
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, {"statistics": "cdn", "aggregator": aggregator}))
    assert info.value.key == key


def test_secrets_come_from_files_next_to_the_configuration(tmp_path):
    (tmp_path / "token").write_text("s3cret-token-0123456789\n")
    (tmp_path / "tokens").write_text("tok-aaaaaaaaaaaaaaaa\ntok-bbbbbbbbbbbbbbbb\n")
    (tmp_path / "password").write_text("db-password\n")
    config = load(
        _write(
            tmp_path,
            {
                "statistics": "cdn",
                "agent": {**AGENT, "token_file": "token"},
                "aggregator": {
                    "tokens_file": "tokens",
                    "mysql": {"database": "s", "password_file": "password"},
                },
            },
        )
    )
    assert config.agent.token == "s3cret-token-0123456789"
    assert config.aggregator.tokens == ("tok-aaaaaaaaaaaaaaaa", "tok-bbbbbbbbbbbbbbbb")
    assert config.aggregator.mysql.password == "db-password"


def test_combined_statistics_need_the_customer_from_each_file_entry(tmp_path):
    agent = {**AGENT, "files": ["/var/log/nginx/shop.log"]}
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, {"statistics": "combined", "agent": agent}))
    assert info.value.key == "agent.files[0].fields"
    agent["files"] = [{"path": "/var/log/nginx/shop.log", "fields": {"customer": "shop"}}]
    assert load(_write(tmp_path, {"statistics": "combined", "agent": agent})).agent.files[0].fields == (
        ("customer", "shop"),
    )


def test_a_statistics_file_and_a_custom_format(tmp_path):
    (tmp_path / "stats.yml").write_text(
        yaml.safe_dump({"format": "mini", "statistics": [{**BILLING, "values": {"requests": "count"}}]})
    )
    formats = {
        "mini": {
            "type": "tsv",
            "fields": [
                {"name": "ts", "type": "timestamp", "encoding": "iso8601"},
                {"name": "customer", "type": "string", "max_length": 32},
            ],
        }
    }
    config = load(_write(tmp_path, {"statistics": "stats.yml", "formats": formats, "agent": AGENT}))
    assert config.statistics.format.name == "mini"
    formats["mini"]["fields"][0]["encoding"] = "julian"
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, {"statistics": "stats.yml", "formats": formats, "agent": AGENT}))
    assert info.value.key == "formats.mini.fields[0].encoding"
