"""How ``StreamProtocol`` decodes a batch: quotes-only batches in one call, as lines;
anything else frame by frame, with the same result as if every frame came alone.

The lines decoder reads values apart by whitespace, not by line, so the frames
that could fool it (none, two values, a value cut in two, newlines inside) are
written out here and must come out exactly as the frame-by-frame path reads them,
but for the one case docs/protocol.md states: broken frames that still add up to
one whole quote per frame.
"""

from __future__ import annotations

from typing import Any

import pytest

from fxsocket_async._core.stream import StreamProtocol

from . import test_terminal_protocol as terminal
from .test_stream_protocol import ACC, T0, QuoteSinkRecorder, opened, quote_frame


def read_one_by_one(frames: list[str]) -> tuple[list[float], int]:
    """The bids and the decode errors when every frame comes in a batch of its own."""
    p = opened()
    sink = QuoteSinkRecorder()
    p.add_quotes(ACC, ["EURUSD"], sink)
    for frame in frames:
        p.receive_frames([frame.encode()], T0)
    return [q.bid for q in sink.quotes], p.counters.decode_errors


def read_as_one_batch(frames: list[Any]) -> tuple[list[float], int, StreamProtocol]:
    p = opened()
    sink = QuoteSinkRecorder()
    p.add_quotes(ACC, ["EURUSD"], sink)
    p.receive_frames(frames, T0)
    return [q.bid for q in sink.quotes], p.counters.decode_errors, p


Q1, Q2, Q3 = (quote_frame("EURUSD", bid) for bid in (1.1, 1.2, 1.3))
CUT = Q2.index('"data"')


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([Q1, Q2, Q3], id="quotes only"),
        pytest.param([Q1, "", Q3], id="an empty frame"),
        pytest.param([Q1, " \n ", Q3], id="a frame of whitespace"),
        pytest.param([Q1, Q2 + Q3], id="two values in one frame"),
        pytest.param([Q1, Q2 + " " + Q3, Q2[:CUT]], id="two values and a cut value"),
        pytest.param([Q1, Q2.replace(",", ",\n  "), Q3], id="newlines inside a frame"),
        pytest.param([Q1, Q2 + "\n", "\n" + Q3], id="newlines around frames"),
        pytest.param([Q1, Q2[:-1], Q3], id="a truncated frame"),
        pytest.param([Q1, '{"type":"pong"}', Q3], id="a frame that is not a quote"),
    ],
)
def test_a_batch_reads_as_its_frames_would_one_by_one(frames: list[str]) -> None:
    bids, errors, p = read_as_one_batch([f.encode() for f in frames])
    assert (bids, errors) == read_one_by_one(frames)
    assert p.counters.frames == len(frames)
    assert p.counters.bytes == sum(len(f) for f in frames)


def test_broken_frames_that_add_up_to_one_quote_per_frame_are_read_as_the_text_they_make() -> None:
    # A frame of two quotes and a quote cut across two frames, in one burst: four
    # frames, four whole quotes in the bytes, in the order the server sent them.
    frames = [Q1, Q2 + " " + Q3, Q2[:CUT], Q2[CUT:]]
    bids, errors, p = read_as_one_batch([f.encode() for f in frames])
    assert (bids, errors) == ([1.1, 1.2, 1.3, 1.2], 0)
    assert p.counters.quote_frames == 4
    assert read_one_by_one(frames) == ([1.1], 3)  # alone, each broken frame is an error


def test_a_batch_of_mixed_types_is_read_frame_by_frame() -> None:
    bids, errors, p = read_as_one_batch([Q1.encode(), Q2, Q3.encode()])
    assert (bids, errors) == ([1.1, 1.2, 1.3], 0)
    assert p.counters.bytes == len(Q1) + len(Q2) + len(Q3)


def test_a_terminal_batch_is_read_as_lines_too() -> None:
    p = terminal.opened()
    sink = QuoteSinkRecorder()
    p.add_quotes(terminal.ACC, ["EURUSD"], sink)
    p.take_actions()
    tick = (
        '{{"type":"tick","symbol":"EURUSD","data":{{"symbol":"EURUSD","bid":{bid},'
        '"ask":1.2,"time":"2026-04-02T14:00:00.000Z","last":0.0,"volume":0}}}}'
    )
    frames = [tick.format(bid=bid).encode() for bid in (1.1, 1.15)] + [b"", b"{}"]
    p.receive_frames(frames, T0)
    assert [q.bid for q in sink.quotes] == [1.1, 1.15]
    assert p.counters.decode_errors == 2
    assert p.counters.quote_frames == 2
