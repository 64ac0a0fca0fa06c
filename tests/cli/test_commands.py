"""The command line's other commands, as subprocesses against a simulator process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from .helpers import NO_EXTRAS, ROOT, WAIT, clean_env, cli, run, simulator_process

pytestmark = pytest.mark.anyio

COMMANDS = ("accounts", "collect", "coverage", "demo", "quotes", "simulator")


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("fxsocket-async")
    return str(beside) if beside.exists() else shutil.which("fxsocket-async")


async def test_help_lists_every_command() -> None:
    result = await cli("--help", env=clean_env())
    assert result.code == 0, result.err
    for command in COMMANDS:
        assert f"  {command} " in result.out, result.out


async def test_the_console_script_is_the_same_command() -> None:
    script = _console_script()
    if script is None:
        pytest.skip("the package is not installed (no console script)")
    result = await run(script, "--version", env=clean_env())
    assert result.code == 0, result.err
    assert result.out.startswith("fxsocket-async, version ")


async def test_usage_errors_exit_2_with_one_line() -> None:
    for args in (("collect", "--out", "x"), ("collect", "--out", "x", "--rotate", "soon", "E")):
        result = await cli(*args, env=clean_env())
        assert result.code == 2, (args, result.err)
        assert "Traceback" not in result.err


async def test_without_a_key_a_command_says_so_and_exits_1() -> None:
    result = await cli("accounts", "list", env=clean_env())
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert "FXSOCKET_API_KEY" in result.err


async def test_accounts_list_link_and_unlink() -> None:
    async with simulator_process("--provision-delay", "0.2", "--link", "Sim-Demo:77:first") as sim:
        listed = await cli("accounts", "list", env=sim.env)
        assert listed.code == 0, listed.err
        assert listed.out.splitlines()[0].split() == ["id", "server", "login", "nickname", "status"]
        assert "Sim-Demo  77     first     connected" in listed.out
        env = {**sim.env, "FXSOCKET_PASSWORD": "pw-secret"}
        linked = await cli("accounts", "link", "--server", "Other-Demo", "--login", "88", env=env)
        assert linked.code == 0, linked.err
        account_id = linked.out.split()[0]
        assert linked.out.splitlines()[-1] == f"{account_id}: connected"
        again = await cli("accounts", "link", "--server", "Other-Demo", "--login", "88", env=env)
        assert again.out.split()[0] == account_id  # found, not linked twice
        as_json = json.loads((await cli("accounts", "list", "--json", env=sim.env)).out)
        assert {a["login"] for a in as_json} == {77, 88}
        unlinked = await cli("accounts", "unlink", account_id, env=sim.env)
        assert unlinked.code == 0, unlinked.err
        gone = await cli("accounts", "unlink", account_id, env=sim.env)
        assert gone.code == 1
        assert "pw-secret" not in linked.out + linked.err + gone.err


async def test_quotes_tail_prints_a_line_per_quote_when_piped() -> None:
    async with simulator_process("--link", "Sim-Demo:78", "--quote-interval", "0.02") as sim:
        result = await cli("quotes", "tail", "EURUSD", "GBPUSD", "--count", "6", env=sim.env)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 6
    for line in lines:
        _, symbol, bid, ask = line.split()
        assert symbol in ("EURUSD", "GBPUSD")
        assert float(bid) < float(ask)


async def test_the_live_table_without_rich_names_the_extra() -> None:
    # In a terminal (a pty here) the command would show a table; rich is blocked.
    code = NO_EXTRAS + "from fxsocket_async.cli import main; sys.exit(main(sys.argv[1:]))"
    leader, follower = os.openpty()
    try:
        with anyio.fail_after(WAIT):
            done = await anyio.run_process(
                [sys.executable, "-c", code, "quotes", "tail", "EURUSD"],
                env=clean_env(),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=follower,
                check=False,
            )
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 1
    assert "pip install 'fxsocket-async[collect]'" in done.stderr.decode()


async def test_coverage_of_a_folder_without_an_archive_exits_1(tmp_path: Path) -> None:
    result = await cli("coverage", str(tmp_path), env=clean_env())
    assert result.code == 1
    assert "no archive" in result.err
