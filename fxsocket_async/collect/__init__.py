"""Tick collection: sinks that write an archive, a collector, and what an archive covers.

::

    async with ParquetSink("ticks") as sink:
        async with fx.quotes("EURUSD", account=account_id, mode="all") as quotes:
            async for batch in quotes.batches():
                await sink.write(batch, account=account_id)

The archive is plain Parquet (or CSV, or JSON lines) in Hive-style folders,
``ticks/symbol=EURUSD/date=2026-01-05/*.parquet``, readable by pyarrow,
polars or DuckDB without this package; every gap is recorded beside the
ticks (``gaps/``, and each session's journal in ``_journal/``), and
``coverage(dir)`` says what is covered and where the holes are.

Writing needs pyarrow (``pip install 'fxsocket-async[collect]'``): a sink
says so when it is missing. Importing this module and ``coverage`` do not.
"""

import inspect

from ._collector import DEFAULT_BUFFER, Collector, CollectorStats
from ._coverage import Coverage, Gap, SessionInfo, Span, SymbolCoverage, coverage
from ._layout import FORMATS, Format
from ._sink import (
    COLLECT_EXTRA,
    CsvSink,
    JsonlSink,
    ParquetSink,
    Sink,
    SinkError,
    SinkStats,
    SymbolCounts,
    require_extra,
)
from ._sink import SINKS as _SINKS
from ._timefmt import parse_duration

__all__ = [
    "COLLECT_EXTRA",
    "DEFAULT_BUFFER",
    "FORMATS",
    "Collector",
    "CollectorStats",
    "Coverage",
    "CsvSink",
    "Format",
    "Gap",
    "JsonlSink",
    "ParquetSink",
    "SessionInfo",
    "Sink",
    "SinkError",
    "SinkStats",
    "Span",
    "SymbolCounts",
    "SymbolCoverage",
    "coverage",
    "parse_duration",
    "require_extra",
    "sink_for",
]


def sink_for(fmt: str) -> type[Sink]:
    """The sink class of a format (``parquet``, ``csv``, ``jsonl``); raises ``ValueError``."""
    try:
        return _SINKS[fmt]
    except KeyError:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}") from None


for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or inspect.isfunction(_obj):
        _obj.__module__ = __name__
del _name, _obj
