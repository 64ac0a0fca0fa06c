"""``--detach``: run the simulator in the background and return once it listens.

``export $(python -m fxsocket_async.simulator ... | head -3)`` cannot work with
a simulator in the foreground: the shell waits for every process of the
pipeline, and the simulator keeps running. With ``--detach`` the command
starts the simulator in a session of its own (so the terminal's Ctrl-C does
not reach it), waits for its three lines, prints them and
``FXSOCKET_SIMULATOR_PID=<pid>``, and exits. The simulator's stderr goes to a
log file, named on this command's stderr.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import tempfile
import time
from collections.abc import Sequence

__all__ = ["READY_LINES", "detach"]

#: The lines a simulator prints once it listens, in order.
READY_LINES = ("FXSOCKET_BASE_URL=", "FXSOCKET_WS_URL=", "FXSOCKET_API_KEY=")
READY_TIMEOUT = 30.0
_LOG_TAIL = 2000


def detach(arguments: Sequence[str], *, timeout: float = READY_TIMEOUT) -> int:
    """Start ``python -m fxsocket_async.simulator *arguments`` in the background.

    Returns 0 once it printed its three lines (printed here too, with the
    pid), or the simulator's exit status (at least 1) when it stopped or did
    not get ready within ``timeout`` seconds; its log is shown then.
    """
    if not hasattr(os, "posix_spawn"):
        print("error: --detach needs a POSIX system", file=sys.stderr)
        return 2
    log_fd, log_path = tempfile.mkstemp(prefix="fxsocket-simulator-", suffix=".log")
    read_fd, write_fd = os.pipe()
    stdin_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        command = [sys.executable, "-m", "fxsocket_async.simulator", *arguments]
        pid = os.posix_spawn(
            sys.executable,
            command,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin_fd, 0),
                (os.POSIX_SPAWN_DUP2, write_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        for fd in (write_fd, log_fd, stdin_fd):
            os.close(fd)
    try:
        lines = _ready_lines(read_fd, timeout)
    finally:
        os.close(read_fd)
    if lines is None:
        return _failed(pid, log_path)
    for line in lines:
        print(line, flush=True)
    print(f"FXSOCKET_SIMULATOR_PID={pid}", flush=True)
    print(
        f"simulator running in the background as pid {pid}; log: {log_path}; "
        f"stop it with: kill {pid}",
        file=sys.stderr,
        flush=True,
    )
    return 0


def _ready_lines(fd: int, timeout: float) -> list[str] | None:
    """The three ready lines read from ``fd``, or ``None`` at EOF or after ``timeout``."""
    deadline = time.monotonic() + timeout
    buffer = b""
    while True:
        complete = buffer.decode(errors="replace").split("\n")[:-1]
        found = [line for line in complete if line.startswith(READY_LINES)]
        if len(found) >= len(READY_LINES):
            return found[: len(READY_LINES)]
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buffer += chunk


def _failed(pid: int, log_path: str) -> int:
    """Report a simulator that never got ready; stop it if it still runs."""
    finished, status = os.waitpid(pid, os.WNOHANG)
    if not finished:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(log_path, errors="replace") as log:
        sys.stderr.write(log.read()[-_LOG_TAIL:])
    print(f"error: the simulator did not start (exit {code}; log: {log_path})", file=sys.stderr)
    return code if code > 0 else 1
