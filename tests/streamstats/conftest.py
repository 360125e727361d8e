"""Fixtures of the streamstats tests: the shared MariaDB, and a lab (temp dir, ports, config files,
processes) per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mariadb import MariaDB, mariadb  # noqa: F401 (the session fixture)
from tests.streamstats.harness import Lab


@pytest.fixture
def lab(tmp_path: Path, mariadb: MariaDB) -> Iterator[Lab]:  # noqa: F811
    lab = Lab(tmp_path, mariadb)
    try:
        yield lab
    finally:
        lab.stop_all()


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB) -> Iterator[Lab]:  # noqa: F811
    """One lab (and so one database) shared by the tests of a module."""
    lab = Lab(tmp_path_factory.mktemp("lab"), mariadb)
    try:
        yield lab
    finally:
        lab.stop_all()
