"""A pytest plugin for your own tests: a running simulator and a client wired to it.

Installed with the package (the ``pytest11`` entry point ``fxsocket_async``),
so its fixtures are there in every test session, nothing to import:

- ``fxsocket_simulator_config``: the ``SimulatorConfig`` of the test's
  simulator: ``SimulatorConfig()``'s defaults except ``provision_delay=0``,
  then the fields of the test's ``@pytest.mark.fxsocket_simulator(...)``
  markers (module, class, function: the closest wins). Override the fixture
  to build your own, or to change the default one (a fixture may ask for the
  fixture it overrides, by its own name). A recorded market is one field:
  ``@pytest.mark.fxsocket_simulator(replay=ReplaySpec("tests/data/day",
  speed="max", start="subscribed"))`` replays an archive of ``fxsocket-async
  collect`` (``fxsocket_simulator.replay`` steers it; docs/simulator.md, "Replay").
- ``fxsocket_simulator``: a running ``Simulator`` on 127.0.0.1 and an
  ephemeral port. Steer it from the test: ``set_price()``, ``tick()``,
  ``set_account_status()``, and the fault handles ``fxsocket_simulator.faults``
  (``drop_connections()``, ``mute()``, ``fail_next()``, ``latency``...).
- ``fxsocket_client``: an open ``AsyncFxSocket`` on that simulator, with its
  first API key; polling and retry delays are shortened for tests (the rules
  are the production ones).
- ``fxsocket_account``: an ``Account`` linked through ``fxsocket_client`` and
  connected (``ACCOUNT_SERVER``, ``ACCOUNT_LOGIN``).

How the async fixtures run. They are async fixtures so that everything they
open (the simulator's server and market clock, the client's aiohttp session
and task group) lives on the event loop the test itself runs on: a client
bound to another loop, or to a thread, cannot serve the test. pytest runs no
async fixture itself; the plugin that runs the test must:

- anyio's plugin runs an async fixture, on the test's runner, when the test
  uses the ``anyio_backend`` fixture (``@pytest.mark.anyio`` does that);
- pytest-asyncio, in its default strict mode, runs only fixtures marked by
  ``pytest_asyncio.fixture``, on the loop of the fixture's ``loop_scope``.

Marking ours for pytest-asyncio for good would hand them to pytest-asyncio
in anyio tests too (whichever plugin's setup hook comes first wins, and their
order is the order the plugins happen to load in), and would need
pytest-asyncio installed. So this plugin decides per test, in a
``pytest_fixture_setup`` hook that runs before both plugins' hooks: for a
test that uses ``anyio_backend`` it hands anyio an unmarked copy of the
fixture; for any other test it marks the fixture with
``pytest_asyncio.fixture(loop_scope=...)``, the loop scope being the test's
own (its ``asyncio`` marker's ``loop_scope``, or
``asyncio_default_test_loop_scope``), so the fixture runs on the very loop
the test runs on, whatever ``asyncio_default_fixture_loop_scope`` says.

One more difference: pytest-asyncio runs an async generator fixture's setup
and its teardown in two different tasks, while the simulator and the client
each hold a task group (a cancel scope), which must be left in the task that
entered it. So each of them is entered and left by a host task of its own,
started on the test's loop by the fixture's setup and stopped by its
teardown (``_Hosted``); that works the same under anyio. A failure of a
session's background work ends its host task and is raised at teardown.

The client runs on asyncio only (aiohttp): under anyio, set
``anyio_backend`` to ``"asyncio"``.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Generic, TypeVar, cast

import anyio
import pytest

from ._client import AsyncFxSocket
from ._config import RetryPolicy, WatcherPolicy
from ._core.models import Account
from .simulator import Simulator, SimulatorConfig

__all__ = [
    "ACCOUNT_LOGIN",
    "ACCOUNT_PASSWORD",
    "ACCOUNT_SERVER",
    "MARKER",
    "fxsocket_account",
    "fxsocket_client",
    "fxsocket_simulator",
    "fxsocket_simulator_config",
]

#: The marker that sets ``SimulatorConfig`` fields for a test, a class or a module.
MARKER: Final = "fxsocket_simulator"
#: The account ``fxsocket_account`` links.
ACCOUNT_SERVER: Final = "Sim-Demo"
ACCOUNT_LOGIN: Final = 1000001
ACCOUNT_PASSWORD: Final = "test-password"
#: The longest ``fxsocket_account`` waits for its terminal, in seconds.
ACCOUNT_TIMEOUT: Final = 10.0

#: Test speeds: the watcher polls every 10-200 ms, retries wait 10-100 ms.
TEST_WATCHER: Final = WatcherPolicy(initial_interval=0.01, max_interval=0.2)
TEST_RETRY: Final = RetryPolicy(initial_delay=0.01, max_delay=0.1)

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

#: The async fixture functions of this plugin, as pytest registered them.
_ASYNC_FIXTURES: set[Callable[..., Any]] = set()
#: Their unmarked copies, handed to anyio (see the module docstring).
_UNMARKED: dict[Callable[..., Any], Callable[..., Any]] = {}


def _async_fixture(func: F) -> F:
    _ASYNC_FIXTURES.add(func)
    return cast(F, pytest.fixture(func))


# ------------------------------------------------------------------ hooks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**fields): SimulatorConfig fields for the fxsocket_simulator fixture, "
        "e.g. @pytest.mark.fxsocket_simulator(provision_delay=0, quote_interval=None)",
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Hand this plugin's async fixtures to the plugin that runs the test."""
    func = fixturedef.func
    if func not in _ASYNC_FIXTURES:
        return (yield)
    if not _is_async_test(request):
        pytest.fail(
            f"{fixturedef.argname} lives on the test's event loop: use it from an async test",
            pytrace=False,
        )
    if "anyio_backend" in request.fixturenames:
        fixturedef.func = _unmarked(func)  # type: ignore[misc]
        try:
            return (yield)
        finally:
            fixturedef.func = func  # type: ignore[misc]
    if request.config.pluginmanager.has_plugin("asyncio"):
        import pytest_asyncio

        pytest_asyncio.fixture(func, loop_scope=_test_loop_scope(request))
        return (yield)
    pytest.fail(
        f"{fixturedef.argname} is an async fixture: run the test with pytest-asyncio "
        "(@pytest.mark.asyncio) or anyio (@pytest.mark.anyio)",
        pytrace=False,
    )


def _is_async_test(request: pytest.FixtureRequest) -> bool:
    test = getattr(request.node, "obj", None)
    if test is None:  # not a test function's request: nothing to judge by
        return True
    test = getattr(getattr(test, "hypothesis", None), "inner_test", test)
    return inspect.iscoroutinefunction(test)


def _unmarked(func: Callable[..., Any]) -> Callable[..., Any]:
    copy = _UNMARKED.get(func)
    if copy is None:
        code = func.__code__
        copy = types.FunctionType(
            code, func.__globals__, func.__name__, func.__defaults__, func.__closure__
        )
        copy.__kwdefaults__ = func.__kwdefaults__
        copy.__qualname__ = func.__qualname__
        copy.__doc__ = func.__doc__
        _UNMARKED[func] = copy
    return copy


def _test_loop_scope(request: pytest.FixtureRequest) -> Any:
    marker = request.node.get_closest_marker("asyncio")
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
        if scope:
            return scope
    try:
        return request.config.getini("asyncio_default_test_loop_scope") or "function"
    except ValueError:  # a pytest-asyncio older than that option: tests run per function
        return "function"


# ------------------------------------------------------------------ hosting


class _Hosted(Generic[T]):
    """An async context manager entered and left by a task of its own on this loop."""

    def __init__(self, manager: AbstractAsyncContextManager[T]) -> None:
        self._manager = manager
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> T:
        """Enter the manager in its host task; return what it gave. Raises what entering did."""
        entered: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def host() -> None:
            async with self._manager as value:
                entered.set_result(value)
                await self._stop.wait()

        self._task = task = asyncio.create_task(host())
        either: list[asyncio.Future[Any]] = [entered, task]
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the setup was cancelled: take the host down with it
            task.cancel()
            raise
        if not entered.done():
            entered.cancel()
            task.result()  # entering failed: raise why
        return entered.result()

    async def stop(self) -> None:
        """Leave the manager; raises what leaving it (or its background work) raised."""
        self._stop.set()
        if self._task is not None:
            await self._task


async def _hosted(manager: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    hosted = _Hosted(manager)
    value = await hosted.start()
    try:
        yield value
    finally:
        await hosted.stop()


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def fxsocket_simulator_config(request: pytest.FixtureRequest) -> SimulatorConfig:
    """The ``SimulatorConfig`` of ``fxsocket_simulator``: the defaults but
    ``provision_delay=0``, then the ``fxsocket_simulator`` markers' fields."""
    fields: dict[str, Any] = {"provision_delay": 0.0}
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        if marker.args:
            pytest.fail(f"@pytest.mark.{MARKER} takes SimulatorConfig fields by name only")
        fields.update(marker.kwargs)
    try:
        return SimulatorConfig(**fields)
    except (TypeError, ValueError) as exc:
        pytest.fail(f"@pytest.mark.{MARKER}{fields}: {exc}", pytrace=False)


@_async_fixture
async def fxsocket_simulator(
    fxsocket_simulator_config: SimulatorConfig,
) -> AsyncIterator[Simulator]:
    """A running ``Simulator`` (127.0.0.1, an ephemeral port); ``.faults`` injects faults."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pytest.fail(
            "fxsocket_async runs on asyncio: set the anyio_backend fixture to 'asyncio'",
            pytrace=False,
        )
    async for simulator in _hosted(Simulator(fxsocket_simulator_config)):
        yield simulator


@_async_fixture
async def fxsocket_client(fxsocket_simulator: Simulator) -> AsyncIterator[AsyncFxSocket]:
    """An open ``AsyncFxSocket`` on ``fxsocket_simulator``, with its first API key."""
    sim = fxsocket_simulator
    client = AsyncFxSocket(
        sim.config.api_keys[0].key,
        base_url=sim.base_url,
        ws_url=sim.ws_url,
        watcher=TEST_WATCHER,
        retry=TEST_RETRY,
    )
    async for opened in _hosted(client):
        yield opened


@_async_fixture
async def fxsocket_account(
    fxsocket_client: AsyncFxSocket, fxsocket_simulator: Simulator
) -> Account:
    """An account linked through ``fxsocket_client``, its terminal up: ``connected``."""
    account = await fxsocket_client.accounts.ensure(
        server=ACCOUNT_SERVER, login=ACCOUNT_LOGIN, password=ACCOUNT_PASSWORD, nickname="test"
    )
    fxsocket_simulator.complete_provisioning(account.id)
    with anyio.fail_after(ACCOUNT_TIMEOUT):
        return await fxsocket_client.accounts.wait_connected(account.id, timeout=ACCOUNT_TIMEOUT)
