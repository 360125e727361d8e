"""`cdn-panel`: users and tokens from the command line, against the real database; configuration
mistakes are refused with the offending key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from cdnpanel.config import ConfigError, parse_config
from tests.mariadb import MariaDB
from tests.panel.support import PanelServer, login


def cli(config: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    env = {"CDN_PANEL_PASSWORD": password} if password else {}
    return subprocess.run(
        [sys.executable, "-m", "cdnpanel.cli", *args, "--config", str(config)],
        capture_output=True, text=True, timeout=60, env={**_base_env(), **env},
    )  # fmt: skip


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CDN_PANEL_PASSWORD"}


def test_users_and_tokens_from_the_command_line(tmp_path: Path, mariadb: MariaDB):
    server = PanelServer(tmp_path, mariadb, mariadb.create_database("panelcli"))
    config = server.write_config()
    added = cli(config, "user", "add", "erin", "--customer", "c0002", "--customer", "c0000",
                password="erin-password-1")  # fmt: skip
    assert added.returncode == 0, added.stderr
    twice = cli(config, "user", "add", "erin", "--customer", "c0002", password="erin-password-1")
    assert twice.returncode == 2 and "exists" in twice.stderr
    again = cli(
        config, "user", "add", "erin", "--customer", "c0002", "--if-missing", password="other-password-1"
    )
    assert again.returncode == 0 and again.stdout == "exists erin\n"
    short = cli(config, "user", "add", "fred", "--customer", "c0002", password="short")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    assert cli(config, "user", "add", "ops", "--role", "operator", password="ops-password-1").returncode == 0
    listed = cli(config, "user", "list").stdout.splitlines()
    assert listed == ["erin\tcustomer\tenabled\tc0000,c0002", "ops\toperator\tenabled\t"]
    token = cli(config, "token", "add", "erin", "--name", "billing export")
    assert token.returncode == 0 and token.stdout.startswith("cdnp_")
    server.start()
    try:
        bearer = {"Authorization": f"Bearer {token.stdout.strip()}"}
        me = requests.get(f"{server.url}/api/v1/me", headers=bearer, timeout=10).json()
        assert me["customers"] == ["c0000", "c0002"]
        login(server.url, "erin", "erin-password-1")
        assert cli(config, "user", "disable", "erin").returncode == 0
        assert requests.get(f"{server.url}/api/v1/me", headers=bearer, timeout=10).status_code == 401
        assert "erin\tcustomer\tdisabled" in cli(config, "user", "list").stdout
        assert cli(config, "user", "disable", "nobody").returncode == 2
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"mysql": {"database": "x"}}, "secret_key"),
        ({"secret_key": "short", "mysql": {"database": "x"}}, "secret_key"),
        ({"secret_key": "k" * 40}, "mysql"),
        ({"secret_key": "k" * 40, "mysql": {"database": "x", "pasword": "typo"}}, "mysql.pasword"),
        ({"secret_key": "k" * 40, "mysql": {"database": "x"}, "listen": "8400"}, "listen"),
        ({"secret_key": "k" * 40, "mysql": {"database": "x"}, "colour": "blue"}, "colour"),
        ({"secret_key_file": "missing", "mysql": {"database": "x"}}, "secret_key_file"),
    ],
)
def test_configuration_mistakes_name_their_key(tmp_path: Path, document: dict, key: str):
    with pytest.raises(ConfigError) as raised:
        parse_config(document, tmp_path)
    assert raised.value.key == key


def test_check_config(tmp_path: Path):
    good = tmp_path / "good.yml"
    good.write_text("secret_key: " + "k" * 40 + "\nmysql: {database: s}\n")
    assert cli(good, "check-config").returncode == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("secret_key: short\nmysql: {database: s}\n")
    answer = cli(bad, "check-config")
    assert answer.returncode == 2 and "secret_key" in answer.stderr


def test_configuration_defaults(tmp_path: Path):
    (tmp_path / "pw").write_text("secret\n")
    config = parse_config(
        {"secret_key": "k" * 40, "mysql": {"database": "s", "password_file": "pw"}}, tmp_path
    )
    assert config.cookie_secure is True and (config.host, config.port) == ("127.0.0.1", 8400)
    assert config.database.password == "secret" and config.throttle.max_failures == 5
    assert config.accounts_database == config.database  # one server, one database


def test_accounts_database_of_their_own(tmp_path: Path):
    (tmp_path / "pw").write_text("secret\n")
    (tmp_path / "ca.pem").write_text("ca\n")
    config = parse_config(
        {"secret_key": "k" * 40,
         "mysql": {"database": "analytics", "user": "panel_reader", "password_file": "pw"},
         "accounts_mysql": {"host": "db1", "database": "cdnpanel", "password": "other", "ssl_ca": "ca.pem"}},
        tmp_path,
    )  # fmt: skip
    assert (config.database.user, config.database.host) == ("panel_reader", "127.0.0.1")
    accounts_db = config.accounts_database
    assert (accounts_db.host, accounts_db.database, accounts_db.password) == ("db1", "cdnpanel", "other")
    assert accounts_db.ssl_ca == str(tmp_path / "ca.pem")
    with pytest.raises(ConfigError, match=r"accounts_mysql\.database"):
        parse_config({"secret_key": "k" * 40, "mysql": {"database": "s"}, "accounts_mysql": {}}, tmp_path)
