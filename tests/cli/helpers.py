"""Running the command line as a user does: real processes, a real simulator, real ports.

``simulator_process`` starts ``python -m fxsocket_async.simulator --port 0``
and reads its three lines; ``cli`` runs ``python -m fxsocket_async ...`` to
its end; ``cli_process`` starts one to stop later (its output goes to files,
so no pipe can fill and stall it). Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

ROOT = Path(__file__).resolve().parents[2]
#: The longest any one wait on a child process may take (far below pytest-timeout).
WAIT = 30.0
SIMULATOR = (sys.executable, "-m", "fxsocket_async.simulator")
CLI = (sys.executable, "-m", "fxsocket_async")
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD")
#: Blocks the collect extra in a child, as if it were not installed.
NO_EXTRAS = "import sys; sys.modules['pyarrow'] = None; sys.modules['rich'] = None; "


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without FXSOCKET_*, unbuffered, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FXSOCKET_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


@dataclass
class Result:
    code: int
    out: str
    err: str


async def cli(*args: str, env: Mapping[str, str], timeout: float = WAIT) -> Result:
    """``python -m fxsocket_async *args`` to its end."""
    return await run(*CLI, *args, env=env, timeout=timeout)


async def run(
    *command: str, env: Mapping[str, str], timeout: float = WAIT, cwd: Path = ROOT
) -> Result:
    """``command`` to its end (``python`` is this interpreter)."""
    argv = [sys.executable if command[0] == "python" else command[0], *command[1:]]
    with anyio.fail_after(timeout):
        done = await anyio.run_process(
            argv, env=dict(env), cwd=cwd, check=False, stdin=subprocess.DEVNULL
        )
    return Result(done.returncode, done.stdout.decode(), done.stderr.decode())


@dataclass
class SimulatorProcess:
    env: dict[str, str]
    process: anyio.abc.Process


@asynccontextmanager
async def simulator_process(*args: str) -> AsyncIterator[SimulatorProcess]:
    """A simulator in a process of its own; ``env`` is what a client needs to reach it."""
    command = [*SIMULATOR, "--port", "0", *args]
    with tempfile.TemporaryFile() as log:
        async with await anyio.open_process(
            command, cwd=ROOT, env=clean_env(), stdin=subprocess.DEVNULL, stderr=log
        ) as process:
            assert process.stdout is not None
            found: dict[str, str] = {}
            text = b""
            try:
                with anyio.fail_after(WAIT):
                    while len(found) < 3 and len(text) < 1 << 16:
                        try:
                            text += await process.stdout.receive()
                        except anyio.EndOfStream:
                            log.seek(0)
                            tail = log.read().decode(errors="replace")[-2000:]
                            raise AssertionError(f"the simulator stopped: {tail}") from None
                        for line in text.decode().splitlines():
                            name, _, value = line.partition("=")
                            if name.startswith("FXSOCKET_") and value:
                                found[name] = value
                yield SimulatorProcess(clean_env(found), process)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    with anyio.move_on_after(10):
                        await process.wait()
                    if process.returncode is None:
                        process.kill()
                        await process.wait()


class Running:
    """A command started with ``cli_process``: its process and the files its output goes to."""

    def __init__(self, process: anyio.abc.Process, out: Path, err: Path) -> None:
        self.process = process
        self.out_path = out
        self.err_path = err

    @property
    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def err(self) -> str:
        return self.err_path.read_text(errors="replace")

    async def wait(self, timeout: float = WAIT) -> int:
        with anyio.fail_after(timeout):
            return await self.process.wait()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill_group(self) -> None:
        """kill -9 of the whole process group (the collector and its writer): a crash."""
        os.killpg(self.process.pid, signal.SIGKILL)


@asynccontextmanager
async def cli_process(tmp_path: Path, *args: str, env: Mapping[str, str]) -> AsyncIterator[Running]:
    """``python -m fxsocket_async *args`` in a process group of its own, until it ends."""
    out, err = tmp_path / "cli.out", tmp_path / "cli.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await anyio.open_process(
            [*CLI, *args],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    running = Running(process, out, err)
    try:
        yield running
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with anyio.move_on_after(WAIT):
            await process.wait()
        await process.aclose()


_ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)(?:\s+(\S+))?$")


def summary_counts(stdout: str) -> dict[str, tuple[int, int]]:
    """The summary's per-symbol rows: symbol -> (delivered, written); ``total`` included."""
    counts: dict[str, tuple[int, int]] = {}
    for line in stdout.splitlines():
        match = _ROW.match(line.strip())
        if match:
            counts[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return counts


def read_ticks(out_dir: Path) -> Any:
    """Every finished tick file of the archive, as one pyarrow table, in arrival order.

    Sessions never overlap, and within one a batch shares its receive time: receive
    time, then seq, is the order the ticks came in (session ids sort only to the second).
    """
    import pyarrow.dataset as ds

    dataset = ds.dataset(out_dir / "ticks", format="parquet", partitioning="hive")
    return dataset.to_table().sort_by([("receive_time", "ascending"), ("seq", "ascending")])


def parquet_files(out_dir: Path) -> list[Path]:
    return sorted((out_dir / "ticks").rglob("*.parquet"))


def spools(out_dir: Path) -> list[Path]:
    return sorted(p for p in (out_dir / "ticks").rglob(".*") if p.is_file())


def env_for(base_url: str, ws_url: str, api_key: str) -> dict[str, str]:
    """The environment of a client of that server."""
    return clean_env(
        {"FXSOCKET_API_KEY": api_key, "FXSOCKET_BASE_URL": base_url, "FXSOCKET_WS_URL": ws_url}
    )


async def coverage_json(out_dir: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """``coverage DIR --json``, parsed."""
    import json

    result = await cli("coverage", str(out_dir), "--json", env=env)
    assert result.code == 0, result.err
    report: dict[str, Any] = json.loads(result.out)
    return report


def journal(out_dir: Path) -> list[dict[str, Any]]:
    """Every record of the archive's journals (a torn last line skipped), in file order."""
    import json

    records: list[dict[str, Any]] = []
    for path in sorted((out_dir / "_journal").glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def listening(out_dir: Path) -> bool:
    """Whether the collector has said its subscription is in (the server holds it then)."""
    return (out_dir / "_journal").is_dir() and any(
        r.get("type") == "listening" for r in journal(out_dir)
    )


def spooled_receive_times(out_dir: Path) -> list[int]:
    """Receive times (ns) of the ticks in the parts in progress (Parquet spools)."""
    from fxsocket_async.collect._parts import read_spool

    times: list[int] = []
    for path in spools(out_dir):
        for batch in read_spool(path):
            times += batch.column("receive_time").cast("int64").to_pylist()
    return times
