"""Shared pytest fixtures and markers."""

import os

import pytest

from lab.paths import CONTAINERS_CONF


@pytest.fixture(scope="session", autouse=True)
def _project_podman_settings():
    """Tests run podman with the project's containers.conf, as the Makefile does."""
    os.environ.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
