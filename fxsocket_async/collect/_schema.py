"""The ticks table's columns, and the Arrow pieces every writer of it shares (pyarrow).

The spool (a part in progress) holds only what changes from tick to tick;
the constant columns (symbol, account, session) are added when the Parquet
file is written, as dictionary arrays of one value: no string is copied per
row, and Parquet stores them dictionary-encoded, read back as plain strings.
"""

from __future__ import annotations

import contextlib
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

__all__ = [
    "SPOOL_SCHEMA",
    "TICK_SCHEMA",
    "TS",
    "TS_US",
    "TS_UTC",
    "broker_times",
    "parquet_writer",
    "received_column",
    "seq_column",
    "with_constants",
]

TS: Final = pa.timestamp("ns")
TS_US: Final = pa.timestamp("us")
TS_UTC: Final = pa.timestamp("ns", tz="UTC")

SPOOL_SCHEMA: Final = pa.schema(
    [
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        ("broker_time", TS),
        ("receive_time", TS_UTC),
        ("seq", pa.int64()),
    ]
)
_METADATA: Final = {
    "fxsocket_async.archive": "1",
    "broker_time": "the broker's server time, as written (no zone)",
    "receive_time": "when the collector received the tick, UTC",
    "seq": "the tick's number within its session, in arrival order",
}
TICK_SCHEMA: Final = pa.schema(
    [
        ("symbol", pa.string()),
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        # The broker's clock reading, as the server wrote it (its trailing Z is a label).
        ("broker_time", TS),
        ("receive_time", TS_UTC),
        ("account", pa.string()),
        ("session", pa.string()),
        ("seq", pa.int64()),
    ],
    metadata=_METADATA,
)
_CONSTANT: Final = pa.dictionary(pa.int32(), pa.string())
# What the Parquet writer is given: the constant columns as dictionaries.
_WRITTEN_SCHEMA: Final = pa.schema(
    [
        pa.field(f.name, _CONSTANT if f.name in ("symbol", "account", "session") else f.type)
        for f in TICK_SCHEMA
    ],
    metadata=_METADATA,
)
_IOTA: list[Any] = []


def seq_column(runs: list[tuple[int, int] | list[int]]) -> Any:
    """The seq column from runs: ``(first, count)`` for consecutive numbers, or a list."""
    if not _IOTA:
        _IOTA.append(pa.array(range(1 << 16), pa.int64()))
    iota = _IOTA[0]
    chunks = []
    for run in runs:
        if isinstance(run, tuple) and run[1] <= len(iota):
            chunks.append(pc.add(iota.slice(0, run[1]), run[0]))
        elif isinstance(run, tuple):
            chunks.append(pa.array(range(run[0], run[0] + run[1]), pa.int64()))
        else:
            chunks.append(pa.array(run, pa.int64()))
    return chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)


def received_column(runs: list[tuple[int, int]]) -> Any:
    """The receive time column from ``(time_ns, count)`` runs (one per batch received)."""
    chunks = [pa.repeat(pa.scalar(at, TS_UTC), count) for at, count in runs]
    return chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)


def _constant(value: str, count: int) -> Any:
    indices = pa.repeat(pa.scalar(0, pa.int32()), count)
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def with_constants(batch: Any, symbol: str, account: str, session: str) -> Any:
    """A spool batch with the constant columns added, in the table's column order."""
    count = batch.num_rows
    columns = [
        _constant(symbol, count),
        batch.column(0),
        batch.column(1),
        batch.column(2),
        batch.column(3),
        _constant(account, count),
        _constant(session, count),
        batch.column(4),
    ]
    return pa.record_batch(columns, _WRITTEN_SCHEMA)


def parquet_writer(path: Path) -> Any:
    """A zstd Parquet writer of the ticks table (plain string columns once read back)."""
    return pq.ParquetWriter(
        str(path),
        _WRITTEN_SCHEMA,
        compression="zstd",
        use_dictionary=["symbol", "account", "session"],
        write_statistics=True,
        # No Arrow schema in the file: readers see the Parquet types, so the constant
        # columns read back as strings (not dictionaries), the times with their units.
        store_schema=False,
    )


# ------------------------------------------------------------ broker times
#
# The writer decodes each tick's time as the raw msgpack timestamp the sink
# encoded (``msgspec.Raw``) and turns a flush's worth into one column at once:
# the common 8-byte form (``d7 ff``, 30 bits of nanoseconds over 34 bits of
# seconds) is unpacked in C and split with two vectorised operations, where
# a ``datetime`` per tick would cost three times as much.

_TS64_HEAD: Final = b"\xd7\xff"
_CHUNK: Final = 512
_UNPACK: Final = struct.Struct(">" + "2xQ" * _CHUNK)
_SECONDS: Final = (1 << 34) - 1
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _as_ts64(raw: bytes) -> bytes:
    """Any msgpack timestamp (``d6``: whole seconds; ``c7 0c``: wide) as the 8-byte form."""
    value = msgspec.msgpack.decode(raw, type=datetime)
    seconds, micros = divmod((value - _EPOCH) // timedelta(microseconds=1), 1_000_000)
    if not 0 <= seconds <= _SECONDS:
        raise ValueError(f"a broker time outside 1970-2514: {value}")
    return _TS64_HEAD + ((micros * 1000) << 34 | seconds).to_bytes(8, "big")


def _indexes(values: list[int], wanted: int) -> list[int]:
    """Where ``wanted`` is in ``values`` (``list.index`` scans in C: no loop per tick)."""
    found: list[int] = []
    with contextlib.suppress(ValueError):
        while True:
            found.append(values.index(wanted, found[-1] + 1 if found else 0))
    return found


def broker_times(raws: list[Any]) -> Any:
    """The broker time column (timestamp[ns]) of raw msgpack timestamps, in order."""
    try:
        return _packed_times(raws)
    except ValueError:  # a time before 1970 or after 2514: one datetime each, then (a time
        # past what nanoseconds hold, 1677-2262, cannot be stored: the writer says so)
        decode = msgspec.msgpack.Decoder(datetime).decode
        return pa.array([decode(raw) for raw in raws], TS_US).cast(TS)


def _packed_times(raws: list[Any]) -> Any:
    count = len(raws)
    data = b"".join(raws)
    if len(data) != 10 * count or data[0::10] != b"\xd7" * count:
        # A whole second is written in 6 bytes: rewrite those few, keep the rest as they are.
        lengths = list(map(len, raws))
        fixed = list(raws)
        for index in _indexes(lengths, 6) + _indexes(lengths, 15):  # the two other forms
            fixed[index] = _as_ts64(raws[index])
        data = b"".join(fixed)
    values: list[int] = []
    full = count - count % _CHUNK
    for offset in range(0, full * 10, _CHUNK * 10):
        values += _UNPACK.unpack_from(data, offset)
    if full < count:
        values += struct.unpack_from(">" + "2xQ" * (count - full), data, full * 10)
    u64 = pa.uint64()
    packed = pa.array(values, u64)
    seconds = pc.bit_wise_and(packed, pa.scalar(_SECONDS, u64))
    nanos = pc.shift_right(packed, pa.scalar(34, u64))
    since = pc.add(pc.multiply(seconds, pa.scalar(1_000_000_000, u64)), nanos)
    return since.cast(pa.int64()).cast(TS)
