"""Suite 0 and ``python -m benchmarks.firehose --selfcheck``: the firehose is not the bottleneck.

A raw socket that only counts bytes reads the whole stream (the 101 reply of a
``raw=1`` connection says how many bytes to expect).
"""

from __future__ import annotations

import base64
import os
import socket
import time

from benchmarks.firehose import start_subprocess

__all__ = ["raw_read", "selfcheck"]


def raw_read(port: int, n: int, fmt: str = "ours", timeout: float = 60.0) -> dict[str, float]:
    """Take ``n`` frames (+ sentinels) with a raw socket that only counts bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /v1/stream?raw=1&fmt={fmt}&n={n} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("the firehose hung up during the handshake")
            head += chunk
        header, _, rest = head.partition(b"\r\n\r\n")
        total = next(
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"x-firehose-bytes:")
        )
        got = len(rest)
        buf = bytearray(4 * 1024 * 1024)
        recv_into = sock.recv_into
        start = time.perf_counter()
        deadline = start + timeout
        while got < total:
            r = recv_into(buf)
            if not r:
                break
            got += r
            if time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
    return {"frames": n, "bytes": got, "seconds": elapsed, "rate": n / elapsed}


def selfcheck(n: int) -> int:
    firehose = start_subprocess([f"ours:1:{n}", f"vendor:1:{n}"])
    try:
        for fmt in ("ours", "vendor"):
            rates = [raw_read(firehose.port, n, fmt)["rate"] for _ in range(3)]
            best = max(rates)
            print(
                f"raw reader, {fmt} frames: {best / 1e6:.1f} M frames/s "
                f"(runs: {', '.join(f'{r / 1e6:.1f}' for r in rates)})"
            )
    finally:
        firehose.close()
    return 0
