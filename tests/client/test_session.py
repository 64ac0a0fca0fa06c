"""Session lifecycle (configuration, open/closed, teardown) and the secrets test."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import anyio
import msgspec
import pytest

from fxsocket_async import (
    AccountError,
    AsyncFxSocket,
    AuthenticationError,
    BadRequestError,
    BrokerRejectedError,
    ConfigurationError,
    ConnectionFailedError,
    NotFoundError,
    RetryPolicy,
    ServerError,
    SessionClosedError,
    TimeoutError,
    Timeouts,
    ValidationError,
    WatcherPolicy,
)
from fxsocket_async.simulator import ApiKey, Simulator
from fxsocket_async.types import Account
from tests.helpers.dialects import is_terminal, missing_order_id, warm_symbols
from tests.helpers.routes import route, watch_routes
from tests.helpers.sim import FULL_KEY, WAIT, link, make_client, sim_config

pytestmark = pytest.mark.anyio

QUOTE = "quote"  # operations: route() names them in the test's dialect
HISTORY = "history"
#: Words that teardown trouble prints: aiohttp, asyncio and Python itself.
TROUBLE = ("unclosed", "was destroyed", "never awaited", "exception was never retrieved")


# --------------------------------------------------------------- helpers


@contextlib.contextmanager
def no_teardown_trouble(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Fail if the block (or garbage collected leftovers) warns or logs teardown trouble.

    aiohttp reports an unclosed session both as a ResourceWarning and through the
    loop's exception handler (the ``asyncio`` logger), as asyncio does for a
    destroyed pending task; both channels are captured.
    """
    caplog.set_level(logging.DEBUG, logger="asyncio")
    reports: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield reports
        gc.collect()
        gc.collect()
    reports.extend(str(w.message) for w in caught)
    reports.extend(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    troubles = [r for r in reports if any(word in r.lower() for word in TROUBLE)]
    assert troubles == [], troubles


def session_tasks(baseline: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks started since ``baseline`` that still run and are not the simulator's."""
    leftovers = []
    for task in asyncio.all_tasks() - baseline:
        if task.done():
            continue
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        filename = code.co_filename if code is not None else ""
        # The simulator's server-side connection handlers end on their own schedule.
        if "simulator" in filename or "web_protocol" in filename or "web_server" in filename:
            continue
        leftovers.append(task)
    return leftovers


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ----------------------------------------------------------- configuration


async def test_no_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FXSOCKET_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="FXSOCKET_API_KEY"):
        AsyncFxSocket()
    with pytest.raises(ConfigurationError):
        AsyncFxSocket(api_key="")
    with pytest.raises(ConfigurationError):
        AsyncFxSocket(None, base_url="http://127.0.0.1:1")


async def test_empty_env_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FXSOCKET_API_KEY", "")
    with pytest.raises(ConfigurationError):
        AsyncFxSocket()


@pytest.mark.parametrize(
    ("kwargs", "env"),
    [
        ({"base_url": "ftp://127.0.0.1:1"}, {}),
        ({"base_url": "127.0.0.1:8080"}, {}),
        ({"ws_url": "http://127.0.0.1:1/v1/stream"}, {}),
        ({}, {"FXSOCKET_BASE_URL": "ws://127.0.0.1:1"}),
        ({}, {"FXSOCKET_WS_URL": "https://127.0.0.1:1"}),
    ],
)
async def test_bad_urls_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, str], env: dict[str, str]
) -> None:
    for name in ("FXSOCKET_BASE_URL", "FXSOCKET_WS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError):
        AsyncFxSocket("k", **kwargs)


async def test_env_key_and_base_url_are_used(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FXSOCKET_API_KEY", FULL_KEY)
    monkeypatch.setenv("FXSOCKET_BASE_URL", sim.base_url)
    monkeypatch.setenv("FXSOCKET_WS_URL", sim.ws_url)
    fx = AsyncFxSocket()
    assert fx.base_url == sim.base_url
    assert fx.ws_url == sim.ws_url
    before = sim.stats.routes["GET /v1/accounts"]
    with anyio.fail_after(WAIT):
        async with fx:
            assert await fx.accounts.list() == []
    assert sim.stats.routes["GET /v1/accounts"] == before + 1


async def test_explicit_arguments_win_over_env(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FXSOCKET_API_KEY", "not-a-key")
    monkeypatch.setenv("FXSOCKET_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    with anyio.fail_after(WAIT):
        async with AsyncFxSocket(FULL_KEY, base_url=sim.base_url) as fx:
            assert await fx.accounts.list() == []
        # And the env key is used (and refused by the server) when none is passed.
        async with AsyncFxSocket(base_url=sim.base_url, retry=RetryPolicy(max_attempts=1)) as fx:
            with pytest.raises(AuthenticationError):
                await fx.accounts.list()


async def test_trailing_slash_in_base_url(sim: Simulator) -> None:
    with anyio.fail_after(WAIT):
        async with make_client(sim, base_url=sim.base_url + "/") as fx:
            assert await fx.accounts.list() == []


# ----------------------------------------------------------- open / closed


async def test_resources_outside_the_block_raise_session_closed(sim: Simulator) -> None:
    fx = AsyncFxSocket(FULL_KEY, base_url=sim.base_url)
    with pytest.raises(SessionClosedError):
        _ = fx.accounts
    with pytest.raises(SessionClosedError):
        fx.account("acc-1")
    with pytest.raises(SessionClosedError):
        fx.account()
    async with fx:
        assert await fx.accounts.list() == []
    with pytest.raises(SessionClosedError):
        _ = fx.accounts
    with pytest.raises(SessionClosedError):
        fx.account("acc-1")
    assert "closed" in repr(fx)


async def test_entering_an_open_session_again_is_refused(sim: Simulator) -> None:
    async with make_client(sim) as fx:
        with pytest.raises(SessionClosedError):
            await fx.__aenter__()
        assert "open" in repr(fx)
        assert await fx.accounts.list() == []


async def test_aclose_is_idempotent(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    with no_teardown_trouble(caplog):
        fx = AsyncFxSocket(FULL_KEY, base_url=sim.base_url)
        await fx.aclose()  # never opened
        async with fx:
            await fx.accounts.list()
            await fx.aclose()
            await fx.aclose()
        await fx.aclose()


async def test_kept_resources_after_exit_raise_session_closed(
    sim: Simulator, connected_account: Account
) -> None:
    async with make_client(sim) as fx:
        accounts = fx.accounts
        trading = fx.account(connected_account.id)
    with anyio.fail_after(WAIT):
        with pytest.raises(SessionClosedError):
            await accounts.list()
        with pytest.raises(SessionClosedError):
            await trading.quote("EURUSD")


# ---------------------------------------------------------------- teardown


async def test_exit_does_not_wait_for_sleeping_background_work(
    slow_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The watcher sleeps for 30 s between rounds; leaving must cancel, not wait."""
    baseline = asyncio.all_tasks()
    slow = WatcherPolicy(initial_interval=30, max_interval=30)
    with no_teardown_trouble(caplog), anyio.fail_after(5):
        async with make_client(slow_sim, watcher=slow) as fx:
            await link(fx)  # connecting: the watcher follows it
            assert session_tasks(baseline)  # the watcher runs
        assert session_tasks(baseline) == []
    assert "closed" in repr(fx)


class Boom(Exception):
    pass


async def _raise_in_body(sim: Simulator) -> None:
    async with make_client(sim) as fx:
        await link(fx)  # connecting: the watcher is busy following it
        raise Boom("the body failed")


async def _raise_in_body_with_waiters(sim: Simulator) -> None:
    async with make_client(sim) as fx:
        account = await link(fx)
        async with anyio.create_task_group() as tasks:
            for _ in range(3):
                tasks.start_soon(fx.accounts.wait_connected, account.id)
            await anyio.wait_all_tasks_blocked()
            raise Boom("the body failed")


async def test_exit_when_the_body_raises(
    slow_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = asyncio.all_tasks()
    with no_teardown_trouble(caplog), anyio.fail_after(5):
        # The body's own exception comes out unchanged (not wrapped in a group).
        with pytest.raises(Boom, match="the body failed"):
            await _raise_in_body(slow_sim)
        assert session_tasks(baseline) == []


async def test_exit_when_the_body_raises_with_waiters(
    slow_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = asyncio.all_tasks()
    with no_teardown_trouble(caplog), anyio.fail_after(5):
        with pytest.raises(ExceptionGroup) as caught:  # the body's own task group wraps it
            await _raise_in_body_with_waiters(slow_sim)
        # Only the body's exception: the cancelled waiters add nothing.
        assert [type(e) for e in caught.value.exceptions] == [Boom]
        assert session_tasks(baseline) == []


async def test_exit_when_a_waiting_task_is_cancelled(
    slow_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = asyncio.all_tasks()
    with no_teardown_trouble(caplog), anyio.fail_after(5):
        async with make_client(slow_sim) as fx:
            account = await link(fx)
            outcome: list[str] = []

            async def wait() -> None:
                with anyio.CancelScope() as scope:
                    waiter_scope.append(scope)
                    await fx.accounts.wait_connected(account.id, timeout=60)
                    outcome.append("connected")
                outcome.append("cancelled" if scope.cancelled_caught else "?")

            waiter_scope: list[anyio.CancelScope] = []
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(wait)
                await anyio.wait_all_tasks_blocked()
                waiter_scope[0].cancel()
            assert outcome == ["cancelled"]
            # The session is unharmed: others can still wait and be served.
            slow_sim.complete_provisioning(account.id)
            done = await fx.accounts.wait_connected(account.id, timeout=WAIT)
            assert done.status == "connected"
        assert session_tasks(baseline) == []


async def test_exit_when_the_whole_body_is_cancelled(
    slow_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = asyncio.all_tasks()
    with no_teardown_trouble(caplog), anyio.fail_after(5):
        with anyio.CancelScope() as outer:
            async with make_client(slow_sim) as fx:
                account = await link(fx)

                async def cancel_soon() -> None:
                    await anyio.wait_all_tasks_blocked()
                    outer.cancel()

                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(cancel_soon)
                    await fx.accounts.wait_connected(account.id, timeout=60)
                pytest.fail("wait_connected returned although the scope was cancelled")
        assert outer.cancelled_caught
        assert session_tasks(baseline) == []
    assert "closed" in repr(fx)


async def test_exit_cancelled_by_a_deadline_mid_request(
    sim: Simulator, connected_account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """A request in flight (the server is slow) when the block is left by a deadline."""
    baseline = asyncio.all_tasks()
    routes = watch_routes(sim)
    quotes_before = routes[route(QUOTE)]
    sim.faults.latency = 0.5
    try:
        with no_teardown_trouble(caplog), anyio.fail_after(5):
            with anyio.CancelScope() as outer:
                async with make_client(sim) as fx:
                    trading = fx.account(connected_account.id)
                    async with anyio.create_task_group() as tasks:
                        for _ in range(5):
                            tasks.start_soon(trading.quote, "EURUSD")

                        async def cancel_when_sent() -> None:
                            # All five have reached the (slow) server: cancel mid-request.
                            await routes.reached(route(QUOTE), quotes_before + 5)
                            outer.cancel()

                        tasks.start_soon(cancel_when_sent)
            assert outer.cancelled_caught
            assert session_tasks(baseline) == []
    finally:
        sim.faults.latency = 0


async def test_abandoned_history_with_prefetch_in_flight(
    sim: Simulator, connected_account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    baseline = asyncio.all_tasks()
    routes = watch_routes(sim)
    with no_teardown_trouble(caplog), anyio.fail_after(WAIT):
        async with make_client(sim) as fx:
            trading = fx.account(connected_account.id)
            for _ in range(3):
                order = await trading.orders.create("EURUSD", "BUY", 0.01)
                await trading.orders.close(order.id)
            before = routes[route(HISTORY)]
            got = []
            async for trade in trading.history(page_size=1):
                got.append(trade)
                # Slow the server before the prefetch of page 2 goes out, then wait
                # until it has reached the server: it is in flight when we leave.
                sim.faults.latency = 1.0
                await routes.reached(route(HISTORY), before + 2)
                break
            assert len(got) == 1
        sim.faults.latency = 0
        assert session_tasks(baseline) == []


async def test_abandoned_history_closed_explicitly(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    trading = fx.account(connected_account.id)
    for _ in range(3):
        order = await trading.orders.create("EURUSD", "SELL", 0.01)
        await trading.orders.close(order.id)
    with no_teardown_trouble(caplog), anyio.fail_after(WAIT):
        pages = trading.history(page_size=1)
        first = await pages.__anext__()
        await pages.aclose()
        # The session is fine afterwards: a fresh iteration reads everything.
        assert [t.id async for t in trading.history(page_size=2)][:1] == [first.id]
        assert len([t async for t in trading.history()]) == 3


# ------------------------------------------------------------------ secrets

SECRET_KEY = "sk_live_SECRET_KEY_123"
WRONG_KEY = "sk_live_WRONG_KEY_789"
SECRET_PASSWORD = "pw-SECRET-456"
SECRETS = (SECRET_KEY, WRONG_KEY, SECRET_PASSWORD)


def _texts(value: object) -> list[str]:
    """str and repr of a value, and of what a Struct, list or exception holds."""
    out = [str(value), repr(value)]
    if isinstance(value, msgspec.Struct):
        out.append(msgspec.json.encode(value).decode())
        for field in value.__struct_fields__:
            out.extend(_texts(getattr(value, field)))
    elif isinstance(value, list | tuple):
        for item in value:
            out.extend(_texts(item))
    elif isinstance(value, BaseException):
        out.append("".join(traceback.format_exception(value)))
        out.extend(str(a) for a in value.args)
        out.append(repr(vars(value)))
    return out


@pytest.mark.dialects("reference", "terminal")  # the terminal's key rides in its socket URL
async def test_secrets_never_appear(caplog: pytest.LogCaptureFixture, dialect: str) -> None:
    # Every logger at DEBUG: ours, the simulator's (and its access log), aiohttp's, asyncio's.
    caplog.set_level(logging.DEBUG)
    names = ["fxsocket_async", "fxsocket_async.simulator", "fxsocket_async.simulator.access"]
    for name in [*logging.root.manager.loggerDict, *names]:
        caplog.set_level(logging.DEBUG, logger=name)
    # Loggers that do not propagate to the root would escape caplog: attach it to them.
    isolated = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in isolated:
        logger.addHandler(caplog.handler)
    try:
        await _secrets_session(caplog)
    finally:
        for logger in isolated:
            logger.removeHandler(caplog.handler)


async def _secrets_session(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    errors: list[BaseException] = []

    def keep(*values: object) -> None:
        for value in values:
            seen.extend(_texts(value))

    @contextlib.contextmanager
    def expect(kind: type[BaseException]) -> Iterator[None]:
        try:
            yield
        except kind as exc:
            errors.append(exc)
        else:
            pytest.fail(f"expected {kind.__name__}")

    config = sim_config(
        api_keys=(ApiKey(SECRET_KEY, "full"),), provision_delay=0.05, rate_limit=None
    )
    retry = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02, retry_after_cap=0.02)
    with anyio.fail_after(30):
        async with Simulator(config, access_log=True) as sim:
            keep(sim.config, *sim.config.api_keys)
            async with make_client(sim, key=SECRET_KEY, retry=retry) as fx:
                keep(fx, fx.accounts, fx.stats(), fx.retry, fx.rate_limit, fx.timeouts)
                # A failed link (the broker refuses the password "invalid").
                with expect(BrokerRejectedError):
                    await fx.accounts.link(server="Sim-Demo", login=111, password="invalid")
                async with fx.accounts.watch() as feed:
                    keep(feed)
                    # A good link, retried after a 429, then a broken one.
                    sim.faults.fail_next(1, status=429, error="rate_limited", retry_after=1)
                    account = await fx.accounts.link(
                        server="Sim-Demo", login=222, password=SECRET_PASSWORD, nickname="demo"
                    )
                    broken = await fx.accounts.link(
                        server="X-Broken", login=333, password=SECRET_PASSWORD
                    )
                    keep(account, broken)
                    keep(await fx.accounts.wait_connected(account.id, timeout=WAIT))
                    with expect(AccountError):
                        await fx.accounts.wait_connected(broken.id, timeout=WAIT)
                    # connecting x2, connected, error
                    for _ in range(4):
                        keep(await feed.__anext__())
                # Local and server validation errors.
                with expect(ValidationError):
                    await fx.accounts.link(server="Sim-Demo", login=444, password="")
                trading = fx.account(account.id)
                keep(trading, trading.orders, fx.account())
                with expect(ValidationError):
                    await trading.orders.create("EURUSD", "BUY", float("nan"))
                with expect(BadRequestError):  # refused by the server: wrong side of the ask
                    await trading.orders.create("EURUSD", "BUY_LIMIT", 0.1, price=50.0)
                # A retried request of each kind, and every returned Struct.
                sim.faults.fail_next(1, status=500)
                keep(await trading.quote("EURUSD"))
                await warm_symbols(trading, "EURUSD")
                sim.faults.fail_next(1, status=500, after=True)
                # Replayed with its key (reference), or found by its marker (terminal).
                comment = None if is_terminal() else "c"
                order = await trading.orders.create("EURUSD", "BUY", 0.1, sl=1.0, comment=comment)
                keep(order)
                keep(await trading.orders.modify(order.id, sl=1.01))
                keep(await trading.summary(), await trading.positions())
                keep(await trading.orders.pending())
                keep(await trading.candles("EURUSD", "M1", limit=5))
                sim.faults.fail_next(1, status=500, after=True)
                keep(await trading.orders.close(order.id))
                history = trading.history()
                keep(history)
                keep([t async for t in history])
                keep(await fx.accounts.list(), await fx.accounts.get(account.id))
                with expect(NotFoundError):
                    await fx.accounts.get("acc-missing")
                with expect(NotFoundError):
                    await trading.orders.close(missing_order_id())
                # Retries exhausted: the last error.
                sim.faults.fail_next(5, status=502, error="bad_gateway")
                with expect(ServerError):
                    await trading.summary()
                sim.faults.clear()
                # Streams (a terminal's socket carries the key in its URL), a lost
                # connection and its reconnect, which are logged.
                async with (
                    fx.quotes("EURUSD", account=account.id) as quotes,
                    fx.events(account=account.id) as events,
                ):
                    sim.set_price("EURUSD", 1.1000, 1.1002)
                    keep(await quotes.__anext__())
                    sim.faults.drop_connections()
                    keep(await events.__anext__())  # the StreamGap of the reconnect
                    keep(fx.stats(), fx.connection(account.id).state, quotes, events)
                # A request that times out.
                sim.faults.latency = 0.3
                async with make_client(
                    sim,
                    key=SECRET_KEY,
                    retry=RetryPolicy(max_attempts=1),
                    timeouts=Timeouts(request=0.05),
                ) as impatient:
                    with expect(TimeoutError):
                        await impatient.accounts.list()
                sim.faults.latency = 0
                keep(fx.stats())
            keep(fx)
            # A session that is closed.
            with expect(SessionClosedError):
                _ = fx.accounts
            # A 401 with a wrong key.
            async with make_client(sim, key=WRONG_KEY, retry=retry) as wrong:
                keep(wrong, wrong.accounts)
                with expect(AuthenticationError):
                    await wrong.accounts.list()
                with expect(AuthenticationError):
                    await wrong.account(account.id).summary()
            # A connection that cannot be made.
            async with AsyncFxSocket(
                SECRET_KEY, base_url=f"http://127.0.0.1:{closed_port()}", retry=retry
            ) as dead:
                keep(dead)
                with expect(ConnectionFailedError):
                    await dead.accounts.list()
            keep(sim.accounts())
    # A session that never had a key.
    with expect(ConfigurationError):
        AsyncFxSocket(api_key="")

    keep(*errors)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        seen.append(formatter.format(record))
        seen.append(repr(record.args))
    seen.append(caplog.text)

    # The capture worked: we saw our own retry log, the simulator's and the access log.
    names = {record.name for record in caplog.records}
    assert "fxsocket_async.rest" in names, names  # the client's REST log (retries)
    assert "fxsocket_async.simulator" in names, names
    assert any("retry" in record.getMessage() for record in caplog.records)
    assert len(errors) == 14, errors
    assert {type(e) for e in errors} >= {
        BrokerRejectedError,
        AccountError,
        AuthenticationError,
        ConnectionFailedError,
        TimeoutError,
        ServerError,
        NotFoundError,
    }

    blob = "\n".join(seen)
    for secret in SECRETS:
        assert secret not in blob, f"{secret!r} leaked"
    # Not even a distinctive part of them.
    for fragment in ("SECRET_KEY_123", "WRONG_KEY_789", "SECRET-456"):
        assert fragment not in blob, f"{fragment!r} leaked"
