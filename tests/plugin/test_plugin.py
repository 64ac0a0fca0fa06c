"""The pytest plugin (``fxsocket_async.pytest_plugin``), run as our users run it.

Each test writes a user's test files into a fresh directory (pytester) and
runs pytest on them in a session of its own (``runpytest_subprocess``), with
the plugin found through its ``pytest11`` entry point like any installed
plugin, under pytest-asyncio (strict and auto mode, with odd loop scopes)
and under anyio's plugin (with pytest-asyncio installed beside it, and
without). Every run is strict: ``--strict-markers``, and every warning an
error, so a fixture handed to the wrong plugin (which warns) fails too.

``example_pytest_asyncio.py`` and ``example_anyio.py`` beside this file are
the README's example test; ``tests/test_docs_examples.py`` checks that the
README shows the first one as it is here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).resolve().parent
EXAMPLE_ASYNCIO = (HERE / "example_pytest_asyncio.py").read_text()
EXAMPLE_ANYIO = (HERE / "example_anyio.py").read_text()

#: Every child session: strict markers, warnings are errors, a hard timeout.
STRICT = ("--strict-markers", "-W", "error", "-p", "no:cacheprovider", "-q")


def _ini(pytester: pytest.Pytester, *, asyncio: bool = True, **options: str) -> None:
    """A pytest.ini: a timeout, and (pytest-asyncio being loaded) its loop scope set."""
    lines = {"timeout": "30", **options}
    if asyncio:
        lines.setdefault("asyncio_default_fixture_loop_scope", "function")
    body = "\n".join(f"{key} = {value}" for key, value in lines.items())
    pytester.makeini(f"[pytest]\n{body}\n")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*STRICT, *args, timeout=60)


# ---------------------------------------------------------------- the README's example


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="strict"),
        pytest.param({"asyncio_mode": "auto"}, id="auto"),
        # Our fixtures still run on the test's loop, not on the session's.
        pytest.param({"asyncio_default_fixture_loop_scope": "session"}, id="session-fixtures"),
    ],
)
def test_the_example_runs_under_pytest_asyncio(
    pytester: pytest.Pytester, options: dict[str, str]
) -> None:
    _ini(pytester, **options)
    pytester.makepyfile(test_my_bot=EXAMPLE_ASYNCIO)
    _run(pytester).assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "plugins",
    [
        pytest.param((), id="beside-pytest-asyncio"),
        pytest.param(("-p", "no:asyncio"), id="anyio-alone"),
    ],
)
def test_the_example_runs_under_anyio(pytester: pytest.Pytester, plugins: tuple[str, ...]) -> None:
    _ini(pytester, asyncio=not plugins)
    pytester.makepyfile(test_my_bot=EXAMPLE_ANYIO)
    _run(pytester, *plugins).assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "order",
    [
        pytest.param((), id="as-installed"),
        # anyio's plugin loaded first: pytest-asyncio's setup hook then runs before
        # anyio's, and would take a fixture marked for it even in an anyio test.
        pytest.param(("-p", "anyio"), id="anyio-first"),
    ],
)
def test_both_plugins_in_one_session(pytester: pytest.Pytester, order: tuple[str, ...]) -> None:
    """Tests of both kinds side by side: each gets the fixtures on its own loop."""
    _ini(pytester)
    # pytest-asyncio tests first: they mark the fixtures for pytest-asyncio, which
    # must not take them in the anyio tests that follow.
    pytester.makepyfile(test_1_asyncio_bot=EXAMPLE_ASYNCIO, test_2_anyio_bot=EXAMPLE_ANYIO)
    _run(pytester, *order).assert_outcomes(passed=4)


# ---------------------------------------------------------------- configuration

CONFIGURED = """
import asyncio
import dataclasses

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.fxsocket_simulator(balance=500.0, seed=3)]


async def test_defaults_for_tests(fxsocket_simulator):
    config = fxsocket_simulator.config
    assert config.provision_delay == 0
    assert (config.balance, config.seed) == (500.0, 3)  # the module's marker
    assert fxsocket_simulator.base_url.startswith("http://127.0.0.1:")


@pytest.mark.fxsocket_simulator(quote_interval=None, seed=9)
async def test_the_closest_marker_wins(fxsocket_simulator):
    config = fxsocket_simulator.config
    assert (config.quote_interval, config.seed, config.balance) == (None, 9, 500.0)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_module_loop_gets_its_client_on_that_loop(fxsocket_client, fxsocket_account):
    assert fxsocket_account.status == "connected"
    summary = await fxsocket_client.account(fxsocket_account.id).summary()
    assert summary.balance == 500.0


async def test_the_account_streams(fxsocket_client, fxsocket_simulator, fxsocket_account):
    async with fxsocket_client.quotes("EURUSD", account=fxsocket_account.id) as quotes:
        fxsocket_simulator.set_price("EURUSD", 1.2345)
        async with asyncio.timeout(10):
            async for quote in quotes:
                if quote.bid == 1.2345:
                    break


async def test_faults_are_at_hand(fxsocket_client, fxsocket_simulator, fxsocket_account):
    fxsocket_simulator.faults.latency = 0.05
    await fxsocket_client.account(fxsocket_account.id).positions()
    assert fxsocket_simulator.stats.requests > 0
"""

OVERRIDDEN = """
import dataclasses

import pytest


@pytest.fixture
def fxsocket_simulator_config(fxsocket_simulator_config):
    return dataclasses.replace(fxsocket_simulator_config, leverage=30.0)


@pytest.mark.asyncio
@pytest.mark.fxsocket_simulator(balance=42.0)
async def test_an_override_builds_on_the_default(fxsocket_simulator):
    assert (fxsocket_simulator.config.leverage, fxsocket_simulator.config.balance) == (30.0, 42.0)
"""


def test_markers_configure_the_simulator(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(test_configured=CONFIGURED)
    _run(pytester).assert_outcomes(passed=5)


def test_the_config_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(test_overridden=OVERRIDDEN)
    _run(pytester).assert_outcomes(passed=1)


def test_a_bad_marker_says_what_is_wrong(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        test_bad="""
import pytest

@pytest.mark.asyncio
@pytest.mark.fxsocket_simulator(provision_dealy=0)
async def test_typo(fxsocket_simulator):
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fxsocket_simulator*provision_dealy*"])


def test_a_test_no_plugin_runs_is_told_what_to_do(pytester: pytest.Pytester) -> None:
    _ini(pytester, asyncio=False)
    pytester.makepyfile(
        test_unmarked="""
async def test_unmarked(fxsocket_client):
    pass
"""
    )
    result = _run(pytester, "-p", "no:asyncio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*fxsocket_* is an async fixture: run the test with pytest-asyncio*"]
    )


def test_a_sync_test_is_told_what_to_do(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        test_sync="""
def test_sync(fxsocket_client):
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*fxsocket_* lives on the test's event loop: use it from an async*"]
    )


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    result = _run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.fxsocket_simulator(**fields)*"])
