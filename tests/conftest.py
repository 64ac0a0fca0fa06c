"""Fixtures of every suite: the anyio backend, a default suite simulator, an HTTP session.

Shared helpers live in ``tests/helpers/`` (conftest files import nothing from
each other). A suite whose simulator differs overrides ``sim`` in its conftest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator
from tests.helpers.sim import ACTIVE, sim_config

#: The dialects the client and stream suites run every test in.
DIALECTS = ("reference", "terminal")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use ``dialect`` and the suite's simulator run once per dialect;
    ``@pytest.mark.dialects(...)`` says which for any other test."""
    if "dialect" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("dialects")
    if marker is not None:
        names = marker.args
    elif {"sim", "slow_sim"} & set(metafunc.fixturenames):
        names = DIALECTS
    else:
        names = ("auto",)  # no simulator of the suite's: nothing to run twice
    metafunc.parametrize("dialect", names, indirect=True)


@pytest.fixture
def dialect(request: pytest.FixtureRequest) -> Iterator[str]:
    """The dialect this test's simulator serves and its client speaks (see helpers.sim)."""
    name: str = request.param
    ACTIVE["dialect"] = name
    try:
        yield name
    finally:
        ACTIVE["dialect"] = "auto"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    """The suites' simulator (``sim_config()``) on 127.0.0.1, an ephemeral port."""
    async with Simulator(sim_config()) as simulator:
        yield simulator


@pytest.fixture
async def http(anyio_backend: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, for suites that talk to the simulator without our client."""
    async with aiohttp.ClientSession() as session:
        yield session
