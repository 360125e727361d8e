"""Fixtures of the panel's tests: one pipeline run (real logs through the real agents and aggregator
into the shared MariaDB) and one panel process reading it, shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mariadb import MariaDB, mariadb  # noqa: F401 (the session fixture)
from tests.panel.support import PanelServer, Pipeline, run_pipeline
from tests.streamstats.harness import Lab


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB) -> Iterator[Pipeline]:  # noqa: F811
    lab = Lab(tmp_path_factory.mktemp("panel-pipeline"), mariadb)
    try:
        yield run_pipeline(lab)
    finally:
        lab.stop_all()


@pytest.fixture(scope="session")
def panel(tmp_path_factory: pytest.TempPathFactory, pipeline: Pipeline) -> Iterator[PanelServer]:
    server = PanelServer(tmp_path_factory.mktemp("panel"), pipeline.mariadb, pipeline.database)
    server.write_config()
    server.add_users()
    server.start()
    try:
        yield server
    finally:
        server.stop()
