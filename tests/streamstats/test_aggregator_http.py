"""The aggregator's endpoint, spoken to directly: credentials bound to agents, body limit, validation
of every field, a resent batch counted once, a gap refused, sums that would overflow kept out, idle and
slow connections closed."""

from __future__ import annotations

import gzip
import io
import json
import socket
import struct
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
import requests

from streamstats.formats import load_formats
from streamstats.positions import FilePos, to_json
from streamstats.protocol import MAX_COUNTER, V2_CONTENT_TYPE, encode_batch, encode_batch_v2
from streamstats.schema import CHECKPOINTS, QUARANTINE
from streamstats.statistics import load_statistic_set
from tests.streamstats.harness import (
    TEST_STATISTICS,
    TOKEN,
    Lab,
    Service,
    agent_token,
    db_totals,
    wait_until,
)

STATS = load_statistic_set(TEST_STATISTICS, load_formats(None), Path("."))
BILLING = STATS.statistics[0]
MINUTE = 1_790_000_040


def _position(offset: int) -> dict:
    return to_json({"/var/log/nginx/access.log": FilePos(2049, 77, "ab" * 16, 1024, offset)})


def _batch(
    start: dict,
    end: dict,
    seq: int,
    requests_: int,
    run: str = "0" * 32,
    agent: str = "edge07",
    customer: str = "acme",
    bytes_sent: int | None = None,
) -> bytes:
    sent = requests_ * 1000 if bytes_sent is None else bytes_sent
    rows = pl.DataFrame(
        {"bucket": [MINUTE], "customer": [customer], "requests": [requests_], "bytes_sent": [sent]}
    )
    return encode_batch(agent, run, seq, [(BILLING, start, end, rows)])


@pytest.fixture(scope="module")
def aggregator(module_lab: Lab) -> Service:
    billing_only = {**TEST_STATISTICS, "statistics": TEST_STATISTICS["statistics"][:1]}
    service = module_lab.aggregator(
        max_body="64KiB", statistics=billing_only, client_timeout="2s", tokens_file="token"
    )
    service.start()
    service.wait_healthy()
    return service


def _post(
    service: Service, body: bytes, token: str = agent_token("edge07"), headers: dict | None = None
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
        headers={"Authorization": f"Bearer {agent_token('edge07')}"},
        timeout=10,
    ).json()
    entry = positions["statistics"]["customer_traffic"]
    assert json.loads(entry["position"]) == _position(250)
    assert entry["fingerprint"] == BILLING.fingerprint
    expected = {("acme", MINUTE): (12, 12_000)}
    wait_until(lambda: db_totals(module_lab.mariadb, module_lab.database) == expected, 30, "the flush")


def test_keys_arrive_exactly_as_sent(module_lab: Lab, aggregator: Service):
    names = ["o'brien", "back\\slash", "zoë-ünïcødé-東京", "semi;colon--", 'quote"d']
    rows = pl.DataFrame(
        {
            "bucket": [MINUTE] * len(names),
            "customer": names,
            "requests": list(range(1, len(names) + 1)),
            "bytes_sent": [1] * len(names),
        }
    )
    body = encode_batch("edge08", "1" * 32, 1, [(BILLING, {}, _position(10), rows)])
    assert _post(aggregator, body, token=agent_token("edge08")).status_code == 200
    expected = {(name, MINUTE): (n, 1) for n, name in enumerate(names, 1)}

    def arrived() -> bool:
        totals = db_totals(module_lab.mariadb, module_lab.database)
        return {k: v for k, v in totals.items() if k[0] in names} == expected

    wait_until(arrived, 30, "the odd customer names")


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


def _query(lab: Lab, sql: str) -> list[tuple]:
    with lab.mariadb.root() as conn, conn.cursor() as cur:
        cur.execute(f"USE `{lab.database}`")
        cur.execute(sql)
        return list(cur.fetchall())


def test_another_agents_credential_is_refused_and_nothing_written(module_lab: Lab, aggregator: Service):
    forged = _batch({}, _position(100), 1, 5, agent="edge05", customer="victim")
    response = _post(aggregator, forged, token=agent_token("edge02"))
    assert response.status_code == 403
    assert "edge02" in response.json()["error"]
    positions = requests.get(
        f"{aggregator.url}/v1/agents/edge05/positions",
        headers={"Authorization": f"Bearer {agent_token('edge02')}"},
        timeout=10,
    )
    assert positions.status_code == 403
    time.sleep(2)  # a flush interval and more
    assert _query(module_lab, f"SELECT * FROM {CHECKPOINTS} WHERE agent_id = 'edge05'") == []
    assert not [k for k in db_totals(module_lab.mariadb, module_lab.database) if k[0] == "victim"]


def test_a_shared_token_may_still_write_as_any_agent(module_lab: Lab, aggregator: Service):
    """The version-1 scheme, configured here beside the per-agent credentials (a rollout)."""
    body = _batch({}, _position(10), 1, 3, agent="edge09", customer="shared-token-customer")
    assert _post(aggregator, body, token=TOKEN).status_code == 200
    expected = {("shared-token-customer", MINUTE): (3, 3000)}

    def arrived() -> bool:
        totals = db_totals(module_lab.mariadb, module_lab.database)
        return {k: v for k, v in totals.items() if k[0] == "shared-token-customer"} == expected

    wait_until(arrived, 30, "the shared token's batch")


def _wait_flushed(lab: Lab, agent: str, position: dict) -> None:
    def committed() -> bool:
        rows = _query(lab, f"SELECT position FROM {CHECKPOINTS} WHERE agent_id = '{agent}'")
        return bool(rows) and json.loads(rows[0][0]) == position

    wait_until(committed, 30, f"{agent}'s flush")


def test_overflowing_sums_from_one_agent_leave_the_others_exact(module_lab: Lab, aggregator: Service):
    """edge03 sends counters at the protocol's limit: a second one in the same flush window is refused
    (the sum in RAM would reach 2^62); across flushes the stored row nears BIGINT's limit, and the
    flush that would overflow it sets that row aside. edge04's billing flows and is exact throughout."""
    huge, run = MAX_COUNTER - 1, uuid.uuid4().hex
    first = _batch({}, _position(100), 1, 1, run, "edge03", "mallory", huge)
    assert _post(aggregator, first, token=agent_token("edge03")).status_code == 200
    crossing = _batch(_position(100), _position(200), 2, 1, run, "edge03", "mallory", huge)
    refused = _post(aggregator, crossing, token=agent_token("edge03"))
    assert refused.status_code == 422 and "overflow" in refused.json()["detail"]
    _wait_flushed(module_lab, "edge03", _position(100))
    # Each flush adds just under 2^62: the third would take the stored row past 2^63 - 1.
    for seq, (start, end) in enumerate([(100, 200), (200, 300)], 2):
        body = _batch(_position(start), _position(end), seq, 1, run, "edge03", "mallory", huge)
        assert _post(aggregator, body, token=agent_token("edge03")).status_code == 200
        honest_start = _position(start) if seq > 2 else {}  # edge04 starts with the second flush
        honest = _batch(honest_start, _position(end), seq, 2, run, "edge04", "honest")
        assert _post(aggregator, honest, token=agent_token("edge04")).status_code == 200
        _wait_flushed(module_lab, "edge03", _position(end))
        _wait_flushed(module_lab, "edge04", _position(end))
    stored = db_totals(module_lab.mariadb, module_lab.database)
    assert stored[("mallory", MINUTE)] == (2, 2 * huge)  # the third never added, nothing wrapped
    assert stored[("honest", MINUTE)] == (4, 4000)
    quarantined = _query(module_lab, f"SELECT statistic, row_json FROM {QUARANTINE}")
    assert [(name, json.loads(row)["customer"]) for name, row in quarantined] == [
        ("customer_traffic", "mallory")
    ]
    metrics = requests.get(f"{aggregator.url}/metrics", timeout=10).text
    assert 'streamstats_aggregator_overflow_refused_total{statistic="customer_traffic"} 1' in metrics
    assert 'streamstats_aggregator_rows_quarantined_total{statistic="customer_traffic"} 1' in metrics
    assert requests.get(f"{aggregator.url}/healthz", timeout=10).status_code == 200


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    return True


def test_idle_and_slow_connections_are_closed(aggregator: Service):
    host, port = aggregator.url.removeprefix("http://").rsplit(":", 1)
    idle = socket.create_connection((host, int(port)))
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
    began = time.monotonic()
    assert _closed_within(idle, 10) and _closed_within(slow, 10)
    assert time.monotonic() - began < 10
    idle.close()
    slow.close()


def test_a_body_trickled_slower_than_the_timeout_is_refused(aggregator: Service):
    """Each byte comes well within client_timeout (2 s), but the whole body does not: 408, closed."""
    host, port = aggregator.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(
            f"POST /v1/batches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {agent_token('edge07')}\r\n"
            "Content-Length: 1000\r\n\r\n".encode()
        )
        answer = b""
        slow.settimeout(0.25)
        for _ in range(40):  # 40 x 0.25 s of trickling: far past the 2 s the whole body may take
            try:
                slow.sendall(b"{")
                received = slow.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not received:
                break  # closed after its answer
            answer += received
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"not received within 2s" in answer


def _rows(requests_: int, customer: str = "acme") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "bucket": [MINUTE],
            "customer": [customer],
            "requests": [requests_],
            "bytes_sent": [requests_ * 1000],
        }
    )


def _post_v2(service: Service, body: bytes, agent: str = "edge06") -> requests.Response:
    headers = {"Authorization": f"Bearer {agent_token(agent)}", "Content-Type": V2_CONTENT_TYPE}
    return requests.post(f"{service.url}/v2/batches", data=body, headers=headers, timeout=10)


def test_a_version_2_batch_counts_once(module_lab: Lab, aggregator: Service):
    run = uuid.uuid4().hex
    first = encode_batch_v2("edge06", run, 1, [(BILLING, {}, _position(100), _rows(4, "columnar"))])
    assert _post_v2(aggregator, first).json()["resent"] == []
    assert _post_v2(aggregator, first).json()["resent"] == ["customer_traffic"]
    second = encode_batch_v2(
        "edge06", run, 2, [(BILLING, _position(100), _position(200), _rows(6, "columnar"))]
    )
    response = requests.post(
        f"{aggregator.url}/v2/batches",
        data=gzip.compress(second),
        headers={"Authorization": f"Bearer {agent_token('edge06')}", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert response.status_code == 200
    expected = {("columnar", MINUTE): (10, 10_000)}

    def arrived() -> bool:
        totals = db_totals(module_lab.mariadb, module_lab.database)
        return {k: v for k, v in totals.items() if k[0] == "columnar"} == expected

    wait_until(arrived, 30, "the version-2 batches")


def _v2(rows: pl.DataFrame) -> bytes:
    return encode_batch_v2("edge06", "2" * 32, 1, [(BILLING, {}, _position(10), rows)])


def _raw_v2(rows: pl.DataFrame) -> bytes:
    """As encode_batch_v2, without its cast to the statistic's types."""
    out = io.BytesIO()
    rows.write_ipc_stream(out)
    entry = {"name": BILLING.name, "fingerprint": BILLING.fingerprint, "from": {}, "to": _position(10)}
    header = json.dumps(
        {
            "version": 2,
            "agent": "edge06",
            "run": "2" * 32,
            "seq": 1,
            "statistics": [{**entry, "bytes": len(out.getvalue())}],
        }
    ).encode()
    return struct.pack(">I", len(header)) + header + out.getvalue()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"\x00\x00", "4-byte length"),
        (b"\x00\x00\xff\xff{}", "beyond the body"),
        (b"\x00\x00\x00\x02{}", "exactly version"),
        (_v2(_rows(1))[:-20], "bytes"),
        (_v2(_rows(1)) + b"extra", "after the last statistic"),
        (_v2(_rows(1))[:-300] + b"\x00" * 300, "Arrow IPC"),
        (_raw_v2(_rows(1).with_columns(pl.col("requests").cast(pl.Int32))), "integer"),
        (_raw_v2(_rows(1).with_columns(pl.lit(None, pl.Int64).alias("requests"))), "no empty values"),
        (_raw_v2(_rows(1).with_columns(pl.lit(-1, pl.Int64).alias("requests"))), "from 0"),
        (_raw_v2(_rows(1).with_columns(pl.lit(MAX_COUNTER, pl.Int64).alias("bytes_sent"))), "from 0"),
        (_raw_v2(_rows(1).with_columns(pl.lit(MINUTE + 1, pl.Int64).alias("bucket"))), "multiples of 60"),
        (_raw_v2(_rows(1).with_columns(pl.lit("x" * 65).alias("customer"))), "at most 64"),
        (_raw_v2(_rows(1).with_columns(pl.lit(1).alias("extra"))), "exactly the columns"),
        (_raw_v2(_rows(1).select("customer", "bucket", "requests", "bytes_sent")), "exactly the columns"),
    ],
    ids=[
        "short",
        "header-length",
        "header-fields",
        "truncated",
        "trailing",
        "not-arrow",
        "int32",
        "null",
        "negative",
        "too-large",
        "unaligned",
        "too-long",
        "extra-column",
        "column-order",
    ],
)
def test_every_version_2_column_is_checked(aggregator: Service, body: bytes, words: str):
    response = _post_v2(aggregator, body)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
