"""The sans-I/O wire core, fed with literal frames and bodies.

Every frame and body here is written out by hand, as the server would send it,
so that a change in the Structs that changes the wire shows up as a failure
instead of being mirrored by the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from fxsocket_async import ProtocolError, ValidationError
from fxsocket_async._core import codec, events, models
from fxsocket_async._dialects import reference
from fxsocket_async.simulator import _protocol as simulator_protocol

# The wire's pieces, as one namespace: models, events, codec and the reference dialect.
p = SimpleNamespace(
    **{
        name: getattr(module, name)
        for module in (models, events, codec, reference)
        for name in module.__all__
    },
    decode_client_message=simulator_protocol.decode_client_message,
)

# --------------------------------------------------------------------------- events

QUOTE_TIME = datetime(2026, 4, 2, 14, 30, 0, 123000, tzinfo=UTC)

EVENT_CASES: list[tuple[bytes, Any]] = [
    (
        b'{"type":"quote","account_id":"acc_1","data":{"symbol":"EURUSD","bid":1.08340,'
        b'"ask":1.08342,"time":"2026-04-02T14:30:00.123Z"}}',
        p.QuoteEvent(
            account_id="acc_1",
            data=p.Quote(symbol="EURUSD", bid=1.0834, ask=1.08342, time=QUOTE_TIME),
        ),
    ),
    (
        b'{"type":"order_opened","account_id":"acc_1","seq":1,"data":{"id":"ord_2aF9xK",'
        b'"symbol":"EURUSD","type":"BUY","volume":0.1,"price":1.08342,"sl":1.08,"tp":1.09}}',
        p.OrderOpened(
            account_id="acc_1",
            seq=1,
            data=p.OrderOpenedData(
                id="ord_2aF9xK",
                symbol="EURUSD",
                type="BUY",
                volume=0.1,
                price=1.08342,
                sl=1.08,
                tp=1.09,
            ),
        ),
    ),
    (
        b'{"type":"order_modified","account_id":"acc_1","seq":2,'
        b'"data":{"id":"ord_2aF9xK","sl":1.072,"tp":1.095,"price":null}}',
        p.OrderModified(
            account_id="acc_1",
            seq=2,
            data=p.OrderModifiedData(id="ord_2aF9xK", sl=1.072, tp=1.095, price=None),
        ),
    ),
    (
        b'{"type":"order_filled","account_id":"acc_1","seq":3,'
        b'"data":{"id":"ord_P3nd1ng","price":1.0801}}',
        p.OrderFilled(
            account_id="acc_1", seq=3, data=p.OrderFilledData(id="ord_P3nd1ng", price=1.0801)
        ),
    ),
    (
        b'{"type":"order_closed","account_id":"acc_1","seq":4,'
        b'"data":{"id":"ord_2aF9xK","close_price":1.08501,"profit":15.90}}',
        p.OrderClosed(
            account_id="acc_1",
            seq=4,
            data=p.OrderClosedData(id="ord_2aF9xK", close_price=1.08501, profit=15.9),
        ),
    ),
    (
        b'{"type":"order_cancelled","account_id":"acc_1","seq":5,"data":{"id":"ord_P3nd1ng"}}',
        p.OrderCancelled(account_id="acc_1", seq=5, data=p.OrderCancelledData(id="ord_P3nd1ng")),
    ),
    (
        b'{"type":"order_partially_closed","account_id":"acc_1","seq":5,'
        b'"data":{"id":"ord_2aF9xK","volume":0.05,"remaining":0.05,"close_price":1.085}}',
        p.OrderPartiallyClosed(
            account_id="acc_1",
            seq=5,
            data=p.OrderPartiallyClosedData(
                id="ord_2aF9xK", volume=0.05, remaining=0.05, close_price=1.085
            ),
        ),
    ),
    (
        b'{"type":"account","account_id":"acc_1","seq":6,"data":{"balance":10000.00,'
        b'"equity":10234.50,"margin":120.40,"free_margin":10114.10,"currency":"USD"}}',
        p.AccountUpdate(
            account_id="acc_1",
            seq=6,
            data=p.AccountUpdateData(
                balance=10000.0,
                equity=10234.5,
                margin=120.4,
                free_margin=10114.1,
                currency="USD",
            ),
        ),
    ),
    (
        b'{"type":"account_status","account_id":"acc_1","seq":7,'
        b'"data":{"status":"error","error":"invalid account"}}',
        p.AccountStatusChanged(
            account_id="acc_1",
            seq=7,
            data=p.AccountStatusData(status="error", error="invalid account"),
        ),
    ),
    (
        b'{"type":"subscribed","id":7,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["EURUSD","XAUUSD"]}',
        p.Subscribed(id=7, channel="quotes", account_id="acc_1", symbols=["EURUSD", "XAUUSD"]),
    ),
    (
        b'{"type":"unsubscribed","id":9,"channel":"orders","account_id":"acc_1"}',
        p.Unsubscribed(id=9, channel="orders", account_id="acc_1", symbols=None),
    ),
    (b'{"type":"pong","id":8}', p.Pong(id=8)),
    (
        b'{"type":"error","id":7,"error":"invalid_symbol","message":"unknown symbol FOO"}',
        p.ErrorEvent(id=7, error="invalid_symbol", message="unknown symbol FOO"),
    ),
    (
        b'{"type":"error","error":"internal_error","message":"stream restarting"}',
        p.ErrorEvent(id=None, error="internal_error", message="stream restarting"),
    ),
]


@pytest.mark.parametrize(
    ("frame", "expected"),
    EVENT_CASES,
    ids=[f"{i}-{type(e).__name__}" for i, (_, e) in enumerate(EVENT_CASES)],
)
def test_every_event_type_decodes_into_its_struct(frame: bytes, expected: Any) -> None:
    event = p.decode_event(frame)
    assert type(event) is type(expected)
    assert event == expected
    # The decoder takes text frames as well as bytes.
    assert p.decode_event(frame.decode()) == expected


def test_the_cases_cover_every_contract_event_type() -> None:
    covered = {type(e).__struct_config__.tag for _, e in EVENT_CASES}
    assert covered == p.EVENT_TYPES
    contract_types = {
        "quote",
        "order_opened",
        "order_modified",
        "order_filled",
        "order_closed",
        "order_cancelled",
        "account",
        "account_status",
        "subscribed",
        "unsubscribed",
        "pong",
        "error",
    }
    # Beyond the contract: a partial close (the terminal dialect can make one, so the
    # simulator's reference stream reports it too; older clients see UnknownEvent).
    assert contract_types | {"order_partially_closed"} == p.EVENT_TYPES


def test_quote_time_is_an_aware_datetime_with_milliseconds() -> None:
    event = p.decode_event(
        b'{"type":"quote","data":{"symbol":"EURUSD","bid":1.08340,"ask":1.08342,'
        b'"time":"2026-04-02T14:30:00.123Z"}}'
    )
    assert isinstance(event, p.QuoteEvent)
    when = event.data.time
    assert (when.year, when.month, when.day) == (2026, 4, 2)
    assert (when.hour, when.minute, when.second, when.microsecond) == (14, 30, 0, 123000)
    assert when.utcoffset() == timedelta(0)
    # A stream quote carries no spread, and the reference's frame has no account_id.
    assert event.data.spread is None
    assert event.account_id == ""


def test_optional_event_fields_default() -> None:
    event = p.decode_event(
        b'{"type":"order_opened","account_id":"a","seq":1,"data":{"id":"o","symbol":"EURUSD",'
        b'"type":"SELL","volume":1,"price":1.1}}'
    )
    assert isinstance(event, p.OrderOpened)
    assert event.data.sl is None
    assert event.data.tp is None
    assert event.data.volume == 1.0
    closed = p.decode_event(
        b'{"type":"order_closed","account_id":"a","seq":2,"data":{"id":"o","close_price":1.2}}'
    )
    assert isinstance(closed, p.OrderClosed)
    assert closed.data.profit == 0.0
    status = p.decode_event(
        b'{"type":"account_status","account_id":"a","seq":3,"data":{"status":"connected"}}'
    )
    assert isinstance(status, p.AccountStatusChanged)
    assert status.data.error == ""
    assert p.decode_event(b'{"type":"pong"}') == p.Pong(id=None)
    assert p.decode_event(b'{"type":"error","error":"x"}') == p.ErrorEvent(error="x")


def test_the_reference_order_opened_example_decodes() -> None:
    event = p.decode_event(
        b'{\n"type": "order_opened",\n"data": {\n"id": "ord_2aF9xK",\n"symbol": "EURUSD",\n'
        b'"type": "BUY",\n"volume": 0.1,\n"price": 1.08342\n}\n}'
    )
    assert isinstance(event, p.OrderOpened)
    assert event.data.id == "ord_2aF9xK"


def test_extra_unknown_fields_are_ignored() -> None:
    event = p.decode_event(
        b'{"type":"order_closed","account_id":"acc_1","seq":4,"server_time":12345,'
        b'"flags":{"x":[1,2]},"data":{"id":"ord_1","close_price":1.1,"profit":-2.5,'
        b'"reason":"sl","commission":-0.7}}'
    )
    assert event == p.OrderClosed(
        account_id="acc_1",
        seq=4,
        data=p.OrderClosedData(id="ord_1", close_price=1.1, profit=-2.5),
    )
    quote = p.decode_event(
        b'{"type":"quote","data":{"symbol":"EURUSD","bid":1.1,"ask":1.2,'
        b'"time":"2026-04-02T14:30:00Z","last":1.15,"volume":3}}'
    )
    assert isinstance(quote, p.QuoteEvent)
    assert quote.data.symbol == "EURUSD"


def test_unknown_type_becomes_unknown_event_with_raw_data() -> None:
    frame = b'{"type":"margin_call","account_id":"acc_1","seq":12,"data":{"level":50.5}}'
    event = p.decode_event(frame)
    assert isinstance(event, p.UnknownEvent)
    assert event.type == "margin_call"
    assert event.raw == {
        "type": "margin_call",
        "account_id": "acc_1",
        "seq": 12,
        "data": {"level": 50.5},
    }


def test_unknown_type_with_no_other_fields() -> None:
    assert p.decode_event('{"type":"heartbeat"}') == p.UnknownEvent(
        type="heartbeat", raw={"type": "heartbeat"}
    )


@pytest.mark.parametrize(
    ("frame", "fragments"),
    [
        pytest.param(b"not json at all", ["not valid JSON", "'not json at all'"], id="garbage"),
        pytest.param(b'{"type":"quote",', ["not valid JSON", '{"type":"quote",'], id="truncated"),
        pytest.param(b"", ["not valid JSON"], id="empty"),
        pytest.param(b"[1, 2, 3]", ["not a JSON object", "[1, 2, 3]"], id="array"),
        pytest.param(b'"quote"', ["not a JSON object", '"quote"'], id="string"),
        pytest.param(b"42", ["not a JSON object", "42"], id="number"),
        pytest.param(b"null", ["not a JSON object", "null"], id="null"),
        pytest.param(
            b'{"data":{"symbol":"EURUSD"}}',
            ["no string 'type'", '{"data":{"symbol":"EURUSD"}}'],
            id="no-type",
        ),
        pytest.param(b'{"type":7}', ["no string 'type'", '{"type":7}'], id="int-type"),
        pytest.param(b'{"type":null}', ["no string 'type'", '{"type":null}'], id="null-type"),
        pytest.param(
            b'{"type":"quote","account_id":"acc_1"}',
            ["'quote'", "does not match", "data", '{"type":"quote","account_id":"acc_1"}'],
            id="quote-without-data",
        ),
        pytest.param(
            b'{"type":"quote","data":{"symbol":"EURUSD","bid":1.1,"ask":1.2}}',
            ["'quote'", "time", '{"type":"quote","data":{"symbol":"EURUSD"'],
            id="quote-without-time",
        ),
        pytest.param(
            b'{"type":"quote","data":{"symbol":"EURUSD","bid":1.1,"ask":1.2,"time":"yesterday"}}',
            ["'quote'", "time", '{"type":"quote"'],
            id="quote-bad-time",
        ),
        pytest.param(
            b'{"type":"order_closed","account_id":"a","seq":1,"data":{"id":"o"}}',
            ["'order_closed'", "close_price", '{"type":"order_closed"'],
            id="order-closed-without-close-price",
        ),
        pytest.param(
            b'{"type":"account","account_id":"a","seq":"3","data":{}}',
            ["'account'", '{"type":"account"'],
            id="account-wrong-types",
        ),
        pytest.param(b'{"type":"error","id":1}', ["'error'", "error"], id="error-without-code"),
        pytest.param(b'{"type":"pong","id":"eight"}', ["'pong'", "id"], id="pong-str-id"),
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes, fragments: list[str]) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_event(frame)
    err = info.value
    assert err.code == "malformed_frame"
    assert err.status is None
    for fragment in fragments:
        assert fragment in err.message
    assert "malformed_frame" in str(err)


def test_a_long_malformed_frame_is_quoted_only_by_its_start() -> None:
    frame = b'{"type":"quote","data":{"symbol":"' + b"X" * 5000 + b'"}}'
    with pytest.raises(ProtocolError) as info:
        p.decode_event(frame)
    message = info.value.message
    assert "'quote'" in message
    assert '{"type":"quote","data":{"symbol":"XXXX' in message
    assert "..." in message
    assert len(message) < 600


def test_a_malformed_frame_with_broken_utf8_still_gives_protocol_error() -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_event(b'{"type":"quote","data":\xff\xfe}')
    assert info.value.code == "malformed_frame"
    assert '{"type":"quote"' in info.value.message


# --------------------------------------------------------------- client messages

CLIENT_CASES: list[tuple[Any, bytes]] = [
    (
        p.Subscribe(id=7, channel="quotes", account_id="acc_1", symbols=["EURUSD", "XAUUSD"]),
        b'{"action":"subscribe","id":7,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["EURUSD","XAUUSD"]}',
    ),
    (
        p.Subscribe(id=1, channel="orders", account_id="acc_1"),
        b'{"action":"subscribe","id":1,"channel":"orders","account_id":"acc_1"}',
    ),
    (
        p.Unsubscribe(id=9, channel="quotes", account_id="acc_1", symbols=["EURUSD"]),
        b'{"action":"unsubscribe","id":9,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["EURUSD"]}',
    ),
    (
        p.Unsubscribe(id=10, channel="account", account_id="acc_1"),
        b'{"action":"unsubscribe","id":10,"channel":"account","account_id":"acc_1"}',
    ),
    (p.Ping(id=8), b'{"action":"ping","id":8}'),
]


@pytest.mark.parametrize(("message", "wire"), CLIENT_CASES)
def test_client_messages_encode_exactly(message: Any, wire: bytes) -> None:
    assert p.encode(message) == wire


@pytest.mark.parametrize(("message", "wire"), CLIENT_CASES)
def test_client_messages_round_trip(message: Any, wire: bytes) -> None:
    decoded = p.decode_client_message(wire)
    assert type(decoded) is type(message)
    assert decoded == message
    assert p.decode_client_message(p.encode(message)) == message


def test_client_message_in_the_contracts_field_order_decodes() -> None:
    decoded = p.decode_client_message(
        '{"action": "subscribe", "id": 7, "channel": "quotes", "account_id": "acc_1", '
        '"symbols": ["EURUSD"]}'
    )
    assert decoded == p.Subscribe(id=7, channel="quotes", account_id="acc_1", symbols=["EURUSD"])


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        (b"}{", "malformed"),
        (b"[]", "object"),
        (b'{"id":1}', "action"),
        (b'{"action":"dance","id":1}', "dance"),
        (b'{"action":"ping"}', "id"),
        (b'{"action":"ping","id":"one"}', "id"),
        (b'{"action":"subscribe","id":1,"account_id":"a"}', "channel"),
    ],
)
def test_decode_client_message_rejects_garbage(frame: bytes, fragment: str) -> None:
    # The simulator's own refusal (it never shares the client's exceptions); its
    # stream answers it with an "invalid_message" error frame (tests/contract).
    with pytest.raises(simulator_protocol.MessageError) as info:
        p.decode_client_message(frame)
    assert fragment in str(info.value)
    assert not isinstance(info.value, ProtocolError)


# ------------------------------------------------------------------- REST replies

# The management page's account object, as printed there.
MANAGEMENT_ACCOUNT = b"""{
"id": "b5236acf-c39b-4e8b-be64-a96afb7e6086",
"nickname": "my demo",
"platform": "mt5",
"server": "VTMarkets-Demo",
"login": 1234567,
"status": "connected",
"error": "",
"created_at": "2026-06-13T22:52:23Z"
}"""


def test_management_account_list_decodes() -> None:
    accounts: list[p.Account] = p.decode_reply(b"[" + MANAGEMENT_ACCOUNT + b"]", list[p.Account])
    assert accounts == [
        p.Account(
            id="b5236acf-c39b-4e8b-be64-a96afb7e6086",
            nickname="my demo",
            platform="mt5",
            server="VTMarkets-Demo",
            login=1234567,
            status="connected",
            error="",
            created_at=datetime(2026, 6, 13, 22, 52, 23, tzinfo=UTC),
            broker=None,
        )
    ]


def test_management_link_reply_decodes_as_connecting() -> None:
    body = MANAGEMENT_ACCOUNT.replace(b'"connected"', b'"connecting"')
    account: p.Account = p.decode_reply(body, p.Account)
    assert account.status == "connecting"
    assert account.login == 1234567
    assert account.created_at is not None
    assert account.created_at.utcoffset() == timedelta(0)


def test_api_reference_account_list_decodes() -> None:
    body = b"""[{
"id": "acc_8xKm2",
"broker": "ICMarkets",
"platform": "MT5",
"status": "connected"
}]"""
    assert p.decode_reply(body, list[p.Account]) == [
        p.Account(id="acc_8xKm2", broker="ICMarkets", platform="MT5", status="connected")
    ]


def test_account_summary_decodes() -> None:
    body = b"""{
"id": "acc_8xKm2",
"balance": 10000.00,
"equity": 10234.50,
"margin": 120.40,
"free_margin": 10114.10,
"currency": "USD"
}"""
    assert p.decode_reply(body, p.AccountSummary) == p.AccountSummary(
        id="acc_8xKm2",
        balance=10000.0,
        equity=10234.5,
        margin=120.4,
        free_margin=10114.1,
        currency="USD",
    )


def test_account_summary_takes_integral_numbers() -> None:
    summary: p.AccountSummary = p.decode_reply(
        b'{"balance":10000,"equity":10000,"margin":0,"free_margin":10000}', p.AccountSummary
    )
    assert summary.balance == 10000.0
    assert summary.currency == ""


def test_positions_decode() -> None:
    body = b"""[{
"id": "pos_3nF8x",
"symbol": "EURUSD",
"type": "BUY",
"volume": 0.1,
"open_price": 1.08342,
"sl": 1.0800,
"tp": 1.0900,
"profit": 23.50
}]"""
    assert p.decode_reply(body, list[p.Position]) == [
        p.Position(
            id="pos_3nF8x",
            symbol="EURUSD",
            type="BUY",
            volume=0.1,
            open_price=1.08342,
            sl=1.08,
            tp=1.09,
            profit=23.5,
        )
    ]
    assert p.decode_reply(b"[]", list[p.Position]) == []


def test_order_reply_decodes() -> None:
    body = b"""{
"id": "ord_2aF9xK",
"symbol": "EURUSD",
"type": "BUY",
"volume": 0.1,
"price": 1.08342,
"status": "filled"
}"""
    assert p.decode_reply(body, p.OrderReply) == p.OrderReply(
        id="ord_2aF9xK", symbol="EURUSD", type="BUY", volume=0.1, price=1.08342, status="filled"
    )


def test_pending_order_list_decodes() -> None:
    body = (
        b'[{"id":"ord_1","symbol":"EURUSD","type":"BUY_LIMIT","volume":0.2,"price":1.07,'
        b'"sl":1.06,"tp":null,"status":"pending","comment":"dip"}]'
    )
    assert p.decode_reply(body, list[p.OrderReply]) == [
        p.OrderReply(
            id="ord_1",
            symbol="EURUSD",
            type="BUY_LIMIT",
            volume=0.2,
            price=1.07,
            sl=1.06,
            tp=None,
            status="pending",
            comment="dip",
        )
    ]


def test_modify_reply_decodes() -> None:
    body = b"""{
"id": "ord_2aF9xK",
"sl": 1.0720,
"tp": 1.0950,
"updated": true
}"""
    assert p.decode_reply(body, p.ModifyOrderReply) == p.ModifyOrderReply(
        id="ord_2aF9xK", sl=1.072, tp=1.095, price=None, updated=True
    )
    unchanged: p.ModifyOrderReply = p.decode_reply(
        b'{"id":"o","sl":null,"updated":false}', p.ModifyOrderReply
    )
    assert unchanged.updated is False
    assert unchanged.sl is None


def test_close_reply_decodes() -> None:
    body = b"""{
"id": "ord_2aF9xK",
"status": "closed",
"close_price": 1.08501,
"profit": 15.90
}"""
    assert p.decode_reply(body, p.CloseOrderReply) == p.CloseOrderReply(
        id="ord_2aF9xK", status="closed", close_price=1.08501, profit=15.9
    )
    cancelled: p.CloseOrderReply = p.decode_reply(
        b'{"id":"ord_1","status":"cancelled","close_price":null,"profit":0}', p.CloseOrderReply
    )
    assert cancelled == p.CloseOrderReply(id="ord_1", status="cancelled")


def test_quote_reply_decodes_with_spread() -> None:
    body = b"""{
"symbol": "EURUSD",
"bid": 1.08340,
"ask": 1.08342,
"spread": 0.2,
"time": "2026-04-02T14:30:00.123Z"
}"""
    assert p.decode_reply(body, p.Quote) == p.Quote(
        symbol="EURUSD", bid=1.0834, ask=1.08342, spread=0.2, time=QUOTE_TIME
    )


def test_candles_reply_decodes() -> None:
    body = b"""{
"symbol": "EURUSD",
"timeframe": "H1",
"candles": [{
"time": "2026-04-02T14:00:00Z",
"open": 1.0830,
"high": 1.0841,
"low": 1.0828,
"close": 1.0834,
"volume": 1243
}]
}"""
    reply: p.CandlesReply = p.decode_reply(body, p.CandlesReply)
    assert reply == p.CandlesReply(
        symbol="EURUSD",
        timeframe="H1",
        candles=[
            p.Candle(
                time=datetime(2026, 4, 2, 14, 0, tzinfo=UTC),
                open=1.083,
                high=1.0841,
                low=1.0828,
                close=1.0834,
                volume=1243,
            )
        ],
    )
    assert isinstance(reply.candles[0].volume, int)


def test_history_reply_decodes_the_references_sparse_trade() -> None:
    body = b"""{
"trades": [{
"id": "trd_x9Km3",
"symbol": "XAUUSD",
"type": "BUY",
"volume": 0.05,
"profit": 45.20,
"closed_at": "2026-04-02T14:30:00Z"
}],
"total": 142
}"""
    page: p.HistoryPage = p.decode_reply(body, p.HistoryPage)
    assert page.total == 142
    assert page.trades == [
        p.Trade(
            id="trd_x9Km3",
            symbol="XAUUSD",
            type="BUY",
            volume=0.05,
            profit=45.2,
            closed_at=datetime(2026, 4, 2, 14, 30, tzinfo=UTC),
        )
    ]
    trade = page.trades[0]
    # Every field the reference leaves out has its default.
    assert (trade.open_price, trade.close_price, trade.opened_at) == (None, None, None)
    assert (trade.commission, trade.swap, trade.status) == (0.0, 0.0, "closed")


def test_history_reply_decodes_a_full_and_a_cancelled_trade() -> None:
    body = (
        b'{"trades":[{"id":"ord_1","symbol":"EURUSD","type":"SELL","volume":1.0,'
        b'"open_price":1.1,"close_price":1.09,"profit":1000.0,"commission":-7.0,"swap":1.5,'
        b'"opened_at":"2026-04-01T10:00:00Z","closed_at":"2026-04-02T10:00:00Z",'
        b'"status":"closed"},'
        b'{"id":"ord_2","symbol":"EURUSD","type":"BUY_LIMIT","volume":0.1,"open_price":1.05,'
        b'"opened_at":"2026-04-01T10:00:00Z","closed_at":"2026-04-01T11:00:00Z",'
        b'"status":"cancelled"}],"total":2}'
    )
    page: p.HistoryPage = p.decode_reply(body, p.HistoryPage)
    full, cancelled = page.trades
    assert full.commission == -7.0
    assert full.swap == 1.5
    assert full.opened_at == datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
    assert cancelled.status == "cancelled"
    assert cancelled.close_price is None
    assert cancelled.profit == 0.0


def test_replies_ignore_unknown_fields() -> None:
    body = (
        b'{"id":"ord_1","symbol":"EURUSD","type":"BUY","volume":0.1,"price":1.1,'
        b'"status":"filled","magic":42,"retcode":10009,"ticket":{"deal":1}}'
    )
    reply: p.OrderReply = p.decode_reply(body, p.OrderReply)
    assert reply.id == "ord_1"
    assert reply.comment == ""


def test_error_body_decodes() -> None:
    assert p.decode_reply(
        b'{"error":"invalid_volume","message":"volume must be at least 0.01"}', p.ErrorBody
    ) == p.ErrorBody(error="invalid_volume", message="volume must be at least 0.01")


@pytest.mark.parametrize(
    ("body", "reply_type", "fragments"),
    [
        pytest.param(
            b'{"id":"ord_1","status":"filled"}',
            p.OrderReply,
            ["OrderReply", "symbol", '{"id":"ord_1","status":"filled"}'],
            id="missing-field",
        ),
        pytest.param(
            b'{"balance":"lots","equity":1,"margin":0,"free_margin":1}',
            p.AccountSummary,
            ["AccountSummary", "balance", '{"balance":"lots"'],
            id="wrong-type",
        ),
        pytest.param(
            b"<html><body>Bad gateway</body></html>",
            p.Quote,
            ["Quote", "<html><body>Bad gateway"],
            id="not-json",
        ),
        pytest.param(b"[]", p.HistoryPage, ["HistoryPage", "[]"], id="array-for-object"),
        pytest.param(
            b'{"symbol":"EURUSD","timeframe":"H1","candles":[{"time":"2026-04-02T14:00:00Z"}]}',
            p.CandlesReply,
            ["CandlesReply", "open", '{"symbol":"EURUSD"'],
            id="nested-missing",
        ),
    ],
)
def test_mismatched_reply_raises_protocol_error_naming_the_type(
    body: bytes, reply_type: Any, fragments: list[str]
) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_reply(body, reply_type, status=200)
    err = info.value
    assert err.status == 200
    for fragment in fragments:
        assert fragment in err.message


def test_mismatched_reply_status_defaults_to_none() -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_reply(b"{}", p.Account)
    assert info.value.status is None
    assert "Account" in info.value.message


def test_mismatched_list_reply_names_the_item_type() -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode_reply(b'[{"nickname":"no id"}]', list[p.Account])
    assert "Account" in info.value.message


# ---------------------------------------------------------------- request bodies


def test_link_request_repr_hides_the_password_and_the_body_carries_it() -> None:
    request = p.LinkAccountRequest(
        server="VTMarkets-Demo", login=1234567, password="s3cret-pw", nickname="my demo"
    )
    for text in (repr(request), str(request), f"{request!r}", f"{request}", repr([request])):
        assert "s3cret-pw" not in text
        assert "VTMarkets-Demo" in text
    assert p.encode(request) == (
        b'{"server":"VTMarkets-Demo","login":1234567,"password":"s3cret-pw","nickname":"my demo"}'
    )


def test_link_request_omits_a_missing_nickname() -> None:
    request = p.LinkAccountRequest(server="VTMarkets-Demo", login=1234567, password="pw")
    assert p.encode(request) == b'{"server":"VTMarkets-Demo","login":1234567,"password":"pw"}'


def test_link_request_rich_repr_hides_the_password() -> None:
    request = p.LinkAccountRequest(server="S", login=1, password="s3cret-pw")
    rich_repr = getattr(request, "__rich_repr__", None)
    if rich_repr is not None:
        assert "s3cret-pw" not in repr(list(rich_repr()))


def test_create_order_request_omits_none_and_keeps_zero() -> None:
    market = p.CreateOrderRequest(symbol="EURUSD", type="BUY", volume=0.1)
    assert p.encode(market) == b'{"symbol":"EURUSD","type":"BUY","volume":0.1}'
    pending = p.CreateOrderRequest(
        symbol="EURUSD",
        type="BUY_LIMIT",
        volume=0.1,
        price=1.07,
        sl=0.0,
        tp=1.09,
        comment="",
    )
    assert p.encode(pending) == (
        b'{"symbol":"EURUSD","type":"BUY_LIMIT","volume":0.1,"price":1.07,"sl":0.0,'
        b'"tp":1.09,"comment":""}'
    )


def test_modify_order_request_omits_none_and_keeps_zero() -> None:
    assert p.encode(p.ModifyOrderRequest()) == b"{}"
    assert p.encode(p.ModifyOrderRequest(sl=0.0)) == b'{"sl":0.0}'
    assert p.encode(p.ModifyOrderRequest(tp=1.095, price=0.0)) == b'{"tp":1.095,"price":0.0}'
    assert p.encode(p.ModifyOrderRequest(sl=1.072, tp=0.0, price=1.07)) == (
        b'{"sl":1.072,"tp":0.0,"price":1.07}'
    )


# ------------------------------------------------------------------------ routes


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (p.accounts_path(), "/v1/accounts"),
        (p.account_path("b5236acf-c39b"), "/v1/accounts/b5236acf-c39b"),
        (p.summary_path("acc_1"), "/v1/accounts/acc_1/account"),
        (p.positions_path("acc_1"), "/v1/accounts/acc_1/positions"),
        (p.orders_path("acc_1"), "/v1/accounts/acc_1/orders"),
        (p.order_path("acc_1", "ord_2aF9xK"), "/v1/accounts/acc_1/orders/ord_2aF9xK"),
        (p.quote_path("acc_1", "EURUSD"), "/v1/accounts/acc_1/quotes/EURUSD"),
        (p.candles_path("acc_1", "EURUSD"), "/v1/accounts/acc_1/candles/EURUSD"),
        (p.history_path("acc_1"), "/v1/accounts/acc_1/history"),
        (p.summary_path(None), "/v1/account"),
        (p.positions_path(None), "/v1/positions"),
        (p.orders_path(None), "/v1/orders"),
        (p.order_path(None, "ord_2aF9xK"), "/v1/orders/ord_2aF9xK"),
        (p.quote_path(None, "EURUSD"), "/v1/quotes/EURUSD"),
        (p.candles_path(None, "XAUUSD"), "/v1/candles/XAUUSD"),
        (p.history_path(None), "/v1/history"),
    ],
)
def test_routes_in_both_forms(path: str, expected: str) -> None:
    assert path == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (p.account_path("a/b c"), "/v1/accounts/a%2Fb%20c"),
        (p.summary_path("../admin"), "/v1/accounts/..%2Fadmin/account"),
        (p.order_path("acc 1", "ord/2"), "/v1/accounts/acc%201/orders/ord%2F2"),
        (p.order_path(None, "ord 2?x=1"), "/v1/orders/ord%202%3Fx%3D1"),
        (p.quote_path("acc_1", "EUR/USD"), "/v1/accounts/acc_1/quotes/EUR%2FUSD"),
        (p.quote_path(None, "US30 Cash"), "/v1/quotes/US30%20Cash"),
        (p.candles_path("acc/1", "#US30"), "/v1/accounts/acc%2F1/candles/%23US30"),
        (p.candles_path(None, "EUR/USD.m"), "/v1/candles/EUR%2FUSD.m"),
        (p.positions_path("x y"), "/v1/accounts/x%20y/positions"),
        (p.history_path("a%b"), "/v1/accounts/a%25b/history"),
    ],
)
def test_route_segments_are_quoted(path: str, expected: str) -> None:
    assert path == expected


# ----------------------------------------------------------------------- headers


def test_management_headers_use_x_api_key() -> None:
    headers = p.management_headers("fxs_live_abc")
    assert headers["X-API-Key"] == "fxs_live_abc"
    assert "Authorization" not in headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"


def test_account_headers_use_bearer() -> None:
    headers = p.account_headers("sk_live_xxx")
    assert headers["Authorization"] == "Bearer sk_live_xxx"
    assert "X-API-Key" not in headers
    assert p.IDEMPOTENCY_KEY_HEADER not in headers
    assert headers["Accept"] == "application/json"


def test_stream_headers_use_bearer() -> None:
    assert p.stream_headers("sk_live_xxx") == {"Authorization": "Bearer sk_live_xxx"}


@pytest.mark.parametrize("key", ["k", "order-2026-04-02-0001", "x" * 128, "ключ ✓"])
def test_idempotency_key_header(key: str) -> None:
    headers = p.account_headers("sk", idempotency_key=key)
    assert p.IDEMPOTENCY_KEY_HEADER == "Idempotency-Key"
    assert headers["Idempotency-Key"] == key
    assert headers["Authorization"] == "Bearer sk"


@pytest.mark.parametrize("key", ["", "x" * 129, "y" * 1000])
def test_idempotency_key_of_wrong_length_is_refused_locally(key: str) -> None:
    with pytest.raises(ValidationError) as info:
        p.account_headers("sk", idempotency_key=key)
    err = info.value
    assert err.status is None
    assert err.code == "invalid_idempotency_key"
    assert "128" in err.message


# -------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(datetime(2026, 4, 2, 14, 30), "2026-04-02T14:30:00Z", id="naive"),
        pytest.param(
            datetime(2026, 4, 2, 14, 30, 0, 123000), "2026-04-02T14:30:00.123Z", id="naive-ms"
        ),
        pytest.param(
            datetime(2026, 4, 2, 14, 30, 0, 123999), "2026-04-02T14:30:00.123Z", id="naive-us"
        ),
        pytest.param(datetime(2026, 4, 2, 14, 30, tzinfo=UTC), "2026-04-02T14:30:00Z", id="utc"),
        pytest.param(
            datetime(2026, 4, 2, 14, 30, 5, 500000, tzinfo=UTC),
            "2026-04-02T14:30:05.500Z",
            id="utc-ms",
        ),
        pytest.param(
            datetime(2026, 4, 2, 16, 30, tzinfo=timezone(timedelta(hours=2))),
            "2026-04-02T14:30:00Z",
            id="plus-two",
        ),
        pytest.param(
            datetime(2026, 4, 1, 22, 30, 0, 250000, tzinfo=timezone(timedelta(hours=-4))),
            "2026-04-02T02:30:00.250Z",
            id="minus-four-ms-crosses-midnight",
        ),
    ],
)
def test_format_time(value: datetime, expected: str) -> None:
    assert p.format_time(value) == expected


def test_candles_query() -> None:
    assert p.candles_query("H1") == {"timeframe": "H1"}
    assert p.candles_query(
        "M5",
        start=datetime(2026, 4, 2, 14, 0),
        end=datetime(2026, 4, 2, 16, 0, tzinfo=UTC),
        limit=250,
    ) == {
        "timeframe": "M5",
        "from": "2026-04-02T14:00:00Z",
        "to": "2026-04-02T16:00:00Z",
        "limit": "250",
    }
    assert p.candles_query("D1", end=datetime(2026, 4, 2)) == {
        "timeframe": "D1",
        "to": "2026-04-02T00:00:00Z",
    }


def test_history_query() -> None:
    assert p.history_query() == {"offset": "0", "limit": "100"}
    assert p.history_query(
        start=datetime(2026, 4, 1),
        end=datetime(2026, 4, 2, 12, 0, 0, 1000),
        symbol="XAUUSD",
        order_type="BUY",
        offset=200,
        limit=1000,
    ) == {
        "offset": "200",
        "limit": "1000",
        "from": "2026-04-01T00:00:00Z",
        "to": "2026-04-02T12:00:00.001Z",
        "symbol": "XAUUSD",
        "type": "BUY",
    }


NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("5", 5.0, id="seconds"),
        pytest.param(" 2 ", 2.0, id="padded"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("1.5", 1.5, id="fractional"),
        pytest.param("0.25", 0.25, id="sub-second"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 30.0, id="http-date"),
        pytest.param("Wed, 21 Oct 2015 07:27:00 GMT", 0.0, id="http-date-past"),
        pytest.param("Wed, 21 Oct 2015 09:28:00 +0200", 30.0, id="http-date-offset"),
        pytest.param("-3", 0.0, id="negative"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("5 seconds", None, id="trailing-words"),
        pytest.param("nan", None, id="nan"),
        pytest.param("inf", None, id="inf"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="blank"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert p.parse_retry_after(header, now=NOW) == expected


def test_an_account_event_without_seq_still_decodes() -> None:
    # The reference's examples carry neither account_id nor seq; the contract adds them.
    event = p.decode_event(b'{"type":"order_filled","data":{"id":"o","price":1.1}}')
    assert event == p.OrderFilled(data=p.OrderFilledData(id="o", price=1.1))
    assert event.seq is None
