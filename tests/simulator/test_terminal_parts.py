"""The terminal side's parts that need no socket: tickets, settings, the slow-client queue."""

from __future__ import annotations

from typing import Any

import pytest

from fxsocket_async.simulator import ApiKey, SimulatorConfig
from fxsocket_async.simulator._records import FIRST_ORDER_TICKET, Tickets, order_id, ticket_of
from fxsocket_async.simulator._terminal_socket import TerminalSocket
from fxsocket_async.simulator._terminal_views import mt_type


def test_a_ticket_and_its_reference_id_name_each_other() -> None:
    tickets = Tickets()
    first, second = tickets.order(), tickets.order()
    assert (first, second) == (FIRST_ORDER_TICKET, FIRST_ORDER_TICKET + 1)
    assert order_id(first) == "ord_1000000001"
    assert len(order_id(first)) == len("ord_") + 10  # the reference ids' shape
    assert ticket_of(order_id(second)) == second
    for foreign in ("ord_abc", "1000000001", "ord_", "x_1"):
        assert ticket_of(foreign) is None
    assert tickets.deal() != first


@pytest.mark.parametrize(
    ("engine", "terminal"),
    [("BUY", "Buy"), ("SELL_LIMIT", "SellLimit"), ("BUY_STOP_LIMIT", "BuyStopLimit")],
)
def test_order_types_in_metatrader_spelling(engine: str, terminal: str) -> None:
    assert mt_type(engine) == terminal


@pytest.mark.parametrize(
    "fields",
    [{"terminal_interval": 0}, {"terminal_interval": -1.0}, {"terminal_queue_limit": 0}],
)
def test_terminal_settings_are_checked(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="terminal_"):
        SimulatorConfig(**fields)


def test_terminal_settings_default_on() -> None:
    config = SimulatorConfig()
    assert (config.terminal, config.terminal_interval, config.terminal_queue_limit) == (
        True,
        1.0,
        1000,
    )
    assert SimulatorConfig(terminal_interval=None).terminal_interval is None


def socket_of(limit: int) -> TerminalSocket:
    return TerminalSocket(
        ws=None,  # type: ignore[arg-type]  # the queue never touches it
        request=None,  # type: ignore[arg-type]
        account_id="a",
        api_key=ApiKey("k"),
        limit=limit,
    )


def queued(sock: TerminalSocket) -> list[bytes]:
    return [item if isinstance(item, bytes) else item.encode() for item in sock.queue]


def test_beyond_the_limit_ticks_are_dropped_and_one_warning_counts_them() -> None:
    sock = socket_of(2)
    for n in range(5):
        sock.push(b"tick%d" % n, droppable=True)
    sock.push(b"trade", droppable=False)
    sock.push(b"tick5", droppable=True)
    sock.push(b"tick6", droppable=True)
    assert queued(sock) == [
        b"tick0",
        b"tick1",
        b'{"type":"warning","dropped":3}',
        b"trade",
        b'{"type":"warning","dropped":2}',
    ]
    assert sock.dropped_total == 5
    assert not sock.overflowed


def test_frames_that_cannot_be_dropped_overflow_only_at_the_hard_limit() -> None:
    sock = socket_of(2)
    for _ in range(10_000):
        sock.push(b"positions")
    assert not sock.overflowed
    sock.push(b"positions")
    assert sock.overflowed
    sock.push(b"more")
    assert len(sock.queue) == 10_000
