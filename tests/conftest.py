"""Shared pytest fixtures and markers; `--unit` (make unit) keeps the tests that start no server."""

import os

import pytest

from lab.paths import CONTAINERS_CONF

# Fixtures that start a server, a container or a VM (directly or through the fixtures they use). A test
# whose fixture closure has none of them is a unit test: `pytest --unit` (make unit) runs only those.
# A new fixture that starts something belongs here.
SERVER_FIXTURES = frozenset(
    {
        "session_simulator",  # the LeaseWeb API simulator (sim, client, spec_checked, ...)
        "simulator_factory",
        "goiardi",  # the Chef server
        "redmine",  # Debian's Redmine (through `lab redmine`)
        "mixlib",  # Ruby's mixlib-authentication as a peer process
        "chef_like_server",  # a scripted HTTP server on 127.0.0.1
        "mariadb",  # MariaDB (the streamstats labs, the sink)
        "boot_server",  # nginx with the boot files
        "artefacts",  # the netboot images, built
        "lab",  # the provisioning lab (simulator, goiardi, QEMU twin) or a streamstats lab
        "module_lab",
        "twin",  # QEMU
        "two_hosts",  # podman containers
    }
)

# Test modules that start a server themselves, without one of those fixtures.
SERVER_MODULES = frozenset({"tests/streamstats/test_chaos.py"})  # MariaDB, agents, aggregators


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--unit",
        action="store_true",
        help="only the tests that start no server, container or VM (see SERVER_FIXTURES)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--unit"):
        return
    kept, dropped = [], []
    for item in items:
        starts_server = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        (dropped if starts_server or item.nodeid.split("::")[0] in SERVER_MODULES else kept).append(item)
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def _project_podman_settings():
    """Tests run podman with the project's containers.conf, as the Makefile does."""
    os.environ.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
