"""``WriterProcess``: the sink's side of its writer process (start, frames, reports, end)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any, Final

import anyio
import msgspec

from .._exceptions import FxSocketError
from ._protocol import CLOSE, FRAME, OPEN, Close, Open, Report

__all__ = ["BUFFER", "CLOSE_TIMEOUT", "SinkError", "WriterProcess"]

#: Bytes that may wait for the writer (pipe and write buffer) before a write waits.
BUFFER: Final = 4 * 1024 * 1024
#: The most a close may take (sealing the last parts) before the writer is killed.
CLOSE_TIMEOUT: Final = 300.0
_PIPE_SIZE: Final = 1024 * 1024
_F_SETPIPE_SZ: Final = 1031  # Linux; elsewhere the pipe keeps its size
_PACKAGE: Final = str(Path(__file__).resolve().parents[1])
# The writer process imports what writing needs and no more: not the client (aiohttp and
# the rest, ~16 MB of RSS), which importing ``fxsocket_async`` itself would bring. The
# packages are stood in by plain modules with this installation's paths; every module
# it imports is this package's own file.
_BOOTSTRAP: Final = """
import os, sys, types
# Before pyarrow loads: with mimalloc never started, the writer peaks ~15 MB lower over
# 5,000,000 ticks (92 MB against 107, measured), at the same speed within noise.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
root = sys.argv[1]
for name, path in (("fxsocket_async", root), ("fxsocket_async.collect", root + "/collect")):
    package = types.ModuleType(name)
    package.__path__ = [path]
    sys.modules[name] = package
from fxsocket_async.collect._writer import main
sys.exit(main())
"""


class SinkError(FxSocketError):
    """The writer process failed (a full disk, an unwritable folder); its reason is the message."""


class WriterProcess:
    """A writer process: frames in on its stdin, reports out on its stdout."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self.error: SinkError | None = None
        #: The writer's last report, and its first (``ready``: what it recovered).
        self.report = Report(kind="starting")
        self.started = Report(kind="starting")

    async def start(self, config: Open, encode: Any) -> None:
        """Start it, open the archive, wait until it is ready (it recovers crashes first).

        Raises ``SinkError`` when it cannot start.
        """
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _BOOTSTRAP,
            _PACKAGE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdin is not None
        transport: Any = self._process.stdin.transport
        transport.set_write_buffer_limits(high=BUFFER)
        with contextlib.suppress(OSError, AttributeError, ValueError, ImportError):
            import fcntl  # a larger pipe where the OS allows it (Linux): fewer wake-ups

            fcntl.fcntl(transport.get_extra_info("pipe").fileno(), _F_SETPIPE_SZ, _PIPE_SIZE)
        self._reader = asyncio.create_task(self._read_reports())
        try:
            self.send(OPEN, encode(config))
            await self.drain()
            await self._until(self._ready)
            if self.error is not None or not self._ready.is_set():
                raise self.error or SinkError("the writer process stopped as it started")
        except BaseException:
            await self.stop()
            raise

    async def close(self, ended: int, encode: Any) -> None:
        """Ask it to seal everything and end the session; wait (bounded) until it has."""
        if self.error is None:
            with contextlib.suppress(SinkError):
                self.send(CLOSE, encode(Close(ended=ended)))
                await self.drain()
                with anyio.move_on_after(CLOSE_TIMEOUT):
                    await self._until(self._closed)
        await self.stop()

    async def _until(self, event: asyncio.Event) -> None:
        """Until ``event``, or the writer stops (having failed: ``error`` says why)."""
        assert self._reader is not None
        waiting = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait([waiting, self._reader], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()

    async def stop(self) -> None:
        """End the process: its stdin closed, then (if it lingers) killed; reaped."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        with anyio.move_on_after(CLOSE_TIMEOUT if self._closed.is_set() else 5):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def send(self, kind: int, body: bytes) -> None:
        self.write(FRAME.pack(len(body), kind) + body)

    def write(self, data: bytes | bytearray) -> None:
        """Queue ``data`` for its stdin (the transport copies what it cannot send now)."""
        if self.error is not None:
            raise self.error
        process = self._process
        assert process is not None
        assert process.stdin is not None
        if process.stdin.is_closing():
            raise SinkError("the writer process has stopped")
        process.stdin.write(data)

    async def drain(self) -> None:
        """Wait while more than ``BUFFER`` bytes wait for it. Raises ``SinkError``."""
        assert self._process is not None
        assert self._process.stdin is not None
        try:
            await self._process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            if self._reader is not None:
                with anyio.move_on_after(5):
                    await asyncio.shield(self._reader)  # its last report says why
            raise self.error or SinkError("the writer process stopped") from None

    async def _read_reports(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        decode = msgspec.json.Decoder(Report).decode
        stdout = self._process.stdout
        while line := await stdout.readline():
            try:
                report = decode(line)
            except msgspec.DecodeError:
                continue
            if report.kind == "error":
                self.error = SinkError(f"the writer process failed: {report.message}")
                continue
            self.report = report
            if report.kind == "ready":
                self.started = report
                self._ready.set()
            elif report.kind == "closed":
                self._closed.set()
        if self.error is None and not self._closed.is_set():
            code = await self._process.wait()
            self.error = SinkError(f"the writer process ended unexpectedly (exit status {code})")
