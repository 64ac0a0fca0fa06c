"""A bridge body that does not decode is our ProtocolError naming what it was meant to be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from fxsocket_async import ProtocolError
from fxsocket_async.bridge._recovery_state import decode_state
from fxsocket_async.bridge._wire import (
    decode_event,
    decode_quote,
    decode_quotes,
    decode_rpc_reply,
    decode_status,
)
from fxsocket_async.bridge._wire_rpc import RpcReply, reply_result


@pytest.mark.parametrize(
    ("decode", "what"),
    [
        (decode_quotes, "quote batch"),
        (decode_quote, "latest quote"),
        (decode_event, "bridge event"),
        (decode_status, "bridge status"),
        (decode_rpc_reply, "RPC reply"),
        (decode_state, "bridge state"),
        (
            lambda body: reply_result(RpcReply(ok=True, result=msgspec.Raw(body)), "quote"),
            "quote result",
        ),
    ],
)
@pytest.mark.parametrize("body", [b"[[[", b"[" * 100_000, b'{"unexpected": 1}'])
def test_an_undecodable_body_is_a_protocol_error_naming_it(
    decode: Callable[[bytes], Any], what: str, body: bytes
) -> None:
    with pytest.raises(ProtocolError) as raised:
        decode(body)
    assert raised.value.message.startswith(f"{what} does not match")
    assert raised.value.__context__ is None  # raised outside msgspec's handler
