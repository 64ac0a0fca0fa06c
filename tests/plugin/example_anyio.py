# test_my_bot.py: your bot against the simulator, under anyio's pytest plugin
import anyio
import pytest

from fxsocket_async import AsyncFxSocket, BadRequestError
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # fxsocket_async runs on asyncio


async def buy_the_dip(fx: AsyncFxSocket, account_id: str, below: float) -> str:
    """The bot under test: buy 0.1 EURUSD as soon as the ask falls below ``below``."""
    async with fx.quotes("EURUSD", account=account_id) as quotes:
        async for quote in quotes:
            if quote.ask < below:
                order = await fx.account(account_id).orders.create("EURUSD", "BUY", 0.1)
                return order.id
    raise AssertionError("the quotes ended")


@pytest.mark.fxsocket_simulator(quote_interval=None)  # prices move only when the test says so
async def test_buys_the_dip(
    fxsocket_client: AsyncFxSocket, fxsocket_simulator: Simulator, fxsocket_account: Account
) -> None:
    bought: list[str] = []

    async def bot() -> None:
        bought.append(await buy_the_dip(fxsocket_client, fxsocket_account.id, below=1.05))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(bot)
            await fxsocket_simulator.wait_for_subscriptions(
                [(fxsocket_account.id, "quotes", ("EURUSD",))]
            )
            fxsocket_simulator.set_price("EURUSD", 1.04)
    positions = await fxsocket_client.account(fxsocket_account.id).positions()
    assert [p.id for p in positions] == bought


async def test_a_rejected_order_raises(
    fxsocket_client: AsyncFxSocket, fxsocket_simulator: Simulator, fxsocket_account: Account
) -> None:
    fxsocket_simulator.faults.fail_next(1, status=400, error="not_enough_money", message="no")
    with pytest.raises(BadRequestError, match="not_enough_money"):
        await fxsocket_client.account(fxsocket_account.id).orders.create("EURUSD", "BUY", 0.1)
