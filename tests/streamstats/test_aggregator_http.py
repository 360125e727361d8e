"""The aggregator's endpoint, spoken to directly: token, body limit, validation of every field, a
resent batch counted once, a gap refused."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

import polars as pl
import pytest
import requests

from streamstats.formats import load_formats
from streamstats.positions import FilePos, to_json
from streamstats.protocol import encode_batch
from streamstats.statistics import load_statistic_set
from tests.streamstats.harness import TEST_STATISTICS, TOKEN, Lab, Service, db_totals, wait_until

STATS = load_statistic_set(TEST_STATISTICS, load_formats(None), Path("."))
BILLING = STATS.statistics[0]
MINUTE = 1_790_000_040


def _position(offset: int) -> dict:
    return to_json({"/var/log/nginx/access.log": FilePos(2049, 77, "ab" * 16, 1024, offset)})


def _batch(
    start: dict, end: dict, seq: int, requests_: int, run: str = "0" * 32, agent: str = "edge07"
) -> bytes:
    rows = pl.DataFrame(
        {"bucket": [MINUTE], "customer": ["acme"], "requests": [requests_], "bytes_sent": [requests_ * 1000]}
    )
    return encode_batch(agent, run, seq, [(BILLING, start, end, rows)])


@pytest.fixture(scope="module")
def aggregator(module_lab: Lab) -> Service:
    billing_only = {**TEST_STATISTICS, "statistics": TEST_STATISTICS["statistics"][:1]}
    service = module_lab.aggregator(max_body="64KiB", statistics=billing_only)
    service.start()
    service.wait_healthy()
    return service


def _post(
    service: Service, body: bytes, token: str = TOKEN, headers: dict | None = None
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    return requests.post(f"{service.url}/v1/batches", data=body, headers=headers, timeout=10)


def test_a_token_is_required(aggregator: Service):
    body = _batch({}, _position(100), 1, 5)
    assert requests.post(f"{aggregator.url}/v1/batches", data=body, timeout=10).status_code == 401
    assert _post(aggregator, body, token="wrong-token-0123456789").status_code == 401
    assert requests.get(f"{aggregator.url}/v1/agents/edge07/positions", timeout=10).status_code == 401


def test_bodies_over_the_limit_are_refused(aggregator: Service):
    assert _post(aggregator, b"{" + b" " * 70_000 + b"}").status_code == 413
    bomb = gzip.compress(b" " * 1_000_000)
    assert _post(aggregator, bomb, headers={"Content-Encoding": "gzip"}).status_code == 413


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(agent="edge 07"), "agent"),
        (lambda d: d.update(seq=-1), "seq"),
        (lambda d: d.update(extra=1), "exactly"),
        (lambda d: d["statistics"].update(nope=d["statistics"]["customer_traffic"]), "unknown statistic"),
        (lambda d: d["statistics"]["customer_traffic"].update(fingerprint="0" * 16), "definition differs"),
        (lambda d: d["statistics"]["customer_traffic"]["columns"].update(requests=[True]), "integer"),
        (lambda d: d["statistics"]["customer_traffic"]["columns"].update(requests=[-1]), "from 0"),
        (
            lambda d: d["statistics"]["customer_traffic"]["columns"].update(bucket=[MINUTE + 1]),
            "multiples of 60",
        ),
        (lambda d: d["statistics"]["customer_traffic"]["columns"].update(customer=["x" * 65]), "at most 64"),
        (lambda d: d["statistics"]["customer_traffic"]["columns"].update(customer=[1]), "string"),
        (lambda d: d["statistics"]["customer_traffic"]["columns"].update(requests=[1, 2]), "one length"),
        (lambda d: d["statistics"]["customer_traffic"]["columns"].pop("bytes_sent"), "exactly the columns"),
        (
            lambda d: d["statistics"]["customer_traffic"]["to"]["/var/log/nginx/access.log"].update(
                offset="9"
            ),
            "offset",
        ),
        (
            lambda d: d["statistics"]["customer_traffic"]["to"]["/var/log/nginx/access.log"].update(fp="xyz"),
            "fp",
        ),
    ],
)
def test_every_field_is_checked(aggregator: Service, change, words):
    doc = json.loads(_batch({}, _position(100), 1, 5))
    change(doc)
    response = _post(aggregator, json.dumps(doc).encode())
    assert response.status_code == 422
    assert words in response.json()["detail"]


def test_not_json_is_refused(aggregator: Service):
    assert _post(aggregator, b"\xff\x00 not json").status_code == 422


def test_a_resent_batch_counts_once_and_a_gap_is_refused(module_lab: Lab, aggregator: Service):
    run = uuid.uuid4().hex
    first = _batch({}, _position(100), 1, 5, run)
    assert _post(aggregator, first).json()["resent"] == []
    assert _post(aggregator, first).json()["resent"] == ["customer_traffic"]  # the answer was lost
    second = _batch(_position(100), _position(250), 2, 7, run)
    assert _post(aggregator, gzip.compress(second), headers={"Content-Encoding": "gzip"}).status_code == 200
    gap = _batch(_position(300), _position(400), 3, 1, run)
    refused = _post(aggregator, gap)
    assert refused.status_code == 409
    assert refused.json()["statistics"] == ["customer_traffic"]
    positions = requests.get(
        f"{aggregator.url}/v1/agents/edge07/positions",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ).json()
    entry = positions["statistics"]["customer_traffic"]
    assert json.loads(entry["position"]) == _position(250)
    assert entry["fingerprint"] == BILLING.fingerprint
    expected = {("acme", MINUTE): (12, 12_000)}
    wait_until(lambda: db_totals(module_lab.mariadb, module_lab.database) == expected, 30, "the flush")


def test_health_and_metrics(aggregator: Service):
    health = requests.get(f"{aggregator.url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = requests.get(f"{aggregator.url}/metrics", timeout=10).text
    for name in (
        "streamstats_aggregator_rows_written_total",
        "streamstats_aggregator_pending_rows",
        "streamstats_aggregator_flush_seconds",
        "streamstats_aggregator_batches_total",
    ):
        assert f"# TYPE {name}" in metrics
