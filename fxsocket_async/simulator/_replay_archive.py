"""An archive of ``fxsocket-async collect``, read for the replay (pyarrow, imported lazily).

The layout is the collector's documented one, read here without importing
``fxsocket_async.collect``::

    DIR/ticks/symbol=EURUSD/date=2026-01-05/<session>-<n>.parquet   (or .csv, .jsonl)

Every file under ``ticks/`` whose path has no part starting with ``.`` or
``_`` is a sealed part and is read; the others (a part in progress, a
temporary file, the spool a kill -9 left behind) are skipped and counted:
seal them first with ``fxsocket-async collect --resume``. The ticks of
every file are merged into one timeline ordered by broker time, then
receive time, then ``seq`` (the order the collector got them in).

Symbols the simulator knows keep their instrument (contract size,
currencies); others get one derived from the data (see ``replay_specs``).
Digits come from the recorded prices, spreads from the recorded bid/ask,
and each symbol's ``start_price`` is solved so that the deterministic
backfill before the archive joins its first recorded price.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from ._backfill import Backfill
from ._symbols import SymbolSpec

__all__ = [
    "COLLECT_HINT",
    "Archive",
    "ReplayError",
    "SymbolStats",
    "broker_datetime",
    "load_archive",
    "replay_specs",
]

COLLECT_HINT: Final = "pip install 'fxsocket-async[collect]'"
_EXTENSIONS: Final = (".parquet", ".csv", ".jsonl")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_DIGITS: Final = 10
#: The daily volatility of instruments derived from the data (it shapes the backfill only).
_DERIVED_VOLATILITY: Final = 0.005


class ReplayError(ValueError):
    """The archive cannot be replayed: missing, empty, ambiguous, or pyarrow is not installed."""


def broker_datetime(ns: int) -> datetime:
    """A recorded broker time (naive ns) as the simulator's UTC-labelled datetime (µs)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


@dataclass(frozen=True, slots=True)
class SymbolStats:
    """What the replay derives from one symbol's recorded ticks."""

    count: int
    first_bid: float
    first_ask: float
    #: The fewest decimals that write every recorded price exactly.
    digits: int
    #: The narrowest and widest recorded spread, in price units.
    min_spread: float
    max_spread: float


@dataclass(frozen=True, slots=True)
class Archive:
    """The ticks of an archive on one timeline: ``chunks()`` yields them in order."""

    root: Path
    #: symbol (string), bid, ask (float64), t (int64: broker time, ns), sorted.
    table: Any = dataclasses.field(repr=False)
    symbols: tuple[str, ...]
    stats: dict[str, SymbolStats]
    first_ns: int
    last_ns: int
    #: Sealed files read.
    files: int
    #: Files skipped because a part of their path starts with "." or "_" (unsealed).
    skipped: tuple[str, ...]
    account: str

    @property
    def count(self) -> int:
        return int(self.table.num_rows)

    def chunks(self, size: int) -> Iterator[list[tuple[str, float, float, int]]]:
        """``(symbol, bid, ask, broker_ns)`` in timeline order, ``size`` at a time."""
        for offset in range(0, self.count, size):
            part = self.table.slice(offset, size)
            yield list(
                zip(
                    part.column("symbol").to_pylist(),
                    part.column("bid").to_pylist(),
                    part.column("ask").to_pylist(),
                    part.column("t").to_pylist(),
                    strict=True,
                )
            )


def _pyarrow() -> Any:
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.compute  # type: ignore[import-untyped]
    except ImportError:
        raise ReplayError(
            f"replaying an archive needs pyarrow, which is not installed: {COLLECT_HINT}"
        ) from None
    return pa


def _files(root: Path) -> tuple[list[Path], list[str]]:
    ticks = root / "ticks"
    if not ticks.is_dir():
        raise ReplayError(
            f"{root} is not an archive of fxsocket-async collect: it has no ticks/ folder"
        )
    sealed: list[Path] = []
    skipped: list[str] = []
    for path in sorted(ticks.rglob("*")):
        if not path.is_file():
            continue
        parts = path.relative_to(ticks).parts
        if any(part.startswith((".", "_")) for part in parts):
            skipped.append(path.relative_to(root).as_posix())
        elif path.suffix in _EXTENSIONS:
            sealed.append(path)
    return sealed, skipped


def _read(pa: Any, path: Path) -> Any:
    """One file as (symbol, bid, ask, t, recv, seq, account)."""
    types = {
        "symbol": pa.string(),
        "bid": pa.float64(),
        "ask": pa.float64(),
        "broker_time": pa.timestamp("ns"),
        "receive_time": pa.timestamp("ns", tz="UTC"),
        "account": pa.string(),
        "seq": pa.int64(),
    }
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        # ParquetFile, not read_table: that would add the path's partitions as columns.
        parquet = pq.ParquetFile(str(path))
        names = [n for n in types if n in parquet.schema_arrow.names]
        table = parquet.read(columns=names)
    elif path.suffix == ".csv":
        import pyarrow.csv as pacsv  # type: ignore[import-untyped]

        table = pacsv.read_csv(str(path), convert_options=pacsv.ConvertOptions(column_types=types))
    else:
        import pyarrow.json as pajson  # type: ignore[import-untyped]

        options = pajson.ParseOptions(
            explicit_schema=pa.schema(list(types.items())), unexpected_field_behavior="ignore"
        )
        table = pajson.read_json(str(path), parse_options=options)
    missing = [n for n in ("bid", "ask", "broker_time") if n not in table.column_names]
    if missing:
        raise ReplayError(f"{path}: no {', '.join(missing)} column: not a tick file of collect")
    count = table.num_rows

    def column(name: str, default: Any, kind: Any) -> Any:
        if name in table.column_names:
            return table.column(name).cast(kind)
        return pa.repeat(pa.scalar(default, kind), count)

    symbol = unquote(path.parent.parent.name.partition("=")[2])
    return pa.table(
        {
            "symbol": column("symbol", symbol, pa.string()),
            "bid": table.column("bid").cast(pa.float64()),
            "ask": table.column("ask").cast(pa.float64()),
            "t": table.column("broker_time").cast(pa.timestamp("ns")).cast(pa.int64()),
            "recv": column("receive_time", 0, pa.timestamp("ns", tz="UTC")).cast(pa.int64()),
            "seq": column("seq", 0, pa.int64()),
            "account": column("account", "", pa.string()),
        }
    )


def _check_prices(pa: Any, table: Any, path: Path) -> None:
    pc = pa.compute
    bid, ask = table.column("bid"), table.column("ask")
    good = pc.and_kleene(
        pc.and_kleene(pc.is_finite(bid), pc.is_finite(ask)),
        pc.and_kleene(pc.greater(bid, 0.0), pc.greater_equal(ask, bid)),
    )
    bad = table.num_rows - pc.sum(pc.cast(pc.fill_null(good, False), pa.int64())).as_py()
    nulls = table.column("t").null_count
    if bad or nulls:
        raise ReplayError(
            f"{path}: {bad + nulls} tick(s) without a positive finite bid, an ask at least "
            "the bid, or a broker time: the archive cannot be replayed as it is"
        )


def _digits(pa: Any, prices: Any) -> int:
    pc = pa.compute
    for digits in range(_MAX_DIGITS + 1):
        error = pc.max(pc.abs(pc.subtract(pc.round(prices, digits), prices))).as_py()
        if error is None or error <= 10.0 ** -(digits + 3):
            return digits
    return _MAX_DIGITS


def _stats(pa: Any, table: Any, symbol: str) -> SymbolStats:
    pc = pa.compute
    rows = table.filter(pc.equal(table.column("symbol"), symbol))
    bid, ask = rows.column("bid"), rows.column("ask")
    spread = pc.subtract(ask, bid)
    digits = max(_digits(pa, bid), _digits(pa, ask))
    return SymbolStats(
        count=rows.num_rows,
        first_bid=bid[0].as_py(),
        first_ask=ask[0].as_py(),
        digits=digits,
        min_spread=pc.min(spread).as_py(),
        max_spread=pc.max(spread).as_py(),
    )


def load_archive(
    root: Path | str, *, symbols: Sequence[str] | None = None, account: str | None = None
) -> Archive:
    """Read every sealed tick file under ``root/ticks`` into one timeline.

    Raises ``ReplayError`` when pyarrow is missing, ``root`` is no archive or
    holds no sealed tick, a file is unreadable or has a bad price, a wanted
    symbol or account is not in it, or it holds several accounts and
    ``account`` does not pick one.
    """
    pa = _pyarrow()
    pc = pa.compute
    root = Path(root)
    paths, skipped = _files(root)
    tables = []
    for path in paths:
        try:
            table = _read(pa, path)
        except (OSError, pa.ArrowException) as exc:
            message = f"{path}: cannot be read as a tick file: {exc}"
            raise ReplayError(message) from None
        _check_prices(pa, table, path)
        tables.append(table)
    found = f"{len(skipped)} unsealed file(s) skipped" if skipped else "no file"
    if not tables or not sum(t.num_rows for t in tables):
        raise ReplayError(f"{root} holds no sealed tick ({found} under ticks/)")
    table = pa.concat_tables(tables)
    accounts = sorted(a for a in pc.unique(table.column("account")).to_pylist() if a is not None)
    if account is not None:
        if account not in accounts:
            raise ReplayError(f"no tick of account {account!r}; the archive has {accounts}")
        table = table.filter(pc.equal(table.column("account"), account))
    elif len(accounts) > 1:
        raise ReplayError(
            f"the archive holds ticks of {len(accounts)} accounts ({', '.join(accounts)}): "
            "pick one (--replay-account, ReplaySpec(account=...))"
        )
    present = sorted(pc.unique(table.column("symbol")).to_pylist())
    if symbols is not None:
        wanted = list(dict.fromkeys(symbols))
        unknown = [s for s in wanted if s not in present]
        if unknown:
            raise ReplayError(
                f"symbol(s) {', '.join(unknown)} not in the archive; it has {', '.join(present)}"
            )
        table = table.filter(pc.is_in(table.column("symbol"), value_set=pa.array(wanted)))
        present = sorted(wanted)
    table = table.sort_by([("t", "ascending"), ("recv", "ascending"), ("seq", "ascending")])
    times = table.column("t")
    return Archive(
        root=root,
        table=table.select(["symbol", "bid", "ask", "t"]).combine_chunks(),
        symbols=tuple(present),
        stats={s: _stats(pa, table, s) for s in present},
        first_ns=times[0].as_py(),
        last_ns=times[-1].as_py(),
        files=len(paths),
        skipped=tuple(skipped),
        account=account if account is not None else (accounts[0] if accounts else ""),
    )


def _derived(name: str, stats: SymbolStats) -> SymbolSpec:
    # Six letters read as a currency pair of standard lots; anything else as
    # a contract of one unit quoted in USD.
    pair = len(name) == 6 and name.isalpha() and name.isupper()
    return SymbolSpec(
        name=name,
        digits=stats.digits,
        contract_size=100_000 if pair else 1,
        base=name[:3] if pair else name,
        quote=name[3:] if pair else "USD",
        start_price=(stats.first_bid + stats.first_ask) / 2,
        spread_points=(1, 1),
        daily_volatility=_DERIVED_VOLATILITY,
    )


def replay_specs(
    archive: Archive, known: Sequence[SymbolSpec], seed: int
) -> tuple[SymbolSpec, ...]:
    """The instruments of the replay's market, one per archive symbol.

    A known symbol keeps its instrument; an unknown one is derived (six
    capital letters: a currency pair, 100,000 a lot; else one unit quoted in
    USD). Either way digits are at least the data's, spreads span the
    recorded ones (in points, at least 1), and ``start_price`` is solved so
    that the backfill's mid at the archive's first tick is the symbol's first
    recorded mid.
    """
    table = {spec.name: spec for spec in known}
    start = archive.first_ns / 1e9
    specs = []
    for name in archive.symbols:
        stats = archive.stats[name]
        spec = table.get(name) or _derived(name, stats)
        digits = max(spec.digits, stats.digits)
        point = 10.0**-digits
        low = max(1, round(stats.min_spread / point))
        high = max(low, round(stats.max_spread / point))
        spec = dataclasses.replace(spec, digits=digits, spread_points=(low, high))
        mid = (stats.first_bid + stats.first_ask) / 2
        log_mid = Backfill(spec, seed).log_mid(start)
        specs.append(dataclasses.replace(spec, start_price=mid / math.exp(log_mid)))
    return tuple(specs)
