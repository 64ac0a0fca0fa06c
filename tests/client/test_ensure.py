"""``fx.accounts.ensure()``: the linked account, or link it; never twice.

Against the real simulator through the public client. "Twice" is read off the
simulator's route counters: every ``POST /v1/accounts`` it received.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from fxsocket_async import (
    AsyncFxSocket,
    PermissionDeniedError,
    ServerError,
    ValidationError,
)
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account
from tests.helpers.sim import PASSWORD, READ_KEY, SERVER, WAIT, link, make_client, next_login

pytestmark = pytest.mark.anyio

LINK_ROUTE = "POST /v1/accounts"


def _links(sim: Simulator) -> int:
    return sim.stats.routes[LINK_ROUTE]


async def test_links_an_account_once_then_returns_it(fx: AsyncFxSocket, sim: Simulator) -> None:
    login = next_login()
    with anyio.fail_after(WAIT):
        first = await fx.accounts.ensure(
            server=SERVER, login=login, password=PASSWORD, nickname="bot"
        )
        again = await fx.accounts.ensure(
            server=SERVER, login=login, password=PASSWORD, nickname="bot"
        )
    assert (first.server, first.login, first.nickname) == (SERVER, login, "bot")
    assert again.id == first.id
    assert _links(sim) == 1
    assert [a.id for a in sim.accounts()] == [first.id]


async def test_a_new_session_gets_the_account_back(sim: Simulator) -> None:
    """The quickstart's case: a second run of a program against the same server."""
    login = next_login()
    ids = []
    for _ in range(2):
        async with make_client(sim) as fx:
            with anyio.fail_after(WAIT):
                account = await fx.accounts.ensure(server=SERVER, login=login, password=PASSWORD)
                account = await fx.accounts.wait_connected(account.id, timeout=5)
            ids.append(account.id)
    assert ids[0] == ids[1]
    assert _links(sim) == 1


async def test_another_nickname_returns_the_account_as_it_is(
    fx: AsyncFxSocket, sim: Simulator
) -> None:
    linked = await link(fx, nickname="dashboard")
    with anyio.fail_after(WAIT):
        account = await fx.accounts.ensure(
            server=linked.server, login=linked.login, password=PASSWORD, nickname="bot"
        )
    assert account.id == linked.id
    assert account.nickname == "dashboard"  # never renamed, never linked again
    assert _links(sim) == 1


async def test_same_login_on_another_server_is_another_account(
    fx: AsyncFxSocket, sim: Simulator
) -> None:
    login = next_login()
    with anyio.fail_after(WAIT):
        one = await fx.accounts.ensure(server=SERVER, login=login, password=PASSWORD)
        other = await fx.accounts.ensure(server="Other-Demo", login=login, password=PASSWORD)
    assert one.id != other.id
    assert _links(sim) == 2


async def test_concurrent_calls_in_one_session_link_once(fx: AsyncFxSocket, sim: Simulator) -> None:
    login = next_login()
    results: list[Account] = []

    async def ensure() -> None:
        results.append(await fx.accounts.ensure(server=SERVER, login=login, password=PASSWORD))

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tasks:
            for _ in range(5):
                tasks.start_soon(ensure)
    assert len({a.id for a in results}) == 1
    assert len(results) == 5
    # Serialised: the later calls found the account instead of meeting a 409.
    assert _links(sim) == 1


def _between_lookup_and_link(
    fx: AsyncFxSocket, action: Callable[[], Awaitable[None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run ``action`` once, right after ``fx``'s first account listing (before ``ensure`` links)."""
    accounts = fx.accounts
    real_list = accounts.list
    done = False

    async def listing() -> list[Account]:
        nonlocal done
        result = await real_list()
        if not done:
            done = True
            await action()
        return result

    monkeypatch.setattr(accounts, "list", listing)


async def test_linked_meanwhile_by_another_session(
    fx: AsyncFxSocket, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process links the account between our look-up and our link: the 409 is
    resolved by looking again, and that account is returned."""
    login = next_login()
    others: list[Account] = []

    async def other_session_links() -> None:
        async with make_client(sim) as other:
            others.append(await link(other, login=login))

    _between_lookup_and_link(fx, other_session_links, monkeypatch)
    with anyio.fail_after(WAIT):
        account = await fx.accounts.ensure(server=SERVER, login=login, password=PASSWORD)
    assert account.id == others[0].id
    assert _links(sim) == 2  # theirs, and ours that was refused with 409
    assert len(sim.accounts()) == 1


async def test_a_lost_link_reply_is_resolved_by_looking_again(
    fx: AsyncFxSocket, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server links the account but its reply is lost (a 500 after acting): ensure
    does not link again; it finds the account."""
    login = next_login()

    async def lose_the_next_reply() -> None:
        sim.faults.fail_next(1, status=500, after=True)

    _between_lookup_and_link(fx, lose_the_next_reply, monkeypatch)
    with anyio.fail_after(WAIT):
        account = await fx.accounts.ensure(server=SERVER, login=login, password=PASSWORD)
    assert (account.server, account.login) == (SERVER, login)
    assert _links(sim) == 1
    assert [a.id for a in sim.accounts()] == [account.id]


async def test_a_failed_link_that_linked_nothing_is_raised(
    fx: AsyncFxSocket, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail_the_next_request() -> None:
        sim.faults.fail_next(1, status=500)

    _between_lookup_and_link(fx, fail_the_next_request, monkeypatch)
    with anyio.fail_after(WAIT), pytest.raises(ServerError):
        await fx.accounts.ensure(server=SERVER, login=next_login(), password=PASSWORD)
    assert _links(sim) == 1
    assert sim.accounts() == []


async def test_a_read_only_key_finds_but_cannot_link(fx: AsyncFxSocket, sim: Simulator) -> None:
    linked = await link(fx)
    async with make_client(sim, READ_KEY) as viewer:
        with anyio.fail_after(WAIT):
            found = await viewer.accounts.ensure(
                server=linked.server, login=linked.login, password=PASSWORD
            )
            assert found.id == linked.id
            with pytest.raises(PermissionDeniedError):
                await viewer.accounts.ensure(server=SERVER, login=next_login(), password=PASSWORD)


@pytest.mark.parametrize(
    ("server", "login", "password"),
    [("", 1, PASSWORD), (SERVER, 0, PASSWORD), (SERVER, True, PASSWORD), (SERVER, 1, "")],
)
async def test_bad_arguments_are_refused_before_sending(
    fx: AsyncFxSocket, sim: Simulator, server: str, login: int, password: str
) -> None:
    before = sim.stats.requests
    with pytest.raises(ValidationError):
        await fx.accounts.ensure(server=server, login=login, password=password)
    assert sim.stats.requests == before
