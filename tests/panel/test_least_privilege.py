"""The panel as deployed with a replica: the statistics read through an account with SELECT on the
statistics tables and the checkpoints only (and SLAVE MONITOR), the panel's own tables in a database of
their own behind another account. Every page still shows the same figures, and the statistics'
database gets none of the panel's tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pymysql
import pytest

from cdnpanel import accounts
from tests.panel.support import PASSWORD_OF, PanelServer, Pipeline, csrf_of, login


def _grant_reader(root: pymysql.connections.Connection, database: str, user: str, password: str) -> None:
    with root.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND (table_name "
            "LIKE 'stat\\_%%' OR table_name IN ('streamstats_statistics', 'streamstats_checkpoints'))",
            (database,),
        )
        tables = [row[0] for row in cur.fetchall()]
        cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        for table in tables:
            cur.execute(f"GRANT SELECT ON `{database}`.`{table}` TO %s@'127.0.0.1'", (user,))
        cur.execute("GRANT SLAVE MONITOR ON *.* TO %s@'127.0.0.1'", (user,))


@pytest.fixture(scope="module")
def accounts_db(pipeline: Pipeline) -> str:
    return pipeline.mariadb.create_database("cdnpanel")


@pytest.fixture(scope="module")
def split_panel(
    tmp_path_factory: pytest.TempPathFactory, pipeline: Pipeline, accounts_db: str
) -> Iterator[PanelServer]:
    mariadb, suffix = pipeline.mariadb, uuid.uuid4().hex[:8]
    reader, writer = f"reader_{suffix}", f"panel_{suffix}"
    with mariadb.root() as root:
        _grant_reader(root, pipeline.database, reader, "reader-password")
        with root.cursor() as cur:
            cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY 'writer-password'", (writer,))
            cur.execute(
                f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON `{accounts_db}`.* "
                "TO %s@'127.0.0.1'",
                (writer,),
            )
    directory = tmp_path_factory.mktemp("split-panel")
    (directory / "reader-password").write_text("reader-password\n")
    (directory / "writer-password").write_text("writer-password\n")
    server = PanelServer(directory, mariadb, pipeline.database)
    server.settings = {
        "mysql": {"host": "127.0.0.1", "port": mariadb.port, "user": reader,
                  "password_file": "reader-password", "database": pipeline.database},
        "accounts_mysql": {"host": "127.0.0.1", "port": mariadb.port, "user": writer,
                           "password_file": "writer-password", "database": accounts_db},
    }  # fmt: skip
    server.start()
    with mariadb.connect(accounts_db) as conn:
        accounts.add_user(conn, "alice", PASSWORD_OF["alice"], "customer", ["c0000"])
        accounts.add_user(conn, "olga", PASSWORD_OF["olga"], "operator", [])
    try:
        yield server
    finally:
        server.stop()


def _tables(pipeline: Pipeline, database: str) -> set[str]:
    with pipeline.mariadb.root() as root, root.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (database,))
        return {row[0] for row in cur.fetchall()}


def test_the_panels_tables_live_in_their_own_database(
    split_panel: PanelServer, pipeline: Pipeline, accounts_db: str
):
    assert {"panel_users", "panel_tokens", "panel_schema"} <= _tables(pipeline, accounts_db)


def test_a_select_only_reader_shows_the_same_bill(split_panel: PanelServer, panel: PanelServer):
    ours = login(split_panel.url, "alice")
    reference = login(panel.url, "alice")
    path = "/api/v1/customers/c0000/usage"
    got = ours.get(f"{split_panel.url}{path}", timeout=30)
    assert got.status_code == 200, got.text
    expected = reference.get(f"{panel.url}{path}", timeout=30).json()
    assert got.json() == expected
    page = ours.get(f"{split_panel.url}/c/c0000/traffic", params={"range": "day"}, timeout=30)
    assert page.status_code == 200 and "Data complete up to" in page.text


def test_tokens_are_written_to_the_accounts_database(
    split_panel: PanelServer, pipeline: Pipeline, accounts_db: str
):
    session = login(split_panel.url, "alice")
    form = session.get(f"{split_panel.url}/account", timeout=10).text
    made = session.post(
        f"{split_panel.url}/account/tokens", data={"name": "ci", "csrf_token": csrf_of(form)}, timeout=30
    )
    assert made.status_code == 200
    with pipeline.mariadb.root(accounts_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM panel_tokens WHERE name = 'ci'")
        assert cur.fetchone()[0] == 1


def test_the_reader_sees_it_reads_no_replica(split_panel: PanelServer):
    session = login(split_panel.url, "olga")
    pipeline = session.get(f"{split_panel.url}/api/v1/operator/pipeline", timeout=30).json()
    assert pipeline["replica"]["state"] == "not a replica"
    assert pipeline["agents"]
