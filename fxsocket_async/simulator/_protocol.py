"""The simulator's own reading of client messages, built on the core's Structs alone.

The simulator imports only the core's models, events and codec: never the
client's exceptions, validation or I/O, so that a misreading of the contract
on the client's side cannot hide by being shared. Its refusals are its own.
"""

from __future__ import annotations

from typing import Final

import msgspec

from .._core.events import ClientMessage

__all__ = ["MessageError", "decode_client_message"]

_CLIENT_DECODER: Final = msgspec.json.Decoder(ClientMessage)


class MessageError(ValueError):
    """A client message the simulator cannot read; ``str()`` says what is wrong."""


def decode_client_message(frame: bytes | str) -> ClientMessage:
    """Decode a client-to-server stream message. Raises ``MessageError``."""
    try:
        message: ClientMessage = _CLIENT_DECODER.decode(frame)
    except msgspec.DecodeError as exc:
        raise MessageError(f"invalid client message: {exc}") from None
    except RecursionError:
        # Deeper than the decoder recurses: refused like any unreadable frame.
        raise MessageError("invalid client message: it is nested too deeply") from None
    return message
