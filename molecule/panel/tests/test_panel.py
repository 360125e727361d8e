"""Verify the replica and the panel that reads it: replication by GTID over TLS into a read-only
replica, the panel's least-privilege reader, and real traffic aggregated into the primary shown to a
customer who logged in over TLS (testinfra, podman:// backend)."""

import calendar
import json
import shlex
import time
import uuid

import testinfra

PRIMARY = "mol-panel-db1"
REPLICA = "mol-panel-db2"
testinfra_hosts = [f"podman://{REPLICA}"]
VENV = "/opt/cdn-panel/venv/bin"
CONF = "/etc/molecule-aggregator"
LOG = "/var/tmp/molecule-edge.log"
CUSTOMER = "c0000"  # the generator's busiest customer
PASSWORD = "molecule-customer-password"


def _sql(host, query: str) -> str:
    return host.check_output(f"mysql --batch --skip-column-names -e {shlex.quote(query)}")


def _replica_status(host) -> dict[str, str]:
    out = host.check_output('mysql -e "SHOW REPLICA STATUS\\G"')
    fields = (line.strip().partition(":") for line in out.splitlines() if ":" in line)
    return {key: value.strip() for key, _, value in fields}


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def test_replica_uses_gtid_over_verified_tls(host):
    status = _replica_status(host)
    assert status["Slave_IO_Running"] == "Yes" and status["Slave_SQL_Running"] == "Yes", status
    assert status["Using_Gtid"] == "Slave_Pos"
    assert status["Master_Host"] == PRIMARY
    assert status["Master_SSL_Allowed"] == "Yes" and status["Master_SSL_Verify_Server_Cert"] == "Yes"
    assert _sql(host, "SELECT @@gtid_strict_mode") == "1"
    assert _sql(host, "SELECT @@gtid_slave_pos") != ""


def test_replica_is_read_only(host):
    assert _sql(host, "SELECT @@read_only") == "1"
    assert _sql(host, "SELECT @@log_bin") == "0"
    primary = testinfra.get_host(f"podman://{PRIMARY}")
    assert _sql(primary, "SELECT @@read_only") == "0"
    assert _sql(primary, "SELECT @@log_bin") == "1"


def test_replication_account_requires_tls(host):
    primary = testinfra.get_host(f"podman://{PRIMARY}")
    grants = _sql(primary, "SHOW GRANTS FOR 'replicator'@'%'")
    assert "GRANT REPLICATION SLAVE ON *.*" in grants and "REQUIRE SSL" in grants


def test_row_written_on_primary_appears_on_replica(host):
    primary = testinfra.get_host(f"podman://{PRIMARY}")
    probe = uuid.uuid4().hex
    _sql(
        primary,
        "CREATE DATABASE IF NOT EXISTS molecule_probe; "
        "CREATE TABLE IF NOT EXISTS molecule_probe.rows (v CHAR(32) PRIMARY KEY) ENGINE=InnoDB; "
        f"INSERT INTO molecule_probe.rows VALUES ('{probe}')",
    )
    query = f"SELECT COUNT(*) FROM molecule_probe.rows WHERE v = '{probe}'"
    arrived = f"mysql --batch --skip-column-names -e {shlex.quote(query)}"
    _wait(lambda: host.run(arrived).stdout.strip() == "1", 30, "the primary's row on the replica")
    # The same GTID position on both once the row arrived.
    assert _sql(host, "SELECT @@gtid_slave_pos") == _sql(primary, "SELECT @@gtid_binlog_pos")


def test_panel_reader_is_least_privilege(host):
    grants = _sql(host, "SHOW GRANTS FOR 'panel_reader'@'127.0.0.1'").splitlines()
    on_all = [g for g in grants if " ON *.* " in g]
    assert len(on_all) == 1 and on_all[0].startswith("GRANT SLAVE MONITOR ON *.*"), on_all
    tables = [g for g in grants if " ON *.* " not in g]
    assert tables and all(g.startswith("GRANT SELECT ON `analytics`.`") for g in tables), tables
    assert any("`streamstats_checkpoints`" in g for g in tables)
    assert any("`stat_customer_traffic`" in g for g in tables)


def test_panel_answers_over_tls_only(host):
    assert host.service("cdn-panel").is_running
    assert host.socket("tcp://127.0.0.1:8400").is_listening
    assert not host.socket("tcp://0.0.0.0:8400").is_listening
    assert _answers(host, "https://127.0.0.1/healthz")
    assert not _answers(host, "http://127.0.0.1:443/healthz")  # plain HTTP to the TLS port


def _answers(host, url: str) -> bool:
    probe = f"import requests; requests.get({url!r}, verify=False, timeout=10).raise_for_status()"
    return host.run(f"{VENV}/python -W ignore -c {shlex.quote(probe)}").rc == 0


def _python(host, script: str, *args: str) -> dict:
    return json.loads(host.check_output(f"{VENV}/python -W ignore -c {shlex.quote(script)} {' '.join(args)}"))


def _log_totals(host) -> tuple[int, int]:
    out = host.check_output(
        f"awk -F'\\t' '$2 == \"{CUSTOMER}\" {{ n++; b += $10 }} END {{ print n + 0, b + 0 }}' {LOG}"
    )
    requests, sent = out.split()
    return int(requests), int(sent)


def _sql_totals(host, month_start: str) -> tuple[int, int]:
    out = _sql(
        host,
        "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(bytes_sent), 0) "
        f"FROM analytics.stat_customer_traffic WHERE customer = '{CUSTOMER}' AND bucket >= '{month_start}'",
    )
    requests, sent = out.split()
    return int(requests), int(sent)


LOGIN = """
import json, re, sys, requests
base, customer, month = sys.argv[1:4]
s = requests.Session()
s.verify = False
form = s.get(base + "/login").text
csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
r = s.post(base + "/login", data={"username": sys.argv[4], "password": sys.argv[5], "csrf_token": csrf})
r.raise_for_status()
page = s.get(f"{base}/c/{customer}/usage", params={"month": month})
usage = s.get(f"{base}/api/v1/customers/{customer}/usage", params={"month": month}).json()
other = s.get(f"{base}/api/v1/customers/c0001/usage", params={"month": month})
print(json.dumps({"page": page.status_code, "complete": "Data complete up to" in page.text,
                  "usage": usage, "other": other.status_code}))
"""


def test_customer_sees_the_aggregators_numbers(host):
    now = int(time.time())
    month_start = time.strftime("%Y-%m-01 00:00:00", time.gmtime(now))
    month = month_start[:7]
    # 2,000 lines over the last 20 minutes of this month
    start = max(now - 1200, calendar.timegm(time.strptime(month_start, "%Y-%m-%d %H:%M:%S")))
    rate = 2000 / max(1, now - start)
    host.check_output(
        f"{VENV}/streamstats generate --lines 2000 --seed 7 --start {start} --rate {rate:.6f} "
        f"--customers 3 --edge mol-edge --output {LOG}"
    )
    host.run("systemctl stop molecule-aggregator")
    host.run("systemctl reset-failed molecule-aggregator")
    host.check_output(
        f"systemd-run --unit molecule-aggregator --working-directory {CONF} "
        f"{VENV}/streamstats aggregator --config {CONF}/aggregator.yml"
    )
    try:
        _wait(lambda: _answers(host, "http://127.0.0.1:9499/healthz"), 60, "the aggregator")
        host.check_output(f"cd {CONF} && {VENV}/streamstats agent --once --config {CONF}/agent.yml")
        expected = _log_totals(host)
        assert expected[0] > 0
        primary = testinfra.get_host(f"podman://{PRIMARY}")
        _wait(lambda: _sql_totals(primary, month_start) == expected, 90, "the aggregator's flush")
    finally:
        host.run("systemctl stop molecule-aggregator")
    _wait(lambda: _sql_totals(host, month_start) == expected, 30, "the replica to have the flush")

    host.check_output(
        f"CDN_PANEL_PASSWORD={PASSWORD} {VENV}/cdn-panel user add molcustomer --customer {CUSTOMER} "
        "--if-missing --config /etc/cdn-panel/panel.yml"
    )
    seen = _python(host, LOGIN, "https://127.0.0.1", CUSTOMER, month, "molcustomer", PASSWORD)
    assert seen["page"] == 200 and seen["complete"]
    assert seen["usage"]["exact"] is True
    assert (seen["usage"]["requests"], seen["usage"]["bytes_sent"]) == expected
    assert seen["other"] == 404  # another customer's numbers are not this user's


OPERATOR = """
import json, sys, requests
s = requests.Session()
s.verify = False
print(json.dumps(s.get(sys.argv[1] + "/api/v1/operator/pipeline",
                       headers={"Authorization": "Bearer " + sys.argv[2]}).json()))
"""


def test_operator_sees_the_replica_lag(host):
    host.check_output(
        f"CDN_PANEL_PASSWORD={PASSWORD} {VENV}/cdn-panel user add molops --role operator --if-missing "
        "--config /etc/cdn-panel/panel.yml"
    )
    token = host.check_output(
        f"{VENV}/cdn-panel token add molops --name molecule --config /etc/cdn-panel/panel.yml"
    ).split()[-1]
    pipeline = _python(host, OPERATOR, "https://127.0.0.1", token)
    assert pipeline["replica"]["state"] == "replica", pipeline["replica"]
    assert pipeline["replica"]["lag_seconds"] is not None and pipeline["replica"]["lag_seconds"] >= 0
    # A replica that stopped replicating is reported as such, not as a lag.
    _sql(host, "STOP SLAVE")
    try:
        stopped = _python(host, OPERATOR, "https://127.0.0.1", token)["replica"]
    finally:
        _sql(host, "START SLAVE")
    assert stopped["state"] == "replica stopped" and stopped["lag_seconds"] is None, stopped
