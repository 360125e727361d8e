"""Agents and the aggregator over TLS: an agent that trusts the lab's CA delivers exactly; plain HTTP
to the TLS port gets a clear 400; a client trusting another CA refuses the aggregator, and nothing is
written."""

from __future__ import annotations

import time

import pytest
import requests

from streamstats import generate
from tests.pki import CA
from tests.streamstats.harness import Lab, Service, agent_token, checkpoints, file_totals

START = int(time.time()) // 3600 * 3600 - 3600


@pytest.fixture
def aggregator(lab: Lab) -> Service:
    service = lab.aggregator(tls=True)
    service.start()
    service.wait_healthy()
    return service


def test_an_agent_over_tls_delivers_exactly(lab: Lab, aggregator: Service):
    log = lab.dir / "access.log"
    log.write_bytes(b"".join(generate.blocks(5_000, seed=81, start=START, rate=50)))
    lab.agent(aggregator, [str(log)]).start()
    lab.wait_for_totals(file_totals([log]), timeout=60)


def test_plain_http_to_the_tls_port_is_told_so(aggregator: Service):
    plain = aggregator.url.replace("https://", "http://")
    response = requests.get(f"{plain}/healthz", timeout=10)
    assert response.status_code == 400
    assert "https://" in response.text


def test_a_certificate_from_another_ca_is_refused(lab: Lab, aggregator: Service):
    other = CA.create(lab.dir, "other")
    with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
        requests.get(
            f"{aggregator.url}/v1/agents/edge01/positions",
            headers={"Authorization": f"Bearer {agent_token('edge01')}"},
            verify=str(other.cert),
            timeout=10,
        )
    log = lab.dir / "access.log"
    log.write_bytes(b"".join(generate.blocks(1_000, seed=82, start=START, rate=50)))
    agent = lab.agent(aggregator, [str(log)], ca_file=str(other.cert))
    agent.start()
    time.sleep(3)
    assert "CERTIFICATE_VERIFY_FAILED" in agent.tail(50)
    assert checkpoints(lab.mariadb, lab.database) == {}


def test_plain_http_to_the_balancer_is_told_so(lab: Lab):
    """The balancer terminates TLS; the aggregator processes behind it listen on loopback."""
    aggregator = lab.aggregator()
    aggregator.start()
    balancer = lab.balancer([aggregator])
    balancer.start()
    balancer.wait_healthy()
    plain = balancer.url.replace("https://", "http://")
    response = requests.get(f"{plain}/healthz", timeout=10)
    assert response.status_code == 400
    assert "HTTPS port" in response.text
