"""Fixtures: one simulator for the session (reset before each test), and fresh ones for special flags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leaseweb_api import LeasewebClient
from tests.leaseweb import openapi_check
from tests.leaseweb.simulator_process import SimulatorProcess, start_simulator

# Jobs move a task every 0.2 s; power changes show in powerInfo after 0.3 s.
SESSION_FLAGS = ("--job-step-seconds", "0.2", "--power-delay", "0.3")


@pytest.fixture(scope="session")
def session_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    sim = start_simulator(tmp_path_factory.mktemp("leaseweb-sim"), *SESSION_FLAGS)
    yield sim
    sim.stop()


@pytest.fixture
def sim(session_simulator: SimulatorProcess) -> SimulatorProcess:
    """The session's simulator, back to its seed, with no faults and an empty journal."""
    session_simulator.reset()
    return session_simulator


@pytest.fixture
def client(sim: SimulatorProcess) -> Iterator[LeasewebClient]:
    with sim.client() as api:
        yield api


@pytest.fixture
def simulator_factory(tmp_path: Path) -> Iterator[Callable[..., SimulatorProcess]]:
    """Start simulators with flags of the test's own; all are stopped afterwards."""
    started: list[SimulatorProcess] = []

    def start(*args: str, **kwargs: object) -> SimulatorProcess:
        sim = start_simulator(tmp_path / f"sim{len(started)}", *args, **kwargs)  # type: ignore[arg-type]
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def spec_checked(sim: SimulatorProcess) -> Iterator[SimulatorProcess]:
    """After the test, every v2 request that reached the simulator, and its answer, fits the spec."""
    yield sim
    assert openapi_check.simulator_problems(sim.exchanges()) == []
