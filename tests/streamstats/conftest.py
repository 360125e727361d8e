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
