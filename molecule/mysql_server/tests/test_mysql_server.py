"""Verify the tuned, secured MariaDB on the converged host (testinfra, podman:// backend)."""

testinfra_hosts = ["podman://mol-mysql"]
LOGIN = "mysql --batch --skip-column-names -h 127.0.0.1 -u streamstats -pmolecule-only-password"


def _sql(host, query: str) -> str:
    return host.check_output(f'mysql --batch --skip-column-names -e "{query}"')


def test_installed_and_running(host):
    assert host.package("mariadb-server").is_installed
    service = host.service("mariadb")
    assert service.is_running
    assert service.is_enabled


def test_listens_on_loopback_only(host):
    assert host.socket("tcp://127.0.0.1:3306").is_listening
    assert not host.socket("tcp://0.0.0.0:3306").is_listening


def test_tuning_file(host):
    tuning = host.file("/etc/mysql/mariadb.conf.d/60-cdn-tuning.cnf")
    assert tuning.user == "root"
    assert tuning.mode == 0o644
    assert tuning.content_string.startswith("#")


def test_tuning_is_effective(host):
    assert _sql(host, "SELECT @@innodb_buffer_pool_size") == str(256 * 1024 * 1024)
    assert _sql(host, "SELECT @@innodb_log_file_size") == str(256 * 1024 * 1024)
    assert _sql(host, "SELECT @@innodb_flush_log_at_trx_commit") == "2"
    assert _sql(host, "SELECT @@innodb_flush_method") == "O_DIRECT"
    assert _sql(host, "SELECT @@tx_isolation") == "READ-COMMITTED"
    assert _sql(host, "SELECT @@log_bin") == "0"
    assert _sql(host, "SELECT @@slow_query_log") == "1"
    assert _sql(host, "SELECT @@skip_name_resolve") == "1"
    assert _sql(host, "SELECT @@local_infile") == "1"


def test_no_anonymous_or_remote_root(host):
    assert _sql(host, "SELECT COUNT(*) FROM mysql.user WHERE user=''") == "0"
    assert _sql(host, "SELECT COUNT(*) FROM mysql.user WHERE user='root' AND host<>'localhost'") == "0"
    assert "test" not in _sql(host, "SHOW DATABASES").split()


def test_least_privilege_user(host):
    grants = host.check_output(f'{LOGIN} -e "SHOW GRANTS"')
    assert "ON `analytics`.*" in grants
    global_grants = [line for line in grants.splitlines() if "ON *.*" in line]
    assert global_grants and all(line.startswith("GRANT USAGE ON *.*") for line in global_grants)
    assert host.run(f'{LOGIN} -e "SELECT COUNT(*) FROM mysql.user"').rc != 0
    assert host.run(f'{LOGIN} analytics -e "CREATE TABLE t (id INT PRIMARY KEY); DROP TABLE t"').rc == 0


def test_user_stages_rows_with_load_data_local(host):
    """The aggregator's staged write: a temporary table filled from a file of the client's."""
    host.check_output("printf '1\\tx\\n2\\ty\\n' > /tmp/stage.tsv")
    staged = (
        "CREATE TEMPORARY TABLE s (a INT, b VARCHAR(8)) ENGINE=Aria; "
        "LOAD DATA LOCAL INFILE '/tmp/stage.tsv' INTO TABLE s; SELECT COUNT(*) FROM s"
    )
    assert host.check_output(f'{LOGIN} --local-infile=1 analytics -e "{staged}"') == "2"


def test_wrong_password_is_refused(host):
    assert host.run('mysql -h 127.0.0.1 -u streamstats -pwrong -e "SELECT 1"').rc != 0
