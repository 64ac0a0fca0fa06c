"""Fixtures of the client suite: the public ``AsyncFxSocket`` against a simulator.

Everything here talks to a real ``Simulator`` over 127.0.0.1 (ephemeral port):
the root conftest's ``sim``, or ``slow_sim`` whose terminals never come up on
their own. Helpers (``sim_config``, ``make_client``, ``link``...) live in
``tests.helpers.sim``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fxsocket_async import AsyncFxSocket
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account
from tests.helpers.sim import link, make_client, sim_config


@pytest.fixture(autouse=True)
def in_every_dialect(dialect: str) -> str:
    """Every test of this suite runs against both dialects (root conftest's ``dialect``)."""
    return dialect


@pytest.fixture
async def slow_sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    """Terminals that never come up on their own: tests finish provisioning by hand."""
    async with Simulator(sim_config(provision_delay=60)) as simulator:
        yield simulator


@pytest.fixture
async def fx(sim: Simulator) -> AsyncIterator[AsyncFxSocket]:
    async with make_client(sim) as client:
        yield client


@pytest.fixture
async def connected_account(fx: AsyncFxSocket) -> Account:
    """One account linked through ``fx`` and connected (as ``wait_connected`` returned it)."""
    return await link(fx, connected=True)
