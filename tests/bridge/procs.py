"""Processes of the end-to-end tests: nats-server, the bridge, remote consumers.

The simulator runs in the test's own process (so a test can steer its faults
and read its books); everything else runs in processes of its own:

- ``nats()``: a real ``nats-server -js`` on an ephemeral loopback port
  (``fxsocket_async.bridge.testing``), killed at exit;
- ``child(role, ...)``: ``python -m tests.bridge.child ROLE ...`` in a process
  group of its own (so ``kill()`` is a real ``kill -9``), its stdout read line
  by line as JSON into ``lines``; ``wait_for`` waits on each new line, with a
  deadline, and fails naming what never came, with the child's stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import IO, Any, TypeVar

import anyio
import anyio.abc

from fxsocket_async.bridge.testing import NatsServer
from fxsocket_async.simulator import Simulator
from tests.cli.helpers import ROOT, clean_env

__all__ = ["WAIT", "Child", "bridge", "child", "cli_bridge", "nats", "sim_env", "spawn"]

#: The longest any one wait of these tests may take (far below pytest-timeout).
WAIT = 15.0
T = TypeVar("T")


def sim_env(sim: Simulator, key: str) -> dict[str, str]:
    """The environment of a child that reaches ``sim`` upstream."""
    return clean_env(
        {"FXSOCKET_API_KEY": key, "FXSOCKET_BASE_URL": sim.base_url, "FXSOCKET_WS_URL": sim.ws_url}
    )


@asynccontextmanager
async def nats() -> AsyncIterator[NatsServer]:
    server = NatsServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        if server.store_dir is not None:
            import shutil

            shutil.rmtree(server.store_dir, ignore_errors=True)


class Child:
    """A running ``tests.bridge.child``: its JSON lines as they come."""

    def __init__(self, name: str, process: anyio.abc.Process, err: IO[bytes]) -> None:
        self.name = name
        self.process = process
        self._err = err
        self.lines: list[dict[str, Any]] = []
        self._changed = anyio.Event()

    def _add(self, line: dict[str, Any]) -> None:
        self.lines.append(line)
        self._changed.set()
        self._changed = anyio.Event()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("kind") == kind]

    @property
    def err(self) -> str:
        self._err.seek(0)
        return self._err.read().decode(errors="replace")[-3000:]

    async def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], T], *, what: str, timeout: float = WAIT
    ) -> T:
        """Wait until ``predicate(lines)`` is truthy (checked at each new line)."""
        with anyio.move_on_after(timeout):
            for _ in range(1_000_000):  # one round per line: bounded by what a child prints
                result = predicate(self.lines)
                if result:
                    return result
                if self.process.returncode is not None:
                    break
                await self._changed.wait()
        raise AssertionError(
            f"{self.name}: {what} never came within {timeout:g} s "
            f"(exit {self.process.returncode}; last lines {self.lines[-3:]}); stderr:\n{self.err}"
        )

    async def ready(self) -> None:
        await self.wait_for(lambda lines: self.of("ready"), what="READY")

    def kill(self) -> None:
        """``kill -9`` of the child's process group: a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self, timeout: float = WAIT) -> int:
        """SIGTERM, and wait for a clean exit; returns the exit status."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(timeout):
            return await self.process.wait()

    async def end(self) -> None:
        """SIGTERM (a clean leave: a consumer acks what it took), SIGKILL after 5 s."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with anyio.move_on_after(5):
                await self.process.wait()
        self.kill()
        with anyio.move_on_after(WAIT):
            await self.process.wait()

    async def exited(self, timeout: float = WAIT) -> int:
        with anyio.fail_after(timeout):
            return await self.process.wait()


def child(
    role: str, *args: str, env: dict[str, str], name: str = ""
) -> contextlib.AbstractAsyncContextManager[Child]:
    """``python -m tests.bridge.child ROLE *args`` until the block ends (then stopped)."""
    return spawn([sys.executable, "-m", "tests.bridge.child", role, *args], env, name or role)


def cli_bridge(
    sim: Simulator, key: str, nats_url: str, account: str, *extra: str
) -> contextlib.AbstractAsyncContextManager[Child]:
    """The real command, ``python -m fxsocket_async bridge ...``, on ``sim`` (it prints no
    READY: wait for what it does upstream, e.g. ``sim.wait_for_subscriptions``)."""
    command = [sys.executable, "-m", "fxsocket_async", "bridge", "--nats", nats_url]
    command += ["--account", account, "--quiet", *extra]
    return spawn(command, sim_env(sim, key), "fxsocket-async bridge")


@asynccontextmanager
async def spawn(command: list[str], env: dict[str, str], name: str) -> AsyncIterator[Child]:
    """``command`` in a process group of its own, its stdout read as JSON lines."""
    with tempfile.TemporaryFile() as stderr:
        process = await anyio.open_process(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        running = Child(name, process, stderr)
        async with process, anyio.create_task_group() as tasks:
            tasks.start_soon(_read_lines, running)
            try:
                yield running
            finally:
                await running.end()
                tasks.cancel_scope.cancel()


async def _read_lines(running: Child) -> None:
    stdout = running.process.stdout
    assert stdout is not None
    pending = b""
    for _ in range(10_000_000):  # bounded: one round per chunk the child writes
        try:
            chunk = await stdout.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            if raw.strip():
                try:
                    running._add(json.loads(raw))
                except ValueError:
                    running._add({"kind": "text", "text": raw.decode(errors="replace")})
    running._changed.set()  # wake a waiter: the child is gone


def bridge(
    sim: Simulator, key: str, nats_url: str, account: str, *extra: str, name: str = "bridge"
) -> contextlib.AbstractAsyncContextManager[Child]:
    """A bridge process on ``sim`` for ``account`` (ready once it printed READY)."""
    return child(
        "bridge", "--nats", nats_url, "--account", account, *extra, env=sim_env(sim, key), name=name
    )
