"""The client's provisioning calls against the simulator (issue 15): IPMI reset, hardware scan and report,
job retry, credentials, network interfaces; every exchange checked against the official spec."""

from __future__ import annotations

import time

import pytest

from leaseweb_api import ApiError, NotFoundError

pytestmark = pytest.mark.usefixtures("spec_checked")


def _until_done(client, server_id: str, job_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get_job(server_id, job_id)
        if job.is_terminal:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still running")


def test_ipmi_reset_and_hardware_scan_are_jobs(client):
    reset = client.ipmi_reset("10001", power_cycle=False)
    assert (reset.type, reset.status, reset.payload["powerCycle"]) == ("ipmiReset", "ACTIVE", False)
    assert _until_done(client, "10001", reset.uuid).is_finished
    before = client.hardware_info("10001")
    scan = client.hardware_scan("10001", callback_url="https://hooks.example.net/scan")
    assert (scan.type, scan.payload["callbackUrl"]) == ("hardwareScan", "https://hooks.example.net/scan")
    assert _until_done(client, "10001", scan.uuid).is_finished
    after = client.hardware_info("10001")
    assert after.scanned_at > before.scanned_at and after.summary() == before.summary()
    assert after.summary()["macs"] == ["52:54:00:10:00:01", "52:54:00:10:01:01"]
    assert after.summary()["chassis_serial"] == "SIM10001"


def test_a_failed_job_is_retried_and_a_finished_one_is_not(sim, client):
    sim.fault(job="failed", times=1, path="/bareMetals/v2/servers/10001/hardwareScan")
    scan = client.hardware_scan("10001")
    assert _until_done(client, "10001", scan.uuid).status == "FAILED"
    again = client.retry_job("10001", scan.uuid)
    assert (again.uuid, again.status) == (scan.uuid, "ACTIVE")
    assert _until_done(client, "10001", scan.uuid).is_finished
    with pytest.raises(ApiError) as refused:
        client.retry_job("10001", scan.uuid)
    assert refused.value.status == 400


def test_credentials_are_created_read_updated_and_deleted(client):
    created = client.create_credential("10001", "REMOTE_MANAGEMENT", "admin", "first-secret")
    assert (created.type, created.username) == ("REMOTE_MANAGEMENT", "admin")
    assert created.password == "first-secret"
    assert "first-secret" not in repr(created)
    listed = client.list_credentials("10001", "REMOTE_MANAGEMENT")
    assert [(c.username, c.password) for c in listed] == [("admin", None)]
    client.update_credential("10001", "REMOTE_MANAGEMENT", "admin", "second-secret")
    assert client.get_credential("10001", "REMOTE_MANAGEMENT", "admin").password == "second-secret"
    client.delete_credential("10001", "REMOTE_MANAGEMENT", "admin")
    with pytest.raises(NotFoundError):
        client.get_credential("10001", "REMOTE_MANAGEMENT", "admin")


def test_an_install_leaves_its_root_password_as_a_credential(client):
    client.install("10001", "DEBIAN_12_64BIT", password="installed-secret")
    assert [(c.type, c.username) for c in client.list_credentials("10001")] == [("OPERATING_SYSTEM", "root")]
    assert client.get_credential("10001", "OPERATING_SYSTEM", "root").password == "installed-secret"


def test_network_interfaces_open_and_close(client):
    client.close_network_interfaces("10001", "public")
    statuses = {nic.type: nic.status for nic in client.list_network_interfaces("10001")}
    assert statuses["PUBLIC"] == "CLOSED" and statuses["INTERNAL"] == "OPEN"
    client.close_network_interfaces("10001")
    assert {nic.status for nic in client.list_network_interfaces("10001")} == {"CLOSED"}
    client.open_network_interfaces("10001")
    assert {nic.status for nic in client.list_network_interfaces("10001")} == {"OPEN"}
