"""The bridge's Prometheus metrics (prometheus-client), on a registry of its own.

Counters are totals: rates (published per second) come from Prometheus
(``rate(fxsocket_bridge_quotes_published_total[1m])``). Each ``Bridge`` has its
own ``CollectorRegistry``, so two bridges in one process (tests) never clash.
"""

from __future__ import annotations

import threading
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, start_http_server
from prometheus_client import Enum as StateEnum

from .._stream.stats import ConnectionStateName

__all__ = ["BridgeMetrics"]

_STATES: Final[list[str]] = list(ConnectionStateName.__args__)  # type: ignore[attr-defined]


class BridgeMetrics:
    """Every metric the bridge exports; ``serve(port)`` starts the HTTP endpoint."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.upstream_state = StateEnum(
            "fxsocket_bridge_upstream_state",
            "The upstream stream's connection state, per account",
            ["account"], states=_STATES, registry=r,
        )  # fmt: skip
        self.events_published = Counter(
            "fxsocket_bridge_events_published",
            "Events (order, account, status, gaps) published to JetStream",
            ["account"], registry=r,
        )  # fmt: skip
        self.events_duplicate = Counter(
            "fxsocket_bridge_events_duplicate",
            "Events JetStream already held (same message id: a recovery or a retry)",
            ["account"], registry=r,
        )  # fmt: skip
        self.recovered = Counter(
            "fxsocket_bridge_events_recovered",
            "Events rebuilt from REST (upstream gaps and the bridge's own downtime)",
            ["account"], registry=r,
        )  # fmt: skip
        self.quotes_published = Counter(
            "fxsocket_bridge_quotes_published",
            "Quotes published (summed over batches)",
            ["account"], registry=r,
        )  # fmt: skip
        self.quote_messages = Counter(
            "fxsocket_bridge_quote_messages",
            "Quote batch messages published",
            ["account"], registry=r,
        )  # fmt: skip
        self.gaps = Counter("fxsocket_bridge_gaps", "Upstream stream gaps", ["account"], registry=r)
        self.reconnects = Gauge(
            "fxsocket_bridge_upstream_reconnects",
            "Upstream stream reconnects since the bridge started",
            ["account"], registry=r,
        )  # fmt: skip
        self.publish_errors = Counter(
            "fxsocket_bridge_publish_errors",
            "Publishes that failed (kind: events, quotes, latest, status)",
            ["kind"], registry=r,
        )  # fmt: skip
        self.quotes_dropped = Counter(
            "fxsocket_bridge_quotes_dropped",
            "Quotes not published (NATS too slow or down); consumers count them by Fx-Seq",
            ["account"], registry=r,
        )  # fmt: skip
        self.rpc_requests = Counter(
            "fxsocket_bridge_rpc_requests",
            "REST requests served (outcome: ok, or the exception's class name)",
            ["op", "outcome"], registry=r,
        )  # fmt: skip
        self.consumer_pending = Gauge(
            "fxsocket_bridge_consumer_pending",
            "Messages of the events stream a durable consumer has not received yet",
            ["consumer"], registry=r,
        )  # fmt: skip
        self.consumer_ack_pending = Gauge(
            "fxsocket_bridge_consumer_ack_pending",
            "Messages a durable consumer received but has not acknowledged",
            ["consumer"], registry=r,
        )  # fmt: skip
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def text(self) -> bytes:
        """The exposition text, as a scrape would see it."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``addr:port`` (``0``: a free port); returns the port."""
        server, thread = start_http_server(port, addr=addr, registry=self.registry)
        self._server, self._thread = server, thread
        return int(server.server_port)

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
